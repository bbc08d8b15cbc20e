/**
 * `'lock'` mode: taking a session's lock for a request. First this process's turn for the session
 * (no store call while an earlier request of this process has it), then the store's lock, retried
 * with capped exponential backoff and jitter (src/core/lock-wait.ts) until `lockWait` runs out.
 */
import type { EventEmitter } from 'node:events';
import { LockTimeoutError } from '../errors.js';
import type { SessionEvents } from '../events.js';
import { LocalQueue, lockPause, type Turn } from '../lock-wait.js';
import type { ResolvedOptions } from '../options.js';
import type { SessionState } from '../session.js';
import type { LockHandle, Store } from '../store.js';
import type { StoreCaller } from '../store-call.js';

export class Locks {
  readonly options: ResolvedOptions;
  readonly store: Store;
  readonly #events: EventEmitter<SessionEvents>;
  readonly #call: StoreCaller['call'];
  /** `'lock'` mode: this process's requests for one session take turns before calling the store. */
  readonly #queue = new LocalQueue();
  /** The turn each locked session holds in `#queue`, until its commit or abandon ends. */
  readonly #turns = new WeakMap<SessionState, Turn>();
  readonly #handleTurns = new WeakMap<LockHandle, Turn>();

  constructor(
    options: ResolvedOptions,
    store: Store,
    events: EventEmitter<SessionEvents>,
    call: StoreCaller['call'],
  ) {
    this.options = options;
    this.store = store;
    this.#events = events;
    this.#call = call;
  }

  /**
   * Takes the session's lock: first this process's turn for the session (no store call while an
   * earlier request of this process has it), then the store's lock, retried with capped
   * exponential backoff and jitter (see `lock-wait.ts`), until `lockWait` runs out.
   */
  async acquire(key: string): Promise<LockHandle> {
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
    this.#events.emit('lockTimeout', { key, waitedMs: waited });
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

  /** Files the turn a loaded session's lock holds with its state, until `endTurn`. */
  keepTurn(state: SessionState, lock: LockHandle | null): void {
    const turn = lock ? this.#handleTurns.get(lock) : undefined;
    if (turn) this.#turns.set(state, turn);
  }

  /** Ends the local turn a locked session holds (its commit or abandon is over). */
  endTurn(state: SessionState): void {
    this.#turns.get(state)?.done();
    this.#turns.delete(state);
  }
}
