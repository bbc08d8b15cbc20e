/**
 * The end-to-end checks for one store: two Express instances (two SessionManagers)
 * over the same store, with concurrent requests spread across both.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { hashId } from '../../src/core/ids.js';
import type { Store } from '../../src/stores/store.js';
import { makeApp } from '../helpers/express-app.js';
import { close, Jar, listen } from '../helpers/http.js';

async function cluster(options: Parameters<typeof makeApp>[0]) {
  const servers: Server[] = [];
  const urls: string[] = [];
  for (const name of ['A', 'B']) {
    const server = createServer(makeApp(options, name).app);
    servers.push(server);
    urls.push(await listen(server));
  }
  return { urls: urls as [string, string], close: () => Promise.all(servers.map(close)) };
}

export function expressClusterTests(name: string, makeStore: () => Promise<Store>): void {
  describe(`${name}: two Express instances sharing the store`, () => {
    let store: Store;
    before(async () => {
      store = await makeStore();
    });
    after(() => store?.close());

    it('merge: 50 concurrent requests setting different keys, alternating instances: 50 kept', async () => {
      const c = await cluster({ store });
      try {
        const jar = new Jar();
        await jar.request(c.urls[0], '/set', { json: { key: 'start', value: true } });
        const cookie = jar.cookie;
        assert.ok(cookie);
        const replies = await Promise.all(
          Array.from({ length: 50 }, (_, i) =>
            fetch(`${c.urls[i % 2]}/set`, {
              method: 'POST',
              headers: { cookie, 'content-type': 'application/json' },
              body: JSON.stringify({ key: `k${i}`, value: i, delayMs: 5 }),
            }),
          ),
        );
        assert.deepEqual(
          replies.map((r) => r.status),
          Array(50).fill(200),
        );
        const state = (await jar.request(c.urls[1], '/state')).body.data;
        for (let i = 0; i < 50; i++) assert.equal(state[`k${i}`], i, `k${i} kept`);
      } finally {
        await c.close();
      }
    });

    it('lock: 10 concurrent read-modify-write pushes onto one list, alternating instances: 10 kept', async () => {
      const c = await cluster({ store, concurrency: 'lock' });
      try {
        const jar = new Jar();
        await jar.request(c.urls[0], '/set', { json: { key: 'list', value: [] } });
        const cookie = jar.cookie;
        assert.ok(cookie);
        const replies = await Promise.all(
          Array.from({ length: 10 }, (_, i) =>
            fetch(`${c.urls[i % 2]}/push`, {
              method: 'POST',
              headers: { cookie, 'content-type': 'application/json' },
              body: JSON.stringify({ value: i, delayMs: 5 }),
            }),
          ),
        );
        assert.deepEqual(
          replies.map((r) => r.status),
          Array(10).fill(200),
        );
        const list = (await jar.request(c.urls[0], '/state')).body.data.list as number[];
        assert.deepEqual(
          [...list].sort((a, b) => a - b),
          Array.from({ length: 10 }, (_, i) => i),
        );
      } finally {
        await c.close();
      }
    });

    it('lock: while another holder keeps the lock, a request fails with 503 after lockWait, writes nothing, and the next one succeeds', async () => {
      const c = await cluster({ store, concurrency: 'lock', lockWait: 1 });
      try {
        const jar = new Jar();
        await jar.request(c.urls[0], '/set', { json: { key: 'list', value: ['first'] } });
        const key = hashId(jar.cookie?.slice('sid='.length).split('.')[0] ?? '');
        const holder = await store.lock?.(key, 15_000);
        assert.ok(holder, 'the test holds the lock');
        const started = Date.now();
        const waiter = await jar.request(c.urls[1], '/push', { json: { value: 'late' } });
        const waited = Date.now() - started;
        assert.equal(waiter.status, 503);
        assert.equal(waiter.body.code, 'BATON_LOCK_TIMEOUT');
        assert.ok(waited >= 900, `gave up after ${waited} ms, before lockWait`);
        assert.ok(waited < 5_000, `waited ${waited} ms: longer than lockWait allows`);
        await holder.release();
        assert.deepEqual(
          (await jar.request(c.urls[0], '/state')).body.data.list,
          ['first'],
          'nothing written',
        );
        assert.equal((await jar.request(c.urls[1], '/push', { json: { value: 'next' } })).status, 200);
        assert.deepEqual((await jar.request(c.urls[0], '/state')).body.data.list, ['first', 'next']);
      } finally {
        await c.close();
      }
    });
  });
}
