/** Checks the `cookie` option (types in src/core/options.ts). */
import { ConfigError } from './errors.js';
import { bool } from './option-checks.js';
import type { CookieOptions, ResolvedCookieOptions } from './options.js';

// RFC 6265 token: no separators, controls or spaces.
export const COOKIE_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it looks for
const UNSAFE_ATTRIBUTE = /[;\s\x00-\x1f\x7f,]/;

export function resolveCookie(c: CookieOptions): ResolvedCookieOptions {
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
