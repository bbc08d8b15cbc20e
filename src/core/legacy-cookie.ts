/**
 * express-session's signed cookie, verified so an app switching to baton can adopt the sessions
 * its users already hold. The format (express-session with cookie-signature): `s:` + id + `.` +
 * the HMAC-SHA256 of the id under the secret, in base64 without its `=` padding; the whole value
 * URL-encoded in the Cookie header (the cookie parser decodes it before it gets here).
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

/** Longest legacy id accepted. express-session's are 32 characters; a custom `genid` may be longer. */
const MAX_LEGACY_ID = 256;
/** base64 of 32 bytes, unpadded. */
const LEGACY_MAC = /^[A-Za-z0-9+/]{43}$/;

/** The MAC part of an express-session cookie for `id` under `secret`. */
function legacyMac(id: string, secret: string): string {
  return createHmac('sha256', secret).update(id).digest('base64').replace(/=+$/, '');
}

/** The cookie value express-session sets for `id` (before URL-encoding): used by tests and migrate tools. */
export function signLegacy(id: string, secret: string): string {
  return `s:${id}.${legacyMac(id, secret)}`;
}

/**
 * The express-session id inside a (decoded) cookie value, or null when it is malformed or no
 * secret verifies it. Every secret is tried (express-session rotates the same way), each compared
 * in constant time; lengths are checked before `timingSafeEqual`, which throws on unequal lengths.
 */
export function unsignLegacy(value: string, secrets: readonly string[]): string | null {
  if (!value.startsWith('s:')) return null;
  const dot = value.lastIndexOf('.');
  if (dot <= 2) return null;
  const id = value.slice(2, dot);
  const given = value.slice(dot + 1);
  if (id.length > MAX_LEGACY_ID || !LEGACY_MAC.test(given)) return null;
  const givenBytes = Buffer.from(given, 'latin1');
  let verified = false;
  for (const secret of secrets) {
    const expected = Buffer.from(legacyMac(id, secret), 'latin1');
    // Every secret is checked, so the time taken does not tell which one (if any) matched.
    if (givenBytes.length === expected.length && timingSafeEqual(givenBytes, expected)) verified = true;
  }
  return verified ? id : null;
}
