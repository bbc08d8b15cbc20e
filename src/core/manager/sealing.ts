/**
 * A session's stored values and the request's: decoding (and decrypting) what the store holds,
 * and sealing what goes back (encrypted under the current key when `encryption` is on).
 */
import { decodeValue, putOwn } from '../codec.js';
import { DEVICE_KEY, type DeviceInfo, parseDevice } from '../devices.js';
import { rememberStored } from '../merge.js';
import { isReservedKey } from '../session.js';
import type { StoredSession } from '../store.js';
import type { ManagerCore } from './context.js';

/** The store's data decoded for a request: values, and the JSON text dirty tracking compares against. */
export interface Opened {
  data: Record<string, unknown>;
  snapshot: Map<string, string>;
  /** The device entry's JSON text (option `devices`), kept out of the data. */
  device?: string;
}

/** Snapshot entry for a value stored under an old encryption key: never equal to any JSON text, so it is rewritten. */
const REWRITE = '';

/** Additional data binding an encrypted value to its session (the store key without prefix) and data key. */
function aad(m: ManagerCore, key: string, dataKey: string): string {
  return `baton-session\u0000${key.slice(m.options.keyPrefix.length)}\u0000${dataKey}`;
}

/**
 * Decodes (and decrypts) a stored session's values. Null when any value does not decrypt or is
 * not JSON: the session is then absent, never half-read and never read as plaintext.
 */
export function open(m: ManagerCore, key: string, stored: StoredSession): Opened | null {
  const enc = m.options.encryption;
  const data: Record<string, unknown> = {};
  const snapshot = new Map<string, string>();
  const opened: Opened = { data, snapshot };
  // Same-key rebase: with encryption, `merge` mode expects the sealed texts as stored (merge.ts).
  if (enc) rememberStored(snapshot, stored.data);
  for (const [k, raw] of Object.entries(stored.data)) {
    if (isReservedKey(k) && k !== DEVICE_KEY) {
      // Written by other code: read as data it would shadow a method or the id.
      m.events.emit('unreadable', { key, reason: 'reserved' });
      return null;
    }
    let text = raw;
    let stale = false;
    if (enc) {
      const opened = enc.open(aad(m, key, k), raw);
      if (!opened) {
        m.events.emit('unreadable', { key, reason: 'decrypt' });
        return null;
      }
      text = opened.text;
      stale = opened.stale;
    }
    if (k === DEVICE_KEY) {
      opened.device = text;
      continue;
    }
    try {
      const value = decodeValue(text);
      // `__proto__` included: a key of that name is data, never the object's prototype.
      putOwn(data, k, value);
    } catch {
      m.events.emit('unreadable', { key, reason: 'json' });
      return null;
    }
    snapshot.set(k, stale ? REWRITE : text);
  }
  return opened;
}

/** The values as the store receives them: encrypted under the current key when encryption is on. */
/** The JSON text of one stored value (decrypted when encryption is on); null when it does not open. */
export function openValue(m: ManagerCore, key: string, dataKey: string, stored: string): string | null {
  const enc = m.options.encryption;
  return enc ? (enc.open(aad(m, key, dataKey), stored)?.text ?? null) : stored;
}

export function seal(m: ManagerCore, key: string, values: Record<string, string>): Record<string, string> {
  const enc = m.options.encryption;
  if (!enc) return values;
  const out: Record<string, string> = {};
  for (const [k, text] of Object.entries(values)) out[k] = enc.seal(aad(m, key, k), text);
  return out;
}

/** A stored device entry, decrypted when encryption is on; undefined when absent or unreadable. */
export function openDevice(m: ManagerCore, key: string, raw: string | undefined): DeviceInfo | undefined {
  if (raw === undefined) return undefined;
  const enc = m.options.encryption;
  if (!enc) return parseDevice(raw);
  return parseDevice(enc.open(aad(m, key, DEVICE_KEY), raw)?.text);
}
