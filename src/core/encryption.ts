import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { ConfigError } from './errors.js';

/** One data-encryption key: `id` is stored beside every value it encrypts. */
export interface EncryptionKey {
  /** Short name stored with each value (letters, digits, `_`, `-`; at most 32 characters). */
  id: string;
  /** 32 bytes: a Buffer/Uint8Array, or a string of 64 hex digits or 43–44 base64/base64url characters. */
  key: string | Uint8Array;
}

export interface EncryptionOptions {
  /** The first key encrypts; every key decrypts. Put a new key first, keep the old ones until rotated out. */
  keys: readonly EncryptionKey[];
}

/** An encrypted value is a JSON string (so stores that check JSON still accept it): `"bsenc1:<kid>:<payload>"`. */
const PREFIX = 'bsenc1:';
const IV_BYTES = 12;
const TAG_BYTES = 16;
const KEY_ID = /^[A-Za-z0-9_-]{1,32}$/;

export interface Opened {
  /** The value's JSON text. */
  text: string;
  /** Encrypted under a key other than the first: rewrite it under the current key. */
  stale: boolean;
}

function keyBytes(option: string, key: unknown): Buffer {
  let bytes: Buffer | undefined;
  if (key instanceof Uint8Array) bytes = Buffer.from(key);
  else if (typeof key === 'string') {
    if (/^[0-9a-fA-F]{64}$/.test(key)) bytes = Buffer.from(key, 'hex');
    else if (/^[A-Za-z0-9+/_-]{43}=?$/.test(key)) bytes = Buffer.from(key, 'base64');
  }
  if (bytes?.length !== 32) {
    throw new ConfigError(
      option,
      'must be 32 bytes (a Buffer, 64 hex digits or 44 base64 characters); generate one with `openssl rand -base64 32`',
    );
  }
  return bytes;
}

/**
 * AES-256-GCM per stored value, with a fresh random 96-bit IV each time and the key id stored
 * beside it. The additional data binds a value to its session and data key, so a value copied
 * to another session or key does not decrypt. Anything that does not decrypt is reported as
 * such (null): there is no fallback to reading plaintext.
 */
export class Encryption {
  readonly #keys = new Map<string, Buffer>();
  readonly #currentId: string;
  readonly #current: Buffer;

  constructor(options: EncryptionOptions) {
    if (typeof options !== 'object' || options === null || !Array.isArray(options.keys)) {
      throw new ConfigError('encryption.keys', 'must be a list of { id, key }, the current key first');
    }
    if (options.keys.length === 0) throw new ConfigError('encryption.keys', 'needs at least one key');
    options.keys.forEach((k: EncryptionKey, i: number) => {
      const at = `encryption.keys[${i}]`;
      if (typeof k !== 'object' || k === null) throw new ConfigError(at, 'must be { id, key }');
      if (typeof k.id !== 'string' || !KEY_ID.test(k.id)) {
        throw new ConfigError(
          `${at}.id`,
          `must be 1–32 letters, digits, '_' or '-', got ${JSON.stringify(k.id)}`,
        );
      }
      if (this.#keys.has(k.id)) throw new ConfigError(`${at}.id`, `${JSON.stringify(k.id)} is listed twice`);
      this.#keys.set(k.id, keyBytes(`${at}.key`, k.key));
    });
    const first = options.keys[0] as EncryptionKey;
    this.#currentId = first.id;
    this.#current = this.#keys.get(first.id) as Buffer;
  }

  /** Encrypts one value's JSON text under the current key. `aad` names where the value lives. */
  seal(aad: string, text: string): string {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.#current, iv);
    cipher.setAAD(Buffer.from(aad));
    const body = Buffer.concat([cipher.update(text, 'utf8'), cipher.final()]);
    const payload = Buffer.concat([iv, body, cipher.getAuthTag()]).toString('base64url');
    return JSON.stringify(`${PREFIX}${this.#currentId}:${payload}`);
  }

  /** Bytes `seal` produces for a value of `textBytes` UTF-8 bytes (for size checks before encrypting). */
  sealedBytes(textBytes: number): number {
    return (
      2 + PREFIX.length + this.#currentId.length + 1 + Math.ceil(((IV_BYTES + textBytes + TAG_BYTES) * 4) / 3)
    );
  }

  /** The JSON text inside a sealed value, or null when it is not one, names an unknown key, or fails authentication. */
  open(aad: string, sealed: string): Opened | null {
    if (!sealed.startsWith(`"${PREFIX}`) || !sealed.endsWith('"')) return null;
    const inner = sealed.slice(1 + PREFIX.length, -1);
    const colon = inner.indexOf(':');
    if (colon < 0) return null;
    const id = inner.slice(0, colon);
    const key = this.#keys.get(id);
    if (!key) return null;
    const payload = Buffer.from(inner.slice(colon + 1), 'base64url');
    if (payload.length < IV_BYTES + TAG_BYTES) return null;
    try {
      const decipher = createDecipheriv('aes-256-gcm', key, payload.subarray(0, IV_BYTES), {
        authTagLength: TAG_BYTES,
      });
      decipher.setAAD(Buffer.from(aad));
      decipher.setAuthTag(payload.subarray(payload.length - TAG_BYTES));
      const text = Buffer.concat([
        decipher.update(payload.subarray(IV_BYTES, payload.length - TAG_BYTES)),
        decipher.final(),
      ]).toString('utf8');
      return { text, stale: id !== this.#currentId };
    } catch {
      return null;
    }
  }
}
