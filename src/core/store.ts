/**
 * The Store contract: what every backend implements. Stores persist; the core owns policy
 * (ids, expiry decisions, dirty tracking, serialization). Nothing in `src/stores/` imports the
 * session manager.
 *
 * Times are milliseconds since the epoch (`expiresAt`, `createdAt`, `absoluteExpiresAt`).
 * Session data is a map of top-level keys to their JSON text: a store keeps each entry as is.
 */

import type { Logger } from './logger.js';

/** A session as the store keeps it. */
export interface StoredSession {
  /** Top-level key → JSON text of its value. */
  data: Record<string, string>;
  /** When the session was created (ms since epoch). */
  createdAt: number;
  /**
   * When the session expires (ms since epoch): the earlier of the idle and the absolute expiry.
   * A record past this is absent for every read, even where the engine has not deleted it yet.
   */
  expiresAt: number;
  /** When the session expires however active it is (ms since epoch). Never extended. */
  absoluteExpiresAt: number;
  /** Bumped by every write; `patch` with `expectVersion` fails with `ConflictError` on a mismatch. */
  version: number;
  /** The user the session belongs to, for `listByUser` ("log out everywhere"). */
  userId?: string;
}

/** A change to an existing session, holding only what changed. */
export interface Patch {
  /** Keys to write, with their JSON text. */
  set: Record<string, string>;
  /** Keys to remove. */
  unset: string[];
  /** The new expiry (ms since epoch), never past the session's absolute expiry. */
  expiresAt: number;
  /** A string sets the user index entry, `null` removes it, absent leaves it alone. */
  userId?: string | null;
  /** `concurrency: 'strict'`: apply only when the stored version equals this, else `ConflictError`. */
  expectVersion?: number;
  /** `concurrency: 'lock'`: apply only while this lock token holds the session, else `ConflictError`. */
  lockToken?: string;
  /** With `lockToken`: release the lock in the same write. */
  releaseLock?: boolean;
  /** `concurrency: 'overwrite'`: the whole data map becomes `set` (keys not in `set` are dropped). */
  replace?: boolean;
  /**
   * The session's size limit for this write (the `maxSize` option), when below the store's own:
   * the store refuses, in the same atomic step as the write, a patch that would leave the session
   * larger (`SessionTooLargeError`), so concurrent writes cannot add up past it.
   */
  maxBytes?: number;
  /**
   * `concurrency: 'merge'`: for each top-level key the request changed, the JSON text it read at
   * load (`null`: the key was absent). The store applies the patch only while every named key
   * still holds that text, in the same atomic step as the write; otherwise it writes nothing and
   * throws `ConflictError` with `staleKeys` set, and the core rebases the request's change onto
   * what is stored now and retries (see `src/core/rebase.ts`).
   */
  expect?: Record<string, string | null>;
}

/**
 * What a store can do, declared once and read by callers (the manager, the CLI, the
 * express-session store, the demo) instead of probing for methods. A store has no method that
 * only throws: where a flag is false the method is absent.
 */
export interface StoreCapabilities {
  /** `lock()`: `concurrency: 'lock'`. */
  readonly lock: boolean;
  /** `listByUser()`: "log out everywhere", devices, `maxSessionsPerUser`. */
  readonly userIndex: boolean;
  /** `scan()`: admin listings, `baton ls`/`stats`, migrate. */
  readonly scan: boolean;
  /** `gc()`: deleting expired records where the engine does not (or lazily). */
  readonly gc: boolean;
  /** `ensureTable()`: creating the table, schema or folder it needs. */
  readonly ensureTable: boolean;
  /** `serverTime()`: reading the engine's clock. */
  readonly serverTime: boolean;
  /** `waitForUnlock()`: the engine tells lock waiters when a lock is released (no polling). */
  readonly lockNotify: boolean;
}

/** A held lock. `session` is what the lock call read (null when the session is missing or expired). */
export interface LockHandle {
  readonly token: string;
  readonly session: StoredSession | null;
  /** Releases the lock if this token still holds it. Idempotent. */
  release(): Promise<void>;
}

/** What admin listings show of a session: never its data. */
export interface SessionSummary {
  key: string;
  userId?: string;
  createdAt: number;
  expiresAt: number;
  absoluteExpiresAt: number;
  version: number;
  /** Bytes of key names and JSON text of the data. */
  size: number;
}

