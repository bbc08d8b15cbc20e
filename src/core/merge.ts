/**
 * The commit path of `concurrency: 'merge'` for keys another request changed in between.
 *
 * A merge-mode patch names, in `Patch.expect`, the text each changed top-level key held when the
 * request read it (as stored: sealed when encryption is on). The store writes only while every
 * named key still holds that text, atomically with the write; otherwise it writes nothing and
 * throws `ConflictError` with `staleKeys`. Then this file reads the session once, rebases the
 * request's change of each key onto what is stored now (`rebase.ts`, on the opened plaintext),
 * seals the result again and retries with the new texts expected, a bounded number of times. A
 * request whose keys nobody else touched pays nothing extra: the one conditional write as before.
 */
import { decodeValue } from './codec.js';
import { ConflictError } from './errors.js';
import { pause } from './lock-wait.js';
import { type Json, rebase } from './rebase.js';
import { FORWARD_KEY } from './renewal.js';
import type { Patch, StoredSession } from './store.js';
import { commitTrace } from './tracing.js';

/**
 * Rebases and retries after the first write, then `ConflictError` (409): never a silent loss.
 * With the pauses below, 50 requests adding to one basket at once all get through on stores
 * answering within tens of milliseconds (a model of the race, and the same-key tests, say so).
 */
export const MAX_REBASE_RETRIES = 12;

/**
 * Binary exponential backoff, as Ethernet does for stations that collided: before retry `n`
 * (from 0) a random pause within `slot × 2^min(n, 6)`, where a slot is a read and a write at the
 * speed the store just answered (twice the losing write's time, at least 1 ms), never over 2 s.
 * Requests that lost together then do not read and write again together, however fast or slow
 * the store is.
 */
export const REBASE_SLOT_MIN_MS = 1;
export const REBASE_PAUSE_MAX_MS = 2000;

/** The pause before retry `retry` (from 0), in ms, after a losing write that took `writeMs`. */
export function rebasePause(retry: number, writeMs: number, random: () => number = Math.random): number {
  const slot = Math.max(REBASE_SLOT_MIN_MS, 2 * writeMs);
  return random() * Math.min(slot * 2 ** Math.min(retry, 6), REBASE_PAUSE_MAX_MS);
}

/** What the commit path needs of the manager. */
export interface MergeHost {
  /** `store.patch` through the manager's time bound and error mapping, reporting no `conflict` event. */
  patch(key: string, patch: Patch): Promise<{ version: number } | null>;
  /** `store.get`, likewise. */
  get(key: string): Promise<StoredSession | null>;
  /** The values as the store receives them (encrypted under the current key when encryption is on). */
  seal(key: string, values: Record<string, string>): Record<string, string>;
  /** The JSON text of a stored value (decrypted when encryption is on); null when it does not open. */
  open(key: string, dataKey: string, stored: string): string | null;
  /** Encryption is on: stored texts differ from the JSON texts the snapshot holds. */
  sealed(): boolean;
  /** A write lost for good (`conflict` event). */
  conflict(key: string): void;
  /** A write went through after rebasing (`rebased` event). */
  rebased(info: { key: string; keys: number; leafConflicts: number; retries: number }): void;
}

/** The part of a commit's changes this file reads and, after a rebase, updates. */
export interface MergeChanges {
  /** Changed keys → their JSON text. */
  set: Record<string, string>;
  /** Removed keys. */
  unset: string[];
  /** Every key's JSON text after this commit (becomes the session's snapshot). */
  next: Map<string, string>;
}

/**
 * The stored (sealed) text of each key at load, per snapshot, when encryption is on: sealing is
 * randomised, so the snapshot's plaintext cannot say what the store holds. Keyed by the snapshot
 * map, so whatever replaces a session's snapshot (a save, a reload, a regenerate) drops it too.
 */
const storedTexts = new WeakMap<ReadonlyMap<string, string>, Record<string, string>>();

/** Keeps what a record held as stored, for the snapshot opened from it (encryption on). */
export function rememberStored(snapshot: ReadonlyMap<string, string>, data: Record<string, string>): void {
  storedTexts.set(snapshot, data);
}

/**
 * `Patch.expect` for a merge-mode commit: each changed key's text as stored when the request read
 * it, `null` when it was absent. Undefined when that text is not known (encryption on and the
 * snapshot was not read from the store, e.g. a session created earlier in the same request): the
 * patch then goes without expectations, last writer wins per key as before.
 */
export function expectations(
  snapshot: ReadonlyMap<string, string>,
  changes: MergeChanges,
  sealed: boolean,
): Record<string, string | null> | undefined {
  const stored = sealed ? storedTexts.get(snapshot) : undefined;
  if (sealed && !stored) return undefined;
  const expect: Record<string, string | null> = {};
  for (const k of [...Object.keys(changes.set), ...changes.unset]) {
    const text = stored ? (Object.hasOwn(stored, k) ? stored[k] : undefined) : snapshot.get(k);
    define(expect, k, text ?? null);
  }
  return expect;
}

/**
 * Writes a merge-mode patch that carries `expect`, rebasing and retrying when keys were changed in
 * between. Returns the store's answer (null: the session is gone), or `'renewed'` when another
 * request renewed the session meanwhile (the caller follows it to the new id). On success `changes`
 * and `session` hold the merged values, so the snapshot and later reads match what was stored.
 */
