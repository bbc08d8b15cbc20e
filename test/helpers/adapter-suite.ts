/**
 * The cases every framework adapter passes, over real HTTP with two instances sharing one store.
 * Each adapter's test file starts instances of a small app with the same routes:
 *
 *   GET  /state                         → { instance, data }      (the session's data)
 *   POST /set?key=k&value=v[&delay=ms]  → session[k] = v
 *   POST /login?user=u                  → await session.regenerate(); session.userId = u
 *   POST /logout                        → await session.destroy()
 *   POST /boom?key=k                    → session[k] = 'lost', then throws (a 500 through the framework)
 *   POST /hang?key=k                    → session[k] = 'hung', then never answers
 *
 * Instances trust a proxy's X-Forwarded-Proto (each framework's own setting).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { SessionOptions } from '../../src/core/options.js';
import { MemoryStore } from '../../src/stores/memory/index.js';
import type { Store } from '../../src/stores/store.js';
import { type FaultyStore, faulty } from './faulty-store.js';
import { Jar } from './http.js';
import { httpsFetch, selfSigned, type Tls } from './tls.js';

export const SECRET = 'adapter-suite-secret-long-enough-0123456789';

export interface Instance {
  url: string;
  close(): Promise<void>;
}

/** Starts one instance of the framework's test app on 127.0.0.1; over https when given `tls`. */
export type StartInstance = (options: SessionOptions, name: string, tls?: Tls) => Promise<Instance>;

export interface SuiteOptions {
  /** A fresh store for each group of cases. @default a MemoryStore */
  newStore?: () => Store | Promise<Store>;
  /** The framework commits the session on error responses too (Express: the error handler's reply is held). */
  errorKeepsChanges?: boolean;
}

async function cluster(start: StartInstance, options: SessionOptions) {
  const instances = [await start(options, 'A'), await start(options, 'B')];
  const [a, b] = instances.map((i) => i.url) as [string, string];
  return { a, b, close: () => Promise.all(instances.map((i) => i.close())).then(() => {}) };
}

const post = (base: string, path: string, headers: Record<string, string> = {}) =>
  fetch(base + path, { method: 'POST', headers });

