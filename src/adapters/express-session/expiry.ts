/**
 * When an express-session session expires in the store, and when an unchanged request moves that.
 *
 * express-session calls `touch()` at the end of every request that changed nothing. Writing each of
 * those would cost a write per read, so a touch writes only once the expiry would move by more than
 * the session's throttle. The throttle is taken from the session's own lifetime (its cookie's
 * `originalMaxAge`, or `ttl` when that is smaller or the cookie has none): a tenth of it, and never
 * more than `touchAfter`. So a 30-minute session is written at most every 3 minutes of activity and
 * a 1-day session every 2.4 hours, while a 1.5-second one is written every 150 ms.
 *
 * A skipped touch leaves the stored expiry behind the cookie's, by up to the throttle, while a
 * `rolling` cookie has already moved on. So when the expiry comes from the cookie the record is
 * kept for the throttle longer than the cookie (the grace): a user whose cookie is still valid always
 * finds the session, and one idle for the cookie's whole lifetime is gone at most a tenth of it later.
 */

/** What `ttl` may be: seconds, or a function of the session giving seconds. */
export type Ttl = number | ((session: any) => number);

/** The throttle is this fraction of the session's lifetime. */
const THROTTLE_SHARE = 10;

/** Seconds of the `ttl` option for this session. */
function ttlSeconds(ttl: Ttl, session: Record<string, unknown>): number {
  return typeof ttl === 'function' ? ttl(session) : ttl;
}

/** The cookie's `expires` in ms (this machine's clock), or undefined for a browser-session cookie. */
function cookieExpires(session: Record<string, unknown>): number | undefined {
  const expires = (session.cookie as { expires?: unknown } | undefined)?.expires;
  if (expires === undefined || expires === null) return undefined;
  const at = new Date(expires as string | Date).getTime();
  return Number.isFinite(at) ? at : undefined;
}

/**
 * The session's lifetime in ms: its cookie's `originalMaxAge` or `ttl`, whichever is smaller
 * (`ttl` alone for a browser-session cookie or a `ttl` function).
 */
export function lifetimeMs(session: Record<string, unknown>, ttl: Ttl): number {
  const ttlMs = ttlSeconds(ttl, session) * 1000;
  const maxAge = (session.cookie as { originalMaxAge?: unknown } | undefined)?.originalMaxAge;
  if (typeof ttl === 'number' && typeof maxAge === 'number' && Number.isFinite(maxAge) && maxAge > 0) {
    return Math.min(maxAge, ttlMs);
  }
  return ttlMs;
}

/** How far (ms) the expiry may move before an unchanged request writes it: a tenth of the lifetime, at most `touchAfterMs`. */
export function throttleMs(
  session: Record<string, unknown>,
  ttl: Ttl,
  touchAfterMs: number | undefined,
): number {
  const share = lifetimeMs(session, ttl) / THROTTLE_SHARE;
  return touchAfterMs === undefined ? share : Math.min(touchAfterMs, share);
}

/** An unchanged request writes only when the expiry would move by more than the throttle (the core's decision). */
export { shouldTouch } from '../../core/decisions.js';

/**
 * The store expiry (ms, by the store's clock `now`): a `ttl` function's, else the cookie's `expires`
 * plus the grace `throttle`, else `ttl` seconds from now.
 */
export function expiryOf(session: Record<string, unknown>, now: number, ttl: Ttl, throttle: number): number {
  if (typeof ttl === 'function') return now + ttlSeconds(ttl, session) * 1000;
  const at = cookieExpires(session);
  // express-session set it by this machine's clock: moved onto the store's.
  if (at !== undefined) return at + (now - Date.now()) + throttle;
  return now + ttl * 1000;
}
