/**
 * `patch`: one `UpdateItem` carrying only the changed keys, or, where an update expression cannot
 * say it (a `replace`, a write growing past `maxBytes`, past the expression limits, an item
 * without a data map), a read and a whole-map write guarded by the version read. A refused write
 * is explained from the item it met: gone, our own earlier attempt, a stale version, a lost lock,
 * stale keys, or a race to try again.
 */
import type { Patch, StoreLimits } from '../../core/store.js';
import {
  applyPatchData,
  lockLost,
  patchLimit,
  sleep,
  staleExpectations,
  staleKeys,
  versionConflict,
  writeToken,
} from '../kit/index.js';
import type { Report, Table } from './client.js';
import { ATTR, decodeData, encodeData, encodeKey, num, str } from './codec.js';
import { expectedValues, fits, perKeyUpdate, rewriteUpdate } from './expressions.js';
import { ConditionFailed, keptChanging, unavailable, ValidationFailed } from './failures.js';
import { checkData, checkItem, isLive } from './item.js';
import type { AttributeValue, Item } from './transport.js';

// UpdateExpression limits: 300 operators. Beyond this many keys (with margin for the condition
// and the fixed attributes), a patch rewrites the whole data map instead.
const MAX_PATCH_KEYS = 250;
const REWRITE_ATTEMPTS = 8;

export async function patchItem(
  table: Table,
  limits: StoreLimits,
  key: string,
  patch: Patch,
  report: Report,
): Promise<{ version: number } | null> {
  const limit = patchLimit(limits, patch);
  checkData(table.name, patch.set, limit);
  const token = writeToken();
  let expiresAt = patch.expiresAt;
  const unset = patch.unset.filter((k) => !Object.hasOwn(patch.set, k));
  const keyCount = Object.keys(patch.set).length + unset.length;
  // Under a `maxBytes` below the item limit a growing write cannot be checked by an update
  // expression (DynamoDB's size() counts a map's entries, not bytes): such writes read the
  // item and write the whole map conditioned on the version read, so concurrent ones cannot
  // add up past the limit. The cost: one strongly consistent read more per growing write.
  const guarded = limit < limits.maxSessionBytes && Object.keys(patch.set).length > 0;
  if (patch.replace || guarded || keyCount > MAX_PATCH_KEYS)
    return rewrite(table, limits, key, patch, token, report);
  const expected = expectedValues(table.layout, patch.expect ?? {});
  for (let attempt = 0; attempt < REWRITE_ATTEMPTS; attempt++) {
    const request = perKeyUpdate(
      table.layout,
      table.tableName,
      table.key(key),
      patch,
      unset,
      token,
      expiresAt,
      table.clock.now(),
      expected,
    );
    if (!fits(request.UpdateExpression) || !fits(request.ConditionExpression)) {
      return rewrite(table, limits, key, patch, token, report);
    }
    try {
      const out = await table.send('UpdateItem', request, report, true);
      return { version: num(out.Attributes ?? {}, ATTR.version) ?? 0 };
    } catch (err) {
      // No `data` map (an item made by another tool) or not a map: write the whole map.
      if (err instanceof ValidationFailed && /document path/i.test(err.message)) {
        return rewrite(table, limits, key, patch, token, report);
      }
      if (err instanceof ValidationFailed) throw unavailable(table.tableName, 'UpdateItem', err.cause);
      if (!(err instanceof ConditionFailed)) throw err;
      const current = await table.conditionItem(key, err, report);
      const decided = whyRefused(table, current, patch, token);
      if (decided !== undefined) return decided;
      adoptStoredEncodings(table, current as Item, expected);
      const abs = num(current ?? {}, ATTR.absolute);
      if (abs !== undefined && abs < expiresAt) expiresAt = abs;
      // Otherwise the item changed between the refused write and the read: try again.
    }
  }
  throw keptChanging();
}

/**
 * After a refused write: null (gone), the version (our own earlier attempt landed), a
 * ConflictError (stale version, lost lock, stale keys), or undefined (try again).
 */
function whyRefused(
  table: Table,
  current: Item | undefined,
  patch: Patch,
  token: string,
): { version: number } | null | undefined {
  if (current && str(current, ATTR.writeToken) === token) {
    return { version: num(current, ATTR.version) ?? 0 };
  }
  if (!isLive(table.layout, current, table.clock.now())) return null;
  if (patch.expectVersion !== undefined && (num(current, ATTR.version) ?? 0) !== patch.expectVersion) {
    throw versionConflict(table.name);
  }
  if (patch.lockToken !== undefined && str(current, ATTR.lock) !== patch.lockToken)
    throw lockLost(table.name);
  const stale = staleExpectations(decodeData(current[table.layout.data]), patch);
  if (stale.length > 0) throw staleKeys(table.name, stale);
  return undefined;
}

/**
 * Expected keys whose stored text is what the request read but whose stored bytes differ (equal
 * text compressed by another instance, or under another `compressAbove`): the next attempt
 * expects the stored value itself, so the retry converges.
 */
function adoptStoredEncodings(
  table: Table,
  current: Item,
  expected: Map<string, AttributeValue | null>,
): void {
  const map = current[table.layout.data];
  const stored = map !== undefined && 'M' in map ? map.M : {};
  for (const k of expected.keys()) {
    const value = Object.hasOwn(stored, encodeKey(k)) ? stored[encodeKey(k)] : undefined;
    expected.set(k, value ?? null);
  }
}

/**
 * The whole data map in one write: for `replace`, for patches past the expression limits, and
 * for items without a data map. Read, apply, write conditioned on the version read.
 */
async function rewrite(
  table: Table,
  limits: StoreLimits,
  key: string,
  patch: Patch,
  token: string,
  report: Report,
): Promise<{ version: number } | null> {
  const { layout } = table;
  for (let attempt = 0; attempt < REWRITE_ATTEMPTS; attempt++) {
    if (attempt > 0) await sleep(5 + Math.random() * 20 * attempt);
    const current = await table.read(key, report);
    const decided = whyRefused(table, current, patch, token);
    if (decided !== undefined) return decided;
    const item = current as Item;
    const data = applyPatchData(patch.replace ? {} : decodeData(item[layout.data]), patch);
    checkData(table.name, data, patchLimit(limits, patch));
    const before = num(item, ATTR.version);
    const abs = num(item, ATTR.absolute);
    const expiresAt = Math.min(patch.expiresAt, abs ?? Number.POSITIVE_INFINITY);
    const map = encodeData(data, layout.compressAbove, layout.compression);
    checkItem(table.name, { ...item, [layout.data]: map });
    const request = rewriteUpdate(
      layout,
      table.tableName,
      table.key(key),
      patch,
      map,
      before,
      token,
      expiresAt,
      table.clock.now(),
    );
    try {
      await table.send('UpdateItem', request, report);
      return { version: (before ?? 0) + 1 };
    } catch (err) {
      if (!(err instanceof ConditionFailed)) throw err;
      // Another write came between the read and this one: read again.
    }
  }
  throw keptChanging();
}
