// A complete baton-session store in one file: sessions in a Map. It passes storeConformance from
// baton-session/testing (see test.ts). A store for a real engine has the same shape, with the
// Map's reads and writes replaced by the engine's, each write guarded by its atomic primitive.
import type { OperationInfo, Patch, Store, StoredSession } from 'baton-session';
import {
  ConflictError,
  InvalidInputError,
  SessionExistsError,
  SessionTooLargeError,
  StoreUnavailableError,
} from 'baton-session';

const name = 'map';
const isTime = (t: unknown) => typeof t === 'number' && Number.isFinite(t) && t >= 0;
const isJsonMap = (d: unknown, nulls = false) =>
  typeof d === 'object' &&
  d !== null &&
  Object.values(d).every((v) => typeof v === 'string' || (nulls && v === null));
const size = (data: Record<string, string>) =>
  Object.entries(data).reduce((n, [k, v]) => n + Buffer.byteLength(k) + Buffer.byteLength(v), 0);

export class MapStore implements Store {
  readonly name = name;
  readonly limits = { maxSessionBytes: 64 * 1024 };
  // No lock, user index, scan or gc: so no such methods either.
  readonly capabilities = Object.freeze({
    lock: false,
    userIndex: false,
    scan: false,
    gc: false,
    ensureTable: false,
    serverTime: false,
    lockNotify: false,
  });
  readonly #map = new Map<string, StoredSession>();
  readonly #listeners = new Set<(info: OperationInfo) => void>();
  #closed = false;

  get = (key: string) => this.#op('get', key, async () => structuredClone(this.#live(key) ?? null));
  touch = (key: string, expiresAt: number) =>
    this.#op('touch', key, async () => {
      if (!isTime(expiresAt)) throw new InvalidInputError('expiresAt must be a time in ms', { scope: name });
      const s = this.#live(key);
      if (s) s.expiresAt = Math.min(expiresAt, s.absoluteExpiresAt);
      return s !== undefined;
    });
  destroy = (key: string) =>
    this.#op('destroy', key, async () => this.#live(key) !== undefined && this.#map.delete(key));
  create = (key: string, s: StoredSession) =>
    this.#op('create', key, async () => {
      if (!isJsonMap(s.data) || !isTime(s.expiresAt) || !isTime(s.absoluteExpiresAt))
        throw new InvalidInputError('a session needs JSON text data and times in ms', { scope: name });
      this.#fits(s.data, this.limits.maxSessionBytes);
      if (this.#live(key)) throw new SessionExistsError({ scope: name });
      this.#map.set(key, structuredClone(s));
    });
  patch = (key: string, p: Patch) =>
    this.#op('patch', key, async () => {
      if (!isJsonMap(p.set) || !isTime(p.expiresAt) || (p.expect !== undefined && !isJsonMap(p.expect, true)))
        throw new InvalidInputError('a patch needs JSON text in set and expect, and a time in ms', {
          scope: name,
        });
      const s = this.#live(key);
      if (!s) return null; // gone: never brought back
      if (p.expectVersion !== undefined && p.expectVersion !== s.version)
        throw new ConflictError(undefined, { scope: name });
      const stale = Object.entries(p.expect ?? {}).filter(
        ([k, v]) => (Object.hasOwn(s.data, k) ? s.data[k] : null) !== v,
      );
      if (stale.length > 0)
        throw new ConflictError('keys changed', { scope: name, staleKeys: stale.map(([k]) => k) });
      const data = p.replace ? {} : { ...s.data };
      for (const k of p.unset) delete data[k];
      Object.assign(data, p.set);
      this.#fits(data, Math.min(this.limits.maxSessionBytes, p.maxBytes ?? Number.POSITIVE_INFINITY));
      const next = {
        ...s,
        data,
        expiresAt: Math.min(p.expiresAt, s.absoluteExpiresAt),
        version: s.version + 1,
      };
      if (p.userId === null) delete next.userId;
      else if (p.userId !== undefined) next.userId = p.userId;
      this.#map.set(key, next);
      return { version: next.version };
    });

  onOperation(listener: (info: OperationInfo) => void) {
    this.#listeners.add(listener);
    return () => void this.#listeners.delete(listener);
  }
  async close() {
    this.#closed = true;
  }

  #live(key: string) {
    const s = this.#map.get(key);
    return s && s.expiresAt > Date.now() && s.absoluteExpiresAt > Date.now() ? s : undefined;
  }
  #fits(data: Record<string, string>, limit: number) {
    if (size(data) > limit) throw new SessionTooLargeError(size(data), limit, { scope: name });
  }
  async #op<T>(op: string, key: string, fn: () => Promise<T>): Promise<T> {
    const started = performance.now();
    let ok = false;
    try {
      if (this.#closed) throw new StoreUnavailableError('the store is closed', { scope: name });
      if (typeof key !== 'string' || key === '')
        throw new InvalidInputError('a key must be a non-empty string', { scope: name });
      const result = await fn();
      ok = true;
      return result;
    } finally {
      for (const l of this.#listeners) l({ store: name, op, ms: performance.now() - started, ok });
    }
  }
}
