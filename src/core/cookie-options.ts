/** The `cookie` option: its types, and its checks at construction. */
import { ConfigError } from './errors.js';
import { bool } from './option-checks.js';

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

export interface ResolvedCookieOptions {
  name: string;
  path: string;
  domain: string | undefined;
  httpOnly: boolean;
  secure: boolean | 'auto';
  sameSite: 'lax' | 'strict' | 'none';
  maxAge: number | null | undefined;
}

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
