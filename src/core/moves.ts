/**
 * Logout always wins. What `regenerate()` and `destroyUser()` leave in the store so that a logout
 * landing while a login is in flight on another instance still ends the session, and a request
 * that loaded the old id still finds where its changes go.
 *
 * - A **move marker**, stored under `<old key>.moved` before the old record is deleted, names the
 *   new store key (never the new id). The regenerating request checks, after creating the new
 *   record, that the marker is still there; a logout deletes the marker first and the new record
 *   second. Whichever order the calls land in, the new session ends (see docs/decisions.md).
 * - A **logout stamp**, stored under `<hash of the user id>.loggedout` by `destroyUser()` before it
 *   lists the user's sessions, holds when that happened. A request that started before it and
 *   then stores a session for that user (a login in flight) deletes what it stored.
 *
 * Both are ordinary records that expire by themselves after `MOVE_WINDOW_MS`.
 */

import { can } from './capabilities.js';
import { hashId } from './ids.js';
import type { Patch, Store, StoredSession } from './store.js';

/** The data key of a move marker. Reserved: a session never stores data under it. */
export const MOVED_KEY = '__baton_moved';
/** The data key of a logout stamp. Reserved likewise. */
export const LOGGED_OUT_KEY = '__baton_logged_out';

/**
 * How long markers and stamps live: a login slower than this between `regenerate()` and its
 * commit finds its marker gone and ends itself (it fails safe, as a logout would).
 */
export const MOVE_WINDOW_MS = 5 * 60_000;

// Session keys are a prefix plus base64url (no '.'), so these suffixes never name a session.
const MOVED_SUFFIX = '.moved';
const LOGGED_OUT_SUFFIX = '.loggedout';

/** The key of the move marker a regenerate of the session under `key` leaves. */
export function movedKeyFor(key: string): string {
  return key + MOVED_SUFFIX;
}

/** The key of a user's logout stamp: the user id appears only hashed. */
export function loggedOutKeyFor(prefix: string, userId: string): string {
  return `${prefix}${hashId(`user\u0000${userId}`)}${LOGGED_OUT_SUFFIX}`;
}

/** True for keys that hold a marker or a stamp, never a session (for listings). */
export function isMarkerKey(key: string): boolean {
  return key.endsWith(MOVED_SUFFIX) || key.endsWith(LOGGED_OUT_SUFFIX);
}

function record(dataKey: string, value: unknown, now: number, limit: number): StoredSession {
  const expiresAt = Math.min(now + MOVE_WINDOW_MS, limit);
  return {
    data: { [dataKey]: JSON.stringify(value) },
    createdAt: now,
    expiresAt,
    absoluteExpiresAt: expiresAt,
    version: 1,
  };
}

/** The move marker pointing at `targetKey`, living no longer than the old session would have. */
export function moveRecord(targetKey: string, now: number, absoluteExpiresAt: number): StoredSession {
  return record(MOVED_KEY, targetKey, now, absoluteExpiresAt);
}

/** The store key a move marker points at, or null for anything else (or nothing). */
export function moveTarget(stored: StoredSession | null): string | null {
  const raw = stored?.data[MOVED_KEY];
  if (raw === undefined) return null;
  try {
    const key: unknown = JSON.parse(raw);
    return typeof key === 'string' && key.length > 0 ? key : null;
  } catch {
    return null;
  }
}

/** A logout stamp made at `at` (ms since epoch, by the store's clock). */
export function loggedOutRecord(at: number): StoredSession {
  return record(LOGGED_OUT_KEY, at, at, Number.POSITIVE_INFINITY);
}

/** When a stamp says the user was logged out everywhere, or null. */
export function loggedOutAt(stored: StoredSession | null): number | null {
  const raw = stored?.data[LOGGED_OUT_KEY];
  if (raw === undefined) return null;
  try {
    const at: unknown = JSON.parse(raw);
    return typeof at === 'number' && Number.isFinite(at) ? at : null;
  } catch {
    return null;
  }
}

/** A store call made the way the manager makes every one (bounded by `timeoutMs`, errors mapped). */
export type StoreCall = <T>(fn: () => Promise<T>) => Promise<T>;

/** Records that `userId` was logged out everywhere at `now`: patches the stamp, or creates it. */
export async function stampLogout(
  store: Store,
  call: StoreCall,
  prefix: string,
  userId: string,
  now: number,
): Promise<void> {
  const key = loggedOutKeyFor(prefix, userId);
  const stamp = loggedOutRecord(now);
  const patch: Patch = { set: stamp.data, unset: [], expiresAt: stamp.expiresAt };
  // A stamp created by another call meanwhile is patched on the next round.
  for (let attempt = 0; attempt < 3; attempt++) {
    if (await call(() => store.patch(key, patch))) return;
    try {
      await call(() => store.create(key, stamp));
      return;
    } catch (err) {
      if ((err as { code?: string }).code !== 'BATON_SESSION_EXISTS') throw err;
    }
  }
}

/** True when `userId` was logged out everywhere at or after `since` (stores with a user index only). */
export async function loggedOutSince(
  store: Store,
  call: StoreCall,
  prefix: string,
  userId: string,
  since: number,
): Promise<boolean> {
  if (!can(store, 'userIndex')) return false;
  const at = loggedOutAt(await call(() => store.get(loggedOutKeyFor(prefix, userId))));
  return at !== null && at >= since;
}

/**
 * Ends the session a regenerate moved `oldKey` to, if its marker is still there: the marker is
 * deleted first, then the new record, so a regenerating request that reads its marker back after
 * creating its record either finds it gone or has its record deleted here. True when it did.
 */
export async function endMove(store: Store, call: StoreCall, oldKey: string): Promise<boolean> {
  const markerKey = movedKeyFor(oldKey);
  const target = moveTarget(await call(() => store.get(markerKey)));
  if (target === null) return false;
  await call(() => store.destroy(markerKey));
  await call(() => store.destroy(target));
  return true;
}
