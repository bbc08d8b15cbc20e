/**
 * The same-key rebase of `concurrency: 'merge'`: when another request changed a top-level key
 * between this request's load and its commit, this request's change to that key is replayed onto
 * what is stored now, instead of replacing it. A pure function of parsed JSON values:
 *
 * - `base`   the value the request read at load,
 * - `ours`   the value the request wants to write,
 * - `theirs` the value stored now (written by another request in between).
 *
 * `undefined` stands for "absent" (the key or field did not exist / was deleted); JSON values are
 * never `undefined`. The rules, applied recursively:
 *
 * 1. Ours equal to base: theirs (this request did not change it). Theirs equal to base: ours
 *    (nobody else changed it).
 * 2. Arrays: when ours is the base with some elements removed (order kept) and some appended at
 *    the end, the removals (by value, one occurrence each) are applied to theirs and the appends
 *    appended to theirs. Replacing an element counts as removing the old value and appending the
 *    new one. An array ours reordered, prepended to or rewrote otherwise (an appended value that
 *    is also a removed one) is a conflict. An array is a list, not a set: two requests that each
 *    appended the same value keep both.
 * 3. Plain objects: field by field; a field ours did not change keeps theirs (present or not), a
 *    field ours deleted is deleted, a changed field is rebased recursively.
 * 4. An absent base with arrays (or objects) on both sides counts as the empty array (or object):
 *    two first adds to a basket that did not exist yet both survive.
 * 5. Anything else (scalars, a type changed, the same leaf changed on both sides) is a conflict,
 *    resolved last-writer-wins for that leaf: ours. Both sides writing the same value is none.
 */
import { putOwn } from './codec.js';

/** A parsed JSON value. */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

export interface RebaseResult {
  /** The value to write; `undefined`: the key (or field) is to be removed. */
  value: Json | undefined;
  /** Some leaf was changed on both sides: ours won there (last writer wins). */
  conflict: boolean;
}

type JsonObject = { [key: string]: Json };

function isObject(value: Json | undefined): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Deep equality of JSON values; the order of object fields does not matter. */
export function jsonEqual(a: Json | undefined, b: Json | undefined): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!jsonEqual(a[i], b[i])) return false;
    return true;
  }
  if (Array.isArray(b)) return false;
  const keys = Object.keys(a);
  if (keys.length !== Object.keys(b).length) return false;
  for (const k of keys) if (!Object.hasOwn(b, k) || !jsonEqual(a[k], b[k])) return false;
  return true;
}

/** Rebases `ours` (a change of `base`) onto `theirs`. See the file header for the rules. */
export function rebase(
  base: Json | undefined,
  ours: Json | undefined,
  theirs: Json | undefined,
): RebaseResult {
  if (jsonEqual(base, ours)) return { value: theirs, conflict: false };
  if (jsonEqual(base, theirs)) return { value: ours, conflict: false };
  if (Array.isArray(ours) && Array.isArray(theirs)) {
    // Before the equality below: two requests that each added the same item keep both adds.
    if (base === undefined) return rebaseArray([], ours, theirs);
    if (Array.isArray(base)) return rebaseArray(base, ours, theirs);
  }
  if (isObject(ours) && isObject(theirs)) {
    if (base === undefined) return rebaseObject({}, ours, theirs);
    if (isObject(base)) return rebaseObject(base, ours, theirs);
  }
  return { value: ours, conflict: !jsonEqual(ours, theirs) };
}

/** How `ours` changed `base`: elements removed (by value) and appended; null when it is not such a change. */
export interface ArrayEdit {
  removed: Json[];
  appended: Json[];
}

/**
 * Reads `ours` as "`base` with some elements removed, then some appended": the longest prefix of
 * `ours` that is a subsequence of `base` is what was kept (greedy matching finds the longest), the
 * rest was appended. Null when an appended value equals a removed one: the array was reordered or
 * rewritten, which no removal and append describes.
 */
export function arrayEdit(base: readonly Json[], ours: readonly Json[]): ArrayEdit | null {
  const kept = new Array<boolean>(base.length).fill(false);
  let b = 0;
  let o = 0;
  for (; o < ours.length; o++) {
    let at = b;
    while (at < base.length && !jsonEqual(base[at], ours[o])) at++;
    if (at === base.length) break;
    kept[at] = true;
    b = at + 1;
  }
  const removed = base.filter((_, i) => !kept[i]);
  const appended = ours.slice(o);
  for (const value of appended) {
    if (removed.some((r) => jsonEqual(r, value))) return null;
  }
  return { removed, appended };
}

function rebaseArray(base: readonly Json[], ours: Json[], theirs: Json[]): RebaseResult {
  const edit = arrayEdit(base, ours);
  if (!edit) return { value: ours, conflict: !jsonEqual(ours, theirs) };
  const value = [...theirs];
  for (const gone of edit.removed) {
    const at = value.findIndex((v) => jsonEqual(v, gone));
    // Removed by the other request too: nothing left to remove.
    if (at !== -1) value.splice(at, 1);
  }
  value.push(...edit.appended);
  return { value, conflict: false };
}

function rebaseObject(base: JsonObject, ours: JsonObject, theirs: JsonObject): RebaseResult {
  const value: JsonObject = {};
  for (const k of Object.keys(theirs)) putOwn(value, k, theirs[k] as Json);
  let conflict = false;
  const keys = new Set([...Object.keys(base), ...Object.keys(ours)]);
  for (const k of keys) {
    const b = Object.hasOwn(base, k) ? base[k] : undefined;
    const o = Object.hasOwn(ours, k) ? ours[k] : undefined;
    if (b !== undefined && jsonEqual(b, o)) continue;
    const t = Object.hasOwn(theirs, k) ? theirs[k] : undefined;
    const field = rebase(b, o, t);
    conflict ||= field.conflict;
    if (field.value === undefined) delete value[k];
    else putOwn(value, k, field.value);
  }
  return { value, conflict };
}
