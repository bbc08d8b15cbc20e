import { type DevicesOptions, type ResolvedDevices, resolveDevices } from './devices.js';
import { Encryption, type EncryptionOptions } from './encryption.js';
import { ConfigError } from './errors.js';
import { type LegacyOptions, type ResolvedLegacyOptions, resolveLegacy } from './legacy.js';
import { isLogger, type Logger } from './logger.js';
import type { Store } from './store.js';

export type ConcurrencyMode = 'merge' | 'lock' | 'strict' | 'overwrite';

export interface CookieOptions {
  /** Cookie name. A `__Host-` name requires `secure: true`, `path: '/'` and no `domain`. @default 'sid' */
  name?: string;
  /** @default '/' */
  path?: string;
  /** Leave unset to keep the cookie to the exact host (safer). */
  domain?: string;
  /** Keep the cookie away from page scripts. @default true */
  httpOnly?: boolean;
  /** `'auto'`: Secure when the request came over https (or through a trusted proxy that says so). @default 'auto' */
  secure?: boolean | 'auto';
  /** @default 'lax' */
  sameSite?: 'lax' | 'strict' | 'none';
  /**
   * Cookie lifetime in seconds. Unset: follows the session's expiry (idle `lifetime`, capped by the
   * absolute lifetime). `null`: a browser-session cookie with no Max-Age.
   */
  maxAge?: number | null;
}

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

export interface ResolvedCookieOptions {
  name: string;
  path: string;
  domain: string | undefined;
  httpOnly: boolean;
  secure: boolean | 'auto';
  sameSite: 'lax' | 'strict' | 'none';
  maxAge: number | null | undefined;
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

export const MIN_SECRET_LENGTH = 32;
// RFC 6265 token: no separators, controls or spaces.
const COOKIE_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it looks for
const UNSAFE_ATTRIBUTE = /[;\s\x00-\x1f\x7f,]/;
const MODES: readonly ConcurrencyMode[] = ['merge', 'lock', 'strict', 'overwrite'];

function seconds(option: string, value: unknown, fallback: number, min = 0): number {
  const v = value ?? fallback;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min) {
    throw new ConfigError(option, `must be a number of seconds >= ${min}, got ${String(value)}`);
  }
  return v;
}

function bool(option: string, value: unknown, fallback: boolean): boolean {
  const v = value ?? fallback;
  if (typeof v !== 'boolean') throw new ConfigError(option, `must be true or false, got ${String(value)}`);
  return v;
}

