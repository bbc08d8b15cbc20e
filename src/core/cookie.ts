import { serialize } from 'cookie';
import type { ResolvedCookieOptions } from './cookie-options.js';

/** Longest Cookie header we parse; a larger one is treated as carrying no session (RFC 6265 budgets 4 KB a cookie). */
const MAX_COOKIE_HEADER = 16 * 1024;
/** Longer values are not ours: `id.hmac` is 43 + 1 + 43 characters. */
const MAX_TOKEN = 4096;

/** How many cookies of the session's name one request may offer (cookie tossing sends a second). */
const MAX_SAME_NAME = 4;

/**
 * Every value of the session cookie in a Cookie header, in the order sent (a sibling subdomain can
 * add a second cookie of the same name). Values are taken exactly as sent: no percent-decoding and
 * no stripping of quotes, so one cookie has exactly one spelling that verifies. Never throws.
 */
export function readCookies(header: string | undefined | null, name: string): string[] {
  if (!header || header.length > MAX_COOKIE_HEADER || !header.includes(name)) return [];
  const values: string[] = [];
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0 || part.slice(0, eq).trim() !== name) continue;
    const value = part.slice(eq + 1).trim();
    if (value.length > 0) values.push(value.slice(0, MAX_TOKEN));
    if (values.length === MAX_SAME_NAME) break;
  }
  return values;
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
