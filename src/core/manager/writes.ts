/**
 * What the commit path and the renewal share: the patch that writes a request's changes, the
 * state after a write, and the outcomes when a write finds its session gone (logged out, or moved
 * by a login elsewhere).
 */
import { ConflictError } from '../errors.js';
import { loggedOutSince, movedKeyFor, moveTarget } from '../moves.js';
import { type Session, type SessionState, STATE } from '../session.js';
import type { Patch } from '../store.js';
import type { Changes, ManagerCore } from './context.js';
import { seal } from './sealing.js';

/** The patch that writes a request's changes to session `id`: only what changed, or all of it in 'overwrite' mode. */
export function changePatch(
  m: ManagerCore,
  key: string,
  changes: Changes,
  expiresAt: number,
  userChanged: boolean,
): Patch {
  const patch: Patch =
    m.options.concurrency === 'overwrite'
      ? { set: seal(m, key, Object.fromEntries(changes.next)), unset: [], expiresAt, replace: true }
      : { set: seal(m, key, changes.set), unset: changes.unset, expiresAt };
  if (userChanged) patch.userId = changes.userId ?? null;
  // A `maxSize` below the store's limit is enforced by the store in the write itself (atomically).
  const { maxSize } = m.options;
  if (maxSize < m.store.limits.maxSessionBytes && Object.keys(patch.set).length > 0) patch.maxBytes = maxSize;
  return patch;
}

export function saved(state: SessionState, changes: Changes, expiresAt: number, version: number): void {
  state.snapshot = changes.next;
  state.userId = changes.userId;
  state.version = version;
  state.expiresAt = expiresAt;
  state.isNew = false;
  state.forceTouch = false;
  state.cookieNeeded = true;
}

/**
 * Deletes a record made for a renewal that did not happen, bounded by `timeoutMs` like every store
 * call. A failure is left at that: nobody holds the id, and the record expires with its lifetime.
 */
export async function discard(m: ManagerCore, key: string): Promise<void> {
  await m.call(() => m.store.destroy(key)).catch(() => {});
}

/**
 * After a login: false when the login stands; true when a logout landed while it was in flight —
 * this request's `regenerate()` marker is gone (a logout by the old id ended it), or the user
 * was logged out everywhere after this request loaded.
 */
export async function loggedOutMeanwhile(
  m: ManagerCore,
  state: SessionState,
  userId: string | undefined,
): Promise<boolean> {
  if (state.moved !== undefined) {
    const target = moveTarget(await m.call(() => m.store.get(state.moved!)));
    if (target === null) return true;
  }
  return (
    userId !== undefined &&
    (await loggedOutSince(m.store, m.run, m.options.keyPrefix, userId, state.loadedAt))
  );
}

/**
 * A write found the session gone. When a login elsewhere moved it meanwhile (its marker is
 * there), this request's changes go to the new key and the response sets no cookie: the login's
 * response carries the new one, and this request never learns the new id. Otherwise the session
 * was logged out: write nothing, drop the cookie.
 */
export async function lost(
  m: ManagerCore,
  session: Session,
  changes: Changes,
  expiresAt: number,
): Promise<void> {
  const state = session[STATE];
  const target = moveTarget(await m.call(() => m.store.get(movedKeyFor(state.key))));
  if (target === null) return gone(session);
  if (m.options.concurrency === 'strict') {
    throw new ConflictError(
      'the session was moved to a new id by a login in another request; reload and retry',
    );
  }
  const dataChanged = Object.keys(changes.set).length > 0 || changes.unset.length > 0;
  const userChanged = changes.userId !== state.userId;
  let version = state.version;
  if (dataChanged || userChanged) {
    const patch = changePatch(m, target, changes, expiresAt, userChanged);
    const result = await m.call(() => m.store.patch(target, patch), target);
    // The new session was logged out too: logout wins.
    if (!result) return gone(session);
    version = result.version;
  }
  const oldKey = state.key;
  state.key = target;
  state.lock = null;
  state.followed = true;
  saved(state, changes, expiresAt, version);
  m.events.emit('forwarded', { oldKey, key: target });
}

/** The session was deleted by another request (logout in another tab): write nothing, drop the cookie. */
export function gone(session: Session): void {
  const state = session[STATE];
  state.destroyed = true;
  state.lock = null;
  for (const k of Object.keys(session)) delete session[k];
}
