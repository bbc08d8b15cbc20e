/**
 * Large patches on MariaDB, in time linear in the keys. MariaDB's JSON_MERGE_PATCH takes time in
 * proportion to the stored keys times the patch's keys (10.11: 2,000 × 2,000 keys 2.5 s,
 * 4,000 × 4,000 keys 7.9 s), so a patch naming more than `LARGE_PATCH_KEYS` keys is merged here
 * and the whole document written back.
 */

import { applyPatchData, dataSize, staleExpectations } from '../kit/index.js';
import type { SqlQuery, SqlResult, SqlRow } from '../sql/dialect.js';
import { Params } from '../sql/rows.js';
import type { Patch } from '../store.js';
import { objectText } from './json-text.js';

/** Patches naming more keys than this take `patchWhole` on MariaDB. */
export const LARGE_PATCH_KEYS = 32;
/** Re-reads of a large patch whose row changed between its read and its write. */
const ATTEMPTS = 5;

const placeholder = () => '?';

/** What `patchWhole` needs of the dialect: the quoted table, a read of the live row, a bounded write. */
export interface WholePatchIO {
  table: string;
  read(): Promise<SqlRow | null>;
  write(query: SqlQuery): Promise<SqlResult>;
}

/**
 * Reads the row, merges here, and writes the whole document back guarded by the version read (and
 * the patch's own guards), again from the read when another write came between. The write goes as
 * a prepared statement: mysql2 spends about 100 ms escaping 400 KB into a statement's text. Null
 * (left to the store to explain, as for a one-statement patch) when the row is gone, a guard
 * fails (version, lock token, an expected key value), the result is over `maxBytes`, or the row
 * kept changing.
 */
export async function patchWhole(
  io: WholePatchIO,
  key: string,
  patch: Patch,
  now: number,
  maxBytes: number,
): Promise<number | null> {
  for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
    const row = await io.read();
    if (!row) return null;
    if (patch.expectVersion !== undefined && row.version !== patch.expectVersion) return null;
    if (patch.lockToken !== undefined && row.lockToken !== patch.lockToken) return null;
    // `expect` checked on the row read: the write below applies only while that version stands.
    if (staleExpectations(row.data ?? {}, patch).length > 0) return null;
    const data = applyPatchData(row.data ?? {}, patch);
    if (dataSize(data) > maxBytes) return null;
    const p = new Params(placeholder);
    const assignments = [
      `\`data\` = ${p.add(objectText(Object.entries(data)))}`,
      `\`expires\` = LEAST(${p.add(patch.expiresAt)}, \`absolute_expires\`)`,
    ];
    if (patch.userId !== undefined) assignments.push(`\`uid\` = ${p.add(patch.userId)}`);
    if (patch.lockToken !== undefined && patch.releaseLock) {
      assignments.push('`lock_token` = NULL', '`lock_expires` = NULL');
    }
    assignments.push('`version` = LAST_INSERT_ID(`version` + 1)');
    const guards = [
      `\`key\` = ${p.add(key)}`,
      `\`expires\` > ${p.add(now)}`,
      `\`version\` = ${p.add(row.version)}`,
    ];
    if (patch.lockToken !== undefined) guards.push(`\`lock_token\` = ${p.add(patch.lockToken)}`);
    const result = await io.write({
      text: `UPDATE ${io.table} SET ${assignments.join(', ')} WHERE ${guards.join(' AND ')}`,
      values: p.values,
      prepared: true,
    });
    if (result.affected > 0 && result.insertId !== undefined) return result.insertId;
  }
  return null;
}
