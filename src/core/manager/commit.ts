/**
 * The commit path: what changed since load is worked out (per top-level key, by JSON text) and
 * written — nothing within `touchAfter` when nothing changed, a touch when only the expiry moves,
 * a patch guarded as the concurrency mode asks, a create for a new session — then the lock is
 * released and the response headers are made.
 */
import { encodeValue } from '../codec.js';
import { diffData, shouldCreate, shouldTouch } from '../decisions.js';
import { SessionTooLargeError } from '../errors.js';
import { expectations, type MergeHost, writeMerging } from '../merge.js';
import { shouldRenew } from '../renewal.js';
import { isReservedKey, type Session, STATE } from '../session.js';
import type { StoredSession } from '../store.js';
import {
  adapterOf,
  type CommitContext,
  commitChannel,
  errorCode,
  fingerprint,
  traceCommitOf,
} from '../tracing.js';
import { userIdOf } from '../user-key.js';
import type { Changes, ManagerCore } from './context.js';
import { deviceInto } from './devices.js';
import { renew, writeAfterLostRenewal } from './renewal.js';
import { headers } from './response.js';
import { openValue, seal } from './sealing.js';
import { describeCommit, traceBase } from './trace.js';
import type { CommitResult } from './types.js';
import { limitSessions } from './users.js';
import { changePatch, discard, gone, loggedOutMeanwhile, lost, saved } from './writes.js';

/**
 * Writes what changed (nothing when nothing did, within `touchAfter`), releases a lock, and returns
 * the headers to send. Call it before the response headers go out.
 */
export async function commit(m: ManagerCore, session: Session): Promise<CommitResult> {
  return commitChannel.hasSubscribers ? traceCommit(m, session) : commitSession(m, session);
}

async function commitSession(m: ManagerCore, session: Session): Promise<CommitResult> {
  const state = session[STATE];
  if (state.committed) return { setCookie: [], headers: {} };
  state.committing = true;
  try {
    await write(m, session, true);
  } catch (err) {
    await abandon(m, session);
    throw err;
  } finally {
    state.committing = false;
    m.locks.endTurn(state);
  }
  state.committed = true;
  return headers(m, state);
}

/** `commit` with a `baton-session:commit` context: what was written is read off the state before and after. */
async function traceCommit(m: ManagerCore, session: Session): Promise<CommitResult> {
  const state = session[STATE];
  const before = { ...state };
  const trace: CommitContext = {
    ...traceBase(m, adapterOf(session)),
    written: false,
    write: 'none',
    keys: 0,
    bytes: 0,
    conflicts: 0,
    retries: 0,
  };
  if (!state.isNew) trace.fingerprint = fingerprint(m.options.secrets[0] as string, state.key);
  let result: CommitResult | undefined;
  const untrack = traceCommitOf(session, trace);
  try {
    await commitChannel.tracePromise(async () => {
      try {
        result = await commitSession(m, session);
      } catch (err) {
        if (errorCode(err) === 'BATON_CONFLICT') trace.conflicts++;
        throw err;
      } finally {
        describeCommit(trace, before, state);
      }
    }, trace);
  } finally {
    untrack();
  }
  return result as CommitResult;
}

/** Releases what a session holds (its lock) without writing: for requests that failed before `commit`. */
export async function abandon(m: ManagerCore, session: Session): Promise<void> {
  const state = session[STATE];
  state.committed = true;
  const lock = state.lock;
  state.lock = null;
  await lock?.release().catch(() => {});
  m.locks.endTurn(state);
}

/** The changes since load (or the last save). Raises `SessionDataError` before anything is written. */
function collectChanges(m: ManagerCore, session: Session): Changes {
  const state = session[STATE];
  const next = new Map<string, string>();
  for (const key of Object.keys(session)) {
    const value = session[key];
    if (value === undefined || isReservedKey(key)) continue;
    next.set(key, encodeValue(key, value));
  }
  const { set, unset } = diffData(state.snapshot, next);
  return { set, unset, next, userId: userIdOf(session, m.options.userKey) };
}

function checkSize(m: ManagerCore, next: Map<string, string>): void {
  const enc = m.options.encryption;
  let size = 0;
  for (const [k, v] of next) {
    const bytes = Buffer.byteLength(v);
    size += Buffer.byteLength(k) + (enc ? enc.sealedBytes(bytes) : bytes);
  }
  if (size > m.options.maxSize) throw new SessionTooLargeError(size, m.options.maxSize);
}

