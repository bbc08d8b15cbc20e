/**
 * `ExpressSessionStore`: a store for express-session (`session({ store: new ExpressSessionStore(store) })`)
 * over any baton store, for apps that keep express-session.
 *
 * express-session is an optional peer dependency: this module extends its `Store` class at runtime,
 * so importing it needs `npm install express-session`. It deliberately imports none of
 * `@types/express-session`: that package declares `req.session` globally with express-session's type,
 * which would clash with `baton-session/express` in a program that uses both. The class is
 * structurally a `session.Store`, so it type-checks where express-session's types are in use.
 *
 * What it cannot give (express-session decides when and what to write):
 * - express-session saves whole sessions. Changes are diffed per key against what this request
 *   loaded, so concurrent requests that change different keys are merged; two that change the
 *   same key: the last writer wins. `concurrency: 'lock'` and `'strict'` need the native middleware.
 * - It writes on every modified request (and on every request with `resave: true`); use
 *   `resave: false`. Unchanged requests call `touch()`, which writes only once the expiry would move
 *   by more than a tenth of the session's lifetime (see expiry.ts).
 * - The cookie is express-session's (unsigned id space, its own signing): hashed keys and expiry on
 *   read come from here, cookie policy does not.
 */
import type { EventEmitter } from 'node:events';
import { createRequire } from 'node:module';
import { withCallback } from '../../core/callback.js';
import { requireCapability } from '../../core/capabilities.js';
import { putOwn } from '../../core/codec.js';
import { diffData, hasChanges, shouldTouch } from '../../core/decisions.js';
import { ConfigError, SessionDataError, SessionTooLargeError } from '../../core/errors.js';
import { storeKey } from '../../core/ids.js';
import type { Patch, Store, StoredSession } from '../../core/store.js';
import { StoreCaller } from '../../core/store-call.js';
import { clockNow, clockWarming } from '../../core/store-clock.js';
import { userIdOf } from '../../core/user-key.js';
import { expiryOf, throttleMs } from './expiry.js';
import { adoptSid } from './legacy.js';
import { encode, LOADED, remember, type WithLoaded } from './loaded.js';
import {
  type ExpressSessionData,
  type ExpressSessionStoreOptions,
  type ResolvedStoreOptions,
  resolveStoreOptions,
  type StoreCallback,
} from './options.js';

export type { ExpressSessionData, ExpressSessionStoreOptions, StoreCallback } from './options.js';

type Data = Record<string, unknown>;

/** What express-session's `Store` class gives a subclass. */
interface ExpressStoreBase extends EventEmitter {
  regenerate(req: any, callback: (err?: any) => any): void;
  load(sid: string, callback: (err: any, session?: any) => any): void;
  createSession(req: any, session: any): any;
}

const require = createRequire(import.meta.url);

function expressSessionStore(): new () => ExpressStoreBase {
  try {
    return (require('express-session') as { Store: new () => ExpressStoreBase }).Store;
  } catch (err) {
    throw new ConfigError(
      'express-session',
      'the express-session package is not installed; `npm install express-session` to use baton-session/express-session',
      { cause: err },
    );
  }
}

/** Deletes run in batches of this many during `clear()`. */
const CLEAR_BATCH = 25;

export class ExpressSessionStore extends expressSessionStore() {
  readonly store: Store;
  /** The options, checked and with their defaults (options.ts). */
  readonly #options: ResolvedStoreOptions;
  /** Every store call, with failures typed once (the core's wrapper; no timeout of its own here). */
  readonly #call: StoreCaller['call'];

  constructor(store: Store, options: ExpressSessionStoreOptions = {}) {
    super();
    if (typeof store !== 'object' || store === null || typeof store.get !== 'function') {
      throw new ConfigError(
        'store',
        'pass a baton store, e.g. `new ExpressSessionStore(new DynamoDBStore({...}))`',
      );
    }
    this.store = store;
    this.#call = new StoreCaller(store, { timeoutMs: 0, scope: 'express-session' }).call;
    this.#options = resolveStoreOptions(options);
  }

