/**
 * Memcached going away and coming back, on a memcached this file starts on a free port: calls
 * fail fast with StoreUnavailableError, then work again; sessions made before are gone (absent,
 * not errors). Also: two servers share the sessions between them by key.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { MemcacheClient } from 'memcache-client';
import { MemcachedStore } from '../../src/stores/memcached/index.js';
import { newKey, record } from '../conformance/suite.js';
import { MemcachedServer } from '../helpers/memcached-server.js';
import { freePort, hasBinary } from '../helpers/redis-servers.js';

const skip =
  !(await hasBinary('memcached')) && process.env.BATON_REQUIRE_SERVICES !== '1'
    ? 'memcached is not installed'
    : false;

describe('MemcachedStore with its own servers', { skip, timeout: 60_000 }, () => {
  const servers: MemcachedServer[] = [];
  before(async () => {
    for (let i = 0; i < 2; i++) {
      const server = new MemcachedServer(await freePort());
      servers.push(server);
      await server.start();
    }
  });
  after(async () => {
    for (const s of servers) await s.kill();
  });

  it('fails fast while the server is down and works again once it is back (sessions gone)', async () => {
    const server = servers[0] as MemcachedServer;
    const store = new MemcachedStore({ servers: [`127.0.0.1:${server.port}`] });
    try {
      const key = newKey();
      await store.create(key, record());
      await server.kill();
      for (const call of [
        () => store.get(key),
        () => store.patch(key, { set: { a: '1' }, unset: [], expiresAt: Date.now() + 60_000 }),
      ]) {
        const started = Date.now();
        await assert.rejects(call(), { code: 'BATON_STORE_UNAVAILABLE', status: 503 });
        assert.ok(Date.now() - started < 2_500, `failed within the timeouts (${Date.now() - started} ms)`);
      }
      await server.start();
      let got: unknown;
      const deadline = Date.now() + 10_000;
      for (;;) {
        try {
          got = await store.get(key);
          break;
        } catch (err) {
          if (Date.now() > deadline) throw err;
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
      }
      assert.equal(got, null, 'a restart empties Memcached: the session is absent, not an error');
      const fresh = newKey();
      await store.create(fresh, record());
      assert.ok(await store.get(fresh));
    } finally {
      await store.close();
    }
  });

  it('spreads sessions over several servers by key, each read from where it was written', async () => {
    const addresses = servers.map((s) => `127.0.0.1:${s.port}`);
    const store = new MemcachedStore({ servers: addresses, prefix: 'spread:' });
    const keys = Array.from({ length: 40 }, () => newKey());
    try {
      for (const k of keys) await store.create(k, record());
      for (const k of keys) assert.ok(await store.get(k), `read back ${k}`);
      const counts = await Promise.all(
        addresses.map(async (server) => {
          const raw = new MemcacheClient({ server });
          let n = 0;
          for (const k of keys) if (await raw.get(store.itemKey(k))) n++;
          raw.shutdown();
          return n;
        }),
      );
      assert.equal(
        counts.reduce((a, b) => a + b, 0),
        keys.length,
        'each session is on exactly one server',
      );
      assert.ok(
        counts.every((n) => n > 0),
        `both servers hold sessions: ${counts.join(', ')}`,
      );
    } finally {
      await store.close();
    }
  });
});
