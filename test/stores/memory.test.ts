import { MemoryStore } from '../../src/stores/memory/index.js';
import { storeConformance } from '../../src/testing/index.js';

storeConformance({ name: 'MemoryStore', create: async () => new MemoryStore({ maxSize: 64 * 1024 }) });
