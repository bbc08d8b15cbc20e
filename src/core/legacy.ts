/**
 * Adoption of express-session sessions (option `legacy`): a request with no valid baton cookie but
 * a verified express-session cookie is served the session the old stack stored, copied once into a
 * baton session; `baton migrate --from` does the same in bulk.
 *
 * Exactly once, without the legacy id at rest: the copy is guarded by an adoption record under
 * `keyPrefix + base64url(sha256(domain | legacy id))`, created only when absent. It is a forwarding
 * record (the same kind renewal leaves): the baton id sealed under a key derived from the legacy id
 * (`sealForward`), so the store holds neither id in usable form. Of concurrent first requests,
 * each copies the session under its own new id and then tries to create the adoption record; the
 * one that succeeds wins, the others delete their copy and follow the record to the winner's id.
 * The adoption record lives as long as the legacy record could (its expiry), and leads nowhere
 * once the baton session is gone: a logout is final for the old cookie too.
 */
import { createHash } from 'node:crypto';
import { encodeValue } from './codec.js';
import { readCookies } from './cookie.js';
import { type BatonError, ConfigError, isBatonError } from './errors.js';
import { generateId } from './ids.js';
import { unsignLegacy } from './legacy-cookie.js';
import { FORWARD_KEY, openForward, sealForward } from './renewal.js';
import { isReservedKey } from './session.js';
import type { Store, StoredSession } from './store.js';
import { asBatonError } from './store-call.js';
import { userIdOf } from './user-key.js';

/** A session as a legacy source read it. */
export interface LegacyRecord {
  /** The session object express-session saved (its `cookie` field may be there: it is dropped). */
  data: Record<string, unknown>;
  /**
   * When the record expires by the old store's own rule (ms since the epoch), or null when that
   * store keeps it with no expiry. The cookie's `expires`, when earlier, is used instead.
   */
  expiresAt: number | null;
}

/**
 * Where express-session's sessions are: `baton-session/legacy` has one per peer store; write one
 * for any other store with these methods.
 */
export interface LegacySource {
  /** Short name for messages (`connect-redis`, ...). */
  readonly name: string;
  /** The live session stored under express-session's id `legacyId`, or null. Throws on store failure. */
  get(legacyId: string): Promise<LegacyRecord | null>;
  /** Deletes the session under `legacyId` (option `remove`). */
  destroy?(legacyId: string): Promise<void>;
  /** Every legacy id the store holds, paginated underneath (for `baton migrate --from`). */
  ids?(): AsyncIterable<string>;
  /** Closes clients the source created itself; one the user passed stays open. */
  close?(): Promise<void>;
}

export interface LegacyOptions {
  /** express-session's cookie name. @default 'connect.sid' */
  cookie?: string;
  /** express-session's secret, or its list (every one verifies). Keep them secret while `legacy` is on. */
  secret: string | readonly string[];
  /** Where the old sessions are: `connectRedis({ client })` and the others from `baton-session/legacy`. */
  source: LegacySource;
  /** Delete the legacy record once adopted (a rollback to the old stack then finds nobody). @default false */
  remove?: boolean;
}

export interface ResolvedLegacyOptions {
  cookie: string;
  secrets: readonly string[];
  source: LegacySource;
  remove: boolean;
}

// RFC 6265 token.
const COOKIE_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

