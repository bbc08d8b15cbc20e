/**
 * The session options: what `SessionManager` and every adapter take (`SessionOptions`) and what
 * they become once checked (`ResolvedOptions`, made by src/core/resolve-options.ts).
 */
import type { CookieOptions, ResolvedCookieOptions } from './cookie-options.js';
import type { DevicesOptions, ResolvedDevices } from './devices.js';
import type { Encryption, EncryptionOptions } from './encryption.js';
import type { LegacyOptions, ResolvedLegacyOptions } from './legacy.js';
import type { Logger } from './logger.js';
import type { Store } from './store.js';

export type { CookieOptions, ResolvedCookieOptions } from './cookie-options.js';

export type ConcurrencyMode = 'merge' | 'lock' | 'strict' | 'overwrite';

export interface SessionOptions {
  /** Where sessions live. */
  store: Store;
  /** At least 32 characters. A list rotates secrets: the first signs, every one verifies. */
  secret: string | readonly string[];
  /** Idle lifetime in seconds: a session unused this long expires. @default 86400 */
  lifetime?: number;
  /** Absolute lifetime in seconds from creation (or the last `regenerate()`), however active. @default 604800 */
  absoluteLifetime?: number;
  /**
   * Seconds: an unchanged session is written (its expiry moved, its cookie sent again) only when the
   * expiry would move by more than this. Must be less than `lifetime` and than a set `cookie.maxAge`.
   * @default a tenth of `lifetime`, or of `cookie.maxAge` when that is shorter
   */
  touchAfter?: number;
  /** How concurrent requests on one session combine; see the README. @default 'merge' */
  concurrency?: ConcurrencyMode;
  /** `'lock'` mode: seconds to wait for a lock held by another request before `LockTimeoutError`. @default 10 */
  lockWait?: number;
  /** `'lock'` mode: seconds after which a lock expires by itself if its holder died. @default 30 */
  lockTtl?: number;
  /** `false` sends no cookie at all (header-only API clients). */
  cookie?: CookieOptions | false;
  /**
   * Also read the signed id from this request header: `'authorization'` reads `Bearer <token>`,
   * any other name its whole value. A newly issued token is sent back in `X-Session-Token`.
   */
  header?: string;
  /** Store sessions that hold no data. @default false */
  saveUninitialized?: boolean;
  /** Store keys are `base64url(sha256(id))`, so a leaked table holds no usable ids. @default true */
  hashIds?: boolean;
  /** Prepended to every store key. @default '' */
  keyPrefix?: string;
  /** Largest session in bytes (key names plus JSON text). @default the store's limit */
  maxSize?: number;
  /** What a request gets when the store fails: `'fail'` answers 503 through the framework's error path. @default 'fail' */
  onStoreError?: 'fail';
  /**
   * The data key whose value (a string, or a safe integer) indexes the session by user (`listByUser`,
   * log out everywhere). A dotted name such as `'passport.user'` is a path into nested objects.
   * @default 'userId'
   */
  userKey?: string;
  /**
   * Encrypt every stored value with AES-256-GCM: `{ keys: [{ id: '2', key }, { id: '1', key: old }] }`.
   * The first key encrypts, all decrypt; values under an old key are rewritten under the current one
   * by the next request that loads the session. A value that does not decrypt makes the session absent.
   * @default undefined (values stored as JSON text)
   */
  encryption?: EncryptionOptions;
  /**
   * Milliseconds a single store call may take before the request fails with `StoreUnavailableError`
   * (503). A safety net over the store's own client timeouts; `0` turns it off. @default 5000
   */
  timeoutMs?: number;
  /**
   * Guessing detection: a `bruteForce` event fires when more than `threshold` cookies or tokens fail
   * verification within `window` seconds (counted per manager, with no store reads). `false` turns it off.
   * @default { threshold: 100, window: 60 }
   */
  bruteForce?: { threshold?: number; window?: number } | false;
  /**
   * Renewal timeout: a session in use gets a new id every `interval` seconds (its data, user and
   * absolute expiry carried over, the new cookie sent with the response). Requests still carrying
   * the old cookie are forwarded to the new id for `grace` seconds, and handed the new cookie; after
   * that the old id gets no session. Costs two writes per session per interval. Off by default.
   * @default false
   */
  renewal?: RenewalOptions | false;
  /**
   * A pino-compatible logger (`warn`, `error`, `debug`, each taking `(fields, message)`). Warnings
   * that went to `process.emitWarning` (the store's, its clock's) go to `logger.warn`; store
   * failures to `logger.error` (code and store only). Nothing logged holds an id, cookie, key or data.
   * @default undefined (process.emitWarning)
   */
  logger?: Logger;
  /**
   * Record each session's device (browser and OS from the User-Agent, created and last-seen times,
   * optionally a truncated IP) for `listByUser` and "your devices" pages. Last-seen moves only with
   * writes the session makes anyway (`touchAfter`). See docs/devices.md.
   * @default false
   */
  devices?: boolean | DevicesOptions;
  /**
   * Most live sessions one user may have: a login that would exceed it signs out the least
   * recently seen ones. Needs a store with a user index. @default undefined (no limit)
   */
  maxSessionsPerUser?: number;
  /**
   * Switching from express-session: requests that carry its cookie (and no baton cookie) are served
   * the session its store holds, copied once into a baton session (docs/migrating.md).
   * `{ cookie: 'connect.sid', secret, source: connectRedis({ client }), remove: false }`.
   * @default undefined (off)
   */
  legacy?: LegacyOptions;
}

export interface RenewalOptions {
  /** Seconds an id is used before it is replaced (OWASP suggests minutes to hours). */
  interval: number;
  /** Seconds the replaced id still leads to the session, for requests already on their way. @default 30 */
  grace?: number;
}

export interface ResolvedOptions {
  store: Store;
  secrets: readonly string[];
  lifetimeMs: number;
  absoluteLifetimeMs: number;
  touchAfterMs: number;
  concurrency: ConcurrencyMode;
  lockWaitMs: number;
  lockTtlMs: number;
  cookie: ResolvedCookieOptions | false;
  header: string | undefined;
  saveUninitialized: boolean;
  hashIds: boolean;
  keyPrefix: string;
  maxSize: number;
  userKey: string;
  encryption: Encryption | undefined;
  timeoutMs: number;
  bruteForce: { threshold: number; windowMs: number } | false;
  renewal: { intervalMs: number; graceMs: number } | false;
  logger: Logger | undefined;
  devices: ResolvedDevices | false;
  maxSessionsPerUser: number | undefined;
  legacy: ResolvedLegacyOptions | undefined;
}
