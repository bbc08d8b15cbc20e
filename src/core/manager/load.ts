/**
 * Loading the session a request refers to: the cookie or token verified (no store read for one
 * that fails), a legacy cookie adopted, the record read (or locked, in `'lock'` mode), expiry
 * checked on read, forwarding records of a renewal followed; otherwise a new, unsaved session.
 */
import { readCookies, readHeaderToken } from '../cookie.js';
import { loadParser, parseDevice } from '../devices.js';
import { generateId, type VerifiedKey } from '../ids.js';
import { movedKeyFor, moveTarget } from '../moves.js';
import { FORWARD_KEY, MAX_FORWARDS, openForward } from '../renewal.js';
import { Session, type SessionState, STATE } from '../session.js';
import type { LockHandle, StoredSession } from '../store.js';
import { clockWarming } from '../store-clock.js';
import { fingerprint, type LoadContext, loadChannel, rememberAdapter } from '../tracing.js';
import type { ManagerCore } from './context.js';
import { noteDevice } from './devices.js';
import { open } from './sealing.js';
import { traceBase } from './trace.js';
import type { RequestInfo } from './types.js';

/** Loads the session a request refers to, or a new unsaved one. Store failures reject with 503 errors. */
export async function load(m: ManagerCore, request: RequestInfo = {}): Promise<Session> {
  const { devices } = m.options;
  if (devices) {
    m.parse ??= await loadParser();
    const session = loadChannel.hasSubscribers
      ? await traceLoad(m, request)
      : await loadSession(m, request, undefined);
    noteDevice(m, session, request);
    return session;
  }
  if (!loadChannel.hasSubscribers) return loadSession(m, request, undefined);
  return traceLoad(m, request);
}

async function traceLoad(m: ManagerCore, request: RequestInfo): Promise<Session> {
  const trace: LoadContext = {
    ...traceBase(m, request.adapter),
    outcome: 'new',
    forwarded: false,
    lockWaitMs: 0,
  };
  let session: Session | undefined;
  // The traced function resolves to nothing: the session never reaches a subscriber.
  await loadChannel.tracePromise(async () => {
    session = await loadSession(m, request, trace);
    rememberAdapter(session, request.adapter);
  }, trace);
  return session as Session;
}