export function resolveOptions(options: SessionOptions): ResolvedOptions {
  if (typeof options !== 'object' || options === null)
    throw new ConfigError('options', 'pass an options object');
  const store = options.store;
  if (typeof store !== 'object' || store === null || typeof store.get !== 'function') {
    throw new ConfigError(
      'store',
      'is required: pass a store such as `new DynamoDBStore({...})` or `new MemoryStore()`',
    );
  }

  const secrets = typeof options.secret === 'string' ? [options.secret] : options.secret;
  if (!Array.isArray(secrets) || secrets.length === 0) {
    throw new ConfigError(
      'secret',
      'is required: a string of at least 32 characters, or a list of them for rotation',
    );
  }
  secrets.forEach((s: unknown, i: number) => {
    if (typeof s !== 'string' || s.length < MIN_SECRET_LENGTH) {
      const which = secrets.length > 1 ? `secret[${i}]` : 'secret';
      throw new ConfigError(
        which,
        `must be a string of at least ${MIN_SECRET_LENGTH} characters (got ${typeof s === 'string' ? s.length : typeof s}); generate one with \`openssl rand -base64 48\``,
      );
    }
  });

  const lifetime = seconds('lifetime', options.lifetime, 86_400, Number.MIN_VALUE);
  const absoluteLifetime = seconds('absoluteLifetime', options.absoluteLifetime, 604_800, Number.MIN_VALUE);
  const cookie = options.cookie === false ? false : resolveCookie(options.cookie ?? {});
  // The cookie is sent again only when the session is written: an unchanged session is written
  // within touchAfter, so touchAfter must stay under both the idle lifetime and a shorter cookie's.
  const cookieMaxAge =
    cookie && typeof cookie.maxAge === 'number' && cookie.maxAge > 0 ? cookie.maxAge : null;
  const touchAfter = seconds(
    'touchAfter',
    options.touchAfter,
    Math.min(lifetime, cookieMaxAge ?? lifetime) / 10,
  );
  if (touchAfter >= lifetime) {
    throw new ConfigError('touchAfter', `must be less than lifetime (${lifetime} s), got ${touchAfter}`);
  }
  if (cookieMaxAge !== null && touchAfter >= cookieMaxAge) {
    throw new ConfigError(
      'touchAfter',
      `must be less than cookie.maxAge (${cookieMaxAge} s), got ${touchAfter}: the cookie would expire before an unchanged session is written again`,
    );
  }

  const concurrency = options.concurrency ?? 'merge';
  if (!MODES.includes(concurrency)) {
    throw new ConfigError('concurrency', `must be one of ${MODES.join(', ')}, got ${String(concurrency)}`);
  }
  if (concurrency === 'lock' && !store.lock) {
    throw new ConfigError(
      'concurrency',
      `'lock' needs a store with locks; the ${store.name} store has none (use 'merge' or 'strict')`,
    );
  }

  const maxSize = options.maxSize ?? store.limits.maxSessionBytes;
  if (typeof maxSize !== 'number' || !Number.isFinite(maxSize) || maxSize <= 0) {
    throw new ConfigError('maxSize', `must be a positive number of bytes, got ${String(options.maxSize)}`);
  }

  const header = options.header?.toLowerCase();
  if (header !== undefined && !COOKIE_NAME.test(header)) {
    throw new ConfigError(
      'header',
      `must be a header name such as 'authorization', got ${JSON.stringify(options.header)}`,
    );
  }
  const keyPrefix = options.keyPrefix ?? '';
  if (typeof keyPrefix !== 'string') throw new ConfigError('keyPrefix', 'must be a string');
  const userKey = options.userKey ?? 'userId';
  if (typeof userKey !== 'string' || userKey.length === 0)
    throw new ConfigError('userKey', 'must be a non-empty string');
  if ((options.onStoreError ?? 'fail') !== 'fail') {
    throw new ConfigError(
      'onStoreError',
      `only 'fail' is supported: a store outage answers 503 rather than logging users out`,
    );
  }

  const timeoutMs = options.timeoutMs ?? 5000;
  if (typeof timeoutMs !== 'number' || !Number.isFinite(timeoutMs) || timeoutMs < 0) {
    throw new ConfigError(
      'timeoutMs',
      `must be milliseconds >= 0 (0 turns the timeout off), got ${String(options.timeoutMs)}`,
    );
  }
  let bruteForce: ResolvedOptions['bruteForce'] = false;
  if (options.bruteForce !== false) {
    const b = options.bruteForce ?? {};
    if (typeof b !== 'object' || b === null)
      throw new ConfigError('bruteForce', 'must be { threshold, window } or false');
    const threshold = b.threshold ?? 100;
    if (!Number.isInteger(threshold) || threshold < 1) {
      throw new ConfigError(
        'bruteForce.threshold',
        `must be a whole number >= 1, got ${String(b.threshold)}`,
      );
    }
    bruteForce = { threshold, windowMs: seconds('bruteForce.window', b.window, 60, 1) * 1000 };
  }

  let renewal: ResolvedOptions['renewal'] = false;
  if (options.renewal !== undefined && options.renewal !== false) {
    const r = options.renewal;
    if (typeof r !== 'object' || r === null) {
      throw new ConfigError('renewal', 'must be { interval, grace } (seconds) or false');
    }
    if (r.interval === undefined) {
      throw new ConfigError(
        'renewal.interval',
        'is required: the seconds an id is used before renewal, such as 900',
      );
    }
    const interval = seconds('renewal.interval', r.interval, Number.NaN, Number.MIN_VALUE);
    const grace = seconds('renewal.grace', r.grace, 30);
    if (grace > interval) {
      throw new ConfigError(
        'renewal.grace',
        `must not be longer than renewal.interval (${interval} s), got ${grace}: an old id would outlive the next renewal`,
      );
    }
    renewal = { intervalMs: interval * 1000, graceMs: grace * 1000 };
  }

  if (options.logger !== undefined && !isLogger(options.logger)) {
    throw new ConfigError(
      'logger',
      'must be a pino-compatible logger: an object with warn, error and debug methods',
    );
  }

  const maxSessionsPerUser = options.maxSessionsPerUser;
  if (maxSessionsPerUser !== undefined) {
    if (!Number.isInteger(maxSessionsPerUser) || maxSessionsPerUser < 1) {
      throw new ConfigError(
        'maxSessionsPerUser',
        `must be a whole number >= 1, got ${String(maxSessionsPerUser)}`,
      );
    }
    if (!store.listByUser) {
      throw new ConfigError(
        'maxSessionsPerUser',
        `needs a store with a user index; the ${store.name} store has none`,
      );
    }
  }

  return {
    logger: options.logger,
    devices: resolveDevices(options.devices),
    maxSessionsPerUser,
    store,
    secrets: [...secrets],
    lifetimeMs: lifetime * 1000,
    absoluteLifetimeMs: absoluteLifetime * 1000,
    touchAfterMs: touchAfter * 1000,
    concurrency,
    lockWaitMs: seconds('lockWait', options.lockWait, 10) * 1000,
    lockTtlMs: seconds('lockTtl', options.lockTtl, 30, Number.MIN_VALUE) * 1000,
    cookie,
    header,
    saveUninitialized: bool('saveUninitialized', options.saveUninitialized, false),
    hashIds: bool('hashIds', options.hashIds, true),
    keyPrefix,
    maxSize,
    userKey,
    encryption: options.encryption === undefined ? undefined : new Encryption(options.encryption),
    timeoutMs,
    bruteForce,
    renewal,
    legacy: resolveLegacy(options.legacy),
  };
}

