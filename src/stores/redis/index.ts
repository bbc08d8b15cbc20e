export type { RedisStoreOptions } from './redis-store.js';
export { RedisStore } from './redis-store.js';
