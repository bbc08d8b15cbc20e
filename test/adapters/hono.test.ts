import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Hono } from 'hono';
import { session } from '../../src/adapters/hono/index.js';
import { MemoryStore } from '../../src/stores/memory/index.js';
import { adapterSuite, SECRET } from '../helpers/adapter-suite.js';
import { faulty } from '../helpers/faulty-store.js';
import { makeApp, serve } from '../helpers/hono-app.js';
import { Jar } from '../helpers/http.js';

adapterSuite('Hono', (options, name, tls) => serve(makeApp(options, name), tls));

describe('Hono: middleware details', () => {
  it("a store outage is a 503 through Hono's default error handler, JSON with the code", async () => {
    const store = faulty(new MemoryStore());
    const a = await serve(makeApp({ store, secret: SECRET }, 'A'));
    try {
      store.fail(['get', 'create']);
      const reply = await new Jar().request(a.url, '/set?key=a&value=1', { method: 'POST' });
      assert.equal(reply.status, 503);
      assert.deepEqual(reply.body, { error: 'Service Unavailable', code: 'BATON_STORE_UNAVAILABLE' });
      assert.deepEqual(reply.setCookie, []);
    } finally {
      await a.close();
    }
  });

  it('app.onError receives the error itself, with code and status', async () => {
    const store = faulty(new MemoryStore());
    const app = makeApp({ store, secret: SECRET }, 'A');
    const seen: unknown[] = [];
    app.onError((err, c) => {
      seen.push(err);
      const status = (err as { status?: number }).status ?? 500;
      return c.json({ mine: true, code: (err as { code?: string }).code }, status as 503);
    });
    const a = await serve(app);
    try {
      const jar = new Jar();
      await jar.request(a.url, '/set?key=a&value=1', { method: 'POST' });
      store.fail(['patch']);
      const reply = await jar.request(a.url, '/set?key=a&value=2', { method: 'POST' });
      assert.equal(reply.status, 503);
      assert.deepEqual(reply.body, { mine: true, code: 'BATON_STORE_UNAVAILABLE' });
      assert.deepEqual(reply.setCookie, []);
      assert.equal(seen.length, 1);
      assert.equal((seen[0] as Error).name, 'StoreUnavailableError');
    } finally {
      await a.close();
    }
  });

  it('adds the cookie to a response with immutable headers (c.redirect)', async () => {
    const a = await serve(makeApp({ store: new MemoryStore(), secret: SECRET }, 'A'));
    try {
      const res = await fetch(`${a.url}/redirect`, { redirect: 'manual' });
      assert.equal(res.status, 302);
      assert.equal(res.headers.getSetCookie().length, 1);
    } finally {
      await a.close();
    }
  });

  it('without trustProxy, X-Forwarded-Proto is ignored', async () => {
    const app = new Hono();
    app.use(session({ store: new MemoryStore(), secret: SECRET }));
    app.get('/', (c) => {
      c.get('session').a = 1;
      return c.text('ok');
    });
    const res = await app.request('http://example.test/', { headers: { 'x-forwarded-proto': 'https' } });
    assert.doesNotMatch(res.headers.getSetCookie()[0] ?? '', /Secure/);
    const direct = await app.request('https://example.test/');
    assert.match(direct.headers.getSetCookie()[0] ?? '', /; Secure/, 'an https URL is secure');
  });
});