export function adapterSuite(framework: string, start: StartInstance, suite: SuiteOptions = {}): void {
  const newStore = suite.newStore ?? (() => new MemoryStore());
  describe(`${framework}: two instances over one store`, () => {
    let store: FaultyStore;
    let c: Awaited<ReturnType<typeof cluster>>;
    before(async () => {
      store = faulty(await newStore());
      c = await cluster(start, { store, secret: SECRET });
    });
    after(async () => {
      await c.close();
      await store.close();
    });

    it('a session made on instance A is read on instance B', async () => {
      const jar = new Jar();
      const made = await jar.request(c.a, '/set?key=name&value=Jack%20Sparrow', { method: 'POST' });
      assert.equal(made.status, 200);
      assert.ok(jar.cookie, 'a cookie was set');
      const reply = await jar.request(c.b, '/state');
      assert.equal(reply.body.instance, 'B');
      assert.deepEqual(reply.body.data, { name: 'Jack Sparrow' });
    });

    it('the cookie carries HttpOnly, SameSite=Lax and Path=/, with Cache-Control: no-store', async () => {
      const reply = await new Jar().request(c.a, '/set?key=a&value=1', { method: 'POST' });
      assert.equal(reply.setCookie.length, 1);
      const cookie = reply.setCookie[0]!;
      assert.match(cookie, /^sid=[A-Za-z0-9_-]{43}\.[A-Za-z0-9_-]{43};/);
      assert.match(cookie, /; HttpOnly/);
      assert.match(cookie, /; SameSite=Lax/);
      assert.match(cookie, /; Path=\//);
      assert.doesNotMatch(cookie, /Secure/, 'plain http: no Secure under secure: auto');
      assert.equal(reply.headers.get('cache-control'), 'no-store');
    });

    it('behind a trusted proxy that says https, the cookie is Secure', async () => {
      const reply = await new Jar().request(c.b, '/set?key=a&value=1', {
        method: 'POST',
        headers: { 'x-forwarded-proto': 'https' },
      });
      assert.match(reply.setCookie[0] ?? '', /; Secure/);
    });

    it('served over https directly, the cookie is Secure (and still HttpOnly, SameSite=Lax)', async () => {
      const tls = selfSigned();
      const secure = await start({ store, secret: SECRET }, 'TLS', tls);
      try {
        assert.match(secure.url, /^https:/);
        const reply = await httpsFetch(`${secure.url}/set?key=a&value=1`, { method: 'POST', ca: tls.cert });
        assert.equal(reply.status, 200);
        const cookie = reply.headers['set-cookie']?.[0] ?? '';
        assert.match(cookie, /; Secure/);
        assert.match(cookie, /; HttpOnly/);
        assert.match(cookie, /; SameSite=Lax/);
      } finally {
        await secure.close();
      }
    });

    it('20 concurrent requests on one session, alternating instances, each setting a different key: 20 kept', async () => {
      const jar = new Jar();
      await jar.request(c.a, '/set?key=start&value=1', { method: 'POST' });
      const cookie = jar.cookie!;
      const replies = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          post(i % 2 ? c.b : c.a, `/set?key=k${i}&value=${i}&delay=5`, { cookie }),
        ),
      );
      assert.deepEqual(
        replies.map((r) => r.status),
        Array(20).fill(200),
      );
      const data = (await jar.request(c.b, '/state')).body.data;
      for (let i = 0; i < 20; i++) assert.equal(data[`k${i}`], String(i), `k${i} kept`);
    });

    it('regenerate() issues a new id and the old one no longer works, on either instance', async () => {
      const jar = new Jar();
      await jar.request(c.a, '/set?key=basket&value=rum', { method: 'POST' });
      const before = jar.cookie!;
      const login = await jar.request(c.b, '/login?user=jack', { method: 'POST' });
      assert.equal(login.status, 200);
      assert.ok(jar.cookie && jar.cookie !== before, 'a new cookie');
      assert.deepEqual((await jar.request(c.a, '/state')).body.data, { basket: 'rum', userId: 'jack' });
      for (const url of [c.a, c.b]) {
        const old = await new Jar().request(url, '/state', { headers: { cookie: before } });
        assert.deepEqual(old.body.data, {}, 'the old id finds nothing');
      }
    });

    it('logout: the replayed cookie finds no session on either instance, and the reply clears it', async () => {
      const jar = new Jar();
      await jar.request(c.a, '/login?user=anne', { method: 'POST' });
      const cookie = jar.cookie!;
      const logout = await jar.request(c.b, '/logout', { method: 'POST' });
      assert.equal(logout.status, 200);
      assert.match(logout.setCookie[0] ?? '', /^sid=;.*Max-Age=0/);
      for (const url of [c.a, c.b]) {
        const replay = await new Jar().request(url, '/state', { headers: { cookie } });
        assert.deepEqual(replay.body.data, {});
      }
    });

    it('commit before response: a login on A is seen by an immediate request on B (100 runs)', async () => {
      let seen = 0;
      for (let i = 0; i < 100; i++) {
        const jar = new Jar();
        await jar.request(c.a, `/login?user=u${i}`, { method: 'POST' });
        const state = await jar.request(c.b, '/state');
        if (state.body.data.userId === `u${i}`) seen++;
      }
      assert.equal(seen, 100);
    });

    it('store outage on read: 503 through the error path, no Set-Cookie, the cookie survives', async () => {
      const jar = new Jar();
      await jar.request(c.a, '/set?key=a&value=1', { method: 'POST' });
      const cookie = jar.cookie;
      store.fail(['get']);
      try {
        const reply = await jar.request(c.b, '/state');
        assert.equal(reply.status, 503);
        assert.deepEqual(reply.setCookie, []);
        assert.equal(jar.cookie, cookie);
      } finally {
        store.heal();
      }
      assert.equal((await jar.request(c.b, '/state')).body.data.a, '1', 'back when the store is');
    });

    it('store outage on write: 503, no Set-Cookie, for a new session and for a change', async () => {
      const jar = new Jar();
      await jar.request(c.a, '/set?key=a&value=1', { method: 'POST' });
      store.fail(['create', 'patch', 'touch']);
      try {
        const fresh = await new Jar().request(c.a, '/set?key=b&value=2', { method: 'POST' });
        assert.equal(fresh.status, 503);
        assert.deepEqual(fresh.setCookie, []);
        const change = await jar.request(c.b, '/set?key=a&value=2', { method: 'POST' });
        assert.equal(change.status, 503);
        assert.deepEqual(change.setCookie, []);
      } finally {
        store.heal();
      }
      assert.equal((await jar.request(c.b, '/state')).body.data.a, '1', 'the failed change was not applied');
    });
  });

  describe(`${framework}: header-based ids (Authorization: Bearer)`, () => {
    let store: Store;
    let c: Awaited<ReturnType<typeof cluster>>;
    before(async () => {
      store = await newStore();
      c = await cluster(start, {
        store,
        secret: SECRET,
        header: 'authorization',
        cookie: false,
      });
    });
    after(async () => {
      await c.close();
      await store.close();
    });

    it('a token issued on A carries the session to B; no cookie is set', async () => {
      const made = await post(c.a, '/set?key=cart&value=3');
      assert.equal(made.status, 200);
      assert.deepEqual(made.headers.getSetCookie(), []);
      const token = made.headers.get('x-session-token');
      assert.match(token ?? '', /^[A-Za-z0-9_-]{43}\.[A-Za-z0-9_-]{43}$/);
      assert.equal(made.headers.get('cache-control'), 'no-store');
      const read = await fetch(`${c.b}/state`, { headers: { authorization: `Bearer ${token}` } });
      assert.deepEqual(((await read.json()) as { data: unknown }).data, { cart: '3' });
      const forged = await fetch(`${c.b}/state`, { headers: { authorization: `Bearer ${token}x` } });
      assert.deepEqual(((await forged.json()) as { data: unknown }).data, {});
    });
  });

  describe(`${framework}: errors and locks`, () => {
    let store: FaultyStore;
    let c: Awaited<ReturnType<typeof cluster>>;
    before(async () => {
      store = faulty(await newStore());
      c = await cluster(start, { store, secret: SECRET, concurrency: 'lock', lockWait: 0.3 });
    });
    after(async () => {
      await c.close();
      await store.close();
    });

    it('a handler error answers 500 and releases the lock: the next request is not kept waiting', async () => {
      const jar = new Jar();
      await jar.request(c.a, '/set?key=a&value=1', { method: 'POST' });
      const boom = await jar.request(c.a, '/boom?key=lost', { method: 'POST' });
      assert.equal(boom.status, 500);
      const next = await jar.request(c.b, '/set?key=b&value=2', { method: 'POST' });
      assert.equal(next.status, 200, 'not a 503 lock timeout');
      const data = (await jar.request(c.a, '/state')).body.data;
      assert.equal(data.b, '2');
      if (suite.errorKeepsChanges) assert.equal(data.lost, 'lost', 'the error reply committed the change');
      else assert.equal(data.lost, undefined, 'a failed request writes nothing');
    });

    it('a client that goes away while its handler never answers gives the lock up at once', async () => {
      const jar = new Jar();
      await jar.request(c.a, '/set?key=a&value=1', { method: 'POST' });
      const client = new AbortController();
      const hanging = fetch(`${c.a}/hang?key=hung`, {
        method: 'POST',
        headers: { cookie: jar.cookie! },
        signal: client.signal,
      }).catch(() => 'aborted');
      // Wait until the hanging request has the lock: another request times out behind it (lockWait 0.3 s).
      await waitFor(async () => {
        const r = await jar.request(c.b, '/state');
        return r.status === 503 ? r : undefined;
      });
      client.abort();
      assert.equal(await hanging, 'aborted');
      // lockTtl is 30 s: only a release on the client's departure lets this through within lockWait.
      const next = await jar.request(c.b, '/set?key=b&value=2', { method: 'POST' });
      assert.equal(next.status, 200, 'not a 503: the lock left with the client');
      const data = (await jar.request(c.b, '/state')).body.data;
      assert.equal(data.b, '2');
      assert.equal(data.hung, undefined, 'the departed request wrote nothing');
    });

    it('a lock wait past lockWait is a 503 through the error path', async () => {
      const jar = new Jar();
      await jar.request(c.a, '/set?key=a&value=1', { method: 'POST' });
      // Instance B asks only once the holder has the lock. Probing earlier let B's requests, each
      // taking the lock in turn, keep the holder from it on a slow engine (DynamoDB Local under
      // CI load): the holder's wait then ended in the 503 and B's probes never met a held lock.
      const locked = nextLockGranted(store);
      const holder = post(c.a, '/set?key=slow&value=1&delay=1500', { cookie: jar.cookie! });
      await locked;
      const waiter = await jar.request(c.b, '/state');
      assert.equal(waiter.status, 503);
      assert.deepEqual(waiter.setCookie, []);
      assert.equal((await holder).status, 200);
    });
  });
}

/** Resolves when the store next grants a lock (to any instance); the store's own `lock` again after. */
function nextLockGranted(store: FaultyStore): Promise<void> {
  const lock = store.lock as NonNullable<FaultyStore['lock']>;
  return new Promise((resolve) => {
    store.lock = async (key, ttlMs) => {
      const handle = await lock(key, ttlMs);
      if (handle) {
        store.lock = lock;
        resolve();
      }
      return handle;
    };
  });
}

async function waitFor<T>(probe: () => Promise<T | undefined>, timeoutMs = 5_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error('condition not reached in time');
  }
}
