/**
 * ExpressSessionStore under the real express-session middleware, two instances over one store.
 *
 * Type-checked by tsconfig.express-session.json, not tsconfig.json: @types/express-session declares
 * `req.session` globally with its own type, which clashes with baton-session/express in one program.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { after, before, describe, it } from 'node:test';
import express from 'express';
import session from 'express-session';
import { ExpressSessionStore } from '../../src/adapters/express-session/index.js';
import { hashId } from '../../src/core/ids.js';
import { MemoryStore } from '../../src/stores/memory/index.js';
import type { Store } from '../../src/stores/store.js';
import { countCalls } from '../helpers/counting-store.js';
import { faulty } from '../helpers/faulty-store.js';
import { close, Jar, listen } from '../helpers/http.js';

declare module 'express-session' {
  interface SessionData {
    [key: string]: unknown;
  }
}

const SECRET = 'express-session-test-secret-0123456789abcdef';
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function start(sessionStore: ExpressSessionStore, name: string) {
  const app = express();
  app.use(
    session({
      store: sessionStore,
      secret: SECRET,
      resave: false,
      saveUninitialized: false,
      cookie: { maxAge: 3_600_000 },
    }),
  );
  app.get('/state', (req, res) => {
    const { cookie: _cookie, ...data } = req.session;
    res.json({ instance: name, data });
  });
  app.get('/probe', (req, res) => {
    res.json({ admin: req.session.admin ?? null });
  });
  app.post('/set', async (req, res) => {
    const q = req.query as Record<string, string>;
    if (q.delay) await sleep(Number(q.delay));
    req.session[q.key!] = q.value;
    res.json({ ok: true });
  });
  app.post('/login', (req, res, next) => {
    req.session.regenerate((err) => {
      if (err) return next(err);
      req.session.userId = String(req.query.user);
      res.json({ ok: true });
    });
  });
  app.post('/logout', (req, res, next) => {
    req.session.destroy((err) => (err ? next(err) : res.json({ ok: true })));
  });
  app.use(
    (
      err: { status?: number; code?: string },
      _req: express.Request,
      res: express.Response,
      _next: express.NextFunction,
    ) => {
      res.status(err.status ?? 500).json({ code: err.code });
    },
  );
  const server = createServer(app);
  return { url: await listen(server), close: () => close(server) };
}

/** The express-session id inside its signed cookie `connect.sid=s:<sid>.<mac>`. */
function sidOf(cookie: string): string {
  return decodeURIComponent(cookie.slice('connect.sid='.length)).slice(2).split('.')[0]!;
}

