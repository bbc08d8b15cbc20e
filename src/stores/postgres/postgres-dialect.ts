/**
 * PostgreSQL statements. Times are `timestamptz` columns; they travel as ms since the epoch and
 * are converted in SQL (`to_timestamp(ms / 1000)` in, `extract(epoch …) * 1000` out), exact to
 * the millisecond. `data` is `jsonb` holding key → JSON text (as JSON strings), so a patch is
 * `(data - unset) || set` in one UPDATE.
 */

import type { SqlDialect, SqlRow, SqlRunner } from '../sql/dialect.js';
import { num, Params, readRow } from '../sql/rows.js';
import type { Patch, StoredSession } from '../store.js';
import { classifyPostgresError } from './postgres-failures.js';
import {
  expectGuards,
  placeholder,
  quote,
  SUMMARY,
  sizeOf,
  toTime,
  unlockChannel,
  unlockTopic,
} from './postgres-sql.js';

export class PostgresDialect implements SqlDialect {
  readonly classifyError = classifyPostgresError;
  readonly name = 'postgres';
  readonly engine = 'PostgreSQL';
  /** Keys are short (base64url of a hash, or a prefix + id); a btree entry must stay under ~2.7 KB. */
  readonly maxKeyBytes = 1024;
  readonly forbidsNul = true;
  readonly maxUserIdBytes = 1024;
  readonly #table: string;
  readonly #indexPrefix: string;
  readonly #rowLockTimeoutMs: string;
  /** Where the statements that release a lock announce it (`pg_notify`, delivered at commit). */
  readonly unlockChannel: string;

  constructor(tableName: string, schema: string | undefined, rowLockTimeoutMs: number) {
    this.#rowLockTimeoutMs = String(rowLockTimeoutMs);
    this.unlockChannel = unlockChannel(schema, tableName);
    this.#table = schema === undefined ? quote(tableName) : `${quote(schema)}.${quote(tableName)}`;
    this.#indexPrefix = tableName;
  }

