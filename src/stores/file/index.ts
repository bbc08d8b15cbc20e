export type { FileStoreOptions } from './file-store.js';
export { FileStore } from './file-store.js';
