import assert from 'node:assert/strict';
import { createServer, IncomingMessage, type Server } from 'node:http';
import { after, before, describe, it } from 'node:test';
import express from 'express';
import { session } from '../../src/adapters/express/index.js';
import { hashId } from '../../src/core/ids.js';
import { MemoryStore } from '../../src/stores/memory/index.js';
import type { Store } from '../../src/stores/store.js';
import { countCalls } from '../helpers/counting-store.js';
import { makeApp, SECRET } from '../helpers/express-app.js';
import { close, Jar, listen } from '../helpers/http.js';

async function cluster(store: Store, options: Parameters<typeof makeApp>[0] = { store }) {
  const servers: Server[] = [];
  const urls: string[] = [];
  for (const name of ['A', 'B']) {
    const { app } = makeApp({ ...options, store }, name);
    const server = createServer(app);
    servers.push(server);
    urls.push(await listen(server));
  }
  return { urls, close: () => Promise.all(servers.map(close)) };
}

describe('Express middleware over one shared store, two instances', () => {
  const store = new MemoryStore();
  let c: Awaited<ReturnType<typeof cluster>>;
  before(async () => {
    c = await cluster(store);
  });
  after(() => c.close());

  it('a session made on instance A is read on instance B', async () => {
    const jar = new Jar();
    const [a, b] = c.urls as [string, string];
    await jar.request(a, '/set', { json: { key: 'name', value: 'Jack Sparrow' } });
    assert.ok(jar.cookie, 'a cookie was set');
    const reply = await jar.request(b, '/state');
    assert.equal(reply.body.instance, 'B');
    assert.equal(reply.body.data.name, 'Jack Sparrow');
  });

  it('sets an HttpOnly, SameSite=Lax cookie with Path=/ and no-store caching', async () => {
    const jar = new Jar();
    const reply = await jar.request(c.urls[0]!, '/set', { json: { key: 'a', value: 1 } });
    const cookie = reply.setCookie[0] ?? '';
    assert.match(cookie, /^sid=[A-Za-z0-9_-]{43}\.[A-Za-z0-9_-]{43};/);
    assert.match(cookie, /HttpOnly/);
    assert.match(cookie, /SameSite=Lax/);
    assert.match(cookie, /Path=\//);
    assert.match(cookie, /Max-Age=86400/);
    assert.doesNotMatch(cookie, /Secure/, 'plain http: no Secure under secure: auto');
    assert.equal(reply.headers.get('cache-control'), 'no-store');
  });

  it('keeps all 50 concurrent requests, alternating instances, each setting a different key (merge)', async () => {
    const jar = new Jar();
    await jar.request(c.urls[0]!, '/set', { json: { key: 'start', value: true } });
    const cookie = jar.cookie!;
    const replies = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        fetch(`${c.urls[i % 2]}/set`, {
          method: 'POST',
          headers: { cookie, 'content-type': 'application/json' },
          body: JSON.stringify({ key: `k${i}`, value: i, delayMs: 5 }),
        }),
      ),
    );
    assert.ok(replies.every((r) => r.status === 200));
    const state = (await jar.request(c.urls[1]!, '/state')).body.data;
    for (let i = 0; i < 50; i++) assert.equal(state[`k${i}`], i, `k${i} kept`);
  });

  it('nested mutation (basket.push) counts as a change', async () => {
    const jar = new Jar();
    await jar.request(c.urls[0]!, '/basket', { json: { item: 'rum' } });
    await jar.request(c.urls[1]!, '/basket', { json: { item: 'map' } });
    assert.deepEqual((await jar.request(c.urls[0]!, '/state')).body.data.basket, ['rum', 'map']);
  });

  it('a forged or unsigned cookie costs no store read and gets an empty session, no error', async () => {
    const jar = new Jar();
    await jar.request(c.urls[0]!, '/set', { json: { key: 'secret', value: 'mine' } });
    const [id, mac] = jar.cookie!.slice('sid='.length).split('.') as [string, string];
    const forged = [
      `sid=${id}`,
      `sid=${id}.${mac.slice(0, -2)}AA`,
      `sid=${id}.${'A'.repeat(43)}`,
      'sid=../../etc/passwd',
      `sid=${'x'.repeat(9000)}`,
      'sid=%E0%A4%A',
    ];
    const calls = countCalls(store);
    for (const cookie of forged) {
      calls.reset();
      const reply = await new Jar().request(c.urls[1]!, '/state', { headers: { cookie } });
      assert.equal(reply.status, 200);
      assert.deepEqual(reply.body.data, {}, 'an empty session');
      assert.equal(calls.total(), 0, `no store call for ${cookie.slice(0, 30)}`);
    }
  });

  it('the key given to the store is never the cookie id', async () => {
    const keys: string[] = [];
    const spy = new MemoryStore();
    const origCreate = spy.create.bind(spy);
    spy.create = (key, s) => {
      keys.push(key);
      return origCreate(key, s);
    };
    const c2 = await cluster(spy);
    try {
      const jar = new Jar();
      await jar.request(c2.urls[0]!, '/set', { json: { key: 'a', value: 1 } });
      const id = jar.cookie!.slice('sid='.length).split('.')[0]!;
      assert.equal(keys.length, 1);
      assert.notEqual(keys[0], id);
      assert.ok(!keys[0]!.includes(id));
      assert.equal(keys[0], hashId(id));
    } finally {
      await c2.close();
    }
  });

  it('logout racing a slow request that writes: the session stays gone', async () => {
    const jar = new Jar();
    await jar.request(c.urls[0]!, '/set', { json: { key: 'user', value: 'u1' } });
    const cookie = jar.cookie!;
    const slow = fetch(`${c.urls[0]}/set`, {
      method: 'POST',
      headers: { cookie, 'content-type': 'application/json' },
      body: JSON.stringify({ key: 'late', value: true, delayMs: 200 }),
    });
    await new Promise((r) => setTimeout(r, 50));
    const logout = await jar.request(c.urls[1]!, '/logout', { method: 'POST' });
    assert.equal(logout.status, 200);
    assert.match(logout.setCookie[0] ?? '', /Max-Age=0/);
    const slowReply = await slow;
    assert.equal(slowReply.status, 200);
    const replay = await new Jar().request(c.urls[1]!, '/state', { headers: { cookie } });
    assert.deepEqual(replay.body.data, {}, 'the old cookie finds nothing');
    const key = hashId(cookie.slice('sid='.length).split('.')[0]!);
    assert.equal(await store.get(key), null, 'nothing written back');
  });

  it('five unchanged requests inside touchAfter cause zero writes', async () => {
    const jar = new Jar();
    await jar.request(c.urls[0]!, '/set', { json: { key: 'a', value: 1 } });
    const calls = countCalls(store);
    calls.reset();
    for (let i = 0; i < 5; i++) {
      const reply = await jar.request(c.urls[i % 2]!, '/state');
      assert.equal(reply.setCookie.length, 0, 'no cookie re-sent');
    }
    assert.equal(calls.counts.get, 5, 'one read per request');
    assert.equal(calls.total(), 5, 'and no write');
  });

  it('a BigInt or circular value is a 500 SessionDataError and the stored session is unchanged', async () => {
    const jar = new Jar();
    await jar.request(c.urls[0]!, '/set', { json: { key: 'keep', value: 'me' } });
    const key = hashId(jar.cookie!.slice('sid='.length).split('.')[0]!);
    const before = await store.get(key);
    for (const kind of ['bigint', 'cycle']) {
      const reply = await jar.request(c.urls[1]!, '/bad', { json: { kind } });
      assert.equal(reply.status, 500);
      assert.equal(reply.body.code, 'BATON_SESSION_DATA');
      assert.match(reply.body.message, kind === 'bigint' ? /"big".*BigInt/ : /"cycle".*circular/);
    }
    assert.deepEqual(await store.get(key), before);
  });

  it('regenerate() issues a new id and the old one stops working at once', async () => {
    const jar = new Jar();
    await jar.request(c.urls[0]!, '/set', { json: { key: 'basket', value: ['rum'] } });
    const before = jar.cookie!;
    await jar.request(c.urls[1]!, '/login', { json: { user: 'jack' } });
    assert.notEqual(jar.cookie, before);
    const state = (await jar.request(c.urls[0]!, '/state')).body.data;
    assert.deepEqual(state, { basket: ['rum'], userId: 'jack' }, 'data kept under the new id');
    const old = await new Jar().request(c.urls[0]!, '/state', { headers: { cookie: before } });
    assert.deepEqual(old.body.data, {});
    assert.equal((await store.listByUser('jack')).length, 1, 'indexed by user');
  });

  it('an explicit save() then a change writes the change at the end, once', async () => {
    const jar = new Jar();
    await jar.request(c.urls[0]!, '/set', { json: { key: 'a', value: 1 } });
    const calls = countCalls(store);
    calls.reset();
    await jar.request(c.urls[0]!, '/save-then-set', { method: 'POST' });
    assert.equal(calls.counts.patch, 2, 'one patch for save(), one for the later change');
    const state = (await jar.request(c.urls[1]!, '/state')).body.data;
    assert.equal(state.first, 1);
    assert.equal(state.second, 2);
  });

  it('a first visit that stores nothing sets no cookie and writes nothing', async () => {
    const calls = countCalls(store);
    calls.reset();
    const reply = await new Jar().request(c.urls[0]!, '/state');
    assert.equal(reply.setCookie.length, 0);
    assert.equal(calls.total(), 0);
  });
});

