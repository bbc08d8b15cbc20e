/** Options of `PostgresStore`. */
import type pg from 'pg';
import type { SqlStoreOptions } from '../sql/options.js';

export interface PostgresStoreOptions extends SqlStoreOptions {
  /**
   * `postgres://user:pass@host:5432/db`: the store makes its own `pg.Pool` and ends it on
   * `close()`. Give this or `pool`.
   */
  connectionString?: string;
  /** A `pg.Pool` you manage: the store never ends it. */
  pool?: pg.Pool;
  /**
   * Table name (letters, digits, `_`).
   * @default 'sessions'
   */
  tableName?: string;
  /** Schema holding the table; the connection's `search_path` when absent. */
  schema?: string;
  /**
   * Longest wait for a row lock held by another transaction (PostgreSQL `lock_timeout`, set
   * for each of the store's write statements alone, on any pool). Keep it at or below the
   * session manager's `lockWait`; PostgreSQL's own default waits forever.
   * @default 2000
   */
  rowLockTimeoutMs?: number;
  /**
   * Longest wait for a new connection, for pools the store makes.
   * @default 2000
   */
  connectTimeoutMs?: number;
  /**
   * Most connections in a pool the store makes.
   * @default 10
   */
  poolSize?: number;
}