async function loadSession(
  m: ManagerCore,
  request: RequestInfo,
  trace: LoadContext | undefined,
): Promise<Session> {
  const secure = request.secure ?? false;
  const { header, cookie } = m.options;
  // The first request waits (boundedly) for the first reading of the store's clock; none after it.
  const warming = clockWarming(m.clock);
  if (warming) await warming;
  const headerValue = header ? request.header?.(header) : undefined;
  const fromHeader = header ? readHeaderToken(headerValue, header) : undefined;
  const candidates =
    fromHeader !== undefined ? [fromHeader] : cookie ? readCookies(request.cookie, cookie.name) : [];
  // Header mode: a token goes back by header only to a request that spoke by header (or sent the
  // header empty to be issued one), never to a cookie request: its cookie is HttpOnly.
  const tokenInHeader =
    !cookie || fromHeader !== undefined || (headerValue != null && candidates.length === 0);
  const raw = candidates[0];
  if (raw === undefined && !m.adoption) return fresh(m, secure, false, tokenInHeader);

  // Of several cookies of the name (one tossed from a sibling subdomain), the first that verifies.
  let verified: VerifiedKey | null = null;
  let presented: string | undefined;
  for (const candidate of candidates) {
    verified = m.verifier.verify(candidate);
    if (verified) {
      presented = candidate;
      break;
    }
  }
  if (raw !== undefined && !verified) {
    // No store read for anything that fails verification.
    m.events.emit('suspicious', {
      reason: raw.includes('.') && raw.length === 87 ? 'signature' : 'malformed',
      client: typeof request.client === 'function' ? request.client() : request.client,
    });
    m.verifier.countFailure();
    if (trace) trace.outcome = 'forged';
    if (!m.adoption) return fresh(m, secure, true, tokenInHeader);
  }
  let adopted = false;
  if (!verified) {
    // No valid baton cookie: an express-session cookie may lead to a session (option `legacy`).
    const adoptedId = await m.adoption?.resolve(request.cookie);
    if (!adoptedId) return fresh(m, secure, raw !== undefined, tokenInHeader);
    adopted = true;
    verified = { id: adoptedId, key: m.keyFor(adoptedId), stale: true };
  }

  let id = verified.id;
  let key = verified.key;
  let stored: StoredSession | null;
  let lock: LockHandle | null;
  let forwarded = false;
  for (let hop = 0; ; hop++) {
    if (m.options.concurrency === 'lock') {
      const waitFrom = trace ? performance.now() : 0;
      lock = await m.locks.acquire(key);
      if (trace) trace.lockWaitMs += performance.now() - waitFrom;
      stored = lock.session;
    } else {
      stored = await m.call(() => m.store.get(key));
      lock = null;
    }
    const now = m.now();
    if (stored && (stored.expiresAt <= now || stored.absoluteExpiresAt <= now)) {
      m.events.emit('expired', { key });
      stored = null;
    }
    const sealed = stored?.data[FORWARD_KEY];
    if (sealed === undefined) break;
    // A forwarding record left by a renewal, within its grace window: on to the current id.
    await lock?.release().catch(() => {});
    lock = null;
    const next = hop < MAX_FORWARDS ? openForward(id, sealed) : null;
    if (!next) {
      stored = null;
      break;
    }
    const oldKey = key;
    id = next;
    key = m.keyFor(id);
    forwarded = true;
    m.events.emit('forwarded', { oldKey, key });
  }
  const opened = stored ? open(m, key, stored) : null;
  if (!stored || !opened) {
    await lock?.release().catch(() => {});
    if (!stored) m.events.emit('unknown', { key });
    if (trace) trace.outcome = 'expired';
    // Never adopt an id the store does not know: a new one is issued. An id a login elsewhere
    // moved moments ago is not followed (that would undo the login's protection against
    // fixation) and not cleared either (the browser has, or is about to get, the new cookie).
    const moved = !stored && moveTarget(await m.call(() => m.store.get(movedKeyFor(key)))) !== null;
    const session = fresh(m, secure, !moved && raw !== undefined, tokenInHeader);
    if (moved) session[STATE].movedFrom = key;
    return session;
  }

  const { data, snapshot, device } = opened;
  if (trace) {
    trace.outcome = adopted ? 'adopted' : 'loaded';
    trace.forwarded = forwarded;
    trace.fingerprint = fingerprint(m.options.secrets[0] as string, key);
  }
  const state: SessionState = {
    controller: m.controller,
    id,
    key,
    isNew: false,
    snapshot,
    userId: stored.userId,
    version: stored.version,
    createdAt: stored.createdAt,
    expiresAt: stored.expiresAt,
    absoluteExpiresAt: stored.absoluteExpiresAt,
    destroyed: false,
    lock,
    // Re-signed with the current secret, or the session's current id for a forwarded old one.
    cookieNeeded: verified.stale || forwarded,
    presentedToken: verified.stale || id !== verified.id ? undefined : presented,
    hadToken: true,
    secure,
    forceTouch: false,
    committed: false,
    committing: false,
    loadedAt: m.now(),
    tokenInHeader,
    moved: undefined,
    movedFrom: undefined,
    followed: false,
  };
  m.locks.keepTurn(state, lock);
  const storedDevice = parseDevice(device);
  if (storedDevice) m.loadedDevices.set(state, storedDevice);
  return new Session(state, data);
}

/** A new, unsaved session under a fresh id. */
export function fresh(
  m: ManagerCore,
  secure: boolean | (() => boolean),
  hadToken: boolean,
  tokenInHeader: boolean,
): Session {
  const now = m.now();
  const id = generateId();
  const absoluteExpiresAt = now + m.options.absoluteLifetimeMs;
  const state: SessionState = {
    controller: m.controller,
    id,
    key: m.keyFor(id),
    isNew: true,
    snapshot: new Map(),
    userId: undefined,
    version: 0,
    createdAt: now,
    expiresAt: Math.min(now + m.options.lifetimeMs, absoluteExpiresAt),
    absoluteExpiresAt,
    destroyed: false,
    lock: null,
    cookieNeeded: true,
    hadToken,
    secure,
    forceTouch: false,
    committed: false,
    committing: false,
    loadedAt: now,
    tokenInHeader,
    moved: undefined,
    movedFrom: undefined,
    followed: false,
  };
  return new Session(state, {});
}
