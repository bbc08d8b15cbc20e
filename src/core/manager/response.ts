/** The headers a commit hands the adapter: Set-Cookie (or its clearing), the header-mode token, no-store. */
import { clearCookie, serializeCookie } from '../cookie.js';
import { sign } from '../ids.js';
import type { SessionState } from '../session.js';
import type { ManagerCore } from './context.js';
import type { CommitResult } from './types.js';

/** Whether the request came over https, worked out on first use (only when a cookie is set). */
function isSecure(state: SessionState): boolean {
  if (typeof state.secure === 'function') state.secure = state.secure();
  return state.secure;
}

export function headers(m: ManagerCore, state: SessionState): CommitResult {
  const result: CommitResult = { setCookie: [], headers: {} };
  const { cookie, header } = m.options;
  // Followed to a login's new id: that login's response sets the cookie; this one leaves it alone.
  if (state.followed && !state.destroyed) return result;
  if (state.destroyed || (state.isNew && state.hadToken)) {
    // Logged out, or the presented id was unknown and nothing new was stored: make the client forget it.
    if (state.hadToken && cookie) result.setCookie.push(clearCookie(cookie, isSecure(state)));
  } else if (!state.isNew && state.cookieNeeded) {
    const token = sameId(state.presentedToken, state.id) ?? sign(state.id, m.options.secrets[0] as string);
    if (cookie) {
      const remaining = (state.absoluteExpiresAt - m.now()) / 1000;
      const maxAge =
        cookie.maxAge === null ? null : Math.min(cookie.maxAge ?? m.options.lifetimeMs / 1000, remaining);
      result.setCookie.push(serializeCookie(cookie, token, maxAge, isSecure(state)));
    }
    if (header && state.tokenInHeader) result.headers['x-session-token'] = token;
  }
  if (result.setCookie.length > 0 || result.headers['x-session-token'])
    result.headers['cache-control'] = 'no-store';
  return result;
}

/** The presented value, when it is for `id` (`id.mac`): the session kept the id it was loaded under. */
function sameId(presented: string | undefined, id: string): string | undefined {
  return presented !== undefined &&
    presented.length > id.length &&
    presented.charCodeAt(id.length) === 46 &&
    presented.startsWith(id)
    ? presented
    : undefined;
}