describe('Express middleware: concurrency modes', () => {
  it('lock: 20 concurrent read-modify-write pushes onto one array are all kept', async () => {
    const store = new MemoryStore();
    const c = await cluster(store, { store, concurrency: 'lock' });
    try {
      const jar = new Jar();
      await jar.request(c.urls[0]!, '/set', { json: { key: 'list', value: [] } });
      const cookie = jar.cookie!;
      const replies = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          fetch(`${c.urls[i % 2]}/push`, {
            method: 'POST',
            headers: { cookie, 'content-type': 'application/json' },
            body: JSON.stringify({ value: i, delayMs: 2 }),
          }),
        ),
      );
      assert.ok(replies.every((r) => r.status === 200));
      const list = (await jar.request(c.urls[0]!, '/state')).body.data.list as number[];
      assert.equal(list.length, 20);
      assert.deepEqual(
        [...list].sort((a, b) => a - b),
        Array.from({ length: 20 }, (_, i) => i),
      );
    } finally {
      await c.close();
    }
  });

  it('lock: a waiter past lockWait gets 503 LockTimeoutError', async () => {
    const store = new MemoryStore();
    const c = await cluster(store, { store, concurrency: 'lock', lockWait: 0.2 });
    try {
      const jar = new Jar();
      await jar.request(c.urls[0]!, '/set', { json: { key: 'list', value: [] } });
      const cookie = jar.cookie!;
      const holder = fetch(`${c.urls[0]}/push`, {
        method: 'POST',
        headers: { cookie, 'content-type': 'application/json' },
        body: JSON.stringify({ value: 'slow', delayMs: 600 }),
      });
      await new Promise((r) => setTimeout(r, 50));
      const waiter = await jar.request(c.urls[1]!, '/push', { json: { value: 'fast' } });
      assert.equal(waiter.status, 503);
      assert.equal(waiter.body.code, 'BATON_LOCK_TIMEOUT');
      assert.equal((await holder).status, 200, "the holder's commit still succeeds");
      assert.deepEqual((await jar.request(c.urls[0]!, '/state')).body.data.list, ['slow']);
    } finally {
      await c.close();
    }
  });

  it('strict: a conflicting write is refused with 409 and nothing is silently lost', async () => {
    const store = new MemoryStore();
    const c = await cluster(store, { store, concurrency: 'strict' });
    try {
      const jar = new Jar();
      await jar.request(c.urls[0]!, '/set', { json: { key: 'list', value: [] } });
      const cookie = jar.cookie!;
      const replies = await Promise.all(
        Array.from({ length: 10 }, (_, i) =>
          fetch(`${c.urls[i % 2]}/push`, {
            method: 'POST',
            headers: { cookie, 'content-type': 'application/json' },
            body: JSON.stringify({ value: i, delayMs: 20 }),
          }),
        ),
      );
      const ok = replies.filter((r) => r.status === 200).length;
      const conflicts = replies.filter((r) => r.status === 409).length;
      assert.equal(ok + conflicts, 10);
      assert.ok(conflicts >= 1, 'the race was lost by someone, and said so');
      const list = (await jar.request(c.urls[0]!, '/state')).body.data.list as number[];
      assert.equal(list.length, ok, 'every 200 is in the list; every lost race answered 409');
    } finally {
      await c.close();
    }
  });

  it('overwrite: whole-document last writer wins', async () => {
    const store = new MemoryStore();
    const c = await cluster(store, { store, concurrency: 'overwrite' });
    try {
      const jar = new Jar();
      await jar.request(c.urls[0]!, '/set', { json: { key: 'a', value: 1 } });
      const cookie = jar.cookie!;
      await Promise.all([
        fetch(`${c.urls[0]}/set`, {
          method: 'POST',
          headers: { cookie, 'content-type': 'application/json' },
          body: JSON.stringify({ key: 'x', value: 1, delayMs: 10 }),
        }),
        fetch(`${c.urls[1]}/set`, {
          method: 'POST',
          headers: { cookie, 'content-type': 'application/json' },
          body: JSON.stringify({ key: 'y', value: 1, delayMs: 60 }),
        }),
      ]);
      const data = (await jar.request(c.urls[0]!, '/state')).body.data;
      assert.equal(data.y, 1);
      assert.equal(data.x, undefined, 'the earlier writer was overwritten, as documented');
    } finally {
      await c.close();
    }
  });
});