  /**
   * A guard that bounds the statement's row-lock waits on any connection, pools passed in
   * included: `set_config(…, true)` sets `lock_timeout` for the statement's own (implicit)
   * transaction only, and as a filter on the row it runs before the row is locked for the
   * write. PostgreSQL's default `lock_timeout` is 0, which waits forever.
   */
  #boundWait(p: Params): string {
    return `set_config('lock_timeout', ${p.add(this.#rowLockTimeoutMs)}::text, true) IS NOT NULL`;
  }

  /**
   * Announces, at the commit of the statement it is part of, that the lock on `key` is free: the
   * store's `waitForUnlock` listens for it. Only the key's digest travels (see `unlockTopic`).
   */
  #notify(p: Params, key: string): string {
    return `pg_notify(${p.add(this.unlockChannel)}, ${p.add(unlockTopic(key))})`;
  }

  /** The DDL `ensureTable()` runs, also printed in docs/postgres.md. */
  ddl(): string[] {
    const t = this.#table;
    const idx = (suffix: string) => quote(`${this.#indexPrefix}_${suffix}`);
    return [
      `CREATE TABLE IF NOT EXISTS ${t} (
  "key" text COLLATE "C" PRIMARY KEY,
  "data" jsonb NOT NULL DEFAULT '{}'::jsonb,
  "created" timestamptz NOT NULL,
  "expires" timestamptz NOT NULL,
  "absolute_expires" timestamptz NOT NULL,
  "version" bigint NOT NULL,
  "uid" text,
  "lock_token" text,
  "lock_expires" timestamptz
)`,
      `CREATE INDEX IF NOT EXISTS ${idx('expires_idx')} ON ${t} ("expires")`,
      `CREATE INDEX IF NOT EXISTS ${idx('uid_idx')} ON ${t} ("uid") WHERE "uid" IS NOT NULL`,
    ];
  }

  async ensureTable(run: SqlRunner): Promise<void> {
    for (const statement of this.ddl()) {
      try {
        await run({ text: statement, values: [] });
      } catch (err) {
        // Two instances running IF NOT EXISTS at the same moment: one of them loses the race on
        // the catalog's unique index. The table is there either way.
        const code = (err as { code?: string }).code;
        if (code !== '23505' && code !== '42P07') throw err;
      }
    }
  }

  async serverTime(run: SqlRunner): Promise<number> {
    // clock_timestamp(): the time now, not the transaction's start as now() would give.
    const { rows } = await run({
      text: 'SELECT (extract(epoch FROM clock_timestamp()) * 1000)::float8 AS "now"',
      values: [],
    });
    return Number(rows[0]?.now);
  }

  async get(run: SqlRunner, key: string, now: number): Promise<SqlRow | null> {
    const p = new Params(placeholder);
    const { rows } = await run({
      text: `SELECT ${SUMMARY}, "data", "lock_token" FROM ${this.#table}
        WHERE "key" = ${p.add(key)} AND "expires" > ${toTime(p.add(now))}`,
      values: p.values,
    });
    return rows[0] ? readRow(rows[0]) : null;
  }

  async create(run: SqlRunner, key: string, s: StoredSession, now: number): Promise<boolean> {
    const p = new Params(placeholder);
    const expires = Math.min(s.expiresAt, s.absoluteExpiresAt);
    const { affected } = await run({
      text: `INSERT INTO ${this.#table} AS t
        ("key", "data", "created", "expires", "absolute_expires", "version", "uid")
        SELECT ${p.add(key)}::text, ${p.add(JSON.stringify(s.data))}::jsonb, ${toTime(p.add(s.createdAt))},
          ${toTime(p.add(expires))}, ${toTime(p.add(s.absoluteExpiresAt))}, ${p.add(s.version)}::bigint,
          ${p.add(s.userId ?? null)}::text
        WHERE ${this.#boundWait(p)}
        ON CONFLICT ("key") DO UPDATE SET "data" = EXCLUDED."data", "created" = EXCLUDED."created",
          "expires" = EXCLUDED."expires", "absolute_expires" = EXCLUDED."absolute_expires",
          "version" = EXCLUDED."version", "uid" = EXCLUDED."uid", "lock_token" = NULL, "lock_expires" = NULL
        WHERE t."expires" <= ${toTime(p.add(now))}`,
      values: p.values,
    });
    return affected > 0;
  }

  async patch(
    run: SqlRunner,
    key: string,
    patch: Patch,
    now: number,
    limit: { maxBytes: number; setBytes: number },
  ): Promise<number | null> {
    const p = new Params(placeholder);
    const set = () => `${p.add(JSON.stringify(patch.set))}::jsonb`;
    const assignments = [`"expires" = LEAST(${toTime(p.add(patch.expiresAt))}, "absolute_expires")`];
    const guards = [`"key" = ${p.add(key)}`, `"expires" > ${toTime(p.add(now))}`, this.#boundWait(p)];
    const setKeys = Object.keys(patch.set);
    if (patch.replace) {
      assignments.push(`"data" = ${set()}`);
    } else if (setKeys.length > 0 || patch.unset.length > 0) {
      // Unset first, then set: a key named in both ends up set, as in applyPatchData.
      assignments.push(`"data" = ("data" - ${p.add(patch.unset)}::text[]) || ${set()}`);
      if (setKeys.length > 0) {
        // The data without every key the patch names, plus what the patch sets: exact size.
        const kept = `("data" - ${p.add([...patch.unset, ...setKeys])}::text[])`;
        guards.push(`${sizeOf(kept)} + ${p.add(limit.setBytes)} <= ${p.add(limit.maxBytes)}`);
      }
    }
    if (patch.userId !== undefined) assignments.push(`"uid" = ${p.add(patch.userId)}::text`);
    if (patch.expectVersion !== undefined) guards.push(`"version" = ${p.add(patch.expectVersion)}`);
    if (patch.expect !== undefined) guards.push(...expectGuards(p, patch.expect));
    const returning = ['"version"'];
    if (patch.lockToken !== undefined) {
      guards.push(`"lock_token" = ${p.add(patch.lockToken)}`);
      if (patch.releaseLock) {
        assignments.push(`"lock_token" = NULL`, `"lock_expires" = NULL`);
        returning.push(this.#notify(p, key));
      }
    }
    assignments.push(`"version" = "version" + 1`);
    const { rows } = await run({
      text: `UPDATE ${this.#table} SET ${assignments.join(', ')} WHERE ${guards.join(' AND ')}
        RETURNING ${returning.join(', ')}`,
      values: p.values,
    });
    return rows[0] ? num(rows[0].version) : null;
  }

  async touch(run: SqlRunner, key: string, expiresAt: number, now: number): Promise<boolean> {
    const p = new Params(placeholder);
    const { affected } = await run({
      text: `UPDATE ${this.#table} SET "expires" = LEAST(${toTime(p.add(expiresAt))}, "absolute_expires")
        WHERE "key" = ${p.add(key)} AND "expires" > ${toTime(p.add(now))} AND ${this.#boundWait(p)}`,
      values: p.values,
    });
    return affected > 0;
  }

  async destroy(run: SqlRunner, key: string, now: number): Promise<boolean> {
    const p = new Params(placeholder);
    const { rows } = await run({
      // A locked session deleted (a logout) frees its waiters too: they find it gone.
      text: `DELETE FROM ${this.#table} WHERE "key" = ${p.add(key)} AND ${this.#boundWait(p)}
        RETURNING "expires" > ${toTime(p.add(now))} AS live,
          CASE WHEN "lock_token" IS NOT NULL THEN ${this.#notify(p, key)} END AS notified`,
      values: p.values,
    });
    return rows[0]?.live === true;
  }

  async lock(
    run: SqlRunner,
    key: string,
    token: string,
    until: number,
    now: number,
  ): Promise<SqlRow | 'missing' | 'held'> {
    const p = new Params(placeholder);
    const nowAt = toTime(p.add(now));
    const { rows } = await run({
      text: `UPDATE ${this.#table} SET "lock_token" = ${p.add(token)}, "lock_expires" = ${toTime(p.add(until))}
        WHERE "key" = ${p.add(key)} AND "expires" > ${nowAt}
          AND ("lock_token" IS NULL OR "lock_expires" <= ${nowAt}) AND ${this.#boundWait(p)}
        RETURNING ${SUMMARY}, "data", "lock_token"`,
      values: p.values,
    });
    if (rows[0]) return readRow(rows[0]);
    return (await this.get(run, key, now)) ? 'held' : 'missing';
  }

  async unlock(run: SqlRunner, key: string, token: string): Promise<void> {
    const p = new Params(placeholder);
    await run({
      text: `UPDATE ${this.#table} SET "lock_token" = NULL, "lock_expires" = NULL
        WHERE "key" = ${p.add(key)} AND "lock_token" = ${p.add(token)} AND ${this.#boundWait(p)}
        RETURNING ${this.#notify(p, key)}`,
      values: p.values,
    });
  }

  async listByUser(run: SqlRunner, userId: string, now: number): Promise<SqlRow[]> {
    const { rows } = await run({
      text: `SELECT ${SUMMARY}, ${sizeOf('"data"')} AS size FROM ${this.#table}
        WHERE "uid" = $1 AND "expires" > ${toTime('$2')} ORDER BY "key"`,
      values: [userId, now],
    });
    return rows.map(readRow);
  }

  async scanPage(
    run: SqlRunner,
    after: string | null,
    limit: number,
    now: number,
    includeExpired: boolean,
  ): Promise<SqlRow[]> {
    const p = new Params(placeholder);
    const where: string[] = [];
    if (after !== null) where.push(`"key" > ${p.add(after)}`);
    if (!includeExpired) where.push(`"expires" > ${toTime(p.add(now))}`);
    const { rows } = await run({
      text: `SELECT ${SUMMARY}, ${sizeOf('"data"')} AS size FROM ${this.#table}
        ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY "key" LIMIT ${p.add(limit)}`,
      values: p.values,
    });
    return rows.map(readRow);
  }

  async countExpired(run: SqlRunner, now: number): Promise<number> {
    const { rows } = await run({
      text: `SELECT count(*) AS n FROM ${this.#table} WHERE "expires" <= ${toTime('$1')}`,
      values: [now],
    });
    return num(rows[0]?.n ?? 0);
  }

  async deleteExpired(run: SqlRunner, now: number, limit: number): Promise<number> {
    // SKIP LOCKED: a batch never waits behind a row some request is writing right now.
    const { affected } = await run({
      text: `DELETE FROM ${this.#table} WHERE "key" IN (
        SELECT "key" FROM ${this.#table} WHERE "expires" <= ${toTime('$1')}
        ORDER BY "expires" LIMIT $2 FOR UPDATE SKIP LOCKED)`,
      values: [now, limit],
    });
    return affected;
  }
}