export function resolveLegacy(options: LegacyOptions | undefined): ResolvedLegacyOptions | undefined {
  if (options === undefined) return undefined;
  if (typeof options !== 'object' || options === null) {
    throw new ConfigError('legacy', 'must be { cookie, secret, source, remove? }');
  }
  const cookie = options.cookie ?? 'connect.sid';
  if (typeof cookie !== 'string' || !COOKIE_NAME.test(cookie)) {
    throw new ConfigError(
      'legacy.cookie',
      `must be express-session's cookie name, got ${JSON.stringify(cookie)}`,
    );
  }
  const secrets = typeof options.secret === 'string' ? [options.secret] : options.secret;
  if (
    !Array.isArray(secrets) ||
    secrets.length === 0 ||
    secrets.some((s) => typeof s !== 'string' || s.length === 0)
  ) {
    throw new ConfigError(
      'legacy.secret',
      "is required: express-session's secret (a non-empty string), or its list of secrets",
    );
  }
  const source = options.source;
  if (typeof source !== 'object' || source === null || typeof source.get !== 'function') {
    throw new ConfigError(
      'legacy.source',
      'is required: where the old sessions are, such as `connectRedis({ client })` from baton-session/legacy',
    );
  }
  const remove = options.remove ?? false;
  if (typeof remove !== 'boolean') throw new ConfigError('legacy.remove', 'must be true or false');
  if (remove && typeof source.destroy !== 'function') {
    throw new ConfigError('legacy.remove', `the ${source.name} source cannot delete records (no destroy)`);
  }
  return { cookie, secrets: [...secrets], source, remove };
}

/** The store key of a legacy id's adoption record: a hash, never the id. */
export function adoptionKey(keyPrefix: string, legacyId: string): string {
  return keyPrefix + createHash('sha256').update(`baton-session legacy\u0000${legacyId}`).digest('base64url');
}

/** What adoption needs of a session manager (or of `baton migrate`). */
export interface AdoptionHost {
  readonly store: Store;
  readonly keyPrefix: string;
  readonly userKey: string;
  readonly lifetimeMs: number;
  readonly absoluteLifetimeMs: number;
  now(): number;
  keyFor(id: string): string;
  /** The values as the store receives them (encrypted when the manager encrypts). */
  seal(id: string, values: Record<string, string>): Record<string, string>;
  /** Runs a store call bounded and with failures mapped to typed errors. */
  call<T>(fn: () => Promise<T>): Promise<T>;
}

/** When an adopted session ends: the old store's expiry, or the cookie's when earlier. Never later. */
export function legacyExpiry(record: LegacyRecord, now: number, lifetimeMs: number): number {
  let at = record.expiresAt ?? now + lifetimeMs;
  const cookie = record.data.cookie as { expires?: unknown } | undefined;
  if (cookie && typeof cookie === 'object' && cookie.expires != null) {
    const expires = new Date(cookie.expires as string).getTime();
    if (Number.isFinite(expires)) at = Math.min(at, expires);
  }
  return at;
}

export type AdoptOutcome =
  | { kind: 'adopted'; id: string; key: string }
  /** Another request (or a migrate run) adopted it first: follow the adoption record. */
  | { kind: 'taken' }
  /** The legacy record has expired. */
  | { kind: 'expired' };

/**
 * Copies one legacy session into the store as a new baton session and creates its adoption
 * record, unless one exists. On losing the race the copy is deleted again.
 */
export async function adopt(
  host: AdoptionHost,
  legacyId: string,
  record: LegacyRecord,
): Promise<AdoptOutcome> {
  const now = host.now();
  const expiresAt = legacyExpiry(record, now, host.lifetimeMs);
  if (expiresAt <= now) return { kind: 'expired' };
  const values: Record<string, string> = {};
  for (const [k, v] of Object.entries(record.data)) {
    // express-session's `cookie` (and any other name a baton session keeps for itself) is not data.
    if (v === undefined || isReservedKey(k)) continue;
    values[k] = encodeValue(k, v);
  }
  const absoluteExpiresAt = now + host.absoluteLifetimeMs;
  const id = generateId();
  const key = host.keyFor(id);
  const session: StoredSession = {
    data: host.seal(id, values),
    createdAt: now,
    expiresAt: Math.min(expiresAt, absoluteExpiresAt),
    absoluteExpiresAt,
    version: 1,
  };
  const userId = userIdOf(record.data, host.userKey);
  if (userId !== undefined) session.userId = userId;
  await host.call(() => host.store.create(key, session));
  // Lives while the legacy record may: its own expiry, and at least the copy's.
  const pointerExpiresAt = Math.max(expiresAt, session.expiresAt);
  const pointer: StoredSession = {
    data: { [FORWARD_KEY]: sealForward(legacyId, id) },
    createdAt: now,
    expiresAt: pointerExpiresAt,
    absoluteExpiresAt: pointerExpiresAt,
    version: 1,
  };
  try {
    await host.call(() => host.store.create(adoptionKey(host.keyPrefix, legacyId), pointer));
  } catch (err) {
    await host.call(() => host.store.destroy(key)).catch(() => {});
    if (isBatonError(err) && err.code === 'BATON_SESSION_EXISTS') return { kind: 'taken' };
    throw err;
  }
  return { kind: 'adopted', id, key };
}

