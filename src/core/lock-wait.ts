/**
 * Waiting for a session lock without hammering the store (`concurrency: 'lock'`).
 *
 * Two layers keep the number of store calls per waiting request bounded:
 * - Within one process, requests for the same session queue in order (`LocalQueue`): only the
 *   first of them calls the store; the others wait for their turn without any store call, and the
 *   next one tries as soon as the one before it has committed or given up.
 * - The one that calls the store backs off exponentially with jitter up to a cap (`nextPause`).
 * - Where the store announces releases (`capabilities.lockNotify`), the waiter also listens for the
 *   release (`lockPause`): it tries again as soon as the lock is released, never sooner than the
 *   backoff would have, and at the latest after the capped pause (a lock that expires is not
 *   announced). So notifications cut the wait after a release without adding calls.
 */
import type { Store } from './store.js';

/** The first pause after a refused lock attempt, before jitter. */
export const LOCK_RETRY_FIRST_MS = 20;
/**
 * The longest pause between two lock attempts, before jitter. With the first pause, doubling and
 * jitter of 50–100 %, a request behind a 2 s holder makes at most 10 attempts (worst case: every
 * draw at 50 %), and a lock freed by another instance is noticed within this cap.
 */
export const LOCK_RETRY_MAX_MS = 1000;

/**
 * The pause before lock attempt `attempt + 1` (`attempt` counts refusals, from 0): the first pause
 * doubled per refusal, capped, times a random 50–100 %, and never past the deadline `remainingMs`.
 */
export function nextPause(attempt: number, remainingMs: number, random: () => number = Math.random): number {
  const base = Math.min(LOCK_RETRY_FIRST_MS * 2 ** Math.min(attempt, 30), LOCK_RETRY_MAX_MS);
  return Math.max(1, Math.min(base * (0.5 + random() / 2), remainingMs));
}

/**
 * The pause after `refused` refused lock attempts on `key`, at most `remainingMs`. On a store that
 * announces releases it ends when both the backoff pause has passed and the lock was released (or
 * the capped pause ran out, whichever of these two is first); elsewhere it is the backoff pause.
 */
export function lockPause(
  store: Store,
  key: string,
  refused: number,
  remainingMs: number,
  random: () => number = Math.random,
): Promise<void> {
  const backoff = nextPause(refused, remainingMs, random);
  if (!store.capabilities.lockNotify || !store.waitForUnlock) return pause(backoff);
  const latest = Math.max(backoff, nextPause(Number.POSITIVE_INFINITY, remainingMs, random));
  return Promise.all([pause(backoff), store.waitForUnlock(key, latest)]).then(() => undefined);
}

/** A place in a session's local queue; `done()` lets the next request in line try. Idempotent. */
export interface Turn {
  done(): void;
}

interface Line {
  /** A request of this process holds (or is acquiring) the session's lock. */
  busy: boolean;
  /** Requests of this process waiting behind it, first in line first. */
  waiting: Array<() => void>;
}

/**
 * Per-session queues of the requests of this process. A turn ends when its request commits or
 * gives up, or after `maxHoldMs` (the lock's ttl: by then the store's lock has expired too, so a
 * handler that never answers holds up nobody longer than it holds up other instances).
 */
export class LocalQueue {
  readonly #lines = new Map<string, Line>();

  /**
   * Resolves with a turn once every earlier request of this process for `key` is done, or null
   * when `deadline` (ms since epoch, `Date.now()`) comes first.
   */
  enter(key: string, deadline: number, maxHoldMs: number): Promise<Turn | null> {
    let line = this.#lines.get(key);
    if (!line) {
      line = { busy: false, waiting: [] };
      this.#lines.set(key, line);
    }
    if (!line.busy) {
      line.busy = true;
      return Promise.resolve(this.#turn(key, line, maxHoldMs));
    }
    const current = line;
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        resolve(this.#turn(key, current, maxHoldMs));
      };
      const timer = setTimeout(
        () => {
          const at = current.waiting.indexOf(wake);
          if (at >= 0) current.waiting.splice(at, 1);
          resolve(null);
        },
        Math.max(0, deadline - Date.now()),
      );
      current.waiting.push(wake);
    });
  }

  #turn(key: string, line: Line, maxHoldMs: number): Turn {
    let ended = false;
    const done = () => {
      if (ended) return;
      ended = true;
      clearTimeout(timer);
      const next = line.waiting.shift();
      if (next) next();
      else {
        line.busy = false;
        this.#lines.delete(key);
      }
    };
    const timer = setTimeout(done, maxHoldMs);
    timer.unref();
    return { done };
  }

  /** Sessions with a request of this process in line (for tests and metrics). */
  get size(): number {
    return this.#lines.size;
  }
}

/** Sleeps `ms` (a pause between lock attempts; bounded by `lockWait`, so it is not unref'd). */
export function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