describe('ExpressSessionStore: express-session on two instances over one baton store', () => {
  const store = faulty(new MemoryStore());
  let a: Awaited<ReturnType<typeof start>>;
  let b: Awaited<ReturnType<typeof start>>;
  before(async () => {
    a = await start(new ExpressSessionStore(store), 'A');
    b = await start(new ExpressSessionStore(store), 'B');
  });
  after(async () => {
    await a.close();
    await b.close();
  });

  it('a stored `__proto__` key stays data: it never becomes the prototype express-session copies from', async () => {
    const jar = new Jar();
    await jar.request(a.url, '/set?key=name&value=Jack', { method: 'POST' });
    const set: Record<string, string> = {};
    Object.defineProperty(set, '__proto__', { value: '{"admin":true}', enumerable: true, writable: true });
    const key = hashId(sidOf(jar.cookie!));
    assert.ok(await store.patch(key, { set, unset: [], expiresAt: Date.now() + 60_000 }));
    const reply = await jar.request(b.url, '/probe');
    assert.equal(reply.status, 200);
    assert.equal(reply.body.admin, null);
  });

  it('a session made on A is read on B, stored under the hashed id', async () => {
    const jar = new Jar();
    await jar.request(a.url, '/set?key=name&value=Jack', { method: 'POST' });
    assert.ok(jar.cookie?.startsWith('connect.sid='));
    const reply = await jar.request(b.url, '/state');
    assert.equal(reply.body.instance, 'B');
    assert.deepEqual(reply.body.data, { name: 'Jack' });
    const sid = sidOf(jar.cookie!);
    assert.equal(await store.get(sid), null, 'the raw id is not a key');
    assert.ok(await store.get(hashId(sid)), 'the hashed id is');
  });

  it('unchanged requests cost one read and no write while the expiry moves by less than a tenth of the lifetime', async () => {
    const jar = new Jar();
    await jar.request(a.url, '/set?key=name&value=Jack', { method: 'POST' });
    const calls = countCalls(store);
    calls.reset();
    for (let i = 0; i < 5; i++) await jar.request(i % 2 ? a.url : b.url, '/state');
    assert.deepEqual(calls.counts, { get: 5 });
    const eager = new MemoryStore();
    const c = await start(new ExpressSessionStore(eager, { touchAfter: 0 }), 'C');
    try {
      const other = new Jar();
      await other.request(c.url, '/set?key=name&value=Jack', { method: 'POST' });
      const eagerCalls = countCalls(eager);
      await sleep(5);
      await other.request(c.url, '/state');
      assert.deepEqual(
        eagerCalls.counts,
        { get: 1, patch: 1 },
        'touchAfter: 0 writes every touch (expiry and cookie)',
      );
    } finally {
      await c.close();
    }
  });

  it('20 concurrent requests setting different keys, alternating instances: all 20 kept (per-key diff)', async () => {
    const jar = new Jar();
    await jar.request(a.url, '/set?key=start&value=1', { method: 'POST' });
    const replies = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        fetch(`${i % 2 ? b.url : a.url}/set?key=k${i}&value=${i}&delay=5`, {
          method: 'POST',
          headers: { cookie: jar.cookie! },
        }),
      ),
    );
    assert.ok(replies.every((r) => r.status === 200));
    const data = (await jar.request(a.url, '/state')).body.data;
    for (let i = 0; i < 20; i++) assert.equal(data[`k${i}`], String(i), `k${i} kept`);
  });

  it('regenerate() moves to a new id and the old one finds nothing on either instance', async () => {
    const jar = new Jar();
    await jar.request(a.url, '/set?key=basket&value=rum', { method: 'POST' });
    const old = jar.cookie!;
    await jar.request(b.url, '/login?user=jack', { method: 'POST' });
    assert.notEqual(jar.cookie, old);
    assert.equal((await jar.request(a.url, '/state')).body.data.userId, 'jack');
    for (const url of [a.url, b.url]) {
      assert.deepEqual((await new Jar().request(url, '/state', { headers: { cookie: old } })).body.data, {});
    }
  });

  it('logout racing a slow write on the other instance: the session is not brought back', async () => {
    const jar = new Jar();
    await jar.request(a.url, '/set?key=user&value=u1', { method: 'POST' });
    const cookie = jar.cookie!;
    const calls = countCalls(store);
    calls.reset();
    const slow = fetch(`${a.url}/set?key=late&value=1&delay=150`, { method: 'POST', headers: { cookie } });
    // Poll until the slow request has read the session, so the logout comes between its read and its write.
    for (let i = 0; i < 1000 && !calls.counts.get; i++) await sleep(1);
    assert.equal(calls.counts.get, 1);
    const sid = sidOf(cookie);
    await jar.request(b.url, '/logout', { method: 'POST' });
    assert.equal((await slow).status, 200);
    assert.equal(await store.get(hashId(sid)), null, 'nothing written back');
    assert.deepEqual((await new Jar().request(b.url, '/state', { headers: { cookie } })).body.data, {});
  });

  it('a store outage answers 503 through Express error handling', async () => {
    const jar = new Jar();
    await jar.request(a.url, '/set?key=a&value=1', { method: 'POST' });
    store.fail(['get']);
    try {
      const reply = await jar.request(b.url, '/state');
      assert.equal(reply.status, 503);
      assert.equal(reply.body.code, 'BATON_STORE_UNAVAILABLE');
      assert.deepEqual(reply.setCookie, []);
    } finally {
      store.heal();
    }
  });
});