/** The baton id an adoption record leads to, or null (not one, or sealed for another legacy id). */
export function followAdoption(legacyId: string, record: StoredSession | null, now: number): string | null {
  if (!record || record.expiresAt <= now) return null;
  const sealed = record.data[FORWARD_KEY];
  return sealed === undefined ? null : openForward(legacyId, sealed);
}

/** A source call, with failures as `StoreUnavailableError` naming the source. */
export async function readSource<T>(source: LegacySource, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw asBatonError(err, `the legacy ${source.name} source`, 'legacy');
  }
}

export interface AdoptionEvents {
  /** A legacy session became the baton session under `key`. */
  adopted(key: string): void;
  /** A legacy cookie failed verification: no read of either store was made. */
  rejected(): void;
  /** `remove: true` could not delete the legacy record (it expires by itself). */
  removeFailed(error: BatonError): void;
}

/**
 * Adoption as a request sees it: the baton id a request's legacy cookie leads to, copying the
 * legacy session on the first request. Null when there is no legacy cookie, it does not verify,
 * or its session is gone (expired, logged out after adoption, never stored).
 */
export class Adoption {
  readonly #options: ResolvedLegacyOptions;
  readonly #host: AdoptionHost;
  readonly #events: AdoptionEvents;

  constructor(options: ResolvedLegacyOptions, host: AdoptionHost, events: AdoptionEvents) {
    this.#options = options;
    this.#host = host;
    this.#events = events;
  }

  async resolve(cookieHeader: string | null | undefined): Promise<string | null> {
    // Of several cookies of the name (one tossed from a sibling subdomain), the first that verifies.
    const candidates = readCookies(cookieHeader, this.#options.cookie);
    if (candidates.length === 0) return null;
    let legacyId: string | null = null;
    for (const raw of candidates) {
      // express-session URL-encodes its cookie (`s%3A…`); a value that does not decode is not one.
      let value: string;
      try {
        value = decodeURIComponent(raw);
      } catch {
        continue;
      }
      legacyId = unsignLegacy(value, this.#options.secrets);
      if (legacyId !== null) break;
    }
    if (legacyId === null) {
      this.#events.rejected();
      return null;
    }
    const host = this.#host;
    const key = adoptionKey(host.keyPrefix, legacyId);
    const existing = await host.call(() => host.store.get(key));
    if (existing) return followAdoption(legacyId, existing, host.now());
    const source = this.#options.source;
    const record = await host.call(() => readSource(source, () => source.get(legacyId)));
    if (!record) return null;
    const outcome = await adopt(host, legacyId, record);
    if (outcome.kind === 'expired') return null;
    if (outcome.kind === 'taken') {
      const winner = await host.call(() => host.store.get(key));
      return followAdoption(legacyId, winner, host.now());
    }
    this.#events.adopted(outcome.key);
    if (this.#options.remove) {
      await host
        .call(() => readSource(source, () => source.destroy!(legacyId)))
        .catch((err: BatonError) => {
          this.#events.removeFailed(err);
        });
    }
    return outcome.id;
  }
}
