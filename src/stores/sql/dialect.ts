/**
 * What PostgreSQL and MySQL/MariaDB differ in: the SQL text of each statement, how a result is
 * read, and which engine errors mean what. Everything else (input checks, size limits, telling a
 * gone session from a conflict, lock handles, paging, gc pacing, metrics, error types) lives once
 * in `SqlStore`.
 *
 * Table layout shared by both dialects (column names are the same; types differ):
 *   key, data, created, expires, absolute_expires, version, uid, lock_token, lock_expires
 * `data` is a JSON object: top-level session key → its JSON text, kept as a JSON *string*, so the
 * exact text the core wrote comes back byte for byte (jsonb and MySQL's JSON type would otherwise
 * reorder object keys and rewrite numbers such as `1.5e+300`).
 */
import type { Patch, StoredSession } from '../store.js';

/** One statement with its parameters, in the dialect's placeholder syntax. */
export interface SqlQuery {
  text: string;
  values: unknown[];
  /**
   * Send the values apart from the text (a server-side prepared statement) where the client can:
   * for a large value, which a client that escapes values into the text spends long on.
   */
  prepared?: boolean;
}

/** What the store needs back from any statement. */
export interface SqlResult {
  rows: Record<string, unknown>[];
  /** Rows inserted, updated or deleted. */
  affected: number;
  /** MySQL only: the `LAST_INSERT_ID(expr)` value of the statement. */
  insertId?: number;
}

/** Runs one statement on the pool (each statement is its own transaction). */
export type SqlRunner = (query: SqlQuery) => Promise<SqlResult>;

/** A row as the store reads it; times in ms since the epoch. */
export interface SqlRow {
  key: string;
  data?: Record<string, string>;
  createdAt: number;
  expiresAt: number;
  absoluteExpiresAt: number;
  version: number;
  userId: string | null;
  lockToken?: string | null;
  /** Bytes of key names plus JSON text, computed by the engine (listings only). */
  size?: number;
}

/** What an engine error means to the store. */
export type SqlErrorKind =
  /** Could not connect, connection lost, pool closed or exhausted, server shutting down. */
  | 'connection'
  /** A row lock held by another transaction outlasted `rowLockTimeoutMs`. */
  | 'lockTimeout'
  /** The sessions table does not exist. */
  | 'missingTable'
  /**
   * The engine broke a deadlock by rolling this statement (its transaction) back: nothing of it
   * was applied, and running it again is safe.
   */
  | 'deadlock'
  /** Anything else the engine answered with. */
  | 'other';

export interface SqlDialect {
  /** `postgres` or `mysql`: the store's name in messages and metrics. */
  readonly name: string;
  /** Human name of the engine for messages. */
  readonly engine: string;
  /** Longest store key (bytes) the key column holds. */
  readonly maxKeyBytes: number;
  /** Longest user id (bytes) the uid column holds. */
  readonly maxUserIdBytes: number;
  /** The engine cannot store U+0000 in text or JSON strings (PostgreSQL). */
  readonly forbidsNul: boolean;

  /** The server's clock in ms since the epoch (for the store clock). */
  serverTime(run: SqlRunner): Promise<number>;

  /** CREATE TABLE / CREATE INDEX statements, each idempotent. */
  ensureTable(run: SqlRunner): Promise<void>;

  /** The live row with its data, or null. */
  get(run: SqlRunner, key: string, now: number): Promise<SqlRow | null>;
  /** Inserts, or replaces an expired row under the same key; false when a live row is there. */
  create(run: SqlRunner, key: string, session: StoredSession, now: number): Promise<boolean>;
  /**
   * One statement: applies the patch to a live row when its guards hold (version, lock token,
   * the expected key values of `patch.expect`, the new data within `maxBytes`). The new version,
   * or null when no row matched. `setBytes` is `dataSize(patch.set)`, computed by the caller.
   */
  patch(
    run: SqlRunner,
    key: string,
    patch: Patch,
    now: number,
    limit: { maxBytes: number; setBytes: number },
  ): Promise<number | null>;
  /** Moves the expiry of a live row (never past its absolute expiry); false when none matched. */
  touch(run: SqlRunner, key: string, expiresAt: number, now: number): Promise<boolean>;
  /** Deletes the row; true when it was live. */
  destroy(run: SqlRunner, key: string, now: number): Promise<boolean>;
  /**
   * Takes the lock when the row is live and unlocked (or its lock expired), reading the row in
   * the same step. The row, `'missing'` when there is no live row, `'held'` when another holds it.
   */
  lock(
    run: SqlRunner,
    key: string,
    token: string,
    until: number,
    now: number,
  ): Promise<SqlRow | 'missing' | 'held'>;
  /** Clears the lock if `token` still holds it. */
  unlock(run: SqlRunner, key: string, token: string): Promise<void>;
  /** Summaries (no data) of the live rows of one user, by the uid index. */
  listByUser(run: SqlRunner, userId: string, now: number): Promise<SqlRow[]>;
  /** One page of summaries ordered by key, strictly after `after` (keyset pagination). */
  scanPage(
    run: SqlRunner,
    after: string | null,
    limit: number,
    now: number,
    includeExpired: boolean,
  ): Promise<SqlRow[]>;
  /** Number of rows past their expiry (gc dry run). */
  countExpired(run: SqlRunner, now: number): Promise<number>;
  /** Deletes up to `limit` rows past their expiry, by the expires index; how many it deleted. */
  deleteExpired(run: SqlRunner, now: number, limit: number): Promise<number>;

  /** What an error thrown by the client means. */
  classifyError(err: unknown): SqlErrorKind;
}
