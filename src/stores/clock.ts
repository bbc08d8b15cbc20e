/**
 * The store clock: the engine's time, sampled now and then and kept as an offset to this
 * machine's clock, so every instance decides expiry by the one clock they share (the store's)
 * instead of its own. `now()` is `Date.now() + offset`: no I/O, so the request path stays as cheap
 * as before. A sample is taken lazily, by the first `now()` after it is due (no timer is kept),
 * in the background; only the very first one is awaited, through `ready()`, and only for a bounded time.
 *
 * The offset is measured NTP-style: local time t0, ask the engine, local time t1; the engine's
 * answer is taken to be the time at the midpoint, so offset = server − (t0 + t1) / 2 (plus half
 * the source's resolution), with an error of at most half the round trip plus half the
 * resolution. A difference that may be within the allowance is not corrected at all.
 */

import { ConfigError } from '../core/errors.js';
import { type Logger, warn } from '../core/logger.js';
import type { StoreClock } from './store.js';

/** How a store tells the time. */
export interface ClockOptions {
  /**
   * Seconds between two samples of the engine's clock. A sample is one cheap call, taken by the
   * first request after it is due, in the background.
   * @default 60
   */
  syncInterval?: number;
  /**
   * Seconds of difference between this machine's clock and the engine's that are tolerated
   * uncorrected (and never less than the engine's clock resolution: 1 s for DynamoDB and
   * Memcached). A larger difference is corrected and reported once as a warning (code
   * `BATON_CLOCK_SKEW`): it means NTP is not keeping this machine in time.
   * @default 1
   */
  allowance?: number;
}

/**
 * `'store'` (the default where the engine can tell its time): expiry decisions and the expiries
 * written use the engine's clock. `'local'`: this machine's clock, as before; every instance must
 * then be kept in time by NTP. An object sets the store clock's interval and allowance.
 */
export type ClockOption = 'store' | 'local' | ClockOptions;

/** Reads the engine's clock: ms since the epoch. */
export type TimeSource = () => Promise<number>;

/** How long the first request waits for the first sample before going on with the local clock. */
const FIRST_SAMPLE_WAIT_MS = 1000;
/** Samples answered within this are always used, even with an allowance near 0. */
const MIN_ROUND_TRIP_LIMIT_MS = 100;
/** After a failed sample, the next is due this soon (or at the interval, if that is sooner). */
const RETRY_MS = 5000;

export interface ResolvedClockOptions {
  source: 'store' | 'local';
  intervalMs: number;
  allowanceMs: number;
}

/** Checks a `clock` option; `scope` names the store in messages. */
export function resolveClockOptions(option: ClockOption | undefined, scope: string): ResolvedClockOptions {
  const o = option ?? 'store';
  if (o === 'store' || o === 'local') return { source: o, intervalMs: 60_000, allowanceMs: 1000 };
  if (typeof o !== 'object' || o === null) {
    throw new ConfigError(
      'clock',
      `must be 'store', 'local' or { syncInterval, allowance }, got ${String(o)}`,
      {
        scope,
      },
    );
  }
  const interval = o.syncInterval ?? 60;
  if (typeof interval !== 'number' || !Number.isFinite(interval) || interval <= 0) {
    throw new ConfigError('clock.syncInterval', `must be a number of seconds > 0, got ${String(interval)}`, {
      scope,
    });
  }
  const allowance = o.allowance ?? 1;
  if (typeof allowance !== 'number' || !Number.isFinite(allowance) || allowance < 0) {
    throw new ConfigError('clock.allowance', `must be a number of seconds >= 0, got ${String(allowance)}`, {
      scope,
    });
  }
  return { source: 'store', intervalMs: interval * 1000, allowanceMs: allowance * 1000 };
}

/**
 * The clock a store decides expiry by. With `source: 'local'` it is `Date.now()` and samples
 * nothing.
 */
export class SyncedClock implements StoreClock {
  readonly #read: TimeSource | undefined;
  readonly #resolutionMs: number;
  readonly #leadMs: number;
  readonly #intervalMs: number;
  readonly #allowanceMs: number;
  readonly #scope: string;
  /** Where the clock-skew warning goes; `process.emitWarning` when unset. */
  logger: Logger | undefined;
  #offset = 0;
  /** Local time at which the next sample is due. */
  #due = 0;
  #sampled = false;
  #sampling: Promise<void> | undefined;
  #first: Promise<void> | undefined;
  #warned = false;
  #lastError: unknown;

