/**
 * The one wrapper around store calls, used by the session manager and the express-session store:
 * a call that does not answer within `timeoutMs` becomes `StoreUnavailableError` (503), and a
 * failure that is not already a `BatonError` (the stores type their own through the kit) is
 * wrapped once, as `StoreUnavailableError` naming the store. Typed errors pass through untouched.
 */
import { type BatonError, isBatonError, StoreUnavailableError } from './errors.js';
import type { Store } from './store.js';

export interface StoreCallerOptions {
  /** Milliseconds a call may take; 0 turns the timeout off. */
  timeoutMs: number;
  /** Named in the messages of errors made here (`[baton-session] [scope] ...`). */
  scope?: string;
  /**
   * Sees every failure on its way out (typed or wrapped here), with the key the caller named and
   * whether the caller wants a conflict reported: the manager logs and emits events from it.
   */
  onError?: (error: BatonError, key: string, reportConflict: boolean) => void;
}

/**
 * A failure as a `BatonError`: typed errors as they are, anything else as `StoreUnavailableError`
 * (503) saying that `subject` (`the redis store`, `the legacy connect-redis source`) failed.
 */
export function asBatonError(err: unknown, subject: string, scope?: string): BatonError {
  if (isBatonError(err)) return err;
  return new StoreUnavailableError(
    `${subject} failed: ${(err as Error)?.message ?? String(err)}`,
    scope === undefined ? { cause: err } : { cause: err, scope },
  );
}

export class StoreCaller {
  readonly #store: Store;
  readonly #options: StoreCallerOptions;

  constructor(store: Store, options: StoreCallerOptions) {
    this.#store = store;
    this.#options = options;
  }

  /**
   * Every store call goes through here: unknown failures, and calls that do not answer within
   * `timeoutMs`, become `StoreUnavailableError` (503). `late` receives a result that arrives after the timeout.
   */
  readonly call = async <T>(
    fn: () => Promise<T>,
    key = '',
    late?: (value: T) => void,
    reportConflict = true,
  ): Promise<T> => {
    try {
      return await this.#bounded(fn, late);
    } catch (err) {
      const error = asBatonError(err, `the ${this.#store.name} store`, this.#options.scope);
      this.#options.onError?.(error, key, reportConflict);
      throw error;
    }
  };

  #bounded<T>(fn: () => Promise<T>, late?: (value: T) => void): Promise<T> {
    let call: Promise<T>;
    try {
      call = fn();
    } catch (err) {
      return Promise.reject(err);
    }
    const ms = this.#options.timeoutMs;
    if (ms === 0) return call;
    return new Promise<T>((resolve, reject) => {
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        reject(
          new StoreUnavailableError(
            `the ${this.#store.name} store did not answer within ${ms} ms (timeoutMs); the request was given up`,
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
}
