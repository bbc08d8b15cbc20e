/** The types `ExpressSessionStore` takes: express-session's sessions and callbacks, and its own options. */
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