describe('Express middleware: store outage', () => {
  it('answers 503 through next(err) and never hands out a fresh session', async () => {
    const store = new MemoryStore();
    const c = await cluster(store);
    try {
      const jar = new Jar();
      await jar.request(c.urls[0]!, '/set', { json: { key: 'a', value: 1 } });
      const cookie = jar.cookie;
      const realGet = store.get.bind(store);
      store.get = () =>
        Promise.reject(
          Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' }),
        );
      const reply = await jar.request(c.urls[1]!, '/state');
      assert.equal(reply.status, 503);
      assert.equal(reply.body.code, 'BATON_STORE_UNAVAILABLE');
      assert.equal(reply.setCookie.length, 0, 'the cookie is neither replaced nor cleared');
      assert.equal(jar.cookie, cookie);
      store.get = realGet;
      assert.equal((await jar.request(c.urls[1]!, '/state')).body.data.a, 1, 'back when the store is');
    } finally {
      await c.close();
    }
  });
});

describe('Express middleware: renewal', () => {
  it('renews the id after the interval; a request with the old cookie within grace gets the session and the new cookie', async () => {
    const store = new MemoryStore();
    const c = await cluster(store, { store, renewal: { interval: 0.3, grace: 0.3 } });
    try {
      const [a, b] = c.urls as [string, string];
      const jar = new Jar();
      await jar.request(a, '/set', { json: { key: 'cart', value: ['apple'] } });
      const old = jar.cookie as string;
      await new Promise((resolve) => setTimeout(resolve, 320));
      const renewed = await jar.request(b, '/state');
      assert.equal(renewed.setCookie.length, 1, 'the renewal sets the new cookie');
      assert.equal(renewed.headers.get('cache-control'), 'no-store');
      assert.notEqual(jar.cookie, old);
      assert.deepEqual(renewed.body.data.cart, ['apple']);
      const straggler = new Jar();
      straggler.cookie = old;
      const inGrace = await straggler.request(a, '/set', { json: { key: 'more', value: 1 } });
      assert.equal(inGrace.status, 200);
      assert.equal(straggler.cookie, jar.cookie, 'the old cookie is swapped for the new one');
      assert.equal((await jar.request(a, '/state')).body.data.more, 1, 'its write reached the session');
      await new Promise((resolve) => setTimeout(resolve, 320));
      const late = new Jar();
      late.cookie = old;
      const after = await late.request(b, '/state');
      assert.deepEqual(after.body.data, {}, 'after the grace window the old cookie gets no session');
      assert.equal(late.cookie, undefined, 'and is cleared');
    } finally {
      await c.close();
    }
  });
});

