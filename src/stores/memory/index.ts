export type { MemoryStoreOptions } from './memory-store.js';
export { MemoryStore } from './memory-store.js';
