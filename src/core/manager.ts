/**
 * `SessionManager`, the framework-free engine adapters map their framework onto. The class holds
 * the public API and the wiring; each role lives in its own file under src/core/manager/:
 * load.ts (reading a request's session), commit.ts (the commit path), writes.ts (what it shares
 * with renewal.ts), lifecycle.ts (regenerate, destroy, reload), users.ts (the user index),
 * locks.ts (lock acquisition), verify.ts (cookie verification), sealing.ts (decoding and
 * encryption), devices.ts, response.ts (headers). Store calls go through src/core/store-call.ts.
 */
import { EventEmitter } from 'node:events';
import type { DeviceInfo } from './devices.js';
import type { BatonError } from './errors.js';
import type { SessionEvents } from './events.js';
import { storeKey } from './ids.js';
import { Adoption } from './legacy.js';
import { abandon, commit, write } from './manager/commit.js';
import type { ManagerCore } from './manager/context.js';
import { destroy, regenerate, reload } from './manager/lifecycle.js';
import { load } from './manager/load.js';
import { Locks } from './manager/locks.js';
import { seal } from './manager/sealing.js';
import type { CommitResult, RequestInfo, UserSession } from './manager/types.js';
import { destroyUser, listByUser } from './manager/users.js';
import { Verifier } from './manager/verify.js';
import type { ResolvedOptions, SessionOptions } from './options.js';
import { resolveOptions } from './resolve-options.js';
import { type Session, type SessionController, type SessionState, STATE } from './session.js';
import type { Store } from './store.js';
import { StoreCaller } from './store-call.js';
import { clockNow } from './store-clock.js';
import { errorCode } from './tracing.js';

export { shouldCreate, shouldTouch } from './decisions.js';
export type { CommitResult, RequestInfo, UserSession } from './manager/types.js';

/**
 * The framework-free engine: loads a session for a request and commits it before the response.
 * Adapters map their framework onto `load` and `commit`.
 */
export class SessionManager extends EventEmitter<SessionEvents> implements SessionController {
  readonly options: ResolvedOptions;
  readonly store: Store;
  /** Stops re-emitting the store's reported calls; set while anyone listens to `operation`. */
  #unsubscribe: (() => void) | undefined;
  #closed = false;
  /** What the parts under src/core/manager/ share. */
  readonly #m: ManagerCore;

  constructor(options: SessionOptions) {
    super();
    this.options = resolveOptions(options);
    this.store = this.options.store;
    this.#watchListeners();
    const clock = this.store.clock;
    const { logger } = this.options;
    if (logger) {
      // The store's and its clock's warnings go to the logger too, unless given one of their own.
      this.store.logger ??= logger;
      if (clock) clock.logger ??= logger;
    }
    const call = new StoreCaller(this.store, {
      timeoutMs: this.options.timeoutMs,
      onError: (error, key, reportConflict) => this.#reportFailure(error, key, reportConflict),
    }).call;
    const keyFor = (id: string) => this.keyFor(id);
    const m: ManagerCore = {
      options: this.options,
      store: this.store,
      controller: this,
      events: this,
      clock,
      now: () => clockNow(clock),
      keyFor,
      call,
      run: (fn) => call(fn),
      locks: new Locks(this.options, this.store, this, call),
      verifier: new Verifier(this.options, keyFor, this),
      loadedDevices: new WeakMap<SessionState, DeviceInfo>(),
      parse: undefined,
      adoption: undefined,
    };
    this.#m = m;
    const legacy = this.options.legacy;
    if (legacy) {
      const { keyPrefix, userKey, lifetimeMs, absoluteLifetimeMs } = this.options;
      const host = { store: this.store, keyPrefix, userKey, lifetimeMs, absoluteLifetimeMs };
      m.adoption = new Adoption(
        legacy,
        {
          ...host,
          now: () => m.now(),
          keyFor,
          seal: (id, values) => seal(m, keyFor(id), values),
          call: (fn) => call(fn),
        },
        {
          adopted: (key) => this.emit('adopted', { key }),
          rejected: () => {
            this.emit('suspicious', { reason: 'legacy' });
            m.verifier.countFailure();
          },
          removeFailed: (error) => this.emit('storeError', error),
        },
      );
    }
  }

