/**
 * Renewal (option `renewal`, pure helpers in src/core/renewal.ts): at commit, the session is
 * stored under a new id and the old record becomes a forwarding record; a request that lost the
 * race to renew writes its changes wherever the session now is.
 */
import type { BatonError } from '../errors.js';
import { generateId } from '../ids.js';
import { FORWARD_KEY, openForward, sealForward } from '../renewal.js';
import { type Session, STATE } from '../session.js';
import type { Patch, StoredSession } from '../store.js';
import { commitTrace } from '../tracing.js';
import type { Changes, ManagerCore } from './context.js';
import { deviceInto } from './devices.js';
import { seal } from './sealing.js';
import { changePatch, discard, gone, lost, saved } from './writes.js';

/**
 * Renewal: the session, with this request's changes, is stored under a new id, and the old record
 * becomes a forwarding record (its data removed, the new id sealed under the old one, expiring at
 * the end of the grace window) in one write guarded like any patch of this mode. When that write
 * finds the session gone (logged out meanwhile) or fails, the new record is deleted again.
 */
export async function renew(
  m: ManagerCore,
  session: Session,
  changes: Changes,
  now: number,
  expiresAt: number,
  graceMs: number,
): Promise<void> {
  const state = session[STATE];
  const { concurrency } = m.options;
  const oldKey = state.key;
  const id = generateId();
  const key = m.keyFor(id);
  const record: StoredSession = {
    data: seal(m, key, Object.fromEntries(changes.next)),
    createdAt: now,
    expiresAt,
    absoluteExpiresAt: state.absoluteExpiresAt,
    version: 1,
  };
  if (changes.userId !== undefined) record.userId = changes.userId;
  deviceInto(m, state, key, record.data, now);
  await m.call(() => m.store.create(key, record));

  // Guarded by the version read at load in every mode, so of two requests renewing at once only
  // one forwards the old id; the other's changes go after it (below) instead of to a second copy.
  const forward: Patch = {
    set: { [FORWARD_KEY]: sealForward(state.id, id) },
    unset: [...state.snapshot.keys()],
    expiresAt: Math.min(now + graceMs, state.absoluteExpiresAt),
    userId: null,
    expectVersion: state.version,
  };
  const lock = concurrency === 'lock' ? state.lock : null;
  if (lock) {
    forward.lockToken = lock.token;
    forward.releaseLock = true;
  }
  let result: { version: number } | null;
  try {
    // In 'strict' mode a conflict is the request's own (409); otherwise it is handled here.
    result = await m.call(() => m.store.patch(oldKey, forward), oldKey, undefined, concurrency === 'strict');
  } catch (err) {
    await discard(m, key);
    if (
      (err as BatonError).code === 'BATON_CONFLICT' &&
      (concurrency === 'merge' || concurrency === 'overwrite')
    ) {
      return writeAfterLostRenewal(m, session, changes, expiresAt);
    }
    throw err;
  }
  state.lock = null;
  if (!result) {
    await discard(m, key);
    return lost(m, session, changes, expiresAt);
  }
  state.id = id;
  state.key = key;
  state.createdAt = now;
  saved(state, changes, expiresAt, 1);
  m.events.emit('renewed', { oldKey, key });
}

/**
 * Another request renewed the session first (or wrote between this one's load and its renewal):
 * this request's changes are written, as a plain patch, wherever the session now is — the id the
 * old record forwards to, or the old record itself — and the response carries that id.
 */
export async function writeAfterLostRenewal(
  m: ManagerCore,
  session: Session,
  changes: Changes,
  expiresAt: number,
): Promise<void> {
  const state = session[STATE];
  const trace = commitTrace(session);
  if (trace) {
    trace.conflicts++;
    trace.retries++;
  }
  const current = await m.call(() => m.store.get(state.key));
  if (!current) return gone(session);
  let id = state.id;
  const sealed = current.data[FORWARD_KEY];
  if (sealed !== undefined) {
    const next = openForward(id, sealed);
    if (!next) return gone(session);
    id = next;
  }
  const key = m.keyFor(id);
  const patch = changePatch(m, key, changes, expiresAt, changes.userId !== state.userId);
  deviceInto(m, state, key, patch.set, m.now());
  const result = await m.call(() => m.store.patch(key, patch), key);
  if (!result) return gone(session);
  if (id !== state.id) {
    const oldKey = state.key;
    state.id = id;
    state.key = key;
    m.events.emit('forwarded', { oldKey, key });
  }
  saved(state, changes, expiresAt, result.version);
}
