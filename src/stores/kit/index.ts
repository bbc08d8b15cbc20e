/**
 * The store kit: what every store shares, written once. A driver does its engine's I/O and its
 * atomic primitive; argument checks, size limits, expiry on read, the record-level patch rules,
 * the typed errors and per-call reporting come from here. See docs/architecture.md.
 *
 * - `checks.ts`   argument checks at the contract's edge (`assertKey`, `assertPatch`, …).
 * - `size.ts`     `dataSize`, `checkSize`, `patchLimit` (the `maxBytes` of a patch).
 * - `record.ts`   the record-level rules as pure functions: `applyRecordPatch` (version, lock
 *                 token, `expect`, replace, user index, size), `isLive`, `clampExpiry`, summaries.
 * - `failures.ts` the typed errors every store raises the same way: `versionConflict`,
 *                 `lockLost`, `staleKeys`, `storeClosed`, `callTimedOut`.
 * - `guard.ts`    `StoreGuard`: one per store; `run(op, fn)` refuses calls after `close()`
 *                 (`storeClosed`), reports the call (`operation` events, tracing), races it
 *                 against `timeoutMs` (`callTimedOut`) and wraps engine errors once as
 *                 `StoreUnavailableError` with the cause. `close()` is true the first time only.
 * - `report.ts`   `OperationReporter` (what `StoreGuard` measures with), `sleep`.
 * - `tokens.ts`   `writeToken`: pooled random write tokens (a store's own earlier attempt).
 * - `waiters.ts`  `Waiters`: lock waiters by key, woken by the engine's release messages or
 *                 their timeout (Redis pub/sub, PostgreSQL LISTEN/NOTIFY).
 */
export * from './checks.js';
export * from './failures.js';
export * from './guard.js';
export * from './network.js';
export * from './record.js';
export * from './report.js';
export * from './size.js';
export * from './tokens.js';
export * from './waiters.js';
