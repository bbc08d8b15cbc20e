/**
 * The SQL express-session stores:
 * - connect-pg-simple: table `session (sid varchar primary key, sess json, expire timestamp(6))`;
 *   a row is live while `expire >= now`.
 * - express-mysql-session: table `sessions (session_id varchar(128) primary key, expires int
 *   unsigned (seconds), data mediumtext (JSON))`; a row is live while `expires >= now`.
 * Read through the pool the user passes (`pg` Pool; `mysql2` pool, promise or callback style).
 */
import { ConfigError } from '../core/errors.js';
import type { LegacyRecord, LegacySource } from '../core/legacy.js';

/** Ids listed per query (keyset pagination) by `ids()`. */
const PAGE = 500;

interface PgLike {
  query(text: string, params: unknown[]): Promise<{ rows: Record<string, unknown>[] }>;
}

export interface ConnectPgSimpleOptions {
  /** The `pg` Pool (or Client) connect-pg-simple used. Stays open. */
  pool: unknown;
  /** connect-pg-simple's `tableName`. @default 'session' */
  table?: string;
  /** connect-pg-simple's `schemaName`. @default the search path */
  schema?: string;
}

function pgIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

function parseJson(value: unknown): Record<string, unknown> | null {
  const data: unknown = typeof value === 'string' ? JSON.parse(value) : value;
  return typeof data === 'object' && data !== null && !Array.isArray(data)
    ? (data as Record<string, unknown>)
    : null;
}

/** Reads express-session's sessions where connect-pg-simple stored them. */
export function connectPgSimple(options: ConnectPgSimpleOptions): LegacySource {
  const pool = options?.pool as PgLike;
  if (typeof pool !== 'object' || pool === null || typeof pool.query !== 'function') {
    throw new ConfigError('pool', 'pass the pg Pool connect-pg-simple used', { scope: 'legacy' });
  }
  const table = options.table ?? 'session';
  if (typeof table !== 'string' || table.length === 0)
    throw new ConfigError('table', 'must be a table name', { scope: 'legacy' });
  const qualified = (options.schema ? `${pgIdent(options.schema)}.` : '') + pgIdent(table);
  return {
    name: 'connect-pg-simple',
    async get(legacyId: string): Promise<LegacyRecord | null> {
      // `expire` is a timestamp without time zone written through to_timestamp(): read back the same way.
      const { rows } = await pool.query(
        `SELECT sess, EXTRACT(EPOCH FROM expire::timestamptz) * 1000 AS expires_ms FROM ${qualified} WHERE sid = $1 AND expire >= now()`,
        [legacyId],
      );
      const row = rows[0];
      if (!row) return null;
      const data = parseJson(row.sess);
      return data ? { data, expiresAt: Number(row.expires_ms) } : null;
    },
    async destroy(legacyId: string): Promise<void> {
      await pool.query(`DELETE FROM ${qualified} WHERE sid = $1`, [legacyId]);
    },
    async *ids(): AsyncIterable<string> {
      let after = '';
      for (;;) {
        const { rows } = await pool.query(
          `SELECT sid FROM ${qualified} WHERE sid > $1 AND expire >= now() ORDER BY sid LIMIT ${PAGE}`,
          [after],
        );
        for (const row of rows) yield String(row.sid);
        if (rows.length < PAGE) return;
        after = String(rows[rows.length - 1]?.sid);
      }
    },
  };
}

interface MysqlPromiseLike {
  query(sql: string, params: unknown[]): Promise<[Record<string, unknown>[], unknown]>;
}

export interface ExpressMysqlSessionOptions {
  /** The `mysql2` pool express-mysql-session used (`mysql2/promise`, or a callback pool). Stays open. */
  pool: unknown;
  /** express-mysql-session's `schema.tableName`. @default 'sessions' */
  table?: string;
  /** express-mysql-session's `schema.columnNames`. @default { session_id, expires, data } */
  columns?: { session_id?: string; expires?: string; data?: string };
}

/** Reads express-session's sessions where express-mysql-session stored them. */
export function expressMysqlSession(options: ExpressMysqlSessionOptions): LegacySource {
  const given = options?.pool as { query?: unknown; promise?: () => MysqlPromiseLike };
  if (typeof given !== 'object' || given === null || typeof given.query !== 'function') {
    throw new ConfigError('pool', 'pass the mysql2 pool express-mysql-session used', { scope: 'legacy' });
  }
  // A callback-style mysql2 pool has `promise()`; a `mysql2/promise` pool is used as it is.
  const pool: MysqlPromiseLike =
    typeof given.promise === 'function' ? given.promise() : (given as MysqlPromiseLike);
  const table = options.table ?? 'sessions';
  const id = options.columns?.session_id ?? 'session_id';
  const expires = options.columns?.expires ?? 'expires';
  const dataColumn = options.columns?.data ?? 'data';
  for (const [option, value] of Object.entries({ table, id, expires, dataColumn })) {
    if (typeof value !== 'string' || value.length === 0)
      throw new ConfigError(option, 'must be a name', { scope: 'legacy' });
  }
  return {
    name: 'express-mysql-session',
    async get(legacyId: string): Promise<LegacyRecord | null> {
      const now = Math.round(Date.now() / 1000);
      const [rows] = await pool.query('SELECT ?? AS data, ?? AS expires FROM ?? WHERE ?? = ? AND ?? >= ?', [
        dataColumn,
        expires,
        table,
        id,
        legacyId,
        expires,
        now,
      ]);
      const row = rows[0];
      if (!row) return null;
      const data = parseJson(row.data);
      return data ? { data, expiresAt: Number(row.expires) * 1000 } : null;
    },
    async destroy(legacyId: string): Promise<void> {
      await pool.query('DELETE FROM ?? WHERE ?? = ?', [table, id, legacyId]);
    },
    async *ids(): AsyncIterable<string> {
      let after = '';
      for (;;) {
        const [rows] = await pool.query(
          `SELECT ?? AS id FROM ?? WHERE ?? > ? AND ?? >= ? ORDER BY ?? LIMIT ${PAGE}`,
          [id, table, id, after, expires, Math.round(Date.now() / 1000), id],
        );
        for (const row of rows) yield String(row.id);
        if (rows.length < PAGE) return;
        after = String(rows[rows.length - 1]?.id);
      }
    },
  };
}
