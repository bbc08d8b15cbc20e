/** Per-call metrics (`operation` events) and the `baton-session:store` tracing channel. */

import type { OperationInfo, OperationListener } from '../../core/store.js';
import { errorCode, type StoreContext, storeChannel } from '../../core/tracing.js';

/** Fan-out of per-call metrics, and timing of a call. */
export class OperationReporter {
  readonly #listeners = new Set<OperationListener>();
  readonly #store: string;

  constructor(store: string) {
    this.#store = store;
  }

  subscribe(listener: OperationListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /**
   * Runs `fn`, then reports its duration; `fn` may return capacity units through `report`, and the
   * engine requests it made through `reportAttempts(report, n)`. With `baton-session:store`
   * subscribers the call is traced; the traced function resolves to nothing, so no session data
   * reaches a subscriber.
   */
  measure<T>(op: string, fn: (report: (capacityUnits: number) => void) => Promise<T>): Promise<T> {
    if (storeChannel.hasSubscribers) return this.#traced(op, fn);
    if (this.#listeners.size === 0) {
      // Nobody listens: the call itself, without a promise of our own around it.
      try {
        return fn(noop);
      } catch (err) {
        return Promise.reject(err);
      }
    }
    return this.#timed(op, fn);
  }

  async #timed<T>(op: string, fn: (report: (capacityUnits: number) => void) => Promise<T>): Promise<T> {
    const started = performance.now();
    let capacityUnits: number | undefined;
    const report = (units: number) => {
      capacityUnits = (capacityUnits ?? 0) + units;
    };
    let ok = false;
    try {
      const result = await fn(report);
      ok = true;
      return result;
    } finally {
      this.#emit(op, performance.now() - started, ok, capacityUnits);
    }
  }

  #emit(op: string, ms: number, ok: boolean, capacityUnits: number | undefined): void {
    if (this.#listeners.size === 0) return;
    const info: OperationInfo = { store: this.#store, op, ms, ok };
    if (capacityUnits !== undefined) info.capacityUnits = capacityUnits;
    for (const listener of this.#listeners) listener(info);
  }

  /** `measure` with a `baton-session:store` context, filled before the channel's end events. */
  async #traced<T>(op: string, fn: (report: (capacityUnits: number) => void) => Promise<T>): Promise<T> {
    const started = performance.now();
    const context: StoreContext = { store: this.#store, operation: op, attempts: 1 };
    let attempts = 0;
    const report = Object.assign(
      (units: number) => {
        context.capacityUnits = (context.capacityUnits ?? 0) + units;
      },
      {
        attempts: (count: number) => {
          attempts += count;
        },
      },
    );
    let ok = false;
    let result: T | undefined;
    // Resolves to nothing: what the store returned (session data) never reaches a subscriber.
    const run = async (): Promise<void> => {
      try {
        result = await fn(report);
        ok = true;
      } catch (err) {
        const code = errorCode(err);
        if (code !== undefined) context.errorCode = code;
        throw err;
      } finally {
        if (attempts > 0) context.attempts = attempts;
        this.#emit(op, performance.now() - started, ok, context.capacityUnits);
      }
    };
    await storeChannel.tracePromise(run, context);
    return result as T;
  }
}

/** Tells `measure` how many requests a call sent to its engine (retries included), where the store knows. */
export function reportAttempts(report: (capacityUnits: number) => void, count: number): void {
  (report as { attempts?: (count: number) => void }).attempts?.(count);
}

function noop(): void {}

/**
 * True for the `report` a call gets when nobody listens and nothing traces: what it would report
 * (capacity units, attempts) goes nowhere, so a store need not ask its engine for it.
 */
export function reportsNothing(report: (capacityUnits: number) => void): boolean {
  return report === noop;
}

/**
 * Resolves after `ms`. The timer keeps the process alive: whoever awaits it (a retry, gc pacing)
 * is work in progress that must not be cut short by the event loop running dry.
 */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
