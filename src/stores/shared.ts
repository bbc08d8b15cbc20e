/**
 * Helpers every store uses: input checks at the contract's edge and operation reporting.
 * Backend-free on purpose: nothing here knows an engine.
 */
import { InvalidInputError } from '../core/errors.js';
import { errorCode, type StoreContext, storeChannel } from '../core/tracing.js';
import type {
  OperationInfo,
  OperationListener,
  Patch,
  SessionSummary,
  StoredSession,
  StoreLimits,
} from './store.js';

export function assertKey(store: string, key: unknown): asserts key is string {
  if (typeof key !== 'string' || key.length === 0) {
    throw new InvalidInputError(`a session key must be a non-empty string, got ${describe(key)}`, {
      scope: store,
    });
  }
}

function assertTime(store: string, what: string, value: unknown): void {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw new InvalidInputError(
      `\`${what}\` must be a time in ms since the epoch (>= 0), got ${describe(value)}`,
      {
        scope: store,
      },
    );
  }
}

function assertData(store: string, data: unknown, what: string): void {
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    throw new InvalidInputError(`\`${what}\` must be an object of key → JSON text`, { scope: store });
  }
  for (const [k, v] of Object.entries(data)) {
    if (typeof v !== 'string') {
      throw new InvalidInputError(
        `\`${what}\`[${JSON.stringify(k)}] must be JSON text (a string), got ${describe(v)}`,
        {
          scope: store,
        },
      );
    }
  }
}

export function assertStoredSession(store: string, s: StoredSession): void {
  if (typeof s !== 'object' || s === null)
    throw new InvalidInputError('a session must be an object', { scope: store });
  assertData(store, s.data, 'data');
  assertTime(store, 'createdAt', s.createdAt);
  assertTime(store, 'expiresAt', s.expiresAt);
  assertTime(store, 'absoluteExpiresAt', s.absoluteExpiresAt);
  if (!Number.isInteger(s.version) || s.version < 0) {
    throw new InvalidInputError(`\`version\` must be a whole number >= 0, got ${describe(s.version)}`, {
      scope: store,
    });
  }
  if (s.userId !== undefined && (typeof s.userId !== 'string' || s.userId.length === 0)) {
    throw new InvalidInputError(`\`userId\` must be a non-empty string, got ${describe(s.userId)}`, {
      scope: store,
    });
  }
}

export function assertPatch(store: string, p: Patch): void {
  if (typeof p !== 'object' || p === null)
    throw new InvalidInputError('a patch must be an object', { scope: store });
  assertData(store, p.set, 'set');
  if (!Array.isArray(p.unset) || p.unset.some((k) => typeof k !== 'string')) {
    throw new InvalidInputError('`unset` must be an array of key names', { scope: store });
  }
  assertTime(store, 'expiresAt', p.expiresAt);
  if (p.maxBytes !== undefined && (typeof p.maxBytes !== 'number' || !(p.maxBytes > 0))) {
    throw new InvalidInputError(`\`maxBytes\` must be a positive number, got ${describe(p.maxBytes)}`, {
      scope: store,
    });
  }
  if (
    p.userId !== undefined &&
    p.userId !== null &&
    (typeof p.userId !== 'string' || p.userId.length === 0)
  ) {
    throw new InvalidInputError(`\`userId\` must be a non-empty string or null, got ${describe(p.userId)}`, {
      scope: store,
    });
  }
}

/** `listByUser` takes a non-empty user id. */
export function assertUserId(store: string, userId: unknown): asserts userId is string {
  if (typeof userId !== 'string' || userId.length === 0) {
    throw new InvalidInputError(`a user id must be a non-empty string, got ${describe(userId)}`, {
      scope: store,
    });
  }
}

export function assertExpiry(store: string, expiresAt: unknown): void {
  assertTime(store, 'expiresAt', expiresAt);
}

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  if (typeof value === 'bigint') return `${value}n`;
  return typeof value === 'object'
    ? value === null
      ? 'null'
      : Array.isArray(value)
        ? 'an array'
        : 'an object'
    : String(value);
}

/** The size limit a patch is held to: the store's own, or the patch's `maxBytes` when lower. */
export function patchLimit(limits: StoreLimits, patch: Patch): number {
  return patch.maxBytes === undefined
    ? limits.maxSessionBytes
    : Math.min(limits.maxSessionBytes, patch.maxBytes);
}

/** Bytes of key names plus JSON text: the size the core and `limits.maxSessionBytes` speak of. */
export function dataSize(data: Record<string, string>): number {
  let size = 0;
  for (const [k, v] of Object.entries(data)) size += Buffer.byteLength(k) + Buffer.byteLength(v);
  return size;
}

export function summarize(key: string, s: StoredSession): SessionSummary {
  const summary: SessionSummary = {
    key,
    createdAt: s.createdAt,
    expiresAt: s.expiresAt,
    absoluteExpiresAt: s.absoluteExpiresAt,
    version: s.version,
    size: dataSize(s.data),
  };
  if (s.userId !== undefined) summary.userId = s.userId;
  return summary;
}

/** The data a patch leaves: `replace` drops what `set` does not name. */
export function applyPatchData(data: Record<string, string>, patch: Patch): Record<string, string> {
  const next: Record<string, string> = {};
  if (!patch.replace) for (const [k, v] of Object.entries(data)) putOwn(next, k, v);
  for (const k of patch.unset) delete next[k];
  for (const [k, v] of Object.entries(patch.set)) putOwn(next, k, v);
  return next;
}

/**
 * Sets an own, enumerable property even for the name `__proto__`, which plain assignment and
 * `Object.assign` would treat as the prototype (and so drop the key).
 */
export function putOwn<T>(target: Record<string, T>, key: string, value: T): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

/** The effective expiry of a patch: never past the absolute expiry. */
export function clampExpiry(expiresAt: number, absoluteExpiresAt: number): number {
  return Math.min(expiresAt, absoluteExpiresAt);
}

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
  async measure<T>(op: string, fn: (report: (capacityUnits: number) => void) => Promise<T>): Promise<T> {
    if (storeChannel.hasSubscribers) return this.#traced(op, fn);
    if (this.#listeners.size === 0) return fn(noop);
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
 * Resolves after `ms`. The timer keeps the process alive: whoever awaits it (a retry, gc pacing)
 * is work in progress that must not be cut short by the event loop running dry.
 */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
