export { FileStore } from './file-store.js';
export type { FileStoreOptions } from './options.js';
