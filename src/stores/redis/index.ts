export type { RedisStoreOptions, WaitForReplicas } from './redis-store.js';
export { RedisStore } from './redis-store.js';
