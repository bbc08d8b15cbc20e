import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import Koa from 'koa';
import { session } from '../../src/adapters/koa/index.js';
import type { SessionManager } from '../../src/core/manager.js';
import type { SessionOptions } from '../../src/core/options.js';
import { MemoryStore } from '../../src/stores/memory/index.js';
import { adapterSuite, SECRET } from '../helpers/adapter-suite.js';
import { faulty } from '../helpers/faulty-store.js';
import { close, Jar, listen } from '../helpers/http.js';
import { baseUrl, nodeServer, type Tls } from '../helpers/tls.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function start(options: SessionOptions | SessionManager, name: string, tls?: Tls) {
  const app = new Koa();
  app.proxy = true;
  app.silent = true;
  const middleware = session(options);
  app.use(middleware);
  app.use(async (ctx) => {
    const q = ctx.query as Record<string, string>;
    const route = `${ctx.method} ${ctx.path}`;
    if (route === 'GET /state') ctx.body = { instance: name, data: { ...ctx.session } };
    else if (route === 'POST /set') {
      if (q.delay) await sleep(Number(q.delay));
      ctx.session[q.key!] = q.value;
      ctx.body = { ok: true };
    } else if (route === 'POST /login') {
      await ctx.session.regenerate();
      ctx.session.userId = q.user;
      ctx.body = { ok: true };
    } else if (route === 'POST /logout') {
      await ctx.session.destroy();
      ctx.body = { ok: true };
    } else if (route === 'POST /hang') {
      ctx.session[q.key!] = 'hung';
      await new Promise(() => {});
    } else if (route === 'POST /boom') {
      ctx.session[q.key!] = 'lost';
      throw new Error('boom');
    }
  });
  const server = nodeServer(app.callback(), tls);
  await listen(server);
  return { url: baseUrl(server, tls), close: () => close(server), manager: middleware.manager };
}

adapterSuite('Koa', start);

describe('Koa: middleware details', () => {
  it("a store outage is thrown with status 503, so Koa's own error handling answers it", async () => {
    const store = faulty(new MemoryStore());
    const a = await start({ store, secret: SECRET }, 'A');
    try {
      store.fail(['create']);
      const reply = await new Jar().request(a.url, '/set?key=a&value=1', { method: 'POST' });
      assert.equal(reply.status, 503);
      assert.equal(reply.text, 'Service Unavailable', 'Koa hides the message of a 5xx');
      assert.deepEqual(reply.setCookie, []);
    } finally {
      await a.close();
    }
  });

  it('exposes its manager', async () => {
    const store = new MemoryStore();
    const a = await start({ store, secret: SECRET }, 'A');
    try {
      await new Jar().request(a.url, '/login?user=kim', { method: 'POST' });
      assert.equal((await a.manager.listByUser('kim')).length, 1);
    } finally {
      await a.close();
    }
  });
});
