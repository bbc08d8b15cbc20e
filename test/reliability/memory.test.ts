import { MemoryStore } from '../../src/stores/memory/index.js';
import { reliabilitySuite } from './store-suite.js';

reliabilitySuite('MemoryStore', async () => new MemoryStore());
