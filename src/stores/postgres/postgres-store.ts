import type pg from 'pg';
import { ConfigError } from '../../core/errors.js';
import {
  checkSqlOptions,
  isSqlIdentifier,
  positive,
  type SqlBackend,
  type SqlStoreOptions,
} from '../sql/options.js';
import { SqlStore } from '../sql/sql-store.js';
import { missingPackage } from '../url.js';
import { PostgresDialect } from './postgres-dialect.js';

let pgModule: Promise<typeof pg> | undefined;

/**
 * Loads `pg` on first use rather than at import, so `baton-session/postgres` can be imported (and
 * `require()`d) without it; a missing package becomes the usual "install pg" `ConfigError`.
 */
export function loadPg(): Promise<typeof pg> {
  pgModule ??= import('pg').then(
    (mod) => (mod as { default?: typeof pg }).default ?? (mod as unknown as typeof pg),
    (err: unknown) => {
      pgModule = undefined;
      throw missingPackage('postgres', err) ?? err;
    },
  );
  return pgModule;
}

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

/**
 * Sessions in a PostgreSQL table: one row per session, data in a `jsonb` column with one entry
 * per top-level key, per-key patches in one UPDATE, a lock in the row, a partial index on `uid`
 * for "log out everywhere" and an index on `expires` for `gc()`. Call `ensureTable()` once
 * (or `baton create-table`): the constructor creates nothing.
 */
export class PostgresStore extends SqlStore {
  constructor(options: PostgresStoreOptions) {
    const tableName = options.tableName ?? 'sessions';
    if (!isSqlIdentifier(tableName)) {
      throw new ConfigError(
        'tableName',
        `must be letters, digits and _ (at most 63), got ${JSON.stringify(tableName)}`,
      );
    }
    if (options.schema !== undefined && !isSqlIdentifier(options.schema)) {
      throw new ConfigError(
        'schema',
        `must be letters, digits and _ (at most 63), got ${JSON.stringify(options.schema)}`,
      );
    }
    const sql = checkSqlOptions(options);
    const rowLockTimeoutMs = positive('rowLockTimeoutMs', options.rowLockTimeoutMs ?? 2000);
    const connectTimeoutMs = positive('connectTimeoutMs', options.connectTimeoutMs ?? 2000);
    const poolSize = positive('poolSize', options.poolSize ?? 10);
    super(
      new PostgresDialect(tableName, options.schema, rowLockTimeoutMs),
      backend(options, { connectTimeoutMs, poolSize }),
      sql,
    );
  }
}

function backend(
  options: PostgresStoreOptions,
  settings: { connectTimeoutMs: number; poolSize: number },
): SqlBackend {
  const hasPool = options.pool !== undefined;
  const hasUrl = options.connectionString !== undefined;
  if (hasPool === hasUrl) {
    throw new ConfigError('connectionString', 'give either `connectionString` or `pool` (one of them)');
  }
  if (options.pool) {
    const given = options.pool;
    if (typeof given.query !== 'function') {
      throw new ConfigError('pool', 'must be a pg.Pool (or anything with its `query()`)');
    }
    return {
      async query({ text, values }) {
        const result = await given.query(text, values);
        return { rows: result.rows, affected: result.rowCount ?? 0 };
      },
      async end() {},
    };
  }
  const connectionString = options.connectionString;
  if (typeof connectionString !== 'string' || connectionString.length === 0) {
    throw new ConfigError('connectionString', 'must be a non-empty postgres:// URL');
  }
  // The pool is made at the first query (pg is imported then); the store owns and ends it.
  let pool: pg.Pool | undefined;
  let making: Promise<pg.Pool> | undefined;
  const make = async (): Promise<pg.Pool> => {
    const { Pool } = await loadPg();
    const made = new Pool({
      connectionString,
      max: settings.poolSize,
      connectionTimeoutMillis: settings.connectTimeoutMs,
      allowExitOnIdle: true,
    });
    // An idle client whose server went away raises 'error' on the pool; without a listener
    // that would end the process. The next query gets a fresh connection or a typed error.
    made.on('error', () => {});
    pool = made;
    return made;
  };
  const ready = (): Promise<pg.Pool> => {
    making ??= make().catch((err: unknown) => {
      making = undefined;
      throw err;
    });
    return making;
  };
  return {
    async query({ text, values }) {
      const result = await (pool ?? (await ready())).query(text, values);
      return { rows: result.rows, affected: result.rowCount ?? 0 };
    },
    async end() {
      const made = pool ?? (await making?.catch(() => undefined));
      await made?.end();
    },
  };
}