describe("ExpressSessionStore: express-session's store expectations", () => {
  const cookie = (maxAge: number | null) => ({
    originalMaxAge: maxAge,
    expires: maxAge === null ? null : new Date(Date.now() + maxAge).toISOString(),
    httpOnly: true,
    path: '/',
  });
  const cb = <T>(fn: (done: (err: Error | null, value?: T) => void) => void) =>
    new Promise<T | undefined>((resolve, reject) => fn((err, value) => (err ? reject(err) : resolve(value))));

  it('is a session.Store: load, createSession and regenerate are inherited', async () => {
    const s = new ExpressSessionStore(new MemoryStore());
    assert.ok(s instanceof session.Store);
    await s.set('sid-1', { cookie: cookie(60_000), n: 1 });
    const loaded = await cb<any>((done) => s.load('sid-1', done));
    assert.equal(loaded.n, 1);
    assert.equal(loaded.id, 'sid-1');
    assert.ok(loaded.cookie.expires instanceof Date);
  });

  it('get of an unknown id gives null; set then get round-trips; destroy removes', async () => {
    const s = new ExpressSessionStore(new MemoryStore());
    assert.equal(await cb((done) => s.get('nope', done)), null);
    await cb((done) => s.set('sid', { cookie: cookie(60_000), user: { name: 'ann' }, list: [1, 2] }, done));
    const got = await cb<any>((done) => s.get('sid', done));
    assert.deepEqual(got.user, { name: 'ann' });
    assert.deepEqual(got.list, [1, 2]);
    assert.equal(got.cookie.originalMaxAge, 60_000);
    await cb((done) => s.destroy('sid', done));
    assert.equal(await s.get('sid'), null);
  });

  it('expiry follows cookie.expires (plus a tenth of its lifetime), else ttl; touch moves it', async () => {
    const memory = new MemoryStore();
    const s = new ExpressSessionStore(memory, { ttl: 120, hashIds: false, keyPrefix: 'es:' });
    const t0 = Date.now();
    await s.set('a', { cookie: cookie(10_000) });
    const a = (await memory.get('es:a'))!;
    assert.ok(
      // The store clock's reading and the cookie's Date.now() may be a few ms apart.
      a.expiresAt >= t0 + 11_000 - 50 && a.expiresAt <= Date.now() + 11_000,
      'from the cookie, with grace',
    );
    await s.set('b', { cookie: cookie(null) });
    const b = (await memory.get('es:b'))!;
    assert.ok(b.expiresAt >= t0 + 120_000 && b.expiresAt <= Date.now() + 120_000, 'from ttl');
    await cb((done) => s.touch('a', { cookie: cookie(50_000) }, done));
    assert.ok((await memory.get('es:a'))!.expiresAt >= t0 + 50_000, 'touched');
  });

  it('a record past its expiry is absent even when the engine still returns it', async () => {
    const memory = new MemoryStore();
    const stale: Store = {
      ...faulty(memory),
      get: async (key) => {
        const found = await memory.get(key);
        return found && { ...found, expiresAt: Date.now() - 1 };
      },
    };
    const s = new ExpressSessionStore(stale);
    await s.set('x', { cookie: cookie(60_000), a: 1 });
    assert.equal(await s.get('x'), null);
  });

  it('absoluteLifetime caps the expiry however far the cookie reaches', async () => {
    const memory = new MemoryStore();
    const s = new ExpressSessionStore(memory, { absoluteLifetime: 60, hashIds: false });
    await s.set('x', { cookie: cookie(86_400_000) });
    const stored = (await memory.get('x'))!;
    assert.ok(stored.expiresAt <= Date.now() + 60_000);
    assert.equal(stored.expiresAt, stored.absoluteExpiresAt);
  });

  it('length, all, ids and clear cover only its keyPrefix', async () => {
    const memory = new MemoryStore();
    const other = new ExpressSessionStore(memory, { keyPrefix: 'other:' });
    await other.set('o', { cookie: cookie(60_000) });
    const s = new ExpressSessionStore(memory, { keyPrefix: 'es:', hashIds: false });
    for (const id of ['a', 'b', 'c']) await s.set(id, { cookie: cookie(60_000), who: id });
    assert.equal(await cb((done) => s.length(done)), 3);
    const all = (await cb<any[]>((done) => s.all(done)))!;
    assert.deepEqual(all.map((x) => `${x.id}=${x.who}`).sort(), ['a=a', 'b=b', 'c=c']);
    assert.deepEqual((await s.ids()).sort(), ['a', 'b', 'c']);
    await cb((done) => s.clear(done));
    assert.equal(await s.length(), 0);
    assert.equal(await other.length(), 1, 'other prefixes untouched');
  });

  it('a store without scan: length() fails with NotSupportedError through the callback', async () => {
    const inner = faulty(new MemoryStore());
    const s = new ExpressSessionStore({
      ...inner,
      capabilities: { ...inner.capabilities, scan: false },
      scan: undefined,
    });
    await assert.rejects(
      cb((done) => s.length(done)),
      { code: 'BATON_NOT_SUPPORTED' },
    );
  });

  it('a value JSON cannot write is a SessionDataError naming the key; nothing is stored', async () => {
    const memory = new MemoryStore();
    const s = new ExpressSessionStore(memory);
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    await assert.rejects(s.set('x', { cookie: cookie(60_000), cyclic }), {
      code: 'BATON_SESSION_DATA',
      message: /"cyclic"/,
    });
    await assert.rejects(s.set('x', { cookie: cookie(60_000), big: 1n }), { code: 'BATON_SESSION_DATA' });
    assert.equal(memory.size, 0);
  });

  it('userKey indexes sessions by user for "log out everywhere"', async () => {
    const memory = new MemoryStore();
    const s = new ExpressSessionStore(memory, { userKey: 'userId' });
    await s.set('one', { cookie: cookie(60_000), userId: 'ann' });
    const loaded = (await s.get('one'))!;
    loaded.userId = 'bob';
    await s.set('one', loaded);
    assert.equal((await memory.listByUser('ann')).length, 0);
    assert.equal((await memory.listByUser('bob')).length, 1);
  });

  it('bad options are ConfigErrors naming the option', () => {
    const memory = new MemoryStore();
    assert.throws(() => new ExpressSessionStore(memory, { ttl: -1 }), {
      code: 'BATON_CONFIG',
      message: /ttl/,
    });
    assert.throws(() => new ExpressSessionStore(memory, { absoluteLifetime: 0 }), {
      message: /absoluteLifetime/,
    });
    assert.throws(() => new ExpressSessionStore(undefined as never), { message: /store/ });
    const bad: Array<[string, Record<string, unknown>]> = [
      ['hashIds', { hashIds: 'yes' }],
      ['keyPrefix', { keyPrefix: 5 }],
      ['ttl', { ttl: Number.NaN }],
      ['absoluteLifetime', { absoluteLifetime: Number.POSITIVE_INFINITY }],
      ['touchAfter', { touchAfter: -1 }],
      ['userKey', { userKey: '' }],
      ['legacy.source', { legacy: { source: {} } }],
    ];
    for (const [name, options] of bad) {
      assert.throws(
        () => new ExpressSessionStore(memory, options as never),
        (err: Error & { code?: string }) => {
          assert.equal(err.code, 'BATON_CONFIG', name);
          assert.ok(err.message.includes(name), `${name}: ${err.message}`);
          return true;
        },
      );
    }
    // Edge values that are allowed: a ttl function, no absolute limit, touchAfter 0.
    new ExpressSessionStore(memory, {
      ttl: () => 60,
      absoluteLifetime: null,
      touchAfter: 0,
      keyPrefix: 'x:',
    });
  });
});

describe('ExpressSessionStore: records it did not write', () => {
  it('a record without a cookie (written by other code under the prefix) is a SessionDataError naming it, left in place', async () => {
    const memory = new MemoryStore();
    const now = Date.now();
    await memory.create(hashId('foreign'), {
      data: { a: '1' },
      createdAt: now,
      expiresAt: now + 60_000,
      absoluteExpiresAt: now + 60_000,
      version: 1,
    });
    const s = new ExpressSessionStore(memory);
    await assert.rejects(s.get('foreign'), { code: 'BATON_SESSION_DATA', key: 'cookie', status: 500 });
    await assert.rejects(s.all(), { code: 'BATON_SESSION_DATA', key: 'cookie' });
    assert.deepEqual(
      (await memory.get(hashId('foreign')))?.data,
      { a: '1' },
      'nothing deleted or overwritten',
    );
  });
});