  /**
   * @param read reads the engine's clock.
   * @param resolutionMs the granularity of what `read` returns (1000 for an HTTP `Date` header):
   *   the engine's true time is up to this much later than its answer. With `leadMs`, how much
   *   earlier it may be (a clock that runs on its own count, as Memcached's does). The offset is
   *   taken to be the middle of that interval, and smaller offsets are noise.
   */
  constructor(
    read: TimeSource,
    options: ResolvedClockOptions & { resolutionMs: number; leadMs?: number; scope: string },
  ) {
    this.#read = options.source === 'store' ? read : undefined;
    this.#resolutionMs = options.resolutionMs;
    this.#leadMs = options.leadMs ?? 0;
    this.#intervalMs = options.intervalMs;
    this.#allowanceMs = options.allowanceMs;
    this.#scope = options.scope;
  }

  /** `'store'` or `'local'`. */
  get source(): 'store' | 'local' {
    return this.#read ? 'store' : 'local';
  }

  /** The correction applied to `Date.now()`, in ms (0 when within the allowance). */
  get offset(): number {
    return this.#offset;
  }

  /** What the last sample failed with, if it failed (the offset before it is kept). */
  get lastError(): unknown {
    return this.#lastError;
  }

  now(): number {
    const local = Date.now();
    if (this.#read && local >= this.#due) void this.sync();
    return local + this.#offset;
  }

  ready(): Promise<void> | undefined {
    if (this.#sampled || !this.#read) return undefined;
    this.#first ??= new Promise<void>((resolve) => {
      // Not unref'd: a request awaits it (work in progress, as with `sleep`), for 1 s at most.
      const timer = setTimeout(resolve, FIRST_SAMPLE_WAIT_MS);
      void this.sync().then(() => {
        clearTimeout(timer);
        resolve();
      });
    });
    return this.#first;
  }

  /** Takes a sample now (joining one in flight). Never rejects: a failure keeps the last offset. */
  sync(): Promise<void> {
    if (!this.#read) return Promise.resolve();
    this.#sampling ??= this.#sample().finally(() => {
      this.#sampling = undefined;
    });
    return this.#sampling;
  }

  async #sample(): Promise<void> {
    // Due again at the interval whatever happens, so a slow or failing engine is asked at most
    // once per interval (or per RETRY_MS after a failure), never once per request.
    this.#due = Date.now() + this.#intervalMs;
    try {
      // Two readings back to back, the one with the shorter round trip kept (NTP's minimum-delay
      // filter): the first may include opening a connection, which would skew its midpoint.
      const first = await this.#reading();
      const second = await this.#reading();
      const best = second.t1 - second.t0 <= first.t1 - first.t0 ? second : first;
      const { server, t0, t1 } = best;
      // An answer slower than twice the allowance cannot place the offset within the allowance:
      // it is dropped, as NTP drops samples with a long delay; the last offset stays.
      if (t1 - t0 > Math.max(2 * this.#allowanceMs, MIN_ROUND_TRIP_LIMIT_MS)) {
        throw new Error(`the clock sample took ${Math.round(t1 - t0)} ms, too long to use`);
      }
      // The engine read its clock somewhere between t0 and t1, and truncated it to its resolution
      // (or, with a lead, may have read ahead): the offset lies in [lo, hi]. When that interval reaches into the allowance, this machine
      // may well be in time (a slow answer widens the interval): nothing is corrected. Otherwise
      // the middle of the interval is taken, off by at most half its width.
      const lo = server - this.#leadMs - t1;
      const hi = server + this.#resolutionMs - t0;
      const inTime = lo <= this.#allowanceMs && hi >= -this.#allowanceMs;
      this.#offset = inTime ? 0 : Math.round((lo + hi) / 2);
      this.#lastError = undefined;
      if (this.#offset !== 0 && !this.#warned) {
        this.#warned = true;
        warn(
          this.logger,
          { code: 'BATON_CLOCK_SKEW', scope: this.#scope },
          `[baton-session] [${this.#scope}] this machine's clock is ${Math.abs(this.#offset / 1000).toFixed(1)} s ${this.#offset > 0 ? 'behind' : 'ahead of'} the store's (allowance ${this.#allowanceMs / 1000} s); expiry is decided by the store's clock, but keep every instance in time with NTP`,
        );
      }
    } catch (err) {
      this.#lastError = err;
      this.#due = Date.now() + Math.min(RETRY_MS, this.#intervalMs);
    } finally {
      this.#sampled = true;
    }
  }

  /** One reading of the engine's clock, with the local times around it. */
  async #reading(): Promise<{ server: number; t0: number; t1: number }> {
    const t0 = Date.now();
    const p0 = performance.now();
    const server = await (this.#read as TimeSource)();
    if (typeof server !== 'number' || !Number.isFinite(server)) {
      throw new Error(`not a time: ${String(server)}`);
    }
    // Elapsed time from the monotonic clock: a step of the wall clock meanwhile does not skew it.
    return { server, t0, t1: t0 + (performance.now() - p0) };
  }
}