  /** A store failure on its way to the request: logged and reported as `storeError` (503s), or `conflict`. */
  #reportFailure(error: BatonError, key: string, reportConflict: boolean): void {
    if (error.code === 'BATON_STORE_UNAVAILABLE') {
      this.options.logger?.error(
        { code: error.code, scope: this.store.name, cause: errorCode(error.cause) },
        `[baton-session] the ${this.store.name} store failed; the request answered 503`,
      );
      this.emit('storeError', error);
    }
    if (error.code === 'BATON_CONFLICT' && reportConflict) this.emit('conflict', { key });
  }

  get userKey(): string {
    return this.options.userKey;
  }

  /** The key the store sees for a session id. */
  keyFor(id: string): string {
    return storeKey(id, this.options.keyPrefix, this.options.hashIds);
  }

  /** Loads the session a request refers to, or a new unsaved one. Store failures reject with 503 errors. */
  load(request: RequestInfo = {}): Promise<Session> {
    return load(this.#m, request);
  }

  /**
   * Writes what changed (nothing when nothing did, within `touchAfter`), releases a lock, and returns
   * the headers to send. Call it before the response headers go out.
   */
  commit(session: Session): Promise<CommitResult> {
    return commit(this.#m, session);
  }

  /** Releases what a session holds (its lock) without writing: for requests that failed before `commit`. */
  abandon(session: Session): Promise<void> {
    return abandon(this.#m, session);
  }

  /**
   * The request's client went away before its response: in `'lock'` mode the lock is given up at
   * once (and nothing more is written for this request), instead of being held until `lockTtl`.
   * A session without a lock, or whose commit is under way, is left alone.
   */
  async clientGone(session: Session): Promise<void> {
    const state = session[STATE];
    if (state.committed || !state.lock || state.committing) return;
    await this.abandon(session);
  }

  /**
   * The live sessions of one user. With `devices` on, each carries its `device` (one read per
   * session); `current` marks the session passed as `options.current`. Needs a store with a user
   * index (`store.capabilities.userIndex`); otherwise rejects with `NotSupportedError`.
   */
  listByUser(userId: string, options: { current?: Session } = {}): Promise<UserSession[]> {
    return listByUser(this.#m, userId, options);
  }

  /**
   * Logs a user out everywhere: deletes every session indexed under `userId`, except the session
   * passed as `options.except` ("sign out every other device"). Returns how many were deleted.
   * Without `except`, a logout stamp is written first, so a login for this user already in flight
   * when this is called deletes the session it stores (logout wins). Needs a user index, as `listByUser`.
   */
  destroyUser(userId: string, options: { except?: Session } = {}): Promise<number> {
    return destroyUser(this.#m, userId, options);
  }

  /** Stops listening to the store. The store itself is closed by whoever made it. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#stopReporting();
  }

  /**
   * `removeAllListeners()` also removes the watch on listeners, which is then set up again: an
   * `operation` listener added later still starts the reports.
   */
  override removeAllListeners(...args: Parameters<EventEmitter<SessionEvents>['removeAllListeners']>): this {
    super.removeAllListeners(...args);
    this.#watchListeners();
    return this;
  }

  /**
   * The store reports (and times) its calls only while someone listens: the manager listens to it
   * only while its own `operation` event has listeners.
   */
  #watchListeners(): void {
    // `newListener` and `removeListener` are EventEmitter's own events, outside `SessionEvents`.
    const emitter: EventEmitter = this as EventEmitter;
    if (!emitter.listeners('newListener').includes(this.#onNewListener)) {
      emitter.on('newListener', this.#onNewListener);
    }
    if (!emitter.listeners('removeListener').includes(this.#onRemoveListener)) {
      emitter.on('removeListener', this.#onRemoveListener);
    }
  }

  readonly #onNewListener = (event: string | symbol): void => {
    if (event === 'operation' && !this.#unsubscribe && !this.#closed) {
      this.#unsubscribe = this.store.onOperation((info) => this.emit('operation', info));
    }
  };

  readonly #onRemoveListener = (event: string | symbol): void => {
    if (event === 'operation' && this.listenerCount('operation') === 0) this.#stopReporting();
  };

  #stopReporting(): void {
    this.#unsubscribe?.();
    this.#unsubscribe = undefined;
  }

  // SessionController

  regenerate(session: Session): Promise<void> {
    return regenerate(this.#m, session);
  }

  destroy(session: Session): Promise<void> {
    return destroy(this.#m, session);
  }

  async save(session: Session): Promise<void> {
    await write(this.#m, session, false);
  }

  reload(session: Session): Promise<void> {
    return reload(this.#m, session);
  }
}
