import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import Fastify from 'fastify';
import { session } from '../../src/adapters/fastify/index.js';
import { SessionManager } from '../../src/core/manager.js';
import { MemoryStore } from '../../src/stores/memory/index.js';
import { adapterSuite, SECRET } from '../helpers/adapter-suite.js';
import { startFastify } from '../helpers/fastify-app.js';
import { faulty } from '../helpers/faulty-store.js';
import { Jar } from '../helpers/http.js';

const start = startFastify;

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
