export type { PostgresStoreOptions } from './postgres-store.js';
export { PostgresStore } from './postgres-store.js';
