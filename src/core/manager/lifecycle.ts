/**
 * The session methods an application calls mid-request (through `Session`): `regenerate()`,
 * `destroy()` and `reload()`, with the logout-wins rules of src/core/moves.ts.
 */
import type { BatonError } from '../errors.js';
import { generateId } from '../ids.js';
import { endMove, MOVE_WINDOW_MS, MOVED_KEY, movedKeyFor, moveRecord } from '../moves.js';
import { type Session, STATE } from '../session.js';
import type { Patch } from '../store.js';
import type { ManagerCore } from './context.js';
import { open } from './sealing.js';
import { discard, gone } from './writes.js';

export async function regenerate(m: ManagerCore, session: Session): Promise<void> {
  const state = session[STATE];
  const oldKey = state.key;
  const now = m.now();
  const id = generateId();
  const key = m.keyFor(id);
  let dead = false;
  if (!state.isNew && !state.destroyed) {
    // Logout wins: a marker naming the new key is stored before the old record goes (see moves.ts).
    const markerKey = movedKeyFor(oldKey);
    let marked = true;
    try {
      await m.call(() => m.store.create(markerKey, moveRecord(key, now, state.absoluteExpiresAt)));
    } catch (err) {
      if ((err as BatonError).code !== 'BATON_SESSION_EXISTS') throw err;
      // Another request is regenerating this session (a double login): that one moves it and
      // deletes the old record; this one starts empty, so only one new id holds the data.
      marked = false;
    }
    const existed = marked && (await m.call(() => m.store.destroy(oldKey)));
    if (existed) state.moved = markerKey;
    else if (marked) {
      // Logged out (or destroyed everywhere) by another request meanwhile: the new id is created dead.
      await discard(m, markerKey);
      dead = true;
    }
    if (!existed) {
      // Its data must not live on under a new id.
      for (const k of Object.keys(session)) delete session[k];
    }
  } else if (state.moved) {
    // Regenerated twice in one request: the marker names the newest key.
    const expiresAt = Math.min(now + MOVE_WINDOW_MS, state.absoluteExpiresAt);
    const patch: Patch = { set: { [MOVED_KEY]: JSON.stringify(key) }, unset: [], expiresAt };
    if (!(await m.call(() => m.store.patch(state.moved!, patch)))) dead = true;
  }
  state.lock = null;
  state.id = id;
  state.key = key;
  state.isNew = true;
  state.snapshot = new Map();
  state.userId = undefined;
  state.version = 0;
  state.createdAt = now;
  state.absoluteExpiresAt = now + m.options.absoluteLifetimeMs;
  state.expiresAt = Math.min(now + m.options.lifetimeMs, state.absoluteExpiresAt);
  state.cookieNeeded = true;
  state.destroyed = false;
  m.events.emit('regenerated', { oldKey, key: state.key });
  if (dead) gone(session);
}

export async function destroy(m: ManagerCore, session: Session): Promise<void> {
  const state = session[STATE];
  if (!state.destroyed) {
    if (!state.isNew) {
      const existed = await m.call(() => m.store.destroy(state.key));
      // Gone already: a login elsewhere may have moved it; that login ends too (logout wins).
      if (!existed) await endMove(m.store, m.run, state.key);
    } else if (state.movedFrom) {
      await endMove(m.store, m.run, state.movedFrom);
    }
    // This request's own regenerate() left a marker: nothing will need it now.
    if (state.moved) await discard(m, state.moved);
    state.moved = undefined;
  }
  state.lock = null;
  state.destroyed = true;
  for (const k of Object.keys(session)) delete session[k];
  m.events.emit('destroyed', { key: state.key });
}

export async function reload(m: ManagerCore, session: Session): Promise<void> {
  const state = session[STATE];
  const stored = state.isNew || state.destroyed ? null : await m.call(() => m.store.get(state.key));
  for (const k of Object.keys(session)) delete session[k];
  const opened = stored ? open(m, state.key, stored) : null;
  if (!stored || !opened) {
    if (!state.isNew && !state.destroyed) await regenerate(m, session);
    return;
  }
  state.snapshot = opened.snapshot;
  Object.assign(session, opened.data);
  state.version = stored.version;
  state.userId = stored.userId;
  state.expiresAt = stored.expiresAt;
}
