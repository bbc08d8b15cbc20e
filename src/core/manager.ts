import { EventEmitter } from 'node:events';
import { decodeValue, encodeValue } from './codec.js';
import { clearCookie, readCookies, readHeaderToken, serializeCookie } from './cookie.js';
import {
  DEVICE_KEY,
  type DeviceInfo,
  describeUserAgent,
  deviceTrack,
  loadParser,
  parseDevice,
  trackDevice,
  truncateIp,
} from './devices.js';
import {
  type BatonError,
  ConflictError,
  isBatonError,
  LockTimeoutError,
  NotSupportedError,
  SessionTooLargeError,
  StoreUnavailableError,
} from './errors.js';
import type { SessionEvents } from './events.js';
import { generateId, hashId, sign, unsign, type VerifiedKey, VerifiedValues } from './ids.js';
import { Adoption } from './legacy.js';
import { LocalQueue, lockPause, type Turn } from './lock-wait.js';
import {
  endMove,
  isMarkerKey,
  loggedOutSince,
  MOVE_WINDOW_MS,
  MOVED_KEY,
  movedKeyFor,
  moveRecord,
  moveTarget,
  type StoreCall,
  stampLogout,
} from './moves.js';
import { type ResolvedOptions, resolveOptions, type SessionOptions } from './options.js';
import { FORWARD_KEY, MAX_FORWARDS, openForward, sealForward, shouldRenew } from './renewal.js';
import { isReservedKey, Session, type SessionController, type SessionState, STATE } from './session.js';
import type { LockHandle, Patch, SessionSummary, Store, StoreClock, StoredSession } from './store.js';
import {
  adapterOf,
  type CommitContext,
  changedSize,
  commitChannel,
  commitTrace,
  errorCode,
  fingerprint,
  type LoadContext,
  loadChannel,
  rememberAdapter,
  traceCommitOf,
} from './tracing.js';
import { userIdOf } from './user-key.js';

/** What an adapter tells the manager about a request. */
export interface RequestInfo {
  /** The Cookie header. */
  cookie?: string | null | undefined;
  /** Reads a request header by lower-case name (for the `header` option). */
  header?: (name: string) => string | null | undefined;
  /**
   * The request came over https, directly or through a trusted proxy. A function is called only
   * when a cookie is about to be set (for `secure: 'auto'`), so it may be costly to work out.
   */
  secure?: boolean | (() => boolean);
  /**
   * The client's address, reported with `suspicious` events (guessing detection). A function is
   * called only when such an event fires.
   */
  client?: string | undefined | (() => string | undefined);
  /** The adapter serving the request (`express`, `fastify`, ...), named in tracing channels. */
  adapter?: string;
}

/** What an adapter adds to the response after `commit`. */
export interface CommitResult {
  /** Set-Cookie header values. */
  setCookie: string[];
  /** Other headers: `cache-control: no-store` whenever a cookie is set, `x-session-token` in header mode. */
  headers: Record<string, string>;
}

/** Whether the request came over https, worked out on first use (only when a cookie is set). */
function isSecure(state: SessionState): boolean {
  if (typeof state.secure === 'function') state.secure = state.secure();
  return state.secure;
}

// Pure save decisions, each testable alone.

/** An unchanged session is written only when its expiry would move by more than `touchAfterMs`. */
export function shouldTouch(storedExpiresAt: number, nextExpiresAt: number, touchAfterMs: number): boolean {
  return nextExpiresAt - storedExpiresAt > touchAfterMs;
}

/** A new session is stored only when it holds data, unless `saveUninitialized`. */
export function shouldCreate(dataKeys: number, saveUninitialized: boolean): boolean {
  return dataKeys > 0 || saveUninitialized;
}

interface Changes {
  set: Record<string, string>;
  unset: string[];
  /** Every key's JSON text after this commit. */
  next: Map<string, string>;
  userId: string | undefined;
}

/** The store's data decoded for a request: values, and the JSON text dirty tracking compares against. */
interface Opened {
  data: Record<string, unknown>;
  snapshot: Map<string, string>;
  /** The device entry's JSON text (option `devices`), kept out of the data. */
  device?: string;
}

/** A session of a user as `listByUser` reports it: its summary, and its device when `devices` is on. */
export interface UserSession extends SessionSummary {
  device?: DeviceInfo;
  /** The session passed as `current`. */
  current?: boolean;
}

/** Snapshot entry for a value stored under an old encryption key: never equal to any JSON text, so it is rewritten. */
const REWRITE = '';

/** How many verified cookie values a manager remembers: about 250 bytes each. */
const VERIFIED_VALUES = 4096;

/**
 * The framework-free engine: loads a session for a request and commits it before the response.
 * Adapters map their framework onto `load` and `commit`.
 */
export class SessionManager extends EventEmitter<SessionEvents> implements SessionController {
  readonly options: ResolvedOptions;
  readonly store: Store;
  readonly #unsubscribe: () => void;
  /** Cookie values verified before (bounded): a returning one skips the HMAC and the key hash. */
  readonly #verified = new VerifiedValues(VERIFIED_VALUES);
  /** The store's clock, when it has one: expiry is decided by the clock every instance shares. */
  readonly #clock: StoreClock | undefined;
  /** Times of the most recent failed verifications (a ring of `threshold + 1`), for guessing detection. */
  readonly #failures: number[] = [];
  #failureAt = 0;
  #lastBruteForce = Number.NEGATIVE_INFINITY;
  /** Store calls made by the logout-wins helpers, bounded and mapped like every other. */
  readonly #run: StoreCall = (fn) => this.#call(fn);
  /** `'lock'` mode: this process's requests for one session take turns before calling the store. */
  readonly #queue = new LocalQueue();
  /** The turn each locked session holds in `#queue`, until its commit or abandon ends. */
  readonly #turns = new WeakMap<SessionState, Turn>();
  readonly #handleTurns = new WeakMap<LockHandle, Turn>();
  /** Sessions whose commit is under way: a client leaving then changes nothing. */
  readonly #committing = new WeakSet<SessionState>();
  /** The User-Agent parser, once loaded (option `devices`). */
  #parse: Awaited<ReturnType<typeof loadParser>> | undefined;
  /** The device entry each loaded session's record held, until `load` files it with the request's. */
  readonly #loadedDevices = new WeakMap<SessionState, DeviceInfo>();
  /** Option `legacy`: adopts express-session's sessions (src/core/legacy.ts). */
  readonly #adoption: Adoption | undefined;

