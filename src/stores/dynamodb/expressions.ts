/**
 * The condition and update expressions the store sends, as pure functions of their inputs: the
 * liveness test, the write guards (version, lock token, per-key expectations), the per-key update,
 * the whole-map rewrite and the lock writes. No I/O here.
 */
import type { Patch } from '../../core/store.js';
import { ATTR, encodeKey, encodeValue } from './codec.js';
import type { Layout } from './options.js';
import type { AttributeValue, Item, Payload } from './transport.js';

export type Names = Record<string, string>;
export type Values = Record<string, AttributeValue>;

// Expression limits: 4 KB of text and 300 operators or functions per expression. A patch past
// them (with margin for the fixed attributes) rewrites the whole data map instead.
const MAX_EXPRESSION_BYTES = 4096;
const MAX_OPERATORS = 300;

const n = (value: number): AttributeValue => ({ N: String(value) });
const s = (value: string): AttributeValue => ({ S: value });

/**
 * The `isLive` test (item.ts) as a condition, `#abs` aside (the write condition checks it):
 * `NOT #xms <= :now` holds when `xms` is absent, not a number, or in the future, and likewise
 * for the TTL attribute (DynamoDB's TTL ignores a value that is not a number); the last clause
 * asks for at least one of them, as a number in the future. Flat on purpose: nested groups and
 * `attribute_type` made dynalite's parser 2-3× slower per write (docs/dynamodb.md has figures).
 */
export function liveCondition(layout: Layout, names: Names, values: Values, now: number): string {
  names['#xms'] = ATTR.expiresMs;
  names['#exp'] = layout.ttl;
  values[':now'] = n(now);
  // Exact seconds (a fraction is fine in N): `#exp > :nowS` is then `#exp * 1000 > now`.
  values[':nowS'] = n(now / 1000);
  return '(NOT #xms <= :now AND NOT #exp <= :nowS AND (#xms > :now OR #exp > :nowS))';
}

/** `:x`, the expiry in ms, and `:xs`, the TTL attribute's epoch seconds. */
export function expiryValues(values: Values, expiresAt: number): void {
  values[':x'] = n(expiresAt);
  // The TTL attribute: epoch seconds, rounded up so DynamoDB never deletes a live session.
  values[':xs'] = n(Math.ceil(expiresAt / 1000));
}

/**
 * Live, never past the absolute expiry, plus the version or lock token the mode asks for. No
 * `attribute_exists` of the key: the liveness test's last clause asks for an expiry attribute in
 * the future, which a missing item cannot have (one test less for the engine on every write).
 */
export function writeCondition(
  layout: Layout,
  names: Names,
  values: Values,
  patch: Pick<Patch, 'expectVersion' | 'lockToken'>,
  expiresAt: number,
  now: number,
): string {
  names['#abs'] = ATTR.absolute;
  expiryValues(values, expiresAt);
  let condition = `${liveCondition(layout, names, values, now)} AND (attribute_not_exists(#abs) OR #abs >= :x)`;
  if (patch.expectVersion !== undefined) {
    names['#v'] = ATTR.version;
    values[':expect'] = n(patch.expectVersion);
    // Items written by other tools have no version: they read as version 0.
    condition +=
      patch.expectVersion === 0 ? ' AND (attribute_not_exists(#v) OR #v = :expect)' : ' AND #v = :expect';
  }
  if (patch.lockToken !== undefined) {
    names['#lk'] = ATTR.lock;
    values[':lock'] = s(patch.lockToken);
    condition += ' AND #lk = :lock';
  }
  return condition;
}

/** The user index entry and the lock release a patch asks for. */
export function userUpdate(
  names: Names,
  values: Values,
  patch: Patch,
  sets: string[],
  removes: string[],
): void {
  if (patch.userId === null) {
    names['#uid'] = ATTR.user;
    removes.push('#uid');
  } else if (patch.userId !== undefined) {
    names['#uid'] = ATTR.user;
    values[':uid'] = s(patch.userId);
    sets.push('#uid = :uid');
  }
  if (patch.lockToken !== undefined && patch.releaseLock) {
    names['#lk'] = ATTR.lock;
    names['#lkx'] = ATTR.lockUntil;
    removes.push('#lk', '#lkx');
  }
}

