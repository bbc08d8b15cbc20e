/** Checks the session options at construction and fills in defaults (types in src/core/options.ts). */
import { requireForOption } from './capabilities.js';
import { COOKIE_NAME, resolveCookie } from './cookie-options.js';
import { resolveDevices } from './devices.js';
import { Encryption } from './encryption.js';
import { ConfigError } from './errors.js';
import { resolveLegacy } from './legacy.js';
import { isLogger } from './logger.js';
import { bool, seconds } from './option-checks.js';
import type { ConcurrencyMode, ResolvedOptions, SessionOptions } from './options.js';

export const MIN_SECRET_LENGTH = 32;
const MODES: readonly ConcurrencyMode[] = ['merge', 'lock', 'strict', 'overwrite'];

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
  if (concurrency === 'lock') requireForOption(store, 'lock', 'concurrency', "'lock'");

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
    requireForOption(store, 'userIndex', 'maxSessionsPerUser', 'a limit of sessions per user');
  }

  const devices = resolveDevices(options.devices);
  // Devices are read back through the user index (`listByUser`): without one they cannot be listed.
  if (devices) requireForOption(store, 'userIndex', 'devices', 'listing devices');

  return {
    logger: options.logger,
    devices,
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