export async function writeMerging(
  host: MergeHost,
  session: Record<string, unknown>,
  key: string,
  snapshot: ReadonlyMap<string, string>,
  changes: MergeChanges,
  patch: Patch,
): Promise<{ version: number } | null | 'renewed'> {
  const base = patch.expect as Record<string, string | null>;
  const sealed = host.sealed();
  // What the store held before this write: the record as loaded, or as read for the last rebase.
  let stored: Record<string, string> | undefined = storedTexts.get(snapshot);
  let current = patch;
  let merged: Map<string, string | undefined> | undefined;
  let leafConflicts = 0;
  let writeMs = 0;
  for (let retries = 0; ; retries++) {
    const started = performance.now();
    try {
      const result = await host.patch(key, current);
      if (result && merged) {
        adopt(session, changes, merged);
        host.rebased({ key, keys: merged.size, leafConflicts, retries });
      }
      if (result && sealed && stored) rememberStored(changes.next, applied(stored, current));
      return result;
    } catch (err) {
      const stale = (err as ConflictError).staleKeys;
      if ((err as ConflictError).code !== 'BATON_CONFLICT' || stale === undefined) {
        if ((err as ConflictError).code === 'BATON_CONFLICT') host.conflict(key);
        throw err;
      }
      writeMs = performance.now() - started;
    }
    const trace = commitTrace(session);
    if (retries >= MAX_REBASE_RETRIES) {
      host.conflict(key);
      throw new ConflictError(
        `the session's keys kept changing under concurrent requests; this change was not written after ${retries + 1} attempts; retry the request`,
      );
    }
    if (trace) {
      trace.conflicts++;
      trace.retries++;
    }
    await pause(rebasePause(retries, writeMs));
    const now = await host.get(key);
    if (!now) return null;
    if (Object.hasOwn(now.data, FORWARD_KEY)) return 'renewed';
    stored = now.data;
    const step = rebaseAll(host, key, base, changes, now.data);
    merged = step.merged;
    leafConflicts = step.leafConflicts;
    current = retryPatch(host, key, patch, merged, now.data);
  }
}

/** Each changed key's value rebased onto the stored one (undefined: to be removed). */
function rebaseAll(
  host: MergeHost,
  key: string,
  base: Record<string, string | null>,
  changes: MergeChanges,
  theirs: Record<string, string>,
): { merged: Map<string, string | undefined>; leafConflicts: number } {
  const merged = new Map<string, string | undefined>();
  let leafConflicts = 0;
  for (const [k, loaded] of Object.entries(base)) {
    const ours = Object.hasOwn(changes.set, k) ? changes.set[k] : undefined;
    const stored = Object.hasOwn(theirs, k) ? (theirs[k] as string) : null;
    if (stored === loaded) {
      // Nobody changed this key: this request's value goes as it is.
      merged.set(k, ours);
      continue;
    }
    const result = rebase(
      parse(loaded === null ? undefined : host.open(key, k, loaded)),
      parse(ours),
      parse(stored === null ? undefined : host.open(key, k, stored)),
    );
    if (result.conflict) leafConflicts++;
    merged.set(k, result.value === undefined ? undefined : JSON.stringify(result.value));
  }
  return { merged, leafConflicts };
}

/** JSON text to a value; absent (or a value that no longer opens) is `undefined`: ours then wins. */
function parse(text: string | null | undefined): Json | undefined {
  if (text === null || text === undefined) return undefined;
  try {
    return decodeValue(text) as Json;
  } catch {
    return undefined;
  }
}

/** The first patch with the rebased values, expecting what is stored now. */
function retryPatch(
  host: MergeHost,
  key: string,
  first: Patch,
  merged: Map<string, string | undefined>,
  stored: Record<string, string>,
): Patch {
  const set: Record<string, string> = {};
  // Entries that are not the request's data keys (the device entry) go as they were.
  for (const [k, v] of Object.entries(first.set)) if (!merged.has(k)) define(set, k, v);
  const plain: Record<string, string> = {};
  const unset: string[] = [];
  const expect: Record<string, string | null> = {};
  for (const [k, text] of merged) {
    if (text === undefined) unset.push(k);
    else define(plain, k, text);
    define(expect, k, Object.hasOwn(stored, k) ? (stored[k] as string) : null);
  }
  for (const [k, v] of Object.entries(host.seal(key, plain))) define(set, k, v);
  return { ...first, set, unset, expect };
}

/** The session and its changes take the merged values: what the store now holds. */
function adopt(
  session: Record<string, unknown>,
  changes: MergeChanges,
  merged: Map<string, string | undefined>,
): void {
  for (const [k, text] of merged) {
    delete changes.set[k];
    changes.next.delete(k);
    delete session[k];
    if (text === undefined) continue;
    define(changes.set, k, text);
    changes.next.set(k, text);
    define(session, k, decodeValue(text));
  }
  changes.unset = [...merged].filter(([, text]) => text === undefined).map(([k]) => k);
}

/** The stored texts after `patch`. */
function applied(stored: Record<string, string>, patch: Patch): Record<string, string> {
  const next: Record<string, string> = {};
  for (const [k, v] of Object.entries(stored)) if (!patch.unset.includes(k)) define(next, k, v);
  for (const [k, v] of Object.entries(patch.set)) define(next, k, v);
  return next;
}

/** An own, enumerable property even for the name `__proto__`. */
function define<T>(target: Record<string, T>, key: string, value: T): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}