/** Writes the session's changes: `final` at commit (releases a lock), not for `save()`. */
export async function write(m: ManagerCore, session: Session, final: boolean): Promise<void> {
  const state = session[STATE];
  if (state.destroyed) return;
  const changes = collectChanges(m, session);
  // Only a write can make a session too large: an unchanged read of one stays served.
  if (state.isNew || Object.keys(changes.set).length > 0) checkSize(m, changes.next);
  const now = m.now();
  const expiresAt = Math.min(now + m.options.lifetimeMs, state.absoluteExpiresAt);

  if (state.isNew) {
    if (!shouldCreate(changes.next.size, m.options.saveUninitialized)) return;
    const record: StoredSession = {
      data: seal(m, state.key, Object.fromEntries(changes.next)),
      createdAt: state.createdAt,
      expiresAt,
      absoluteExpiresAt: state.absoluteExpiresAt,
      version: 1,
    };
    if (changes.userId !== undefined) record.userId = changes.userId;
    deviceInto(m, state, state.key, record.data, now);
    await m.call(() => m.store.create(state.key, record));
    if (await loggedOutMeanwhile(m, state, record.userId)) {
      // A logout landed while this login was in flight: what was just stored goes again.
      await discard(m, state.key);
      return gone(session);
    }
    saved(state, changes, expiresAt, 1);
    m.events.emit('created', { key: state.key });
    if (changes.userId !== undefined) await limitSessions(m, changes.userId);
    return;
  }

  const { concurrency, renewal } = m.options;
  if (final && renewal && shouldRenew(state.createdAt, now, renewal.intervalMs)) {
    return renew(m, session, changes, now, expiresAt, renewal.graceMs);
  }
  const userChanged = changes.userId !== state.userId;
  const dataChanged = Object.keys(changes.set).length > 0 || changes.unset.length > 0;
  const lock = concurrency === 'lock' ? state.lock : null;

  if (
    dataChanged ||
    userChanged ||
    state.forceTouch ||
    shouldTouch(state.expiresAt, expiresAt, m.options.touchAfterMs)
  ) {
    if (!dataChanged && !userChanged && !lock && !m.options.devices) {
      // Only the expiry moves: a touch writes nothing else.
      const alive = await m.call(() => m.store.touch(state.key, expiresAt));
      if (!alive) return lost(m, session, changes, expiresAt);
      state.expiresAt = expiresAt;
      state.forceTouch = false;
      state.cookieNeeded = true;
      return;
    }
    const patch = changePatch(m, state.key, changes, expiresAt, userChanged);
    // With `devices`, a touch carries the device entry (last seen): still one write.
    deviceInto(m, state, state.key, patch.set, now);
    if (concurrency === 'strict' && (dataChanged || userChanged)) patch.expectVersion = state.version;
    if (lock) {
      patch.lockToken = lock.token;
      patch.releaseLock = final;
    }
    // Same-key rebase (src/core/merge.ts): in 'merge' mode the patch expects each changed key to
    // hold what the request read; when another request changed one meanwhile, the change is
    // rebased onto theirs and written again (bounded), never silently lost.
    if (concurrency === 'merge' && dataChanged) {
      const expect = expectations(state.snapshot, changes, m.options.encryption !== undefined);
      if (expect) patch.expect = expect;
    }
    const result = patch.expect
      ? await writeMerging(mergeHost(m), session, state.key, state.snapshot, changes, patch)
      : await m.call(() => m.store.patch(state.key, patch), state.key);
    if (result === 'renewed') return writeAfterLostRenewal(m, session, changes, expiresAt);
    if (!result) return lost(m, session, changes, expiresAt);
    if (lock && final) state.lock = null;
    if (userChanged && (await loggedOutMeanwhile(m, state, changes.userId))) {
      await discard(m, state.key);
      return gone(session);
    }
    saved(state, changes, expiresAt, result.version);
    if (userChanged && changes.userId !== undefined) await limitSessions(m, changes.userId);
    return;
  }

  if (lock && final) {
    state.lock = null;
    await m.call(() => lock.release());
  }
}

/** What the same-key rebase (src/core/merge.ts) needs of the manager. */
function mergeHost(m: ManagerCore): MergeHost {
  return {
    patch: (key, patch) => m.call(() => m.store.patch(key, patch), key, undefined, false),
    get: (key) => m.call(() => m.store.get(key), key, undefined, false),
    seal: (key, values) => seal(m, key, values),
    open: (key, dataKey, stored) => openValue(m, key, dataKey, stored),
    sealed: () => m.options.encryption !== undefined,
    conflict: (key) => m.events.emit('conflict', { key }),
    rebased: (info) => m.events.emit('rebased', info),
  };
}