describe('Express middleware: req.sessionID and held output', () => {
  const store = new MemoryStore();
  const middleware = session({ store, secret: SECRET });
  const servers: Server[] = [];
  after(() => Promise.all(servers.map(close)));

  function routes(app: express.Express) {
    app.get('/id', (req, res) => {
      res.json({ sessionID: req.sessionID, id: req.session.id });
    });
    app.post('/login', async (req, res) => {
      const before = req.sessionID;
      await req.session.regenerate();
      req.session.user = 'ada';
      res.json({ before, after: req.sessionID, id: req.session.id });
    });
    app.get('/data', (req, res) => {
      res.json({ ...req.session });
    });
    app.get('/stream', (req, res) => {
      req.session.streamed = true;
      res.flushHeaders();
      res.write('one,');
      setTimeout(() => res.end('two'), 20);
    });
  }

  async function serve(app: express.Express): Promise<string> {
    const server = createServer(app);
    servers.push(server);
    return listen(server);
  }

  it('req.sessionID is the session id and follows regenerate(), in the app and in a mounted app', async () => {
    const app = express();
    app.use(middleware);
    routes(app);
    const sub = express();
    routes(sub);
    app.use('/sub', sub);
    const base = await serve(app);
    for (const prefix of ['', '/sub']) {
      const jar = new Jar();
      const first = await jar.request(base, `${prefix}/id`);
      assert.equal(typeof first.body.sessionID, 'string');
      assert.equal(first.body.sessionID, first.body.id);
      const login = await jar.request(base, `${prefix}/login`, { method: 'POST' });
      assert.notEqual(login.body.before, login.body.after, 'regenerate() gives a new id');
      assert.equal(login.body.after, login.body.id, 'sessionID follows the session');
      const again = await jar.request(base, `${prefix}/id`);
      assert.equal(again.body.sessionID, login.body.after);
    }
  });

  it('req.sessionID on a plain node:http server (no Express prototype)', async () => {
    const server = createServer((req, res) => {
      middleware(req, res, (err?: unknown) => {
        const r = req as unknown as { sessionID: string; session: { id: string } };
        res.end(JSON.stringify({ err: err ? String(err) : null, sessionID: r.sessionID, id: r.session.id }));
      });
    });
    servers.push(server);
    const reply = await new Jar().request(await listen(server), '/');
    assert.equal(reply.body.err, null);
    assert.equal(reply.body.sessionID, reply.body.id);
    assert.equal(Object.hasOwn(IncomingMessage.prototype, 'sessionID'), false, "Node's prototype untouched");
  });

  it('a middleware that wraps res.end on the response (as compression does), before or after: still held', async () => {
    for (const order of ['before', 'after'] as const) {
      const app = express();
      const wrap: express.RequestHandler = (_req, res, next) => {
        const end = res.end;
        res.end = function (this: express.Response, ...args: unknown[]) {
          res.setHeader('x-wrapped', 'yes');
          return (end as (...a: unknown[]) => express.Response).apply(this, args);
        } as express.Response['end'];
        next();
      };
      if (order === 'before') app.use(wrap);
      app.use(middleware);
      if (order === 'after') app.use(wrap);
      routes(app);
      const jar = new Jar();
      const base = await serve(app);
      const login = await jar.request(base, '/login', { method: 'POST' });
      assert.equal(login.status, 200, order);
      assert.equal(login.headers.get('x-wrapped'), 'yes', order);
      assert.equal(login.setCookie.length, 1, `${order}: the cookie was set`);
      assert.equal((await jar.request(base, '/data')).body.user, 'ada', `${order}: the login was stored`);
    }
  });

  it('flushHeaders() then writes: the cookie is set, the body is whole, the change is stored', async () => {
    const app = express();
    app.use(middleware);
    routes(app);
    const jar = new Jar();
    const base = await serve(app);
    const reply = await jar.request(base, '/stream');
    assert.equal(reply.status, 200);
    assert.equal(reply.text, 'one,two');
    assert.equal(reply.setCookie.length, 1, 'the session cookie was set before the first byte');
    assert.equal((await jar.request(base, '/data')).body.streamed, true, 'the change was stored');
  });
});
