/**
 * Typed errors with stable codes. Match on `err.code`, not `instanceof`: two installed copies of
 * the package have two classes but the same codes.
 *
 * Stores import this file (and only this file) from core, so they can raise the same errors.
 */

export type BatonErrorCode =
  | 'BATON_CONFIG'
  | 'BATON_SESSION_DATA'
  | 'BATON_SESSION_TOO_LARGE'
  | 'BATON_CONFLICT'
  | 'BATON_LOCK_TIMEOUT'
  | 'BATON_STORE_UNAVAILABLE'
  | 'BATON_SESSION_EXISTS'
  | 'BATON_NOT_SUPPORTED'
  | 'BATON_INVALID_INPUT';

const PREFIX = '[baton-session]';

export interface BatonErrorOptions {
  cause?: unknown;
  /** Which part raised it, e.g. a store name: shown as `[baton-session] [dynamodb] ...`. */
  scope?: string;
}

export class BatonError extends Error {
  readonly code: BatonErrorCode;
  /** HTTP status an adapter responds with. */
  readonly status: number;
  /** Alias read by Express, Koa and Fastify error handlers. */
  readonly statusCode: number;
  /** Koa and http-errors expose messages of 4xx errors only; ours are safe to show for 409/413. */
  readonly expose: boolean;

  constructor(code: BatonErrorCode, status: number, message: string, options: BatonErrorOptions = {}) {
    const scope = options.scope ? ` [${options.scope}]` : '';
    super(`${PREFIX}${scope} ${message}`, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.status = status;
    this.statusCode = status;
    this.expose = status < 500;
  }
}

/** An option or store URL is wrong. Raised at construction. */
export class ConfigError extends BatonError {
  readonly option: string;
  constructor(option: string, message: string, options?: BatonErrorOptions) {
    super('BATON_CONFIG', 500, `option \`${option}\`: ${message}`, options);
    this.option = option;
  }
}

/** A session value that JSON cannot carry faithfully, or a bad key name. Raised before any write. */
export class SessionDataError extends BatonError {
  readonly key: string;
  constructor(key: string, message: string, options?: BatonErrorOptions) {
    super('BATON_SESSION_DATA', 500, `session key ${JSON.stringify(key)}: ${message}`, options);
    this.key = key;
  }
}

/** The session would exceed the store's (or the `maxSize` option's) limit. Raised before the write. */
export class SessionTooLargeError extends BatonError {
  readonly size: number;
  readonly limit: number;
  constructor(size: number, limit: number, options?: BatonErrorOptions) {
    super(
      'BATON_SESSION_TOO_LARGE',
      413,
      `the session would be ${size} bytes, over the limit of ${limit} bytes; store less in it (ids instead of whole objects)`,
      options,
    );
    this.size = size;
    this.limit = limit;
  }
}

/**
 * Another request wrote the session after this one read it: `concurrency: 'strict'`, a lost lock,
 * or (`staleKeys`) a `merge` patch whose expected key values were changed in between, which the
 * core rebases and retries before it ever reaches a caller.
 */
export class ConflictError extends BatonError {
  /** The keys whose stored JSON text no longer matched the patch's `expect` (merge rebase). */
  readonly staleKeys?: readonly string[];
  constructor(
    message = 'the session was changed by another request since it was read; reload and retry',
    options?: BatonErrorOptions & { staleKeys?: readonly string[] },
  ) {
    super('BATON_CONFLICT', 409, message, options);
    if (options?.staleKeys !== undefined) this.staleKeys = options.staleKeys;
  }
}

/** `concurrency: 'lock'`: the session stayed locked by another request for longer than `lockWait`. */
export class LockTimeoutError extends BatonError {
  readonly waitedMs: number;
  constructor(waitedMs: number, options?: BatonErrorOptions) {
    super(
      'BATON_LOCK_TIMEOUT',
      503,
      `the session stayed locked by another request for ${waitedMs} ms (lockWait); try again`,
      options,
    );
    this.waitedMs = waitedMs;
  }
}

/** The store could not be reached or answered with an error. The request gets 503, never a fresh session. */
export class StoreUnavailableError extends BatonError {
  constructor(message: string, options?: BatonErrorOptions) {
    super('BATON_STORE_UNAVAILABLE', 503, message, options);
  }
}

/** `store.create()` found a record under the key already. */
export class SessionExistsError extends BatonError {
  constructor(options?: BatonErrorOptions) {
    super('BATON_SESSION_EXISTS', 500, 'a session with this key exists already', options);
  }
}

/** The store has no such capability (e.g. `listByUser` on Memcached). The message names stores that have it. */
export class NotSupportedError extends BatonError {
  constructor(message: string, options?: BatonErrorOptions) {
    super('BATON_NOT_SUPPORTED', 501, message, options);
  }
}

/** A store was called with arguments that break the Store contract (empty key, negative expiry...). */
export class InvalidInputError extends BatonError {
  constructor(message: string, options?: BatonErrorOptions) {
    super('BATON_INVALID_INPUT', 500, message, options);
  }
}

export function isBatonError(err: unknown): err is BatonError {
  return (
    typeof err === 'object' &&
    err !== null &&
    typeof (err as { code?: unknown }).code === 'string' &&
    (err as { code: string }).code.startsWith('BATON_')
  );
}
