/**
 * The Store contract lives in the core (`src/core/store.ts`): layers run adapters → core ← stores.
 * Re-exported here so the stores and existing imports keep their path.
 */
export type * from '../core/store.js';
