import { EventEmitter } from 'node:events';
import type { LockHandle, Patch, SessionSummary, Store, StoredSession } from '../stores/store.js';
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
import { generateId, hashId, sign, unsign } from './ids.js';
import { type ResolvedOptions, resolveOptions, type SessionOptions } from './options.js';
import { isReservedKey, Session, type SessionController, type SessionState, STATE } from './session.js';

/** What an adapter tells the manager about a request. */
export interface RequestInfo {
  /** The Cookie header. */
  cookie?: string | null | undefined;
  /** Reads a request header by lower-case name (for the `header` option). */
  header?: (name: string) => string | null | undefined;
  /** The request came over https, directly or through a trusted proxy. */
  secure?: boolean;
}

/** What an adapter adds to the response after `commit`. */
export interface CommitResult {
  /** Set-Cookie header values. */
  setCookie: string[];
  /** Other headers: `cache-control: no-store` whenever a cookie is set, `x-session-token` in header mode. */
  headers: Record<string, string>;
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

  constructor(options: SessionOptions) {
    super();
    this.options = resolveOptions(options);
    this.store = this.options.store;
    this.#unsubscribe = this.store.onOperation((info) => this.emit('operation', info));
  }

  get userKey(): string {
    return this.options.userKey;
  }

  /** The key the store sees for a session id. */
  keyFor(id: string): string {
    return this.options.keyPrefix + (this.options.hashIds ? hashId(id) : id);
  }

  /** Loads the session a request refers to, or a new unsaved one. Store failures reject with 503 errors. */
  async load(request: RequestInfo = {}): Promise<Session> {
    const secure = request.secure ?? false;
    const { header, cookie } = this.options;
    const raw =
      (header ? readHeaderToken(request.header?.(header), header) : undefined) ??
      (cookie ? readCookie(request.cookie, cookie.name) : undefined);
    if (raw === undefined) return this.#fresh(secure, false);

    const verified = unsign(raw, this.options.secrets);
    if (!verified) {
      // No store read for anything that fails verification.
      this.emit('suspicious', { reason: raw.includes('.') && raw.length === 87 ? 'signature' : 'malformed' });
      return this.#fresh(secure, true);
    }

    const key = this.keyFor(verified.id);
    let stored: StoredSession | null;
    let lock: LockHandle | null = null;
    if (this.options.concurrency === 'lock') {
      lock = await this.#acquire(key);
      stored = lock.session;
    } else {
      stored = await this.#call(() => this.store.get(key));
    }

    const now = Date.now();
    if (stored && (stored.expiresAt <= now || stored.absoluteExpiresAt <= now)) {
      this.emit('expired', { key });
      stored = null;
    }
    if (!stored) {
      await lock?.release().catch(() => {});
      this.emit('unknown', { key });
      // Never adopt an id the store does not know: a new one is issued.
      return this.#fresh(secure, true);
    }

    const data: Record<string, unknown> = {};
    const snapshot = new Map<string, string>();
    for (const [k, text] of Object.entries(stored.data)) {
      snapshot.set(k, text);
      data[k] = decodeValue(text);
    }
    const state: SessionState = {
      controller: this,
      id: verified.id,
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
      cookieNeeded: verified.stale,
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
    const now = Date.now();
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
    if (!stored) {
      if (!state.isNew && !state.destroyed) await this.regenerate(session);
      return;
    }
    state.snapshot = new Map(Object.entries(stored.data));
    for (const [k, text] of state.snapshot) session[k] = decodeValue(text);
    state.version = stored.version;
    state.userId = stored.userId;
    state.expiresAt = stored.expiresAt;
  }

  // Internals

  #fresh(secure: boolean, hadToken: boolean): Session {
    const now = Date.now();
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

  async #acquire(key: string): Promise<LockHandle> {
    const started = Date.now();
    let delay = LOCK_RETRY_FIRST_MS;
    for (;;) {
      const handle = await this.#call(() => this.store.lock!(key, this.options.lockTtlMs));
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

  /** Every store call goes through here: unknown failures become `StoreUnavailableError` (503). */
  async #call<T>(fn: () => Promise<T>, key = ''): Promise<T> {
    try {
      return await fn();
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
      if (error.code === 'BATON_CONFLICT') this.emit('conflict', { key });
      throw error;
    }
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
    const user = session[this.options.userKey];
    return { set, unset, next, userId: typeof user === 'string' && user.length > 0 ? user : undefined };
  }

  #checkSize(next: Map<string, string>): void {
    let size = 0;
    for (const [k, v] of next) size += Buffer.byteLength(k) + Buffer.byteLength(v);
    if (size > this.options.maxSize) throw new SessionTooLargeError(size, this.options.maxSize);
  }

  async #write(session: Session, final: boolean): Promise<void> {
    const state = session[STATE];
    if (state.destroyed) return;
    const changes = this.#changes(session);
    this.#checkSize(changes.next);
    const now = Date.now();
    const expiresAt = Math.min(now + this.options.lifetimeMs, state.absoluteExpiresAt);

    if (state.isNew) {
      if (!shouldCreate(changes.next.size, this.options.saveUninitialized)) return;
      const record: StoredSession = {
        data: Object.fromEntries(changes.next),
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

    const { concurrency } = this.options;
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
      const patch: Patch =
        concurrency === 'overwrite'
          ? { set: Object.fromEntries(changes.next), unset: [], expiresAt, replace: true }
          : { set: changes.set, unset: changes.unset, expiresAt };
      if (userChanged) patch.userId = changes.userId ?? null;
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
      if (state.hadToken && cookie) result.setCookie.push(clearCookie(cookie, state.secure));
    } else if (!state.isNew && state.cookieNeeded) {
      const token = sign(state.id, this.options.secrets[0] as string);
      if (cookie) {
        const remaining = (state.absoluteExpiresAt - Date.now()) / 1000;
        const maxAge =
          cookie.maxAge === null
            ? null
            : Math.min(cookie.maxAge ?? this.options.lifetimeMs / 1000, remaining);
        result.setCookie.push(serializeCookie(cookie, token, maxAge, state.secure));
      }
      if (header) result.headers['x-session-token'] = token;
    }
    if (result.setCookie.length > 0 || result.headers['x-session-token'])
      result.headers['cache-control'] = 'no-store';
    return result;
  }
}