/**
 * What each key of `patch.expect` must hold, as stored: our own encoding of the text read at
 * load (null: absent). Another instance may have stored equal text differently (compressed with
 * another algorithm, level or zlib build, or under another `compressAbove`); the patch then
 * learns the stored encoding from the refused write and sends that instead (see `patch.ts`).
 */
export function expectedValues(
  layout: Layout,
  expect: Record<string, string | null>,
): Map<string, AttributeValue | null> {
  const expected = new Map<string, AttributeValue | null>();
  for (const [k, text] of Object.entries(expect)) {
    expected.set(k, text === null ? null : encodeValue(text, layout.compressAbove, layout.compression));
  }
  return expected;
}

/**
 * One `UpdateItem` carrying only the changed keys (`SET #data.#k = :v`, `REMOVE #data.#k`),
 * conditioned on a live item, the mode's guard, each expected key's stored value, and a write
 * token other than ours (a retried request that landed already). Returns the version written.
 */
export function perKeyUpdate(
  layout: Layout,
  tableName: string,
  key: Item,
  patch: Patch,
  unset: string[],
  token: string,
  expiresAt: number,
  now: number,
  expected: Map<string, AttributeValue | null>,
): Payload {
  const names: Names = { '#v': ATTR.version, '#wt': ATTR.writeToken };
  const values: Values = { ':one': n(1), ':zero': n(0), ':wt': s(token) };
  const placeholders = new Map<string, string>();
  const path = (k: string) => {
    let p = placeholders.get(k);
    if (p === undefined) {
      p = `#k${placeholders.size}`;
      placeholders.set(k, p);
      names['#data'] = layout.data;
      names[p] = encodeKey(k);
    }
    return `#data.${p}`;
  };
  const sets: string[] = [];
  const removes: string[] = [];
  Object.entries(patch.set).forEach(([k, json], i) => {
    values[`:v${i}`] = encodeValue(json, layout.compressAbove, layout.compression);
    sets.push(`${path(k)} = :v${i}`);
  });
  for (const k of unset) removes.push(path(k));
  let condition = writeCondition(layout, names, values, patch, expiresAt, now);
  let e = 0;
  for (const [k, value] of expected) {
    if (value === null) condition += ` AND attribute_not_exists(${path(k)})`;
    else {
      values[`:e${e}`] = value;
      condition += ` AND ${path(k)} = :e${e++}`;
    }
  }
  sets.push('#v = if_not_exists(#v, :zero) + :one', '#xms = :x', '#exp = :xs', '#wt = :wt');
  const expression = updateExpression(names, values, patch, sets, removes);
  return {
    TableName: tableName,
    Key: key,
    UpdateExpression: expression,
    // Not our own earlier attempt: a comparison with a missing attribute is false, so `NOT ... =`
    // also holds for an item without a write token.
    ConditionExpression: `${condition} AND NOT #wt = :wt`,
    ExpressionAttributeNames: names,
    ExpressionAttributeValues: values,
    ReturnValues: 'UPDATED_NEW',
    ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
  };
}

