/**
 * `baton-session/testing`: the conformance suite every store passes, for stores of your own.
 * See docs/custom-store.md.
 */
export { type StoreConformanceOptions, storeConformance } from './conformance.js';
export { newKey, record as sessionRecord } from './helpers.js';
export { CAPABILITY_METHODS } from './sections/contract.js';
