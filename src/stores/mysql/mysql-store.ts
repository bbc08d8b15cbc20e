import type mysql from 'mysql2/promise';
import { ConfigError } from '../../core/errors.js';
import { missingPackage } from '../kit/packages.js';
import type { SqlQuery, SqlResult } from '../sql/dialect.js';
import {
  checkSqlOptions,
  isSqlIdentifier,
  positive,
  type SqlBackend,
  type SqlStoreOptions,
} from '../sql/options.js';
import { SqlStore } from '../sql/sql-store.js';
import { MySQLDialect } from './mysql-dialect.js';

let mysqlModule: Promise<typeof mysql> | undefined;

/**
 * Loads `mysql2` on first use rather than at import, so `baton-session/mysql` can be imported (and
 * `require()`d) without it; a missing package becomes the usual "install mysql2" `ConfigError`.
 */
export function loadMysql(): Promise<typeof mysql> {
  mysqlModule ??= import('mysql2/promise').then(
    (mod) => (mod as { default?: typeof mysql }).default ?? (mod as unknown as typeof mysql),
    (err: unknown) => {
      mysqlModule = undefined;
      throw missingPackage('mysql', err) ?? err;
    },
  );
  return mysqlModule;
}

export interface MySQLStoreOptions extends SqlStoreOptions {
  /**
   * `mysql://user:pass@host:3306/db`: the store makes its own `mysql2` pool and ends it on
   * `close()`. Give this or `pool`.
   */
  uri?: string;
  /**
   * A `mysql2/promise` pool you manage: the store never ends it. Its connections should use
   * the utf8mb4 charset (mysql2's default). On MySQL 8 set `innodb_lock_wait_timeout` on its
   * connections yourself (MariaDB gets it per statement).
   */
  pool?: mysql.Pool;
  /**
   * Table name (letters, digits, `_`).
   * @default 'sessions'
   */
  tableName?: string;
  /**
   * Longest wait for a row lock held by another transaction (`innodb_lock_wait_timeout`,
   * rounded up to whole seconds). Keep it at or below the session manager's `lockWait`; the
   * InnoDB default of 50 s is never used for the store's statements on MariaDB nor on pools
   * the store makes.
   * @default 2000
   */
  rowLockTimeoutMs?: number;
  /**
   * MariaDB: the server cancels a write statement still running after this long
   * (`max_statement_time`), rolling it back, so a statement the session manager stopped waiting
   * for (its `timeoutMs`, 5 s by default) does not go on running. Keep it at or below `timeoutMs`;
   * 0 turns it off. MySQL 8 has no such limit for writes.
   * @default 5000
   */
  statementTimeoutMs?: number;
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
 * Sessions in a MySQL 8 or MariaDB 10.11 table: one row per session, data in a JSON column with
 * one entry per top-level key, per-key patches in one UPDATE (JSON_MERGE_PATCH), a lock in
 * the row, an index on `uid` for "log out everywhere" and one on `expires` for `gc()`. Call
 * `ensureTable()` once (or `baton create-table`): the constructor creates nothing.
 */
export class MySQLStore extends SqlStore {
  constructor(options: MySQLStoreOptions) {
    const tableName = options.tableName ?? 'sessions';
    if (!isSqlIdentifier(tableName)) {
      throw new ConfigError(
        'tableName',
        `must be letters, digits and _ (at most 63), got ${JSON.stringify(tableName)}`,
      );
    }
    const sql = checkSqlOptions(options);
    const rowLockTimeoutMs = positive('rowLockTimeoutMs', options.rowLockTimeoutMs ?? 2000);
    const connectTimeoutMs = positive('connectTimeoutMs', options.connectTimeoutMs ?? 2000);
    const poolSize = positive('poolSize', options.poolSize ?? 10);
    const statementTimeoutMs = options.statementTimeoutMs ?? 5000;
    if (
      typeof statementTimeoutMs !== 'number' ||
      !Number.isFinite(statementTimeoutMs) ||
      statementTimeoutMs < 0
    ) {
      throw new ConfigError(
        'statementTimeoutMs',
        `must be milliseconds >= 0 (0 turns the limit off), got ${String(options.statementTimeoutMs)}`,
      );
    }
    super(
      new MySQLDialect(tableName, rowLockTimeoutMs, statementTimeoutMs),
      backend(options, { rowLockTimeoutMs, connectTimeoutMs, poolSize }),
      sql,
    );
  }
}

interface OkPacket {
  affectedRows: number;
  insertId: number;
  info?: string;
}

function backend(
  options: MySQLStoreOptions,
  settings: { rowLockTimeoutMs: number; connectTimeoutMs: number; poolSize: number },
): SqlBackend {
  const hasPool = options.pool !== undefined;
  const hasUri = options.uri !== undefined;
  if (hasPool === hasUri) throw new ConfigError('uri', 'give either `uri` or `pool` (one of them)');
  const read = (result: unknown): SqlResult => {
    if (Array.isArray(result)) return { rows: result as Record<string, unknown>[], affected: 0 };
    const ok = result as OkPacket;
    // "Rows matched: 1  Changed: 0": count matched rows whatever the FOUND_ROWS flag says.
    const matched = /Rows matched:\s*(\d+)/.exec(ok.info ?? '');
    return {
      rows: [],
      affected: matched ? Number(matched[1]) : ok.affectedRows,
      insertId: Number(ok.insertId),
    };
  };
  const run = async (pool: mysql.Pool, { text, values, prepared }: SqlQuery): Promise<SqlResult> => {
    // mysql2 escapes values into the text for query() (about 100 ms for 400 KB of JSON);
    // execute() sends them apart, in the binary protocol, and caches the statement per connection.
    const [result] =
      prepared && typeof pool.execute === 'function'
        ? await pool.execute(text, values as Parameters<mysql.Pool['execute']>[1])
        : await pool.query(text, values);
    return read(result);
  };
  if (options.pool) {
    const given = options.pool;
    if (typeof given.query !== 'function') {
      throw new ConfigError('pool', 'must be a mysql2/promise pool (or anything with its `query()`)');
    }
    return {
      query: (q) => run(given, q),
      async end() {},
    };
  }
  const uri = options.uri;
  if (typeof uri !== 'string' || uri.length === 0) {
    throw new ConfigError('uri', 'must be a non-empty mysql:// URL');
  }
  // The pool is made at the first query (mysql2 is imported then); the store owns and ends it.
  let pool: mysql.Pool | undefined;
  let making: Promise<mysql.Pool> | undefined;
  const make = async (): Promise<mysql.Pool> => {
    const { createPool } = await loadMysql();
    const made = createPool({
      uri,
      connectionLimit: settings.poolSize,
      connectTimeout: settings.connectTimeoutMs,
      supportBigNumbers: true,
    });
    const seconds = Math.max(1, Math.ceil(settings.rowLockTimeoutMs / 1000));
    // MySQL 8 cannot scope innodb_lock_wait_timeout to one statement: set it on each new
    // connection, before it serves any query. (A failure here leaves the server default.)
    made.pool.on('connection', (connection) => {
      connection.query(`SET SESSION innodb_lock_wait_timeout = ${seconds}`, () => {});
    });
    pool = made;
    return made;
  };
  const ready = (): Promise<mysql.Pool> => {
    making ??= make().catch((err: unknown) => {
      making = undefined;
      throw err;
    });
    return making;
  };
  return {
    async query(q) {
      return run(pool ?? (await ready()), q);
    },
    async end() {
      const made = pool ?? (await making?.catch(() => undefined));
      await made?.end();
    },
  };
}
