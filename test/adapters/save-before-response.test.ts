/**
 * CONC-11 (save before response) on Express, Fastify, Koa, Hono and the Web-standard handler over
 * real engines; the express-session drop-in is in save-before-response-express-session.test.ts.
 * A control shows the test catches a write that lands after the response.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { createAdaptorServer } from '@hono/node-server';
import express from 'express';
import Fastify from 'fastify';
import { Hono } from 'hono';
import Koa from 'koa';
import { createClient } from 'redis';
import { session as expressSession } from '../../src/adapters/express/index.js';
import { session as fastifySession } from '../../src/adapters/fastify/index.js';
import { session as honoSession } from '../../src/adapters/hono/index.js';
import { session as koaSession } from '../../src/adapters/koa/index.js';
import { createSessions } from '../../src/adapters/web/index.js';
import { isMarkerKey } from '../../src/core/moves.js';
import { RedisStore } from '../../src/stores/redis/index.js';
import type { Store } from '../../src/stores/store.js';
import { close, listen } from '../helpers/http.js';
import {
  type LoginApp,
  loginPairs,
  SECRET,
  type StartLoginApp,
  saveBeforeResponseSuite,
} from '../helpers/save-before-response.js';
import { needService } from '../helpers/services.js';

async function serveNode(server: Server): Promise<LoginApp> {
  return { url: await listen(server), close: () => close(server) };
}

const startExpress: StartLoginApp = async (store) => {
  const app = express();
  app.use(expressSession({ store, secret: SECRET }));
  app.post('/cart', (req, res) => {
    req.session.cart = req.query.item;
    res.json({ ok: true });
  });
  app.post('/login', async (req, res) => {
    await req.session.regenerate();
    req.session.userId = req.query.user;
    res.redirect(302, '/state');
  });
  app.get('/state', (req, res) => {
    res.json({ data: { ...req.session } });
  });
  return serveNode(createServer(app));
};

const startFastify: StartLoginApp = async (store) => {
  const app = Fastify();
  await app.register(fastifySession, { store, secret: SECRET });
  app.post('/cart', async (request) => {
    request.session.cart = (request.query as Record<string, string>).item;
    return { ok: true };
  });
  app.post('/login', async (request, reply) => {
    await request.session.regenerate();
    request.session.userId = (request.query as Record<string, string>).user;
    return reply.redirect('/state', 302);
  });
  app.get('/state', async (request) => ({ data: { ...request.session } }));
  const url = await app.listen({ port: 0, host: '127.0.0.1' });
  return { url, close: () => app.close() };
};

const startKoa: StartLoginApp = async (store) => {
  const app = new Koa();
  app.silent = true;
  app.use(koaSession({ store, secret: SECRET }));
  app.use(async (ctx) => {
    const q = ctx.query as Record<string, string>;
    const route = `${ctx.method} ${ctx.path}`;
    if (route === 'POST /cart') {
      ctx.session.cart = q.item;
      ctx.body = { ok: true };
    } else if (route === 'POST /login') {
      await ctx.session.regenerate();
      ctx.session.userId = q.user;
      ctx.redirect('/state');
    } else if (route === 'GET /state') ctx.body = { data: { ...ctx.session } };
  });
  return serveNode(createServer(app.callback()));
};

const startHono: StartLoginApp = async (store) => {
  const app = new Hono();
  app.use(honoSession({ store, secret: SECRET }));
  app.post('/cart', (c) => {
    c.get('session').cart = c.req.query('item');
    return c.json({ ok: true });
  });
  app.post('/login', async (c) => {
    const s = c.get('session');
    await s.regenerate();
    s.userId = c.req.query('user');
    return c.redirect('/state', 302);
  });
  app.get('/state', (c) => c.json({ data: { ...c.get('session') } }));
  return serveNode(createAdaptorServer({ fetch: app.fetch }) as Server);
};

const startWeb: StartLoginApp = async (store) => {
  const sessions = createSessions({ store, secret: SECRET });
  const handler = sessions.withSession(async (request, session) => {
    const url = new URL(request.url);
    const route = `${request.method} ${url.pathname}`;
    if (route === 'POST /cart') {
      session.cart = url.searchParams.get('item');
      return Response.json({ ok: true });
    }
    if (route === 'POST /login') {
      await session.regenerate();
      session.userId = url.searchParams.get('user');
      return Response.redirect(new URL('/state', url), 302);
    }
    if (route === 'GET /state') return Response.json({ data: { ...session } });
    return new Response('not found', { status: 404 });
  });
  return serveNode(createAdaptorServer({ fetch: handler }) as Server);
};

await saveBeforeResponseSuite('Express', startExpress);
await saveBeforeResponseSuite('Fastify', startFastify);
await saveBeforeResponseSuite('Koa', startKoa);
await saveBeforeResponseSuite('Hono', startHono);
await saveBeforeResponseSuite('Web', startWeb);

/**
 * The control: a store that acknowledges a write 20 ms before the write lands, so the response
 * leaves before the session is stored. The same pairs must catch it.
 */
function acknowledgesEarly(inner: Store): Store {
  const late = <T>(write: () => Promise<T>, value: T): Promise<T> => {
    // Lands well after the response: a login now reads its marker back after creating the session, so a
    // landing only 20 ms late would often beat the follow-up and the control would prove nothing.
    const landed = new Promise((resolve) => setTimeout(resolve, 250)).then(write);
    landed.catch(() => {});
    return Promise.resolve(value);
  };
  return {
    name: inner.name,
    limits: inner.limits,
    capabilities: { ...inner.capabilities, lock: false, userIndex: false, scan: false, gc: false },
    get: (key) => inner.get(key),
    // Only the session's own writes land late: the markers a regenerate leaves (logout wins) are
    // written and read back within the login, which a store that loses its own writes would break.
    create: (key, s) =>
      isMarkerKey(key) ? inner.create(key, s) : late(() => inner.create(key, s), undefined),
    patch: (key, p) => late(() => inner.patch(key, p), { version: 1 }),
    touch: (key, at) => inner.touch(key, at),
    destroy: (key) => inner.destroy(key),
    onOperation: (listener) => inner.onOperation(listener),
    close: () => new Promise((resolve) => setTimeout(resolve, 50)).then(() => inner.close()),
  };
}

const redisSkip = await needService('Redis', 6379);

describe('CONC-11 control: a write that lands after the response', { skip: redisSkip }, () => {
  const prefix = `baton-sbr-control-${process.pid}:`;
  const apps: LoginApp[] = [];
  const stores: Store[] = [];
  before(async () => {
    for (const name of ['A', 'B']) {
      const store = acknowledgesEarly(new RedisStore({ url: 'redis://127.0.0.1:6379', prefix }));
      stores.push(store);
      apps.push(await startExpress(store, name));
    }
  });
  after(async () => {
    await Promise.all(apps.map((app) => app.close()));
    await Promise.all(stores.map((store) => store.close()));
    const admin = createClient({ url: 'redis://127.0.0.1:6379' });
    await admin.connect();
    for await (const keys of admin.scanIterator({ MATCH: `${prefix}*`, COUNT: 500 })) {
      if (keys.length > 0) await admin.del(keys);
    }
    await admin.close();
  });

  it('is caught: most follow-ups miss the login', async (t) => {
    const [a, b] = apps as [LoginApp, LoginApp];
    const result = await loginPairs(a.url, b.url, 40);
    t.diagnostic(`control: ${result.seen} of ${result.runs} follow-ups saw the login`);
    assert.ok(result.missed.length > result.runs / 2, `${result.missed.length} of ${result.runs} missed`);
  });
});