export interface ScanOptions {
  /** Include records past their expiry that the engine has not deleted yet (gc, stats). @default false */
  includeExpired?: boolean;
  /** Stop after this many. */
  limit?: number;
}

export interface GcProgress {
  scanned: number;
  deleted: number;
  /** Capacity units consumed so far, where the engine reports them. */
  capacityUnits?: number;
}

export interface GcOptions {
  /** Count what would be deleted, delete nothing. @default false */
  dryRun?: boolean;
  /** Most capacity units (DynamoDB) or deletions (others) per second. */
  rate?: number;
  onProgress?: (progress: GcProgress) => void;
}

/** One store call, for metrics: the manager re-emits these as `operation` events. */
export interface OperationInfo {
  store: string;
  op: string;
  ms: number;
  /** Capacity units the engine reports (DynamoDB); absent elsewhere. */
  capacityUnits?: number;
  ok: boolean;
}

export type OperationListener = (info: OperationInfo) => void;

export interface StoreLimits {
  /** Largest session the store holds, in bytes of keys plus JSON text (the store adds its own overhead). */
  maxSessionBytes: number;
}

/**
 * The clock a store decides expiry by: the engine's, where it can tell its time (see
 * `src/stores/clock.ts`). The session manager uses it too, for its own expiry decisions and for
 * the expiries it writes, so that instances whose clocks differ still agree.
 */
export interface StoreClock {
  /** ms since the epoch by the store's clock: `Date.now()` plus the last measured offset. No I/O. */
  now(): number;
  /**
   * While the first sample of the engine's clock is pending: a promise that settles when it is in
   * (or after a short bounded wait). Undefined afterwards, so the request path awaits nothing.
   */
  ready(): Promise<void> | undefined;
  /** Where the clock's warnings go (a manager given `logger` sets it when unset). */
  logger?: Logger | undefined;
}

export interface Store {
  /** Short name used in messages and metrics: `memory`, `dynamodb`, `redis`... */
  readonly name: string;
  readonly limits: StoreLimits;
  /** What this store can do; see `StoreCapabilities`. */
  readonly capabilities: StoreCapabilities;

  /** The session under `key`, or null when missing or expired. */
  get(key: string): Promise<StoredSession | null>;
  /** Stores a new session; `SessionExistsError` if a live one is there already. */
  create(key: string, session: StoredSession): Promise<void>;
  /**
   * Applies a patch to a live session and bumps its version. Null when the session is gone
   * (destroyed or expired): nothing is written, so a destroyed session is never brought back.
   */
  patch(key: string, patch: Patch): Promise<{ version: number } | null>;
  /** Moves the expiry of a live session (never past its absolute expiry); false when it is gone. */
  touch(key: string, expiresAt: number): Promise<boolean>;
  /** Deletes the session; true when there was one. */
  destroy(key: string): Promise<boolean>;

  /** Locks the session for `ttlMs`, reading it in the same call. Null while another holder has it. */
  lock?(key: string, ttlMs: number): Promise<LockHandle | null>;
  /**
   * Resolves when the lock on `key` is released, or after `timeoutMs` at the latest; never rejects.
   * Lock waiters race it against their backoff timer, so a lost notification costs one step.
   */
  waitForUnlock?(key: string, timeoutMs: number): Promise<void>;
  /** The live sessions of one user ("log out everywhere"). */
  listByUser?(userId: string): Promise<SessionSummary[]>;
  /** Every session, paginated underneath. */
  scan?(options?: ScanOptions): AsyncIterable<SessionSummary>;
  /** Deletes expired records, for engines without native expiry (or with a lazy one). */
  gc?(options?: GcOptions): Promise<{ deleted: number; scanned: number }>;

  /** The engine's clock (ms since epoch), read with one cheap call; where the engine has one. */
  serverTime?(): Promise<number>;
  /** The clock this store decides expiry by. Absent: the local clock (`Date.now()`). */
  readonly clock?: StoreClock;

  /**
   * Where the store's warnings go instead of `process.emitWarning`. A `SessionManager` given the
   * `logger` option sets it (and its clock's) when unset.
   */
  logger?: Logger | undefined;

  /** Subscribes to per-call metrics; returns the unsubscribe function. */
  onOperation(listener: OperationListener): () => void;
  /** Closes clients the store created itself; a client the user passed stays open. Idempotent. */
  close(): Promise<void>;
}