/** Whether an expression is within DynamoDB's limits (4 KB, 300 operators and functions). */
export function fits(expression: string): boolean {
  // Each operator counted below takes at least one character, and 300 characters are at most
  // 900 bytes: the usual patch's expressions need no scan.
  if (expression.length <= MAX_OPERATORS) return true;
  if (Buffer.byteLength(expression) > MAX_EXPRESSION_BYTES) return false;
  // Counted generously: comparators, AND/OR/NOT, functions, `+`/`-` and SET's `=`.
  const operators = expression.match(/\b(?:AND|OR|NOT|BETWEEN|IN)\b|<>|<=|>=|[=<>+-]|\w+\(/g);
  return (operators?.length ?? 0) <= MAX_OPERATORS;
}

/**
 * The whole data map in one write (`replace`, patches past the expression limits, items without a
 * data map), conditioned on the version read, so nothing came between the read and this write.
 */
export function rewriteUpdate(
  layout: Layout,
  tableName: string,
  key: Item,
  patch: Patch,
  map: AttributeValue,
  before: number | undefined,
  token: string,
  expiresAt: number,
  now: number,
): Payload {
  const names: Names = { '#v': ATTR.version, '#data': layout.data, '#wt': ATTR.writeToken };
  const values: Values = { ':map': map, ':version': n((before ?? 0) + 1), ':wt': s(token) };
  let condition = writeCondition(layout, names, values, patch, expiresAt, now);
  // Guarded by the version read (the strict mode's expected version is that already).
  if (patch.expectVersion === undefined) {
    if (before === undefined) condition += ' AND attribute_not_exists(#v)';
    else {
      values[':before'] = n(before);
      condition += ' AND #v = :before';
    }
  }
  const sets = ['#data = :map', '#v = :version', '#xms = :x', '#exp = :xs', '#wt = :wt'];
  const removes: string[] = [];
  const expression = updateExpression(names, values, patch, sets, removes);
  return {
    TableName: tableName,
    Key: key,
    UpdateExpression: expression,
    ConditionExpression: condition,
    ExpressionAttributeNames: names,
    ExpressionAttributeValues: values,
  };
}

/**
 * Takes the lock item of a session: free, expired, or already ours (a retried request). The
 * item is small, so a refused attempt costs one write unit, whatever the session's size. Its TTL
 * attribute lets the engine delete it an hour after the lock's expiry.
 */
export function lockItemUpdate(
  layout: Layout,
  tableName: string,
  key: Item,
  token: string,
  until: number,
  now: number,
): Payload {
  return {
    TableName: tableName,
    Key: key,
    UpdateExpression: 'SET #lk = :token, #lkx = :until, #exp = :xs, #lki = :t',
    ConditionExpression: 'attribute_not_exists(#lk) OR #lkx <= :now OR #lk = :token',
    ExpressionAttributeNames: {
      '#lk': ATTR.lock,
      '#lkx': ATTR.lockUntil,
      '#exp': layout.ttl,
      '#lki': ATTR.lockItem,
    },
    ExpressionAttributeValues: {
      ':token': s(token),
      ':until': n(until),
      ':now': n(now),
      ':xs': n(Math.ceil(until / 1000) + 3600),
      ':t': { BOOL: true },
    },
  };
}

/**
 * Writes the lock token into a live session and reads it, in one call. The lock item decided who
 * holds the lock; the token here is what `patch` with `lockToken` checks, so a holder whose lock
 * expired and was taken can no longer write.
 */
export function sessionLockUpdate(
  layout: Layout,
  tableName: string,
  key: Item,
  token: string,
  until: number,
  now: number,
): Payload {
  const names: Names = {
    '#id': layout.hashKey,
    '#lk': ATTR.lock,
    '#lkx': ATTR.lockUntil,
    '#abs': ATTR.absolute,
  };
  const values: Values = { ':token': s(token), ':until': n(until) };
  const live = liveCondition(layout, names, values, now);
  return {
    TableName: tableName,
    Key: key,
    UpdateExpression: 'SET #lk = :token, #lkx = :until',
    ConditionExpression: `attribute_exists(#id) AND ${live} AND (attribute_not_exists(#abs) OR #abs > :now)`,
    ExpressionAttributeNames: names,
    ExpressionAttributeValues: values,
    ReturnValues: 'ALL_NEW',
    ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
  };
}

/** `SET …` (and `REMOVE …`) of a patch's writes, with its user index update added. */
function updateExpression(
  names: Names,
  values: Values,
  patch: Patch,
  sets: string[],
  removes: string[],
): string {
  userUpdate(names, values, patch, sets, removes);
  return removes.length > 0
    ? `SET ${sets.join(', ')} REMOVE ${removes.join(', ')}`
    : `SET ${sets.join(', ')}`;
}
