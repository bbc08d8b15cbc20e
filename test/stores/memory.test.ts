import { MemoryStore } from '../../src/stores/memory/index.js';
import { storeConformance } from '../conformance/suite.js';

storeConformance('MemoryStore', async () => new MemoryStore({ maxSize: 64 * 1024 }));
