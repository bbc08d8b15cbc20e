export type { RedisStoreOptions, WaitForReplicas } from './options.js';
export { RedisStore } from './redis-store.js';
