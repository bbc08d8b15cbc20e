/**
 * The connections a PostgresStore runs on: its statements through a `pg.Pool` (the store's own,
 * made at the first query, or the one passed in), and the one connection its lock waiters LISTEN
 * on (see `unlock-listener.ts`).
 */
import type pg from 'pg';
import { ConfigError } from '../../core/errors.js';
import { missingPackage } from '../kit/packages.js';
import type { SqlBackend } from '../sql/options.js';
import type { PostgresStoreOptions } from './postgres-options.js';
import type { ListenConnector } from './unlock-listener.js';

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

/** Where the store's statements go, and how its LISTEN connection is opened. */
export interface PostgresBackend extends SqlBackend {
  /**
   * A new, unconnected client on the same server for LISTEN: from the connection string, or
   * from the options of the `pg.Pool` passed in (a pool's client cannot hold a LISTEN: it goes
   * back to the pool). Null for a pool-like object without options.
   */
  listen: ListenConnector;
}

export function backend(
  options: PostgresStoreOptions,
  settings: { connectTimeoutMs: number; poolSize: number },
): PostgresBackend {
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
      async listen() {
        const poolOptions = (given as { options?: pg.ClientConfig }).options;
        if (typeof poolOptions !== 'object' || poolOptions === null) return null;
        const { Client } = await loadPg();
        return new Client(poolOptions);
      },
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
    async listen() {
      const { Client } = await loadPg();
      return new Client({ connectionString, connectionTimeoutMillis: settings.connectTimeoutMs });
    },
  };
}
