/**
 * The store kit: what every store shares, written once. A driver does its engine's I/O and its
 * atomic primitive; argument checks, size limits, expiry on read, the record-level patch rules,
 * the typed errors and per-call reporting come from here. See docs/architecture.md.
 */
export * from './checks.js';
export * from './failures.js';
export * from './record.js';
export * from './report.js';
export * from './size.js';
