import { EventEmitter } from 'node:events';
import type { LockHandle, Patch, SessionSummary, Store, StoreClock, StoredSession } from '../stores/store.js';
import { decodeValue, encodeValue } from './codec.js';
import { clearCookie, readCookie, readHeaderToken, serializeCookie } from './cookie.js';
import {
  type BatonError,
  isBatonError,
  LockTimeoutError,
  NotSupportedError,
  SessionTooLargeError,
  StoreUnavailableError,
} from './errors.js';
import type { SessionEvents } from './events.js';
import { generateId, hashId, sign, unsign, type VerifiedKey, VerifiedValues } from './ids.js';
import { Adoption } from './legacy.js';
import { type ResolvedOptions, resolveOptions, type SessionOptions } from './options.js';
import { FORWARD_KEY, MAX_FORWARDS, openForward, sealForward, shouldRenew } from './renewal.js';
import { isReservedKey, Session, type SessionController, type SessionState, STATE } from './session.js';
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
}

/** Snapshot entry for a value stored under an old encryption key: never equal to any JSON text, so it is rewritten. */
const REWRITE = '';

/** How many verified cookie values a manager remembers: about 250 bytes each. */
const VERIFIED_VALUES = 4096;

const LOCK_RETRY_FIRST_MS = 5;
/** Keeps a `LockTimeoutError` within one short interval of `lockWait`. */
const LOCK_RETRY_MAX_MS = 50;

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
  /** Option `legacy`: adopts express-session's sessions (src/core/legacy.ts). */
  readonly #adoption: Adoption | undefined;

  constructor(options: SessionOptions) {
    super();
    this.options = resolveOptions(options);
    this.store = this.options.store;
    this.#unsubscribe = this.store.onOperation((info) => this.emit('operation', info));
    this.#clock = this.store.clock;
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
          seal: (id, values) => this.#seal(id, values),
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
    const secure = request.secure ?? false;
    const { header, cookie } = this.options;
    // The first request waits (boundedly) for the first reading of the store's clock; none after it.
    const warming = this.#clock?.ready();
    if (warming) await warming;
    const raw =
      (header ? readHeaderToken(request.header?.(header), header) : undefined) ??
      (cookie ? readCookie(request.cookie, cookie.name) : undefined);
    let verified = raw === undefined ? null : this.#verify(raw);
    if (raw !== undefined && !verified) {
      // No store read for anything that fails verification.
      this.emit('suspicious', {
        reason: raw.includes('.') && raw.length === 87 ? 'signature' : 'malformed',
        client: typeof request.client === 'function' ? request.client() : request.client,
      });
      this.#countFailure();
    }
    if (!verified) {
      // No valid baton cookie: an express-session cookie may lead to a session (option `legacy`).
      const adopted = await this.#adoption?.resolve(request.cookie);
      if (!adopted) return this.#fresh(secure, raw !== undefined);
      verified = { id: adopted, key: this.keyFor(adopted), stale: true };
    }

    let id = verified.id;
    let key = verified.key;
    let stored: StoredSession | null;
    let lock: LockHandle | null;
    let forwarded = false;
    for (let hop = 0; ; hop++) {
      if (this.options.concurrency === 'lock') {
        lock = await this.#acquire(key);
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
    const opened = stored ? this.#open(key, id, stored) : null;
    if (!stored || !opened) {
      await lock?.release().catch(() => {});
      if (!stored) this.emit('unknown', { key });
      // Never adopt an id the store does not know: a new one is issued.
      return this.#fresh(secure, raw !== undefined);
    }

    const { data, snapshot } = opened;
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
    };
    return new Session(state, data);
  }

  /**
   * Writes what changed (nothing when nothing did, within `touchAfter`), releases a lock, and returns
   * the headers to send. Call it before the response headers go out.
   */
  async commit(session: Session): Promise<CommitResult> {
    const state = session[STATE];
    if (state.committed) return { setCookie: [], headers: {} };
    try {
      await this.#write(session, true);
    } catch (err) {
      await this.abandon(session);
      throw err;
    }
    state.committed = true;
    return this.#headers(state);
  }

  /** Releases what a session holds (its lock) without writing: for requests that failed before `commit`. */
  async abandon(session: Session): Promise<void> {
    const state = session[STATE];
    state.committed = true;
    const lock = state.lock;
    state.lock = null;
    await lock?.release().catch(() => {});
  }

  /** The live sessions of one user. */
  async listByUser(userId: string): Promise<SessionSummary[]> {
    if (!this.store.listByUser) {
      throw new NotSupportedError(`the ${this.store.name} store has no user index`);
    }
    return this.#call(() => this.store.listByUser!(userId));
  }

  /** Logs a user out everywhere: deletes every session indexed under `userId`. Returns how many. */
  async destroyUser(userId: string): Promise<number> {
    const sessions = await this.listByUser(userId);
    const results = await Promise.all(sessions.map((s) => this.#call(() => this.store.destroy(s.key))));
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
    if (!state.isNew) {
      const existed = await this.#call(() => this.store.destroy(oldKey));
      if (!existed) {
        // Logged out (or regenerated) by another request meanwhile: its data must not live on under a new id.
        for (const k of Object.keys(session)) delete session[k];
      }
    }
    state.lock = null;
    const now = this.#now();
    state.id = generateId();
    state.key = this.keyFor(state.id);
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
  }

  async destroy(session: Session): Promise<void> {
    const state = session[STATE];
    if (!state.isNew && !state.destroyed) await this.#call(() => this.store.destroy(state.key));
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
    const opened = stored ? this.#open(state.key, state.id, stored) : null;
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

  #fresh(secure: boolean | (() => boolean), hadToken: boolean): Session {
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
    };
    return new Session(state, {});
  }

  /** Additional data binding an encrypted value to its session (the store key without prefix) and data key. */
  #aad(id: string, dataKey: string): string {
    return `baton-session\u0000${this.options.hashIds ? hashId(id) : id}\u0000${dataKey}`;
  }

  /**
   * Decodes (and decrypts) a stored session's values. Null when any value does not decrypt or is
   * not JSON: the session is then absent, never half-read and never read as plaintext.
   */
  #open(key: string, id: string, stored: StoredSession): Opened | null {
    const enc = this.options.encryption;
    const data: Record<string, unknown> = {};
    const snapshot = new Map<string, string>();
    for (const [k, raw] of Object.entries(stored.data)) {
      let text = raw;
      let stale = false;
      if (enc) {
        const opened = enc.open(this.#aad(id, k), raw);
        if (!opened) {
          this.emit('unreadable', { key, reason: 'decrypt' });
          return null;
        }
        text = opened.text;
        stale = opened.stale;
      }
      try {
        data[k] = decodeValue(text);
      } catch {
        this.emit('unreadable', { key, reason: 'json' });
        return null;
      }
      snapshot.set(k, stale ? REWRITE : text);
    }
    return { data, snapshot };
  }

  /** The values as the store receives them: encrypted under the current key when encryption is on. */
  #seal(id: string, values: Record<string, string>): Record<string, string> {
    const enc = this.options.encryption;
    if (!enc) return values;
    const out: Record<string, string> = {};
    for (const [k, text] of Object.entries(values)) out[k] = enc.seal(this.#aad(id, k), text);
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
    this.emit('bruteForce', { failures: size, windowMs: policy.windowMs, threshold: policy.threshold });
  }

  async #acquire(key: string): Promise<LockHandle> {
    const started = Date.now();
    let delay = LOCK_RETRY_FIRST_MS;
    for (;;) {
      const handle = await this.#call(
        () => this.store.lock!(key, this.options.lockTtlMs),
        key,
        // A lock granted after the timeout gave up on it is released at once, not left to lockTtl.
        (late) => void late?.release().catch(() => {}),
      );
      if (handle) return handle;
      const waited = Date.now() - started;
      if (waited >= this.options.lockWaitMs) {
        this.emit('lockTimeout', { key, waitedMs: waited });
        throw new LockTimeoutError(waited);
      }
      // Backoff with jitter, never sleeping past the deadline.
      const pause = Math.min(delay * (0.5 + Math.random() / 2), this.options.lockWaitMs - waited);
      await new Promise((resolve) => setTimeout(resolve, Math.max(1, pause)));
      delay = Math.min(delay * 2, LOCK_RETRY_MAX_MS);
    }
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
      if (error.code === 'BATON_STORE_UNAVAILABLE') this.emit('storeError', error);
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
        data: this.#seal(state.id, Object.fromEntries(changes.next)),
        createdAt: state.createdAt,
        expiresAt,
        absoluteExpiresAt: state.absoluteExpiresAt,
        version: 1,
      };
      if (changes.userId !== undefined) record.userId = changes.userId;
      await this.#call(() => this.store.create(state.key, record));
      this.#saved(state, changes, expiresAt, 1);
      this.emit('created', { key: state.key });
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
      if (!dataChanged && !userChanged && !lock) {
        // Only the expiry moves: a touch writes nothing else.
        const alive = await this.#call(() => this.store.touch(state.key, expiresAt));
        if (!alive) return this.#gone(session);
        state.expiresAt = expiresAt;
        state.forceTouch = false;
        state.cookieNeeded = true;
        return;
      }
      const patch = this.#changePatch(state.id, changes, expiresAt, userChanged);
      if (concurrency === 'strict') patch.expectVersion = state.version;
      if (lock) {
        patch.lockToken = lock.token;
        patch.releaseLock = final;
      }
      const result = await this.#call(() => this.store.patch(state.key, patch), state.key);
      if (!result) return this.#gone(session);
      if (lock && final) state.lock = null;
      this.#saved(state, changes, expiresAt, result.version);
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
      data: this.#seal(id, Object.fromEntries(changes.next)),
      createdAt: now,
      expiresAt,
      absoluteExpiresAt: state.absoluteExpiresAt,
      version: 1,
    };
    if (changes.userId !== undefined) record.userId = changes.userId;
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
      return this.#gone(session);
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
    const patch = this.#changePatch(id, changes, expiresAt, changes.userId !== state.userId);
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
  #changePatch(id: string, changes: Changes, expiresAt: number, userChanged: boolean): Patch {
    const patch: Patch =
      this.options.concurrency === 'overwrite'
        ? { set: this.#seal(id, Object.fromEntries(changes.next)), unset: [], expiresAt, replace: true }
        : { set: this.#seal(id, changes.set), unset: changes.unset, expiresAt };
    if (userChanged) patch.userId = changes.userId ?? null;
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
      if (header) result.headers['x-session-token'] = token;
    }
    if (result.setCookie.length > 0 || result.headers['x-session-token'])
      result.headers['cache-control'] = 'no-store';
    return result;
  }
}
