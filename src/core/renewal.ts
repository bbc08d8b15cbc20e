/**
 * Renewal (OWASP's "renewal timeout"): a session's id is replaced every `interval` seconds while
 * it is in use. The old record becomes a forwarding record for `grace` seconds, so requests still
 * carrying the old cookie (sent before the new one arrived) reach the same session and are handed
 * the new cookie; after the grace window the old id leads nowhere.
 *
 * The forwarding record holds the new id encrypted under a key derived from the old id alone
 * (HKDF-SHA256, then AES-256-GCM). The store sees only `sha256(old id)` as the record's key, from
 * which neither the old id nor that key can be worked out, so a leaked table or backup still holds
 * no usable session id.
 */
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import { ID_BYTES, isWellFormedId } from './ids.js';

/**
 * The data key of a forwarding record. Reserved: a session never stores data under it (see
 * `isReservedKey`), so a record holding it is always one written by a renewal.
 */
export const FORWARD_KEY = '__baton_renewed';

/** How many forwarding records one request follows (an id renewed twice within one grace window). */
export const MAX_FORWARDS = 3;

const IV_BYTES = 12;
const TAG_BYTES = 16;
const SALT = 'baton-session renewal v1';

function keyFor(oldId: string): Buffer {
  return Buffer.from(hkdfSync('sha256', oldId, SALT, '', 32));
}

/**
 * The value stored under `FORWARD_KEY` in the old record: JSON text (every store holds JSON text)
 * of base64url(iv | ciphertext of the new id's 32 bytes | tag).
 */
export function sealForward(oldId: string, newId: string): string {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', keyFor(oldId), iv);
  const body = Buffer.concat([cipher.update(Buffer.from(newId, 'base64url')), cipher.final()]);
  return JSON.stringify(Buffer.concat([iv, body, cipher.getAuthTag()]).toString('base64url'));
}

/** The new id a forwarding value names, or null when it was not sealed for `oldId` (or was altered). */
export function openForward(oldId: string, sealed: string): string | null {
  let raw: Buffer;
  try {
    const text: unknown = JSON.parse(sealed);
    if (typeof text !== 'string') return null;
    raw = Buffer.from(text, 'base64url');
  } catch {
    return null;
  }
  if (raw.length !== IV_BYTES + ID_BYTES + TAG_BYTES) return null;
  try {
    const decipher = createDecipheriv('aes-256-gcm', keyFor(oldId), raw.subarray(0, IV_BYTES));
    decipher.setAuthTag(raw.subarray(IV_BYTES + ID_BYTES));
    const id = Buffer.concat([
      decipher.update(raw.subarray(IV_BYTES, IV_BYTES + ID_BYTES)),
      decipher.final(),
    ]);
    const newId = id.toString('base64url');
    return isWellFormedId(newId) ? newId : null;
  } catch {
    return null;
  }
}

/** A session is renewed when its id has been in use for `intervalMs` (from when it was issued). */
export function shouldRenew(idIssuedAt: number, now: number, intervalMs: number): boolean {
  return now - idIssuedAt >= intervalMs;
}
