import { createHmac, hash, randomBytes, timingSafeEqual } from 'node:crypto';

/** 32 random bytes (256 bits), base64url: 43 characters. */
export const ID_BYTES = 32;
const ID_PATTERN = /^[A-Za-z0-9_-]{43}$/;
/** HMAC-SHA256, base64url: 43 characters. */
const MAC_PATTERN = /^[A-Za-z0-9_-]{43}$/;

/** A new session id from the platform CSPRNG. */
export function generateId(): string {
  return randomBytes(ID_BYTES).toString('base64url');
}

/** True for a string shaped like an id we issue. Anything else never reaches a store. */
export function isWellFormedId(id: string): boolean {
  return ID_PATTERN.test(id);
}

function mac(id: string, secret: string): Buffer {
  return createHmac('sha256', secret).update(id).digest();
}

/** The key the store sees for a session id: `keyPrefix` + `base64url(sha256(id))`, or the raw id when `hashIds` is off. */
export function storeKey(id: string, keyPrefix: string, hashIds: boolean): string {
  return keyPrefix + (hashIds ? hashId(id) : id);
}

/** The cookie (or token) value: `id.hmac`, signed with the first secret. */
export function sign(id: string, secret: string): string {
  return `${id}.${mac(id, secret).toString('base64url')}`;
}

export interface Verified {
  id: string;
  /** Verified by a secret other than the first: the cookie should be signed again. */
  stale: boolean;
}

/**
 * The id inside a signed value, or null when the value is malformed or no secret verifies it.
 * Lengths are checked before `timingSafeEqual`, which throws on unequal lengths.
 */
export function unsign(value: string, secrets: readonly string[]): Verified | null {
  const dot = value.indexOf('.');
  if (dot < 0) return null;
  const id = value.slice(0, dot);
  const given = value.slice(dot + 1);
  if (!isWellFormedId(id) || !MAC_PATTERN.test(given)) return null;
  // Compare the base64url text, not the decoded bytes: the last of 43 characters carries 2 unused
  // bits, so decoding would accept 4 spellings of one MAC (a malleable cookie).
  const givenBytes = Buffer.from(given, 'latin1');
  for (let i = 0; i < secrets.length; i++) {
    const expected = Buffer.from(mac(id, secrets[i] as string).toString('base64url'), 'latin1');
    if (givenBytes.length === expected.length && timingSafeEqual(givenBytes, expected)) {
      return { id, stale: i > 0 };
    }
  }
  return null;
}

/** A verified signed value, with the key the store sees for its id. */
export interface VerifiedKey extends Verified {
  key: string;
}

/**
 * Signed values verified before, each with its id's store key: a returning cookie skips the HMAC
 * and the SHA-256, the largest share of the session layer's own CPU on a read. Both are pure
 * functions of the value and the manager's fixed secrets and key settings, so a remembered answer
 * is the answer. Only values that verified are kept (a forged or malformed one is checked every
 * time), and at most `capacity`, oldest out first.
 */
export class VerifiedValues {
  readonly #entries = new Map<string, VerifiedKey>();
  readonly #capacity: number;

  constructor(capacity: number) {
    this.#capacity = capacity;
  }

  get(value: string): VerifiedKey | undefined {
    return this.#entries.get(value);
  }

  set(value: string, verified: VerifiedKey): void {
    if (this.#capacity <= 0) return;
    if (this.#entries.size >= this.#capacity) {
      const oldest = this.#entries.keys().next().value as string;
      this.#entries.delete(oldest);
    }
    this.#entries.set(value, verified);
  }

  get size(): number {
    return this.#entries.size;
  }
}

/**
 * base64url(sha256(id)): the key a store sees when `hashIds` is on. One-shot `crypto.hash` (Node
 * 20.12+), about half the cost of a `createHash` object on every request's key.
 */
export function hashId(id: string): string {
  return hash('sha256', id, 'base64url');
}
