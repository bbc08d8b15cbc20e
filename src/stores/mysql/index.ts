export type { MySQLStoreOptions } from './mysql-store.js';
export { MySQLStore } from './mysql-store.js';
