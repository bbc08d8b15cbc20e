/**
 * The wrapper around every driver call: closed state, per-call reporting, an optional time limit
 * and the one place an engine's own errors become ours. A driver keeps one `StoreGuard` and runs
 * each Store method through `run`; what is inside is the engine's I/O only.
 */
import { type BatonError, isBatonError, StoreUnavailableError } from '../../core/errors.js';
import type { OperationListener } from '../../core/store.js';
import { callTimedOut, storeClosed } from './failures.js';
import { OperationReporter } from './report.js';

export interface StoreGuardOptions {
  /**
   * Longest wait for one call, in ms: past it the call fails with `StoreUnavailableError`
   * (`callTimedOut`) while the engine's answer, if it ever comes, is dropped. Absent: no limit
   * (the driver's client bounds its own calls).
   */
  timeoutMs?: number;
  /**
   * What an engine error (anything not a `BatonError`) means, as the message of the
   * `StoreUnavailableError` that carries it as `cause`. Never put keys or data in it.
   * @default `the ${store} store failed: ${err.message}`
   */
  describeFailure?: (err: unknown) => string;
}

export class StoreGuard {
  readonly store: string;
  readonly #ops: OperationReporter;
  readonly #timeoutMs: number | undefined;
  readonly #describe: (err: unknown) => string;
  #closed = false;

  constructor(store: string, options: StoreGuardOptions = {}) {
    this.store = store;
    this.#ops = new OperationReporter(store);
    this.#timeoutMs = options.timeoutMs;
    this.#describe =
      options.describeFailure ??
      ((err) => `the ${store} store failed: ${err instanceof Error ? err.message : String(err)}`);
  }

  /** True after `close()`. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Marks the store closed; true the first time only, so a driver's `close()` stays idempotent. */
  close(): boolean {
    if (this.#closed) return false;
    this.#closed = true;
    return true;
  }

  /** Throws `storeClosed` after `close()`: for work outside `run` (iterators such as `scan`). */
  assertOpen(): void {
    if (this.#closed) throw storeClosed(this.store);
  }

  /** The store's `onOperation`. */
  subscribe(listener: OperationListener): () => void {
    return this.#ops.subscribe(listener);
  }

  /**
   * Runs one Store call: refuses it after `close()`, reports it as operation `op` (with the
   * capacity units `fn` reports), races it against `timeoutMs`, and turns any error that is not
   * already a `BatonError` into `StoreUnavailableError` with the cause.
   */
  run<T>(op: string, fn: (report: (capacityUnits: number) => void) => Promise<T>): Promise<T> {
    return this.#ops.measure(op, async (report) => {
      this.assertOpen();
      try {
        return await this.#bounded(op, fn(report));
      } catch (err) {
        throw this.wrap(err);
      }
    });
  }

  /** An error as the store raises it: ours as they are, an engine's as `StoreUnavailableError`. */
  wrap(err: unknown): BatonError {
    if (isBatonError(err)) return err;
    return new StoreUnavailableError(this.#describe(err), { scope: this.store, cause: err });
  }

  #bounded<T>(op: string, work: Promise<T>): Promise<T> {
    const ms = this.#timeoutMs;
    if (ms === undefined) return work;
    let timer: NodeJS.Timeout | undefined;
    const limit = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(callTimedOut(this.store, op, ms)), ms);
    });
    // The late answer (or failure) of a call that timed out is dropped, not left unhandled.
    work.catch(() => {});
    return Promise.race([work, limit]).finally(() => clearTimeout(timer));
  }
}
