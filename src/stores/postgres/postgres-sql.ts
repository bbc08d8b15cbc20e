/**
 * SQL fragments the PostgreSQL statements share: placeholders, quoting, time conversion, the
 * summary columns, the size of a data object, the per-key expectation guard of a merge patch,
 * and the names lock releases are announced under.
 */
import { createHash } from 'node:crypto';
import type { Params } from '../sql/rows.js';

export const placeholder = (n: number) => `$${n}`;
export const quote = (name: string) => `"${name.replaceAll('"', '""')}"`;
export const toTime = (ph: string) => `to_timestamp(${ph}::float8 / 1000)`;
const ms = (column: string) => `(extract(epoch FROM ${column}) * 1000)::float8`;

/** Columns of a row without its data, read back as ms. */
export const SUMMARY = `"key", ${ms('"created"')} AS created, ${ms('"expires"')} AS expires,
  ${ms('"absolute_expires"')} AS absolute_expires, "version", "uid"`;

/** Bytes of key names plus JSON text of a data object. */
export const sizeOf = (data: string) =>
  `(SELECT COALESCE(SUM(octet_length(e.k) + octet_length(e.v)), 0) FROM jsonb_each_text(${data}) AS e(k, v))`;

/**
 * `Patch.expect` as guards on the row itself: no named key holds other than what the request read
 * at load. `data` keeps each value as a JSON *string* (the exact text the core wrote), and the
 * expected texts travel as a jsonb object of key → that text, so `data @> expected` compares
 * jsonb strings, which is exact (no normalizing of key order or numbers inside the text); keys
 * expected absent must have no member at all (`?|`). Plain operators on the row, not a subquery:
 * a concurrent write makes PostgreSQL re-check them on the row it wrote (READ COMMITTED).
 */
export function expectGuards(p: Params, expect: Record<string, string | null>): string[] {
  const present: string[] = [];
  const absent: string[] = [];
  for (const [k, v] of Object.entries(expect)) {
    if (v === null) absent.push(k);
    else present.push(`${JSON.stringify(k)}:${JSON.stringify(v)}`);
  }
  const guards: string[] = [];
  if (present.length > 0) guards.push(`"data" @> ${p.add(`{${present.join(',')}}`)}::jsonb`);
  if (absent.length > 0) guards.push(`NOT ("data" ?| ${p.add(absent)}::text[])`);
  return guards;
}

/**
 * The channel lock releases on a table are announced on (LISTEN takes an identifier: at most 63
 * bytes, so a digest of the qualified table name rather than the name itself).
 */
export function unlockChannel(schema: string | undefined, table: string): string {
  const qualified = schema === undefined ? table : `${schema}.${table}`;
  return `baton_unlock_${createHash('sha256').update(qualified).digest('hex').slice(0, 24)}`;
}

/**
 * What a release announces: a digest of the session key, never the key (every connection that
 * listens on the channel sees the payload). A collision only wakes a waiter early.
 */
export function unlockTopic(key: string): string {
  return createHash('sha256').update(key).digest('base64url').slice(0, 22);
}