function resolveCookie(c: CookieOptions): ResolvedCookieOptions {
  const name = c.name ?? 'sid';
  if (typeof name !== 'string' || !COOKIE_NAME.test(name)) {
    throw new ConfigError(
      'cookie.name',
      `must be a cookie token (no spaces, ';', '=', CR/LF or quotes), got ${JSON.stringify(name)}`,
    );
  }
  const path = c.path ?? '/';
  if (
    typeof path !== 'string' ||
    !path.startsWith('/') ||
    UNSAFE_ATTRIBUTE.test(path) ||
    path.includes('=')
  ) {
    throw new ConfigError(
      'cookie.path',
      `must start with '/' and hold no ';', '=', spaces or control characters, got ${JSON.stringify(path)}`,
    );
  }
  const domain = c.domain;
  if (
    domain !== undefined &&
    (typeof domain !== 'string' ||
      domain.length === 0 ||
      UNSAFE_ATTRIBUTE.test(domain) ||
      domain.includes('='))
  ) {
    throw new ConfigError(
      'cookie.domain',
      `must be a host name with no ';', '=', spaces or control characters, got ${JSON.stringify(domain)}`,
    );
  }
  const secure = c.secure ?? 'auto';
  if (secure !== 'auto' && typeof secure !== 'boolean')
    throw new ConfigError('cookie.secure', "must be true, false or 'auto'");
  const sameSite = c.sameSite ?? 'lax';
  if (!['lax', 'strict', 'none'].includes(sameSite)) {
    throw new ConfigError(
      'cookie.sameSite',
      `must be 'lax', 'strict' or 'none', got ${JSON.stringify(sameSite)}`,
    );
  }
  if (sameSite === 'none' && secure !== true) {
    throw new ConfigError(
      'cookie.sameSite',
      "'none' needs `secure: true`: browsers drop SameSite=None cookies without Secure",
    );
  }
  if (name.startsWith('__Host-')) {
    if (domain !== undefined) throw new ConfigError('cookie.domain', 'must be unset for a `__Host-` cookie');
    if (secure !== true) throw new ConfigError('cookie.secure', 'must be true for a `__Host-` cookie');
    if (path !== '/') throw new ConfigError('cookie.path', "must be '/' for a `__Host-` cookie");
  }
  if (name.startsWith('__Secure-') && secure !== true) {
    throw new ConfigError('cookie.secure', 'must be true for a `__Secure-` cookie');
  }
  const maxAge = c.maxAge;
  if (
    maxAge !== undefined &&
    maxAge !== null &&
    (typeof maxAge !== 'number' || !Number.isFinite(maxAge) || maxAge < 0)
  ) {
    throw new ConfigError(
      'cookie.maxAge',
      `must be seconds >= 0, or null for a browser-session cookie, got ${String(maxAge)}`,
    );
  }
  return {
    name,
    path,
    domain,
    httpOnly: bool('cookie.httpOnly', c.httpOnly, true),
    secure,
    sameSite,
    maxAge,
  };
}