  /** The key the store sees for a session id. */
  keyFor(sid: string): string {
    return storeKey(sid, this.#options.keyPrefix, this.#options.hashIds);
  }

  /** The session under `sid`, or null when missing or expired. */
  get(sid: string, callback?: StoreCallback): Promise<any> {
    return withCallback(this.#get(sid), callback);
  }

  /** Stores the session: a new one is created, a loaded one gets only its changed keys written. */
  set(sid: string, session: ExpressSessionData, callback?: StoreCallback<void>): Promise<void> {
    return withCallback(this.#set(sid, session as unknown as WithLoaded), callback);
  }

  /**
   * Moves the session's expiry (from its cookie or `ttl`) and its stored cookie, without writing its
   * other data; skipped while the expiry would move by no more than the session's throttle.
   */
  touch(sid: string, session: ExpressSessionData, callback?: StoreCallback<void>): Promise<void> {
    return withCallback(this.#touch(sid, session as unknown as Data), callback);
  }

  destroy(sid: string, callback?: StoreCallback<void>): Promise<void> {
    return withCallback(
      this.#call(() => this.store.destroy(this.keyFor(sid))).then(() => {}),
      callback,
    );
  }

  /** Every live session under `keyPrefix`, as an array; each has `id` only when `hashIds` is off. Needs a store with `scan`. */
  all(callback?: StoreCallback<any[]>): Promise<any[]> {
    return withCallback(this.#all(), callback);
  }

  /** The number of live sessions under `keyPrefix`. Needs a store with `scan`. */
  length(callback?: StoreCallback<number>): Promise<number> {
    return withCallback(
      this.#keys().then((keys) => keys.length),
      callback,
    );
  }

  /** The ids of live sessions under `keyPrefix`; with `hashIds` on these are the hashed keys, not usable ids. */
  ids(callback?: StoreCallback<string[]>): Promise<string[]> {
    return withCallback(
      this.#keys().then((keys) => keys.map((k) => k.slice(this.#options.keyPrefix.length))),
      callback,
    );
  }

  /** Deletes every session under `keyPrefix`. Needs a store with `scan`. */
  clear(callback?: StoreCallback<void>): Promise<void> {
    return withCallback(this.#clear(), callback);
  }

  /** Keeps what this request loaded on express-session's session object, out of its data and hash. */
  override createSession(req: any, session: any): any {
    const loaded = (session as WithLoaded)[LOADED];
    const created = super.createSession(req, session);
    if (loaded) remember(created, loaded);
    return created;
  }

  // Internals

  async #get(sid: string): Promise<Data | null> {
    // The first calls wait (boundedly) for the first reading of the store's clock; no await after.
    const warming = clockWarming(this.store.clock);
    if (warming) await warming;
    let stored = await this.#call(() => this.store.get(this.keyFor(sid)));
    const now = this.#now();
    if (!stored && this.#options.legacy)
      stored = await adoptSid(this.#options.legacy, this.#legacyContext(sid, now), sid);
    // Expiry is checked on every read, whatever the engine has deleted yet.
    if (!stored || stored.expiresAt <= now || stored.absoluteExpiresAt <= now) return null;
    return this.#decode(stored);
  }

  #decode(stored: StoredSession): WithLoaded {
    if (stored.data.cookie === undefined) {
      // Not a session express-session wrote (other code under the same prefix, or a damaged record):
      // an error as express-session's own stores give (its request fails with 500), left as it is.
      throw new SessionDataError(
        'cookie',
        'the stored session has no cookie, so express-session cannot load it; it was not written by ExpressSessionStore (check what else writes under this keyPrefix); it is left as it is',
        { scope: 'express-session' },
      );
    }
    const session = {} as WithLoaded;
    // `__proto__` included: a stored key of that name is data, never the session's prototype.
    for (const k of Object.keys(stored.data)) putOwn(session, k, JSON.parse(stored.data[k] as string));
    remember(session, {
      data: stored.data,
      expiresAt: stored.expiresAt,
      absoluteExpiresAt: stored.absoluteExpiresAt,
      userId: stored.userId,
    });
    return session;
  }

  async #set(sid: string, session: WithLoaded): Promise<void> {
    const key = this.keyFor(sid);
    const data = encode(session);
    this.#checkSize(data);
    const userId = this.#userOf(session);
    const warming = clockWarming(this.store.clock);
    if (warming) await warming;
    const now = this.#now();
    const loaded = session[LOADED];

    if (!loaded) {
      const absoluteExpiresAt = now + this.#options.absoluteLifetimeMs;
      const expiresAt = Math.min(this.#expiryOf(session, now), absoluteExpiresAt);
      if (expiresAt <= now) {
        await this.#call(() => this.store.destroy(key));
        return;
      }
      const record: StoredSession = { data, createdAt: now, expiresAt, absoluteExpiresAt, version: 1 };
      if (userId !== undefined) record.userId = userId;
      try {
        await this.#call(() => this.store.create(key, record));
      } catch (err) {
        if ((err as { code?: string }).code !== 'BATON_SESSION_EXISTS') throw err;
        // express-session's set is an upsert: a session we did not load is replaced whole.
        const replaced = await this.#call(() =>
          this.store.patch(key, { set: data, unset: [], expiresAt, replace: true, userId: userId ?? null }),
        );
        if (!replaced) await this.#call(() => this.store.create(key, record));
      }
      remember(session, { data, expiresAt, absoluteExpiresAt, userId });
      return;
    }

    const expiresAt = Math.min(this.#expiryOf(session, now), loaded.absoluteExpiresAt);
    if (expiresAt <= now) {
      await this.#call(() => this.store.destroy(key));
      return;
    }
    const diff = diffData(loaded.data, data);
    const { set, unset } = diff;
    const userChanged = this.#options.userKey !== undefined && userId !== loaded.userId;
    if (!hasChanges(diff) && !userChanged) {
      // Nothing changed (express-session with resave: true): only the expiry moves.
      await this.#call(() => this.store.touch(key, expiresAt));
      return;
    }
    const patch: Patch = { set, unset, expiresAt };
    if (userChanged) patch.userId = userId ?? null;
    // Null: the session was destroyed meanwhile (logout in another tab). Nothing is written back.
    const result = await this.#call(() => this.store.patch(key, patch));
    if (result) remember(session, { data, expiresAt, absoluteExpiresAt: loaded.absoluteExpiresAt, userId });
  }

  async #touch(sid: string, session: Data): Promise<void> {
    const throttle = throttleMs(session, this.#options.ttl, this.#options.touchAfterMs);
    // Decided before any await when the session was loaded here (express-session's case).
    let loaded = (session as WithLoaded)[LOADED];
    if (!loaded) {
      // A touch on a session this object did not load: read its expiries first.
      const warming = clockWarming(this.store.clock);
      if (warming) await warming;
      const stored = await this.#call(() => this.store.get(this.keyFor(sid)));
      const now = this.#now();
      if (!stored || stored.expiresAt <= now || stored.absoluteExpiresAt <= now) return;
      loaded = {
        data: stored.data,
        expiresAt: stored.expiresAt,
        absoluteExpiresAt: stored.absoluteExpiresAt,
        userId: stored.userId,
      };
    }
    const now = this.#now();
    const expiresAt = Math.min(expiryOf(session, now, this.#options.ttl, throttle), loaded.absoluteExpiresAt);
    if (expiresAt <= now) {
      await this.#call(() => this.store.destroy(this.keyFor(sid)));
      return;
    }
    // An unchanged request costs no write while the expiry would move by no more than the throttle.
    if (!shouldTouch(loaded.expiresAt, expiresAt, throttle)) return;
    // Hashed only here: most touches end at the throttle, with no call to the store.
    const key = this.keyFor(sid);
    const cookie = session.cookie === undefined ? undefined : encode({ cookie: session.cookie }).cookie;
    if (cookie === undefined || cookie === loaded.data.cookie) {
      if (await this.#call(() => this.store.touch(key, expiresAt))) loaded.expiresAt = expiresAt;
      return;
    }
    // The stored cookie moves with the expiry, so get(), all() and handlers see the real one.
    // Null: the session was destroyed meanwhile (logout in another tab); nothing is written back.
    const result = await this.#call(() => this.store.patch(key, { set: { cookie }, unset: [], expiresAt }));
    if (result) {
      loaded.expiresAt = expiresAt;
      loaded.data = { ...loaded.data, cookie };
    }
  }

  async #keys(): Promise<string[]> {
    requireCapability(this.store, 'scan', 'all(), length(), ids() and clear()');
    const keys: string[] = [];
    await this.#call(async () => {
      for await (const summary of this.store.scan!()) {
        if (summary.key.startsWith(this.#options.keyPrefix)) keys.push(summary.key);
      }
    });
    return keys;
  }

  async #all(): Promise<Data[]> {
    const sessions: Data[] = [];
    for (const key of await this.#keys()) {
      const stored = await this.#call(() => this.store.get(key));
      if (!stored || stored.expiresAt <= this.#now()) continue;
      const session = this.#decode(stored);
      if (!this.#options.hashIds) session.id = key.slice(this.#options.keyPrefix.length);
      sessions.push(session);
    }
    return sessions;
  }

  async #clear(): Promise<void> {
    const keys = await this.#keys();
    for (let i = 0; i < keys.length; i += CLEAR_BATCH) {
      await Promise.all(
        keys.slice(i, i + CLEAR_BATCH).map((key) => this.#call(() => this.store.destroy(key))),
      );
    }
  }

  /** Expiry in ms by the store's clock, with the grace of this session's throttle (expiry.ts). */
  #expiryOf(session: Data, now: number): number {
    return expiryOf(
      session,
      now,
      this.#options.ttl,
      throttleMs(session, this.#options.ttl, this.#options.touchAfterMs),
    );
  }

  /** Now by the store's clock (the local one for stores without their own). */
  #now(): number {
    return clockNow(this.store.clock);
  }

  #userOf(session: Data): string | undefined {
    return this.#options.userKey === undefined ? undefined : userIdOf(session, this.#options.userKey);
  }

  #legacyContext(sid: string, now: number) {
    return {
      store: this.store,
      keyPrefix: this.#options.keyPrefix,
      key: this.keyFor(sid),
      now,
      ttlMs: typeof this.#options.ttl === 'number' ? this.#options.ttl * 1000 : 86_400_000,
      absoluteLifetimeMs: this.#options.absoluteLifetimeMs,
      userOf: (data: Data) => this.#userOf(data),
      encode,
      call: <T>(fn: () => Promise<T>) => this.#call(fn),
    };
  }

  #checkSize(data: Record<string, string>): void {
    let size = 0;
    for (const k of Object.keys(data)) size += Buffer.byteLength(k) + Buffer.byteLength(data[k] as string);
    if (size > this.store.limits.maxSessionBytes) {
      throw new SessionTooLargeError(size, this.store.limits.maxSessionBytes, { scope: 'express-session' });
    }
  }
}
