/** The options every SQL store takes, their defaults and checks, and the backend a store runs on. */
import { ConfigError } from '../../core/errors.js';
import type { ClockOption } from '../clock.js';
import type { SqlQuery, SqlResult } from './dialect.js';

/** Options every SQL store takes. */
export interface SqlStoreOptions {
  /**
   * Largest session in bytes of key names plus JSON text. Checked before every write, and inside
   * the patch statement itself, so concurrent patches cannot grow a session past it.
   * @default 1048576 (1 MiB)
   */
  maxSize?: number;
  /**
   * Rows per page for `scan()` and per DELETE for `gc()`.
   * @default 500
   */
  batchSize?: number;
  /**
   * Which clock decides expiry: `'store'` reads the database server's once a minute and corrects
   * this machine's by the difference; `'local'` uses this machine's as is. See the README.
   * @default 'store'
   */
  clock?: ClockOption;
}

/** How a concrete store runs statements and ends its pool. */
export interface SqlBackend {
  query(query: SqlQuery): Promise<SqlResult>;
  /** Ends the pool when the store created it; a no-op for a pool the user passed. */
  end(): Promise<void>;
}

/** Checks a table or schema name: letters, digits and `_`, as the docs' DDL assumes. */
export function isSqlIdentifier(value: unknown): value is string {
  return typeof value === 'string' && /^[A-Za-z_][A-Za-z0-9_]{0,62}$/.test(value);
}

/** Defaults and checks for the options every SQL store takes. */
export function checkSqlOptions(options: SqlStoreOptions): Required<SqlStoreOptions> {
  return {
    maxSize: positive('maxSize', options.maxSize ?? 1024 * 1024),
    batchSize: positive('batchSize', options.batchSize ?? 500),
    clock: options.clock ?? 'store',
  };
}

export function positive(option: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0) {
    throw new ConfigError(option, `must be a whole number > 0, got ${JSON.stringify(value)}`);
  }
  return value;
}
