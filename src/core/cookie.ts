import { parse, serialize } from 'cookie';
import type { ResolvedCookieOptions } from './options.js';

/** Longest Cookie header we parse; a larger one is treated as carrying no session (RFC 6265 budgets 4 KB a cookie). */
const MAX_COOKIE_HEADER = 16 * 1024;
/** Longer values are not ours: `id.hmac` is 43 + 1 + 43 characters. */
const MAX_TOKEN = 4096;

/** The raw session cookie value from a Cookie header, or undefined when there is none. Never throws. */
export function readCookie(header: string | undefined | null, name: string): string | undefined {
  if (!header || header.length > MAX_COOKIE_HEADER || !header.includes(name)) return undefined;
  try {
    const value = parse(header)[name];
    return value !== undefined && value.length > 0 ? value.slice(0, MAX_TOKEN) : undefined;
  } catch {
    return undefined;
  }
}

/** The token from a header: `Bearer <token>` for Authorization, the whole value for any other header. */
export function readHeaderToken(value: string | undefined | null, header: string): string | undefined {
  if (!value) return undefined;
  const token = header === 'authorization' ? /^Bearer\s+(\S+)\s*$/i.exec(value)?.[1] : value.trim();
  return token ? token.slice(0, MAX_TOKEN) : undefined;
}

export function serializeCookie(
  options: ResolvedCookieOptions,
  value: string,
  maxAgeSeconds: number | null,
  secure: boolean,
): string {
  return serialize(options.name, value, {
    path: options.path,
    domain: options.domain,
    httpOnly: options.httpOnly,
    secure: options.secure === 'auto' ? secure : options.secure,
    sameSite: options.sameSite,
    ...(maxAgeSeconds === null ? {} : { maxAge: Math.max(0, Math.floor(maxAgeSeconds)) }),
    encode: (s) => s,
  });
}

/** A Set-Cookie that makes the browser drop the cookie. */
export function clearCookie(options: ResolvedCookieOptions, secure: boolean): string {
  return serialize(options.name, '', {
    path: options.path,
    domain: options.domain,
    httpOnly: options.httpOnly,
    secure: options.secure === 'auto' ? secure : options.secure,
    sameSite: options.sameSite,
    maxAge: 0,
    expires: new Date(0),
  });
}
