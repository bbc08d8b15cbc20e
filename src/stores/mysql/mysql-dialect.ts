/**
 * MySQL 8 and MariaDB 10.11 statements. Times are BIGINT ms since the epoch (MySQL's TIMESTAMP
 * ends in 2038 and converts through the session time zone; DATETIME has no zone). `data` is a
 * JSON column (MariaDB: LONGTEXT with a JSON_VALID check) holding key → JSON text as JSON
 * strings, patched in one UPDATE with JSON_MERGE_PATCH (no JSON paths, so any key works); on
 * MariaDB a patch of many keys is merged by the store instead (`whole-patch.ts`).
 *
 * MySQL has no RETURNING: a patch returns its new version through `LAST_INSERT_ID(version + 1)`,
 * which the server sends back in the same OK packet; `lock` updates, then reads the row it
 * locked by its token.
 */

import type { SqlDialect, SqlQuery, SqlRow, SqlRunner } from '../sql/dialect.js';
import { num, Params, readRow } from '../sql/rows.js';
import type { Patch, StoredSession } from '../store.js';

import { objectText } from './json-text.js';
import { expectGuards } from './mysql-expect.js';
import { classifyMySQLError } from './mysql-failures.js';
import { LARGE_PATCH_KEYS, patchWhole } from './whole-patch.js';

export { objectText };

const placeholder = () => '?';
const quote = (name: string) => `\`${name.replaceAll('`', '``')}\``;

/**
 * Bytes of key names plus JSON text of a data document (values are JSON strings). `doc` is
 * called once per use, so `?` placeholders in it get their values added in text order.
 */
const sizeOf = (doc: () => string) =>
  `((SELECT COALESCE(SUM(LENGTH(jk.k)), 0) FROM JSON_TABLE(JSON_KEYS(${doc()}), '$[*]'
      COLUMNS (k LONGTEXT CHARACTER SET utf8mb4 PATH '$')) AS jk)
   + (SELECT COALESCE(SUM(LENGTH(jv.v)), 0) FROM JSON_TABLE(${doc()}, '$.*'
      COLUMNS (v LONGTEXT CHARACTER SET utf8mb4 PATH '$')) AS jv))`;

const SUMMARY = '`key`, `created`, `expires`, `absolute_expires`, `version`, `uid`';

export class MySQLDialect implements SqlDialect {
  readonly classifyError = classifyMySQLError;
  readonly name = 'mysql';
  readonly engine = 'MySQL/MariaDB';
  /** The key column is VARBINARY(255). */
  readonly maxKeyBytes = 255;
  /** The uid column is VARBINARY(255). */
  readonly forbidsNul = false;
  readonly maxUserIdBytes = 255;
  readonly #table: string;
  readonly #tableName: string;
  readonly #lockWaitSeconds: number;
  /** MariaDB's `max_statement_time` for write statements, in seconds; 0: none. */
  readonly #statementSeconds: number;
  #flavor: Promise<'mariadb' | 'mysql'> | undefined;

  constructor(tableName: string, rowLockTimeoutMs: number, statementTimeoutMs = 0) {
    this.#tableName = tableName;
    this.#table = quote(tableName);
    // innodb_lock_wait_timeout takes whole seconds, at least 1.
    this.#lockWaitSeconds = Math.max(1, Math.ceil(rowLockTimeoutMs / 1000));
    // max_statement_time takes seconds with microsecond precision.
    this.#statementSeconds = statementTimeoutMs / 1000;
  }

