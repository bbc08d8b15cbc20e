export type { MemcachedClient, MemcachedStoreOptions } from './memcached-store.js';
export { MemcachedStore } from './memcached-store.js';
