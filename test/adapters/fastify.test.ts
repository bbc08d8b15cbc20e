import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import Fastify from 'fastify';
import { session } from '../../src/adapters/fastify/index.js';
import { SessionManager } from '../../src/core/manager.js';
import type { SessionOptions } from '../../src/core/options.js';
import { MemoryStore } from '../../src/stores/memory/index.js';
import { adapterSuite, SECRET } from '../helpers/adapter-suite.js';
import { faulty } from '../helpers/faulty-store.js';
import { Jar } from '../helpers/http.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
type Query = Record<string, string>;

async function start(options: SessionOptions | SessionManager, name: string) {
  const app = Fastify({ trustProxy: true });
  await app.register(session, options);
  app.get('/state', async (request) => ({ instance: name, data: { ...request.session } }));
  app.post('/set', async (request) => {
    const q = request.query as Query;
    if (q.delay) await sleep(Number(q.delay));
    request.session[q.key!] = q.value;
    return { ok: true };
  });
  app.post('/login', async (request) => {
    await request.session.regenerate();
    request.session.userId = (request.query as Query).user;
    return { ok: true };
  });
  app.post('/logout', async (request) => {
    await request.session.destroy();
    return { ok: true };
  });
  app.post('/boom', async (request) => {
    request.session[(request.query as Query).key!] = 'lost';
    throw new Error('boom');
  });
  app.get('/stream', async (request, reply) => {
    request.session.streamed = true;
    reply.type('text/plain');
    return Buffer.from('streamed body');
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  return {
    app,
    url: `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`,
    close: () => app.close(),
  };
}

adapterSuite('Fastify', start);

describe('Fastify: plugin details', () => {
  it('a store outage reaches the default error handler as JSON with statusCode 503 and the code', async () => {
    const store = faulty(new MemoryStore());
    const a = await start({ store, secret: SECRET }, 'A');
    try {
      store.fail(['create']);
      const reply = await new Jar().request(a.url, '/set?key=a&value=1', { method: 'POST' });
      assert.equal(reply.status, 503);
      assert.equal(reply.body.statusCode, 503);
      assert.equal(reply.body.code, 'BATON_STORE_UNAVAILABLE');
      assert.deepEqual(reply.setCookie, []);
    } finally {
      await a.close();
    }
  });

  it('takes a SessionManager and decorates the instance with it', async () => {
    const manager = new SessionManager({ store: new MemoryStore(), secret: SECRET });
    const a = await start(manager, 'A');
    try {
      assert.equal(a.app.sessionManager, manager);
      const jar = new Jar();
      await jar.request(a.url, '/login?user=ann', { method: 'POST' });
      assert.equal((await manager.listByUser('ann')).length, 1);
    } finally {
      await a.close();
    }
  });

  it('applies app-wide: routes registered in another plugin see request.session', async () => {
    const app = Fastify();
    await app.register(session, { store: new MemoryStore(), secret: SECRET });
    await app.register(async (child) => {
      child.get('/child', async (request) => ({ has: typeof request.session.regenerate === 'function' }));
    });
    const reply = await app.inject({ method: 'GET', url: '/child' });
    assert.deepEqual(reply.json(), { has: true });
    await app.close();
  });

  it('commits a session changed by a route that returns a Buffer', async () => {
    const store = new MemoryStore();
    const a = await start({ store, secret: SECRET }, 'A');
    try {
      const jar = new Jar();
      const reply = await jar.request(a.url, '/stream');
      assert.equal(reply.text, 'streamed body');
      assert.equal(reply.setCookie.length, 1);
      assert.equal((await jar.request(a.url, '/state')).body.data.streamed, true);
    } finally {
      await a.close();
    }
  });
});