  /** The DDL `ensureTable()` runs, also printed in docs/mysql.md. */
  ddl(): string {
    return `CREATE TABLE IF NOT EXISTS ${this.#table} (
  \`key\` VARBINARY(255) NOT NULL,
  \`data\` JSON NOT NULL,
  \`created\` BIGINT NOT NULL,
  \`expires\` BIGINT NOT NULL,
  \`absolute_expires\` BIGINT NOT NULL,
  \`version\` BIGINT NOT NULL,
  \`uid\` VARBINARY(255) NULL,
  \`lock_token\` VARBINARY(64) NULL,
  \`lock_expires\` BIGINT NULL,
  PRIMARY KEY (\`key\`),
  KEY ${quote(`${this.#tableName}_expires_idx`)} (\`expires\`),
  KEY ${quote(`${this.#tableName}_uid_idx`)} (\`uid\`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin`;
  }

  async ensureTable(run: SqlRunner): Promise<void> {
    await run({ text: this.ddl(), values: [] });
  }

  /**
   * Bounds row-lock waits of one write statement, and on MariaDB its running time: the server
   * cancels a statement still running after `statementTimeoutMs` (rolled back whole), so a write
   * the session manager gave up on does not go on running. MariaDB takes `SET STATEMENT … FOR`
   * on any connection; MySQL 8 has no statement-scoped form for these variables, so pools the
   * store makes set the lock wait per session instead (see MySQLStore).
   */
  async #bounded(run: SqlRunner, query: SqlQuery) {
    if ((await this.#serverFlavor(run)) === 'mariadb') {
      const limits = [`innodb_lock_wait_timeout = ${this.#lockWaitSeconds}`];
      if (this.#statementSeconds > 0) limits.push(`max_statement_time = ${this.#statementSeconds}`);
      return run({ ...query, text: `SET STATEMENT ${limits.join(', ')} FOR ${query.text}` });
    }
    return run(query);
  }

  #serverFlavor(run: SqlRunner): Promise<'mariadb' | 'mysql'> {
    this.#flavor ??= run({ text: 'SELECT VERSION() AS v', values: [] }).then(
      ({ rows }) => (/mariadb/i.test(String(rows[0]?.v)) ? 'mariadb' : 'mysql'),
      (err) => {
        this.#flavor = undefined;
        throw err;
      },
    );
    return this.#flavor;
  }

  async serverTime(run: SqlRunner): Promise<number> {
    // NOW(3): milliseconds (MySQL 5.6.4+ and MariaDB); read back through UNIX_TIMESTAMP in the
    // session's time zone, so the zone setting does not matter.
    const { rows } = await run({ text: 'SELECT UNIX_TIMESTAMP(NOW(3)) * 1000 AS `now`', values: [] });
    return Number(rows[0]?.now);
  }

  async get(run: SqlRunner, key: string, now: number): Promise<SqlRow | null> {
    const { rows } = await run({
      text: `SELECT ${SUMMARY}, \`data\`, \`lock_token\` FROM ${this.#table} WHERE \`key\` = ? AND \`expires\` > ?`,
      values: [key, now],
    });
    return rows[0] ? readRow(rows[0]) : null;
  }

  async create(run: SqlRunner, key: string, s: StoredSession, now: number): Promise<boolean> {
    // An expired row may still hold the key until gc: clear it, then insert. A live row makes
    // the insert fail on the primary key, which is the SessionExistsError answer. (Two short
    // statements instead of an upsert: the upsert's affected-rows count depends on the
    // connection's FOUND_ROWS flag, which a pool passed in may set either way.)
    await this.#bounded(run, {
      text: `DELETE FROM ${this.#table} WHERE \`key\` = ? AND \`expires\` <= ?`,
      values: [key, now],
    });
    try {
      await this.#bounded(run, {
        text: `INSERT INTO ${this.#table}
          (\`key\`, \`data\`, \`created\`, \`expires\`, \`absolute_expires\`, \`version\`, \`uid\`)
          VALUES (?, ?, ?, ?, ?, ?, ?)`,
        values: [
          key,
          JSON.stringify(s.data),
          s.createdAt,
          Math.min(s.expiresAt, s.absoluteExpiresAt),
          s.absoluteExpiresAt,
          s.version,
          s.userId ?? null,
        ],
      });
      return true;
    } catch (err) {
      if ((err as { code?: string }).code === 'ER_DUP_ENTRY') return false;
      throw err;
    }
  }

  async patch(
    run: SqlRunner,
    key: string,
    patch: Patch,
    now: number,
    limit: { maxBytes: number; setBytes: number },
  ): Promise<number | null> {
    const setKeys = Object.keys(patch.set);
    if (
      !patch.replace &&
      setKeys.length + patch.unset.length > LARGE_PATCH_KEYS &&
      (await this.#serverFlavor(run)) === 'mariadb'
    ) {
      return patchWhole(
        {
          table: this.#table,
          read: () => this.get(run, key, now),
          write: (query) => this.#bounded(run, query),
        },
        key,
        patch,
        now,
        limit.maxBytes,
      );
    }
    const p = new Params(placeholder);
    const assignments: string[] = [];
    const guards: string[] = [];
    if (patch.replace) {
      assignments.push(`\`data\` = ${p.add(JSON.stringify(patch.set))}`);
    } else if (setKeys.length > 0 || patch.unset.length > 0) {
      // One merge patch (RFC 7396) for the whole change: members set to null are removed, the
      // rest replaced or added. Stored values are JSON strings, never null, so "null means
      // delete" cannot hit a value. No JSON path is built, so no key needs escaping; and
      // MariaDB 10.11's JSON_REMOVE with several paths skips non-ASCII keys after the first
      // removal, which the odd-keys conformance test caught.
      // Unset first, then set: a key named in both ends up set, as in applyPatchData.
      const change = new Map<string, string | null>(patch.unset.map((k) => [k, null]));
      for (const k of setKeys) change.set(k, patch.set[k] ?? null);
      assignments.push(`\`data\` = JSON_MERGE_PATCH(\`data\`, ${p.add(objectText(change))})`);
    }
    assignments.push(`\`expires\` = LEAST(${p.add(patch.expiresAt)}, \`absolute_expires\`)`);
    if (patch.userId !== undefined) assignments.push(`\`uid\` = ${p.add(patch.userId)}`);
    if (patch.lockToken !== undefined && patch.releaseLock) {
      assignments.push('`lock_token` = NULL', '`lock_expires` = NULL');
    }
    // The new version comes back in the OK packet's insert id: no second statement.
    assignments.push('`version` = LAST_INSERT_ID(`version` + 1)');

    guards.push(`\`key\` = ${p.add(key)}`, `\`expires\` > ${p.add(now)}`);
    if (patch.expectVersion !== undefined) guards.push(`\`version\` = ${p.add(patch.expectVersion)}`);
    if (patch.lockToken !== undefined) guards.push(`\`lock_token\` = ${p.add(patch.lockToken)}`);
    if (patch.expect !== undefined) guards.push(...expectGuards(p, patch.expect));
    if (!patch.replace && setKeys.length > 0) {
      // The data without every key the patch names, plus what the patch sets: exact size.
      const named = objectText([...patch.unset, ...setKeys].map((k): [string, null] => [k, null]));
      const kept = () => `JSON_MERGE_PATCH(\`data\`, ${p.add(named)})`;
      guards.push(`${sizeOf(kept)} + ${p.add(limit.setBytes)} <= ${p.add(limit.maxBytes)}`);
    }
    const result = await this.#bounded(run, {
      text: `UPDATE ${this.#table} SET ${assignments.join(', ')} WHERE ${guards.join(' AND ')}`,
      values: p.values,
    });
    return result.affected > 0 && result.insertId !== undefined ? result.insertId : null;
  }

  async touch(run: SqlRunner, key: string, expiresAt: number, now: number): Promise<boolean> {
    const { affected } = await this.#bounded(run, {
      text: `UPDATE ${this.#table} SET \`expires\` = LEAST(?, \`absolute_expires\`) WHERE \`key\` = ? AND \`expires\` > ?`,
      values: [expiresAt, key, now],
    });
    return affected > 0;
  }

  async destroy(run: SqlRunner, key: string, now: number): Promise<boolean> {
    const live = await this.#bounded(run, {
      text: `DELETE FROM ${this.#table} WHERE \`key\` = ? AND \`expires\` > ?`,
      values: [key, now],
    });
    if (live.affected > 0) return true;
    // An expired leftover goes too, but there was no session to speak of.
    await this.#bounded(run, { text: `DELETE FROM ${this.#table} WHERE \`key\` = ?`, values: [key] });
    return false;
  }

  async lock(
    run: SqlRunner,
    key: string,
    token: string,
    until: number,
    now: number,
  ): Promise<SqlRow | 'missing' | 'held'> {
    const taken = await this.#bounded(run, {
      text: `UPDATE ${this.#table} SET \`lock_token\` = ?, \`lock_expires\` = ?
        WHERE \`key\` = ? AND \`expires\` > ? AND (\`lock_token\` IS NULL OR \`lock_expires\` <= ?)`,
      values: [token, until, key, now, now],
    });
    if (taken.affected === 0) return (await this.get(run, key, now)) ? 'held' : 'missing';
    // Read what we locked, by our token: a plain read, no row lock held across round trips.
    const { rows } = await run({
      text: `SELECT ${SUMMARY}, \`data\`, \`lock_token\` FROM ${this.#table}
        WHERE \`key\` = ? AND \`lock_token\` = ? AND \`expires\` > ?`,
      values: [key, token, now],
    });
    return rows[0] ? readRow(rows[0]) : 'missing';
  }

  async unlock(run: SqlRunner, key: string, token: string): Promise<void> {
    await this.#bounded(run, {
      text: `UPDATE ${this.#table} SET \`lock_token\` = NULL, \`lock_expires\` = NULL WHERE \`key\` = ? AND \`lock_token\` = ?`,
      values: [key, token],
    });
  }

  async listByUser(run: SqlRunner, userId: string, now: number): Promise<SqlRow[]> {
    const { rows } = await run({
      text: `SELECT ${SUMMARY}, ${sizeOf(() => '`data`')} AS size FROM ${this.#table}
        WHERE \`uid\` = ? AND \`expires\` > ? ORDER BY \`key\``,
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
    const where: string[] = [];
    const values: unknown[] = [];
    if (after !== null) {
      where.push('`key` > ?');
      values.push(after);
    }
    if (!includeExpired) {
      where.push('`expires` > ?');
      values.push(now);
    }
    values.push(limit);
    const { rows } = await run({
      text: `SELECT ${SUMMARY}, ${sizeOf(() => '`data`')} AS size FROM ${this.#table}
        ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY \`key\` LIMIT ?`,
      values,
    });
    return rows.map(readRow);
  }

  async countExpired(run: SqlRunner, now: number): Promise<number> {
    const { rows } = await run({
      text: `SELECT COUNT(*) AS n FROM ${this.#table} WHERE \`expires\` <= ?`,
      values: [now],
    });
    return num(rows[0]?.n ?? 0);
  }

  async deleteExpired(run: SqlRunner, now: number, limit: number): Promise<number> {
    const { affected } = await this.#bounded(run, {
      text: `DELETE FROM ${this.#table} WHERE \`expires\` <= ? ORDER BY \`expires\` LIMIT ?`,
      values: [now, limit],
    });
    return affected;
  }
}
