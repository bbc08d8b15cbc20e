import { ConfigError } from '../../core/errors.js';
import { checkSqlOptions, isSqlIdentifier, positive } from '../sql/options.js';
import { SqlStore } from '../sql/sql-store.js';
import { backend } from './postgres-backend.js';
import { PostgresDialect } from './postgres-dialect.js';
import type { PostgresStoreOptions } from './postgres-options.js';
import { UnlockListener } from './unlock-listener.js';

export { loadPg } from './postgres-backend.js';
export type { PostgresStoreOptions } from './postgres-options.js';

/**
 * Sessions in a PostgreSQL table: one row per session, data in a `jsonb` column with one entry
 * per top-level key, per-key patches in one UPDATE, a lock in the row whose release is announced
 * by NOTIFY to waiters (`waitForUnlock`), a partial index on `uid` for "log out everywhere" and an
 * index on `expires` for `gc()`. Call `ensureTable()` once (or `baton create-table`): the
 * constructor creates nothing, and opens no connection.
 */
export class PostgresStore extends SqlStore {
  readonly #listener: UnlockListener;

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
    const dialect = new PostgresDialect(tableName, options.schema, rowLockTimeoutMs);
    const connections = backend(options, { connectTimeoutMs, poolSize });
    super(dialect, connections, sql, { lockNotify: true });
    this.#listener = new UnlockListener(dialect.unlockChannel, connections.listen);
  }

  /**
   * Resolves when the lock on `key` is released (PostgreSQL NOTIFY from the releasing statement),
   * or after `timeoutMs` at the latest; never rejects. The first wait opens the store's one
   * LISTEN connection (on a pool passed in: a separate connection made with that pool's options).
   */
  waitForUnlock(key: string, timeoutMs: number): Promise<void> {
    return this.#listener.wait(key, timeoutMs);
  }

  override async close(): Promise<void> {
    await Promise.all([this.#listener.close(), super.close()]);
  }
}
