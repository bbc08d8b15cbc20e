/**
 * What `ExpressSessionStore` takes: express-session's sessions and callbacks, its own options, and
 * those options checked and resolved (a `ConfigError` naming the option for any wrong value).
 */
import { ConfigError } from '../../core/errors.js';
import type { Ttl } from './expiry.js';
import type { ExpressSessionLegacyOptions } from './legacy.js';

/**
 * A session as express-session hands it to a store: JSON-able data plus its `cookie` (a `Cookie`, or
 * its JSON), whose `expires` sets the expiry. Typed loosely, here and in the callbacks below, so
 * this module needs none of express-session's types and accepts an app's own `SessionData`.
 */
export interface ExpressSessionData {
  cookie: any;
  [key: string]: any;
}

/** A node-style callback as express-session passes it; the value is typed by the app's `SessionData`. */
export type StoreCallback<T = any> = (err: any, value?: T) => void;

export interface ExpressSessionStoreOptions {
  /**
   * Store keys are `base64url(sha256(sid))`, so a leaked table holds no usable session ids. With it
   * on, `ids()` and `all()` cannot give the session ids back. @default true
   */
  hashIds?: boolean;
  /** Prepended to every store key; give express-session sessions their own prefix when the store is shared. @default '' */
  keyPrefix?: string;
  /**
   * Seconds a session lives. A number applies when the cookie has no expiry (a browser-session
   * cookie); otherwise the cookie's `expires` (from `maxAge`) sets the expiry, and the record is kept
   * a tenth of the session's lifetime longer (so a skipped touch never ends a session whose cookie is
   * still valid). A function of the session overrides both. @default 86400
   */
  ttl?: number | ((session: any) => number);
  /**
   * Seconds from a session's creation after which it ends however active it is. express-session
   * has no such limit, so none is set unless you ask (baton's own middleware defaults to 7 days).
   * @default null (no absolute limit)
   */
  absoluteLifetime?: number | null;
  /**
   * A session key whose string value indexes the session by user, for `listByUser` and
   * "log out everywhere" (`baton` CLI, `SessionManager.destroyUser`). Unset: no index.
   */
  userKey?: string;
  /**
   * Seconds, an upper bound: express-session calls `touch()` on every unchanged request; the store is
   * written only when that would move the expiry by more than a tenth of the session's lifetime (its
   * cookie's `originalMaxAge` or `ttl`, whichever is smaller), and never by more than this. 0 writes
   * every touch.
   * @default no bound beyond a tenth of the lifetime
   */
  touchAfter?: number;
  /**
   * Switching stores under express-session: a session this store does not have is read once from
   * the old one (`source`, from `baton-session/legacy`) and copied here under the same id.
   * @default undefined (off)
   */
  legacy?: ExpressSessionLegacyOptions;
}

/** `absoluteLifetime: null` (express-session has none) still needs a date every store can keep: a hundred years. */
const NO_ABSOLUTE_LIMIT_MS = 100 * 365 * 86_400_000;

/** The options as the store uses them. */
export interface ResolvedStoreOptions {
  hashIds: boolean;
  keyPrefix: string;
  ttl: Ttl;
  absoluteLifetimeMs: number;
  touchAfterMs: number | undefined;
  userKey: string | undefined;
  legacy: ExpressSessionLegacyOptions | undefined;
}

/** Checks each option (a `ConfigError` naming the first wrong one) and fills in the defaults. */
export function resolveStoreOptions(options: ExpressSessionStoreOptions): ResolvedStoreOptions {
  const hashIds = options.hashIds ?? true;
  if (typeof hashIds !== 'boolean') throw new ConfigError('hashIds', 'must be true or false');
  const keyPrefix = options.keyPrefix ?? '';
  if (typeof keyPrefix !== 'string') throw new ConfigError('keyPrefix', 'must be a string');
  const ttl = options.ttl ?? 86_400;
  if (typeof ttl !== 'function' && (typeof ttl !== 'number' || !Number.isFinite(ttl) || ttl <= 0)) {
    throw new ConfigError(
      'ttl',
      `must be seconds > 0 or a function of the session, got ${String(options.ttl)}`,
    );
  }
  const absolute = options.absoluteLifetime ?? null;
  if (absolute !== null && (typeof absolute !== 'number' || !Number.isFinite(absolute) || absolute <= 0)) {
    throw new ConfigError('absoluteLifetime', `must be seconds > 0 or null, got ${String(absolute)}`);
  }
  const touchAfter = options.touchAfter;
  if (
    touchAfter !== undefined &&
    (typeof touchAfter !== 'number' || !Number.isFinite(touchAfter) || touchAfter < 0)
  ) {
    throw new ConfigError('touchAfter', `must be seconds >= 0, got ${String(touchAfter)}`);
  }
  const userKey = options.userKey;
  if (userKey !== undefined && (typeof userKey !== 'string' || userKey.length === 0)) {
    throw new ConfigError('userKey', 'must be a non-empty string');
  }
  const legacy = options.legacy;
  if (legacy !== undefined && typeof legacy?.source?.get !== 'function') {
    throw new ConfigError(
      'legacy.source',
      'pass a source from baton-session/legacy, such as `connectRedis({ client })`',
    );
  }
  return {
    hashIds,
    keyPrefix,
    ttl,
    absoluteLifetimeMs: absolute === null ? NO_ABSOLUTE_LIMIT_MS : absolute * 1000,
    touchAfterMs: touchAfter === undefined ? undefined : touchAfter * 1000,
    userKey,
    legacy,
  };
}