  constructor(options: SessionOptions) {
    super();
    this.options = resolveOptions(options);
    this.store = this.options.store;
    this.#unsubscribe = this.store.onOperation((info) => this.emit('operation', info));
    this.#clock = this.store.clock;
    const { logger } = this.options;
    if (logger) {
      // The store's and its clock's warnings go to the logger too, unless given one of their own.
      this.store.logger ??= logger;
      if (this.#clock) this.#clock.logger ??= logger;
    }
    const legacy = this.options.legacy;
    if (legacy) {
      const { keyPrefix, userKey, lifetimeMs, absoluteLifetimeMs } = this.options;
      const host = { store: this.store, keyPrefix, userKey, lifetimeMs, absoluteLifetimeMs };
      this.#adoption = new Adoption(
        legacy,
        {
          ...host,
          now: () => this.#now(),
          keyFor: (id) => this.keyFor(id),
          seal: (id, values) => this.#seal(this.keyFor(id), values),
          call: (fn) => this.#call(fn),
        },
        {
          adopted: (key) => this.emit('adopted', { key }),
          rejected: () => {
            this.emit('suspicious', { reason: 'legacy' });
            this.#countFailure();
          },
          removeFailed: (error) => this.emit('storeError', error),
        },
      );
    }
  }

  /** Now, by the store's clock (the local one for stores without a clock of their own). */
  #now(): number {
    return this.#clock ? this.#clock.now() : Date.now();
  }

  get userKey(): string {
    return this.options.userKey;
  }

  /** The id and store key of a signed cookie or token value, or null when no secret verifies it. */
  #verify(raw: string): VerifiedKey | null {
    const known = this.#verified.get(raw);
    if (known) return known;
    const verified = unsign(raw, this.options.secrets);
    if (!verified) return null;
    const entry: VerifiedKey = { id: verified.id, stale: verified.stale, key: this.keyFor(verified.id) };
    this.#verified.set(raw, entry);
    return entry;
  }

  /** The key the store sees for a session id. */
  keyFor(id: string): string {
    return this.options.keyPrefix + (this.options.hashIds ? hashId(id) : id);
  }

  /** Loads the session a request refers to, or a new unsaved one. Store failures reject with 503 errors. */
  async load(request: RequestInfo = {}): Promise<Session> {
    const { devices } = this.options;
    if (devices) {
      this.#parse ??= await loadParser();
      const session = loadChannel.hasSubscribers
        ? await this.#traceLoad(request)
        : await this.#load(request, undefined);
      const state = session[STATE];
      trackDevice(state, {
        userAgent: devices.userAgent ? (request.header?.('user-agent') ?? undefined) : undefined,
        ip: devices.ip
          ? truncateIp(typeof request.client === 'function' ? request.client() : request.client)
          : undefined,
        stored: state.isNew ? undefined : this.#loadedDevices.get(state),
      });
      return session;
    }
    if (!loadChannel.hasSubscribers) return this.#load(request, undefined);
    return this.#traceLoad(request);
  }

  async #traceLoad(request: RequestInfo): Promise<Session> {
    const trace: LoadContext = {
      ...this.#traceBase(request.adapter),
      outcome: 'new',
      forwarded: false,
      lockWaitMs: 0,
    };
    let session: Session | undefined;
    // The traced function resolves to nothing: the session never reaches a subscriber.
    await loadChannel.tracePromise(async () => {
      session = await this.#load(request, trace);
      rememberAdapter(session, request.adapter);
    }, trace);
    return session as Session;
  }

  async #load(request: RequestInfo, trace: LoadContext | undefined): Promise<Session> {
    const secure = request.secure ?? false;
    const { header, cookie } = this.options;
    // The first request waits (boundedly) for the first reading of the store's clock; none after it.
    const warming = this.#clock?.ready();
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
    if (raw === undefined && !this.#adoption) return this.#fresh(secure, false, tokenInHeader);

    // Of several cookies of the name (one tossed from a sibling subdomain), the first that verifies.
    let verified: VerifiedKey | null = null;
    for (const candidate of candidates) {
      verified = this.#verify(candidate);
      if (verified) break;
    }
    if (raw !== undefined && !verified) {
      // No store read for anything that fails verification.
      this.emit('suspicious', {
        reason: raw.includes('.') && raw.length === 87 ? 'signature' : 'malformed',
        client: typeof request.client === 'function' ? request.client() : request.client,
      });
      this.#countFailure();
      if (trace) trace.outcome = 'forged';
      if (!this.#adoption) return this.#fresh(secure, true, tokenInHeader);
    }
    let adopted = false;
    if (!verified) {
      // No valid baton cookie: an express-session cookie may lead to a session (option `legacy`).
      const adoptedId = await this.#adoption?.resolve(request.cookie);
      if (!adoptedId) return this.#fresh(secure, raw !== undefined, tokenInHeader);
      adopted = true;
      verified = { id: adoptedId, key: this.keyFor(adoptedId), stale: true };
    }

    let id = verified.id;
    let key = verified.key;
    let stored: StoredSession | null;
    let lock: LockHandle | null;
    let forwarded = false;
    for (let hop = 0; ; hop++) {
      if (this.options.concurrency === 'lock') {
        const waitFrom = trace ? performance.now() : 0;
        lock = await this.#acquire(key);
        if (trace) trace.lockWaitMs += performance.now() - waitFrom;
        stored = lock.session;
      } else {
        stored = await this.#call(() => this.store.get(key));
        lock = null;
      }
      const now = this.#now();
      if (stored && (stored.expiresAt <= now || stored.absoluteExpiresAt <= now)) {
        this.emit('expired', { key });
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
      key = this.keyFor(id);
      forwarded = true;
      this.emit('forwarded', { oldKey, key });
    }
    const opened = stored ? this.#open(key, stored) : null;
    if (!stored || !opened) {
      await lock?.release().catch(() => {});
      if (!stored) this.emit('unknown', { key });
      if (trace) trace.outcome = 'expired';
      // Never adopt an id the store does not know: a new one is issued. An id a login elsewhere
      // moved moments ago is not followed (that would undo the login's protection against
      // fixation) and not cleared either (the browser has, or is about to get, the new cookie).
      const moved = !stored && moveTarget(await this.#call(() => this.store.get(movedKeyFor(key)))) !== null;
      const fresh = this.#fresh(secure, !moved && raw !== undefined, tokenInHeader);
      if (moved) fresh[STATE].movedFrom = key;
      return fresh;
    }

    const { data, snapshot, device } = opened;
    if (trace) {
      trace.outcome = adopted ? 'adopted' : 'loaded';
      trace.forwarded = forwarded;
      trace.fingerprint = fingerprint(this.options.secrets[0] as string, key);
    }
    const state: SessionState = {
      controller: this,
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
      hadToken: true,
      secure,
      forceTouch: false,
      committed: false,
      loadedAt: this.#now(),
      tokenInHeader,
      moved: undefined,
      movedFrom: undefined,
      followed: false,
    };
    const turn = lock ? this.#handleTurns.get(lock) : undefined;
    if (turn) this.#turns.set(state, turn);
    const storedDevice = parseDevice(device);
    if (storedDevice) this.#loadedDevices.set(state, storedDevice);
    return new Session(state, data);
  }

  /**
   * Writes what changed (nothing when nothing did, within `touchAfter`), releases a lock, and returns
   * the headers to send. Call it before the response headers go out.
   */
  async commit(session: Session): Promise<CommitResult> {
    return commitChannel.hasSubscribers ? this.#traceCommit(session) : this.#commit(session);
  }

  async #commit(session: Session): Promise<CommitResult> {
    const state = session[STATE];
    if (state.committed) return { setCookie: [], headers: {} };
    this.#committing.add(state);
    try {
      await this.#write(session, true);
    } catch (err) {
      await this.abandon(session);
      throw err;
    } finally {
      this.#committing.delete(state);
      this.#endTurn(state);
    }
    state.committed = true;
    return this.#headers(state);
  }

  /** Adds the session's device entry, last seen `now`, to values about to be written (option `devices`). */
  #deviceInto(state: SessionState, key: string, target: Record<string, string>, now: number): void {
    if (!this.options.devices) return;
    const track = deviceTrack(state);
    if (!track) return;
    const previous = state.isNew ? undefined : track.stored;
    const entry: DeviceInfo = previous
      ? { ...previous, lastSeenAt: now }
      : {
          ...(this.#parse && track.userAgent !== undefined
            ? describeUserAgent(this.#parse, track.userAgent)
            : { description: 'Unknown device' }),
          createdAt: state.createdAt,
          lastSeenAt: now,
        };
    if (track.ip !== undefined) entry.ip = track.ip;
    track.stored = entry;
    const sealed = this.#seal(key, { [DEVICE_KEY]: JSON.stringify(entry) });
    target[DEVICE_KEY] = sealed[DEVICE_KEY] as string;
  }

  /** A stored device entry, decrypted when encryption is on; undefined when absent or unreadable. */
  #openDevice(key: string, raw: string | undefined): DeviceInfo | undefined {
    if (raw === undefined) return undefined;
    const enc = this.options.encryption;
    if (!enc) return parseDevice(raw);
    return parseDevice(enc.open(this.#aad(key, DEVICE_KEY), raw)?.text);
  }

  /**
   * `maxSessionsPerUser`: after a login was written, the user's sessions beyond the limit are
   * deleted, least recently seen first (earliest idle expiry, then creation, then key). Every
   * login runs this after its own write, in the same order, so of two concurrent logins the later
   * lister sees both and both listers pick the same victims: no more than the limit stay.
   */
  async #limitSessions(userId: string): Promise<void> {
    const max = this.options.maxSessionsPerUser;
    if (max === undefined) return;
    const sessions = await this.#call(() => this.store.listByUser!(userId));
    if (sessions.length <= max) return;
    sessions.sort(
      (a, b) =>
        a.expiresAt - b.expiresAt ||
        a.createdAt - b.createdAt ||
        (a.key < b.key ? -1 : a.key > b.key ? 1 : 0),
    );
    const evicted = sessions.slice(0, sessions.length - max);
    await Promise.all(evicted.map((s) => this.#call(() => this.store.destroy(s.key))));
    this.emit('evicted', { userId, sessions: evicted });
  }

  /** The fields every load and commit context carries. */
  #traceBase(adapter: string | undefined): {
    adapter: string | undefined;
    store: string;
    concurrency: string;
  } {
    return { adapter, store: this.store.name, concurrency: this.options.concurrency };
  }

  /** `commit` with a `baton-session:commit` context: what was written is read off the state before and after. */
  async #traceCommit(session: Session): Promise<CommitResult> {
    const state = session[STATE];
    const before = { ...state };
    const trace: CommitContext = {
      ...this.#traceBase(adapterOf(session)),
      written: false,
      write: 'none',
      keys: 0,
      bytes: 0,
      conflicts: 0,
      retries: 0,
    };
    if (!state.isNew) trace.fingerprint = fingerprint(this.options.secrets[0] as string, state.key);
    let result: CommitResult | undefined;
    const untrack = traceCommitOf(session, trace);
    try {
      await commitChannel.tracePromise(async () => {
        try {
          result = await this.#commit(session);
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
  async abandon(session: Session): Promise<void> {
    const state = session[STATE];
    state.committed = true;
    const lock = state.lock;
    state.lock = null;
    await lock?.release().catch(() => {});
    this.#endTurn(state);
  }

  /**
   * The request's client went away before its response: in `'lock'` mode the lock is given up at
   * once (and nothing more is written for this request), instead of being held until `lockTtl`.
   * A session without a lock, or whose commit is under way, is left alone.
   */
  async clientGone(session: Session): Promise<void> {
    const state = session[STATE];
    if (state.committed || !state.lock || this.#committing.has(state)) return;
    await this.abandon(session);
  }

  /**
   * The live sessions of one user. With `devices` on, each carries its `device` (one read per
   * session); `current` marks the session passed as `options.current`.
   */
  async listByUser(userId: string, options: { current?: Session } = {}): Promise<UserSession[]> {
    if (!this.store.listByUser) {
      throw new NotSupportedError(`the ${this.store.name} store has no user index`);
    }
    const listed: UserSession[] = await this.#call(() => this.store.listByUser!(userId));
    const sessions = listed.filter((s) => !isMarkerKey(s.key));
    const current = options.current?.[STATE];
    if (current && !current.isNew && !current.destroyed) {
      for (const s of sessions) if (s.key === current.key) s.current = true;
    }
    if (this.options.devices) {
      await Promise.all(
        sessions.map(async (s) => {
          const stored = await this.#call(() => this.store.get(s.key));
          const device = stored ? this.#openDevice(s.key, stored.data[DEVICE_KEY]) : undefined;
          if (device) s.device = device;
        }),
      );
    }
    return sessions;
  }

  /**
   * Logs a user out everywhere: deletes every session indexed under `userId`, except the session
   * passed as `options.except` ("sign out every other device"). Returns how many were deleted.
   * Without `except`, a logout stamp is written first, so a login for this user already in flight
   * when this is called deletes the session it stores (logout wins).
   */
  async destroyUser(userId: string, options: { except?: Session } = {}): Promise<number> {
    if (!this.store.listByUser) {
      throw new NotSupportedError(`the ${this.store.name} store has no user index`);
    }
    const except = options.except?.[STATE];
    const keep = except && !except.isNew && !except.destroyed ? except.key : undefined;
    if (keep === undefined) {
      await stampLogout(this.store, this.#run, this.options.keyPrefix, userId, this.#now());
    }
    const sessions = (await this.listByUser(userId)).filter((s) => s.key !== keep);
    const results = await Promise.all(
      sessions.map(async (s) => {
        const existed = await this.#call(() => this.store.destroy(s.key));
        // Regenerated while this ran: the session lives on under the key its marker names.
        return existed || (await endMove(this.store, this.#run, s.key));
      }),
    );
    this.emit('userLoggedOut', { userId, sessions });
    return results.filter(Boolean).length;
  }

  /** Stops listening to the store. The store itself is closed by whoever made it. */
  async close(): Promise<void> {
    this.#unsubscribe();
  }

  // SessionController

  async regenerate(session: Session): Promise<void> {
    const state = session[STATE];
    const oldKey = state.key;
    const now = this.#now();
    const id = generateId();
    const key = this.keyFor(id);
    let dead = false;
    if (!state.isNew && !state.destroyed) {
      // Logout wins: a marker naming the new key is stored before the old record goes (see moves.ts).
      const markerKey = movedKeyFor(oldKey);
      let marked = true;
      try {
        await this.#call(() => this.store.create(markerKey, moveRecord(key, now, state.absoluteExpiresAt)));
      } catch (err) {
        if ((err as BatonError).code !== 'BATON_SESSION_EXISTS') throw err;
        // Another request is regenerating this session (a double login): that one moves it and
        // deletes the old record; this one starts empty, so only one new id holds the data.
        marked = false;
      }
      const existed = marked && (await this.#call(() => this.store.destroy(oldKey)));
      if (existed) state.moved = markerKey;
      else if (marked) {
        // Logged out (or destroyed everywhere) by another request meanwhile: the new id is created dead.
        await this.#discard(markerKey);
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
      if (!(await this.#call(() => this.store.patch(state.moved!, patch)))) dead = true;
    }
    state.lock = null;
    state.id = id;
    state.key = key;
    state.isNew = true;
    state.snapshot = new Map();
    state.userId = undefined;
    state.version = 0;
    state.createdAt = now;
    state.absoluteExpiresAt = now + this.options.absoluteLifetimeMs;
    state.expiresAt = Math.min(now + this.options.lifetimeMs, state.absoluteExpiresAt);
    state.cookieNeeded = true;
    state.destroyed = false;
    this.emit('regenerated', { oldKey, key: state.key });
    if (dead) this.#gone(session);
  }

  async destroy(session: Session): Promise<void> {
    const state = session[STATE];
    if (!state.destroyed) {
      if (!state.isNew) {
        const existed = await this.#call(() => this.store.destroy(state.key));
        // Gone already: a login elsewhere may have moved it; that login ends too (logout wins).
        if (!existed) await endMove(this.store, this.#run, state.key);
      } else if (state.movedFrom) {
        await endMove(this.store, this.#run, state.movedFrom);
      }
      // This request's own regenerate() left a marker: nothing will need it now.
      if (state.moved) await this.#discard(state.moved);
      state.moved = undefined;
    }
    state.lock = null;
    state.destroyed = true;
    for (const k of Object.keys(session)) delete session[k];
    this.emit('destroyed', { key: state.key });
  }

  async save(session: Session): Promise<void> {
    await this.#write(session, false);
  }

  async reload(session: Session): Promise<void> {
    const state = session[STATE];
    const stored = state.isNew || state.destroyed ? null : await this.#call(() => this.store.get(state.key));
    for (const k of Object.keys(session)) delete session[k];
    const opened = stored ? this.#open(state.key, stored) : null;
    if (!stored || !opened) {
      if (!state.isNew && !state.destroyed) await this.regenerate(session);
      return;
    }
    state.snapshot = opened.snapshot;
    Object.assign(session, opened.data);
    state.version = stored.version;
    state.userId = stored.userId;
    state.expiresAt = stored.expiresAt;
  }

  // Internals

  #fresh(secure: boolean | (() => boolean), hadToken: boolean, tokenInHeader: boolean): Session {
    const now = this.#now();
    const id = generateId();
    const absoluteExpiresAt = now + this.options.absoluteLifetimeMs;
    const state: SessionState = {
      controller: this,
      id,
      key: this.keyFor(id),
      isNew: true,
      snapshot: new Map(),
      userId: undefined,
      version: 0,
      createdAt: now,
      expiresAt: Math.min(now + this.options.lifetimeMs, absoluteExpiresAt),
      absoluteExpiresAt,
      destroyed: false,
      lock: null,
      cookieNeeded: true,
      hadToken,
      secure,
      forceTouch: false,
      committed: false,
      loadedAt: now,
      tokenInHeader,
      moved: undefined,
      movedFrom: undefined,
      followed: false,
    };
    return new Session(state, {});
  }

  /** Additional data binding an encrypted value to its session (the store key without prefix) and data key. */
  #aad(key: string, dataKey: string): string {
    return `baton-session\u0000${key.slice(this.options.keyPrefix.length)}\u0000${dataKey}`;
  }

  /**
   * Decodes (and decrypts) a stored session's values. Null when any value does not decrypt or is
   * not JSON: the session is then absent, never half-read and never read as plaintext.
   */
  #open(key: string, stored: StoredSession): Opened | null {
    const enc = this.options.encryption;
    const data: Record<string, unknown> = {};
    const snapshot = new Map<string, string>();
    const opened: Opened = { data, snapshot };
    for (const [k, raw] of Object.entries(stored.data)) {
      if (isReservedKey(k) && k !== DEVICE_KEY) {
        // Written by other code: read as data it would shadow a method or the id.
        this.emit('unreadable', { key, reason: 'reserved' });
        return null;
      }
      let text = raw;
      let stale = false;
      if (enc) {
        const opened = enc.open(this.#aad(key, k), raw);
        if (!opened) {
          this.emit('unreadable', { key, reason: 'decrypt' });
          return null;
        }
        text = opened.text;
        stale = opened.stale;
      }
      if (k === DEVICE_KEY) {
        opened.device = text;
        continue;
      }
      try {
        const value = decodeValue(text);
        // Defined, not assigned: a key named `__proto__` is data, never the object's prototype.
        if (k === '__proto__') {
          Object.defineProperty(data, k, { value, enumerable: true, writable: true, configurable: true });
        } else data[k] = value;
      } catch {
        this.emit('unreadable', { key, reason: 'json' });
        return null;
      }
      snapshot.set(k, stale ? REWRITE : text);
    }
    return opened;
  }

  /** The values as the store receives them: encrypted under the current key when encryption is on. */
  #seal(key: string, values: Record<string, string>): Record<string, string> {
    const enc = this.options.encryption;
    if (!enc) return values;
    const out: Record<string, string> = {};
    for (const [k, text] of Object.entries(values)) out[k] = enc.seal(this.#aad(key, k), text);
    return out;
  }

  /** Guessing detection: `bruteForce` fires when more than `threshold` verifications fail within the window. */
  #countFailure(): void {
    const policy = this.options.bruteForce;
    if (!policy) return;
    const now = Date.now();
    const size = policy.threshold + 1;
    const ring = this.#failures;
    ring[this.#failureAt] = now;
    this.#failureAt = (this.#failureAt + 1) % size;
    if (ring.length < size) return;
    // The ring holds the last threshold+1 failures; the next slot is the oldest of them.
    const oldest = ring[this.#failureAt] as number;
    if (now - oldest > policy.windowMs || now - this.#lastBruteForce < policy.windowMs) return;
    this.#lastBruteForce = now;
    this.options.logger?.warn(
      { code: 'BATON_BRUTE_FORCE', scope: 'manager', failures: size, windowMs: policy.windowMs },
      `[baton-session] ${size} cookies or tokens failed verification within ${policy.windowMs / 1000} s`,
    );
    this.emit('bruteForce', { failures: size, windowMs: policy.windowMs, threshold: policy.threshold });
  }

  /**
   * Takes the session's lock: first this process's turn for the session (no store call while an
   * earlier request of this process has it), then the store's lock, retried with capped
   * exponential backoff and jitter (see `lock-wait.ts`), until `lockWait` runs out.
   */
  async #acquire(key: string): Promise<LockHandle> {
    const started = Date.now();
    const deadline = started + this.options.lockWaitMs;
    const turn = await this.#queue.enter(key, deadline, this.options.lockTtlMs);
    if (!turn) return this.#lockTimeout(key, started);
    for (let refused = 0; ; refused++) {
      let handle: LockHandle | null;
      try {
        handle = await this.#call(
          () => this.store.lock!(key, this.options.lockTtlMs),
          key,
          // A lock granted after the timeout gave up on it is released at once, not left to lockTtl.
          (late) => void late?.release().catch(() => {}),
        );
      } catch (err) {
        turn.done();
        throw err;
      }
      if (handle) return this.#withTurn(handle, turn);
      const remaining = deadline - Date.now();
      if (remaining <= 0) {
        turn.done();
        return this.#lockTimeout(key, started);
      }
      await lockPause(this.store, key, refused, remaining);
    }
  }

  #lockTimeout(key: string, started: number): never {
    const waited = Date.now() - started;
    this.emit('lockTimeout', { key, waitedMs: waited });
    throw new LockTimeoutError(waited);
  }

  /** The store's handle, whose release also lets the next request of this process in line try. */
  #withTurn(handle: LockHandle, turn: Turn): LockHandle {
    const held: LockHandle = {
      token: handle.token,
      session: handle.session,
      release: () => handle.release().finally(() => turn.done()),
    };
    this.#handleTurns.set(held, turn);
    return held;
  }

  /** Ends the local turn a locked session holds (its commit or abandon is over). */
  #endTurn(state: SessionState): void {
    this.#turns.get(state)?.done();
    this.#turns.delete(state);
  }

  /**
   * Every store call goes through here: unknown failures, and calls that do not answer within
   * `timeoutMs`, become `StoreUnavailableError` (503). `late` receives a result that arrives after the timeout.
   */
  async #call<T>(
    fn: () => Promise<T>,
    key = '',
    late?: (value: T) => void,
    reportConflict = true,
  ): Promise<T> {
    try {
      return await this.#bounded(fn, late);
    } catch (err) {
      const error: BatonError = isBatonError(err)
        ? err
        : new StoreUnavailableError(
            `the ${this.store.name} store failed: ${(err as Error)?.message ?? String(err)}`,
            {
              cause: err,
            },
          );
      if (error.code === 'BATON_STORE_UNAVAILABLE') {
        this.options.logger?.error(
          { code: error.code, scope: this.store.name, cause: errorCode(error.cause) },
          `[baton-session] the ${this.store.name} store failed; the request answered 503`,
        );
        this.emit('storeError', error);
      }
      if (error.code === 'BATON_CONFLICT' && reportConflict) this.emit('conflict', { key });
      throw error;
    }
  }

  #bounded<T>(fn: () => Promise<T>, late?: (value: T) => void): Promise<T> {
    let call: Promise<T>;
    try {
      call = fn();
    } catch (err) {
      return Promise.reject(err);
    }
    const ms = this.options.timeoutMs;
    if (ms === 0) return call;
    return new Promise<T>((resolve, reject) => {
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        reject(
          new StoreUnavailableError(
            `the ${this.store.name} store did not answer within ${ms} ms (timeoutMs); the request was given up`,
          ),
        );
      }, ms);
      timer.unref();
      call.then(
        (value) => {
          clearTimeout(timer);
          if (timedOut) late?.(value);
          else resolve(value);
        },
        (err) => {
          clearTimeout(timer);
          if (!timedOut) reject(err);
        },
      );
    });
  }

  /** The changes since load (or the last save). Raises `SessionDataError` before anything is written. */
  #changes(session: Session): Changes {
    const state = session[STATE];
    const set: Record<string, string> = {};
    const next = new Map<string, string>();
    for (const key of Object.keys(session)) {
      const value = session[key];
      if (value === undefined || isReservedKey(key)) continue;
      const text = encodeValue(key, value);
      next.set(key, text);
      if (state.snapshot.get(key) !== text) set[key] = text;
    }
    const unset = [...state.snapshot.keys()].filter((k) => !next.has(k));
    return { set, unset, next, userId: userIdOf(session, this.options.userKey) };
  }

  #checkSize(next: Map<string, string>): void {
    const enc = this.options.encryption;
    let size = 0;
    for (const [k, v] of next) {
      const bytes = Buffer.byteLength(v);
      size += Buffer.byteLength(k) + (enc ? enc.sealedBytes(bytes) : bytes);
    }
    if (size > this.options.maxSize) throw new SessionTooLargeError(size, this.options.maxSize);
  }

  async #write(session: Session, final: boolean): Promise<void> {
    const state = session[STATE];
    if (state.destroyed) return;
    const changes = this.#changes(session);
    // Only a write can make a session too large: an unchanged read of one stays served.
    if (state.isNew || Object.keys(changes.set).length > 0) this.#checkSize(changes.next);
    const now = this.#now();
    const expiresAt = Math.min(now + this.options.lifetimeMs, state.absoluteExpiresAt);

    if (state.isNew) {
      if (!shouldCreate(changes.next.size, this.options.saveUninitialized)) return;
      const record: StoredSession = {
        data: this.#seal(state.key, Object.fromEntries(changes.next)),
        createdAt: state.createdAt,
        expiresAt,
        absoluteExpiresAt: state.absoluteExpiresAt,
        version: 1,
      };
      if (changes.userId !== undefined) record.userId = changes.userId;
      this.#deviceInto(state, state.key, record.data, now);
      await this.#call(() => this.store.create(state.key, record));
      if (await this.#loggedOutMeanwhile(state, record.userId)) {
        // A logout landed while this login was in flight: what was just stored goes again.
        await this.#discard(state.key);
        return this.#gone(session);
      }
      this.#saved(state, changes, expiresAt, 1);
      this.emit('created', { key: state.key });
      if (changes.userId !== undefined) await this.#limitSessions(changes.userId);
      return;
    }

    const { concurrency, renewal } = this.options;
    if (final && renewal && shouldRenew(state.createdAt, now, renewal.intervalMs)) {
      return this.#renew(session, changes, now, expiresAt, renewal.graceMs);
    }
    const userChanged = changes.userId !== state.userId;
    const dataChanged = Object.keys(changes.set).length > 0 || changes.unset.length > 0;
    const lock = concurrency === 'lock' ? state.lock : null;

    if (
      dataChanged ||
      userChanged ||
      state.forceTouch ||
      shouldTouch(state.expiresAt, expiresAt, this.options.touchAfterMs)
    ) {
      if (!dataChanged && !userChanged && !lock && !this.options.devices) {
        // Only the expiry moves: a touch writes nothing else.
        const alive = await this.#call(() => this.store.touch(state.key, expiresAt));
        if (!alive) return this.#lost(session, changes, expiresAt);
        state.expiresAt = expiresAt;
        state.forceTouch = false;
        state.cookieNeeded = true;
        return;
      }
      const patch = this.#changePatch(state.key, changes, expiresAt, userChanged);
      // With `devices`, a touch carries the device entry (last seen): still one write.
      this.#deviceInto(state, state.key, patch.set, now);
      if (concurrency === 'strict' && (dataChanged || userChanged)) patch.expectVersion = state.version;
      if (lock) {
        patch.lockToken = lock.token;
        patch.releaseLock = final;
      }
      const result = await this.#call(() => this.store.patch(state.key, patch), state.key);
      if (!result) return this.#lost(session, changes, expiresAt);
      if (lock && final) state.lock = null;
      if (userChanged && (await this.#loggedOutMeanwhile(state, changes.userId))) {
        await this.#discard(state.key);
        return this.#gone(session);
      }
      this.#saved(state, changes, expiresAt, result.version);
      if (userChanged && changes.userId !== undefined) await this.#limitSessions(changes.userId);
      return;
    }

    if (lock && final) {
      state.lock = null;
      await this.#call(() => lock.release());
    }
  }

  /**
   * Renewal: the session, with this request's changes, is stored under a new id, and the old record
   * becomes a forwarding record (its data removed, the new id sealed under the old one, expiring at
   * the end of the grace window) in one write guarded like any patch of this mode. When that write
   * finds the session gone (logged out meanwhile) or fails, the new record is deleted again.
   */
  async #renew(
    session: Session,
    changes: Changes,
    now: number,
    expiresAt: number,
    graceMs: number,
  ): Promise<void> {
    const state = session[STATE];
    const { concurrency } = this.options;
    const oldKey = state.key;
    const id = generateId();
    const key = this.keyFor(id);
    const record: StoredSession = {
      data: this.#seal(key, Object.fromEntries(changes.next)),
      createdAt: now,
      expiresAt,
      absoluteExpiresAt: state.absoluteExpiresAt,
      version: 1,
    };
    if (changes.userId !== undefined) record.userId = changes.userId;
    this.#deviceInto(state, key, record.data, now);
    await this.#call(() => this.store.create(key, record));

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
      result = await this.#call(
        () => this.store.patch(oldKey, forward),
        oldKey,
        undefined,
        concurrency === 'strict',
      );
    } catch (err) {
      await this.#discard(key);
      if (
        (err as BatonError).code === 'BATON_CONFLICT' &&
        (concurrency === 'merge' || concurrency === 'overwrite')
      ) {
        return this.#writeAfterLostRenewal(session, changes, expiresAt);
      }
      throw err;
    }
    state.lock = null;
    if (!result) {
      await this.#discard(key);
      return this.#lost(session, changes, expiresAt);
    }
    state.id = id;
    state.key = key;
    state.createdAt = now;
    this.#saved(state, changes, expiresAt, 1);
    this.emit('renewed', { oldKey, key });
  }

  /**
   * Deletes a record made for a renewal that did not happen, bounded by `timeoutMs` like every store
   * call. A failure is left at that: nobody holds the id, and the record expires with its lifetime.
   */
  async #discard(key: string): Promise<void> {
    await this.#call(() => this.store.destroy(key)).catch(() => {});
  }

  /**
   * Another request renewed the session first (or wrote between this one's load and its renewal):
   * this request's changes are written, as a plain patch, wherever the session now is — the id the
   * old record forwards to, or the old record itself — and the response carries that id.
   */
  async #writeAfterLostRenewal(session: Session, changes: Changes, expiresAt: number): Promise<void> {
    const state = session[STATE];
    const trace = commitTrace(session);
    if (trace) {
      trace.conflicts++;
      trace.retries++;
    }
    const current = await this.#call(() => this.store.get(state.key));
    if (!current) return this.#gone(session);
    let id = state.id;
    const sealed = current.data[FORWARD_KEY];
    if (sealed !== undefined) {
      const next = openForward(id, sealed);
      if (!next) return this.#gone(session);
      id = next;
    }
    const key = this.keyFor(id);
    const patch = this.#changePatch(key, changes, expiresAt, changes.userId !== state.userId);
    this.#deviceInto(state, key, patch.set, this.#now());
    const result = await this.#call(() => this.store.patch(key, patch), key);
    if (!result) return this.#gone(session);
    if (id !== state.id) {
      const oldKey = state.key;
      state.id = id;
      state.key = key;
      this.emit('forwarded', { oldKey, key });
    }
    this.#saved(state, changes, expiresAt, result.version);
  }

  /** The patch that writes a request's changes to session `id`: only what changed, or all of it in 'overwrite' mode. */
  #changePatch(key: string, changes: Changes, expiresAt: number, userChanged: boolean): Patch {
    const patch: Patch =
      this.options.concurrency === 'overwrite'
        ? { set: this.#seal(key, Object.fromEntries(changes.next)), unset: [], expiresAt, replace: true }
        : { set: this.#seal(key, changes.set), unset: changes.unset, expiresAt };
    if (userChanged) patch.userId = changes.userId ?? null;
    // A `maxSize` below the store's limit is enforced by the store in the write itself (atomically).
    const { maxSize } = this.options;
    if (maxSize < this.store.limits.maxSessionBytes && Object.keys(patch.set).length > 0)
      patch.maxBytes = maxSize;
    return patch;
  }

  #saved(state: SessionState, changes: Changes, expiresAt: number, version: number): void {
    state.snapshot = changes.next;
    state.userId = changes.userId;
    state.version = version;
    state.expiresAt = expiresAt;
    state.isNew = false;
    state.forceTouch = false;
    state.cookieNeeded = true;
  }

  /**
   * After a login: false when the login stands; true when a logout landed while it was in flight —
   * this request's `regenerate()` marker is gone (a logout by the old id ended it), or the user
   * was logged out everywhere after this request loaded.
   */
  async #loggedOutMeanwhile(state: SessionState, userId: string | undefined): Promise<boolean> {
    if (state.moved !== undefined) {
      const target = moveTarget(await this.#call(() => this.store.get(state.moved!)));
      if (target === null) return true;
    }
    return (
      userId !== undefined &&
      (await loggedOutSince(this.store, this.#run, this.options.keyPrefix, userId, state.loadedAt))
    );
  }

  /**
   * A write found the session gone. When a login elsewhere moved it meanwhile (its marker is
   * there), this request's changes go to the new key and the response sets no cookie: the login's
   * response carries the new one, and this request never learns the new id. Otherwise the session
   * was logged out: write nothing, drop the cookie.
   */
  async #lost(session: Session, changes: Changes, expiresAt: number): Promise<void> {
    const state = session[STATE];
    const target = moveTarget(await this.#call(() => this.store.get(movedKeyFor(state.key))));
    if (target === null) return this.#gone(session);
    if (this.options.concurrency === 'strict') {
      throw new ConflictError(
        'the session was moved to a new id by a login in another request; reload and retry',
      );
    }
    const dataChanged = Object.keys(changes.set).length > 0 || changes.unset.length > 0;
    const userChanged = changes.userId !== state.userId;
    let version = state.version;
    if (dataChanged || userChanged) {
      const patch = this.#changePatch(target, changes, expiresAt, userChanged);
      const result = await this.#call(() => this.store.patch(target, patch), target);
      // The new session was logged out too: logout wins.
      if (!result) return this.#gone(session);
      version = result.version;
    }
    const oldKey = state.key;
    state.key = target;
    state.lock = null;
    state.followed = true;
    this.#saved(state, changes, expiresAt, version);
    this.emit('forwarded', { oldKey, key: target });
  }

  /** The session was deleted by another request (logout in another tab): write nothing, drop the cookie. */
  #gone(session: Session): void {
    const state = session[STATE];
    state.destroyed = true;
    state.lock = null;
    for (const k of Object.keys(session)) delete session[k];
  }

  #headers(state: SessionState): CommitResult {
    const result: CommitResult = { setCookie: [], headers: {} };
    const { cookie, header } = this.options;
    // Followed to a login's new id: that login's response sets the cookie; this one leaves it alone.
    if (state.followed && !state.destroyed) return result;
    if (state.destroyed || (state.isNew && state.hadToken)) {
      // Logged out, or the presented id was unknown and nothing new was stored: make the client forget it.
      if (state.hadToken && cookie) result.setCookie.push(clearCookie(cookie, isSecure(state)));
    } else if (!state.isNew && state.cookieNeeded) {
      const token = sign(state.id, this.options.secrets[0] as string);
      if (cookie) {
        const remaining = (state.absoluteExpiresAt - this.#now()) / 1000;
        const maxAge =
          cookie.maxAge === null
            ? null
            : Math.min(cookie.maxAge ?? this.options.lifetimeMs / 1000, remaining);
        result.setCookie.push(serializeCookie(cookie, token, maxAge, isSecure(state)));
      }
      if (header && state.tokenInHeader) result.headers['x-session-token'] = token;
    }
    if (result.setCookie.length > 0 || result.headers['x-session-token'])
      result.headers['cache-control'] = 'no-store';
    return result;
  }
}

/** Fills a commit context from the session's state before and after the commit. */
function describeCommit(trace: CommitContext, before: SessionState, after: SessionState): void {
  if (before.committed || before.destroyed) return;
  if (after.destroyed) trace.write = 'gone';
  else if (before.isNew && !after.isNew) trace.write = 'create';
  else if (after.key !== before.key && trace.retries === 0) trace.write = 'renew';
  else if (after.snapshot !== before.snapshot) trace.write = 'patch';
  else if (after.expiresAt !== before.expiresAt) trace.write = 'touch';
  if (trace.write === 'create' || trace.write === 'patch' || trace.write === 'renew') {
    const size = changedSize(before.isNew ? new Map() : before.snapshot, after.snapshot);
    trace.keys = size.keys;
    trace.bytes = size.bytes;
  }
  trace.written = trace.write !== 'none' && trace.write !== 'gone';
}
