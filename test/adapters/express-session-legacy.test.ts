/**
 * ExpressSessionStore with `legacy: { source }`: an app that keeps express-session switches the
 * store under it (connect-redis → baton's Redis store) and nobody is logged out.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { Server } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { RedisStore as ConnectRedisStore } from 'connect-redis';
import express from 'express';
import expressSession from 'express-session';
import { createClient } from 'redis';
import { ExpressSessionStore } from '../../src/adapters/express-session/index.js';
import { connectRedis } from '../../src/legacy/index.js';
import { RedisStore } from '../../src/stores/redis/index.js';
import { close, listen } from '../helpers/http.js';
import { needService } from '../helpers/services.js';

const [host = '127.0.0.1', port = '6379'] = (process.env.BATON_REDIS ?? '127.0.0.1:6379').split(':');
const skip = await needService('Redis', Number(port), host);
const SECRET = 'the express-session secret both apps share';

function app(store: expressSession.Store) {
  const a = express();
  a.use(express.json());
  a.use(
    expressSession({
      store,
      secret: SECRET,
      resave: false,
      saveUninitialized: false,
      cookie: { maxAge: 3_600_000 },
    }),
  );
  a.post('/login', (req, res) => {
    (req.session as any).passport = { user: req.body.user };
    (req.session as any).basket = ['apple'];
    res.json({ ok: true });
  });
  a.post('/set', (req, res) => {
    (req.session as any)[req.body.key] = req.body.value;
    res.json({ ok: true });
  });
  a.get('/state', (req, res) => {
    const { cookie: _cookie, ...data } = req.session as any;
    res.json(data);
  });
  a.post('/logout', (req, res) => req.session.destroy(() => res.json({ ok: true })));
  return a;
}

async function send(base: string, path: string, cookie: string, json?: unknown) {
  const res = await fetch(base + path, {
    method: json === undefined ? 'GET' : 'POST',
    headers: { cookie, ...(json === undefined ? {} : { 'content-type': 'application/json' }) },
    body: json === undefined ? undefined : JSON.stringify(json),
  });
  return { status: res.status, body: await res.json(), setCookie: res.headers.getSetCookie() };
}

describe('ExpressSessionStore with legacy: { source }', { skip, timeout: 60_000 }, () => {
  const tag = randomBytes(5).toString('hex');
  const client = createClient({ url: `redis://${host}:${port}` });
  const legacyPrefix = `legacy-es-${tag}:`;
  let store: RedisStore;
  let oldServer: Server;
  let newServer: Server;
  let oldUrl: string;
  let newUrl: string;

  before(async () => {
    await client.connect();
    store = new RedisStore({ client, prefix: `baton-es-${tag}:` });
    oldServer = app(new ConnectRedisStore({ client, prefix: legacyPrefix })).listen(0, '127.0.0.1');
    oldUrl = await listen(oldServer);
    const switched = new ExpressSessionStore(store, {
      userKey: 'passport.user',
      legacy: { source: connectRedis({ client, prefix: legacyPrefix }) },
    });
    newServer = app(switched as unknown as expressSession.Store).listen(0, '127.0.0.1');
    newUrl = await listen(newServer);
  });

  after(async () => {
    if (newServer) await close(newServer);
    if (oldServer) await close(oldServer);
    if (!client.isOpen) return;
    for await (const keys of client.scanIterator({ MATCH: `*-es-${tag}:*`, COUNT: 500 })) {
      if (keys.length > 0) await client.del(keys);
    }
    await client.close();
  });

  async function login(user: string): Promise<string> {
    const res = await fetch(`${oldUrl}/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ user }),
    });
    const cookie = res.headers.getSetCookie()[0]?.split(';')[0];
    assert.ok(cookie);
    return cookie;
  }

  it('serves the old session under the same cookie; concurrent first requests keep every change', async () => {
    const cookie = await login('u-es-1');
    const replies = await Promise.all(
      Array.from({ length: 20 }, (_, i) => send(newUrl, '/set', cookie, { key: `k${i}`, value: i })),
    );
    for (const r of replies) assert.equal(r.status, 200);
    const state = await send(newUrl, '/state', cookie);
    assert.deepEqual(state.body.passport, { user: 'u-es-1' });
    assert.deepEqual(state.body.basket, ['apple']);
    for (let i = 0; i < 20; i++) assert.equal(state.body[`k${i}`], i, `change ${i} kept`);
    assert.equal((await store.listByUser('u-es-1')).length, 1);
  });

  it('after logout the old record is never read again', async () => {
    const cookie = await login('u-es-2');
    assert.deepEqual((await send(newUrl, '/state', cookie)).body.basket, ['apple']);
    await send(newUrl, '/logout', cookie, {});
    const after = await send(newUrl, '/state', cookie);
    assert.equal(after.body.basket, undefined);
    assert.equal((await store.listByUser('u-es-2')).length, 0);
  });
});
