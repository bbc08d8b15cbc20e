/**
 * Redis: the per-key condition of `merge` patches (`Patch.expect`, checked inside the PATCH
 * script) and lock waiting with notifications (`waitForUnlock`, PUBLISHed by the scripts that
 * release a lock), on the real server, alone and through Express in `lock` mode.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { after, describe, it } from 'node:test';
import express from 'express';
import { Redis } from 'ioredis';
import { createClient, createClientPool } from 'redis';
import { session } from '../../src/adapters/express/index.js';
import { RedisStore } from '../../src/stores/redis/index.js';
import type { Store } from '../../src/stores/store.js';
import { newKey, record } from '../conformance/suite.js';
import { close, Jar, listen } from '../helpers/http.js';
import { needService } from '../helpers/services.js';

const [host = '127.0.0.1', port = '6379'] = (process.env.BATON_REDIS ?? '127.0.0.1:6379').split(':');
const url = `redis://${host}:${port}`;
const skip = await needService('Redis', Number(port), host);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const prefixes: string[] = [];
const stores: RedisStore[] = [];

function prefix(): string {
  const p = `baton-test-${randomBytes(5).toString('hex')}:`;
  prefixes.push(p);
  return p;
}

function open(p = prefix()): RedisStore {
  const store = new RedisStore({ url, prefix: p });
  stores.push(store);
  return store;
}

after(async () => {
  if (skip) return;
  await Promise.all(stores.map((s) => s.close()));
  const admin = createClient({ url });
  await admin.connect();
  for (const p of prefixes) {
    for await (const keys of admin.scanIterator({ MATCH: `${p}*`, COUNT: 500 })) {
      if (keys.length > 0) await admin.del(keys);
    }
  }
  await admin.close();
});

const expiresAt = () => Date.now() + 60_000;

describe('RedisStore: Patch.expect (per-key condition in the PATCH script)', { skip }, () => {
  it('refuses a patch whose expected key changed: ConflictError naming the stale keys, nothing written', async () => {
    const store = open();
    const key = newKey();
    await store.create(key, record({ data: { a: '1', b: '[2]', c: '"x"' } }));
    await assert.rejects(
      store.patch(key, {
        set: { a: '10', b: '[2,3]', d: 'true' },
        unset: ['c'],
        expiresAt: expiresAt(),
        expect: { a: '1', b: '[9]', c: '"y"', d: null },
      }),
      (err: { code?: string; staleKeys?: string[] }) => {
        assert.equal(err.code, 'BATON_CONFLICT');
        assert.deepEqual([...(err.staleKeys ?? [])].sort(), ['b', 'c']);
        return true;
      },
    );
    const stored = await store.get(key);
    assert.deepEqual(stored?.data, { a: '1', b: '[2]', c: '"x"' }, 'nothing of the patch was written');
    assert.equal(stored?.version, 1, 'the version did not move');
  });

  it('null expects the key absent: applies while it is, refused once another write added it', async () => {
    const store = open();
    const key = newKey();
    await store.create(key, record({ data: { a: '1' } }));
    assert.deepEqual(
      await store.patch(key, { set: { n: '1' }, unset: [], expiresAt: expiresAt(), expect: { n: null } }),
      { version: 2 },
    );
    await assert.rejects(
      store.patch(key, { set: { n: '2' }, unset: [], expiresAt: expiresAt(), expect: { n: null } }),
      (err: { staleKeys?: string[] }) => {
        assert.deepEqual(err.staleKeys, ['n']);
        return true;
      },
    );
    await assert.rejects(
      store.patch(key, { set: { m: '2' }, unset: [], expiresAt: expiresAt(), expect: { m: '1' } }),
      (err: { staleKeys?: string[] }) => {
        assert.deepEqual(err.staleKeys, ['m'], 'text expected where the key is absent is stale too');
        return true;
      },
    );
    assert.deepEqual((await store.get(key))?.data, { a: '1', n: '1' });
  });

  it('applies when every expected key still holds its text (unicode included), sets and unsets alike', async () => {
    const store = open();
    const key = newKey();
    await store.create(key, record({ data: { list: '["é","日本"]', gone: '{"x":1}', other: '0' } }));
    const result = await store.patch(key, {
      set: { list: '["é","日本","🍺"]' },
      unset: ['gone'],
      expiresAt: expiresAt(),
      expect: { list: '["é","日本"]', gone: '{"x":1}' },
    });
    assert.deepEqual(result, { version: 2 });
    const stored = await store.get(key);
    assert.deepEqual(stored?.data, { list: '["é","日本","🍺"]', other: '0' });
    const summary = (await store.listByUser('nobody')).length;
    assert.equal(summary, 0);
  });

  it('checks the version and the lock before the keys, and a gone session stays gone', async () => {
    const store = open();
    const key = newKey();
    await store.create(key, record({ data: { a: '1' } }));
    await assert.rejects(
      store.patch(key, {
        set: { a: '2' },
        unset: [],
        expiresAt: expiresAt(),
        expectVersion: 7,
        expect: { a: '9' },
      }),
      (err: { code?: string; staleKeys?: string[] }) =>
        err.code === 'BATON_CONFLICT' && err.staleKeys === undefined,
    );
    assert.equal(
      await store.patch(newKey(), { set: {}, unset: [], expiresAt: expiresAt(), expect: { a: null } }),
      null,
    );
  });
});

describe('RedisStore: waitForUnlock (lock releases over pub/sub)', { skip }, () => {
  it('declares lockNotify for clients that can subscribe, and not for a node-redis pool', async () => {
    assert.equal(open().capabilities.lockNotify, true);
    const io = new Redis(url, { lazyConnect: true });
    const pool = createClientPool({ url });
    try {
      assert.equal(new RedisStore({ client: io }).capabilities.lockNotify, true);
      assert.equal(new RedisStore({ client: pool }).capabilities.lockNotify, false);
    } finally {
      io.disconnect();
      await pool.close().catch(() => undefined);
    }
  });

  /** Starts waiting for `key`'s lock; `settled()` says whether the wait is over. */
  function waiting(store: Store, key: string, timeoutMs = 20_000) {
    let over = false;
    const started = Date.now();
    const done = store.waitForUnlock!(key, timeoutMs).then(() => {
      over = true;
      return Date.now() - started;
    });
    return { done, settled: () => over };
  }

  for (const [how, release] of [
    [
      'release()',
      async (_store: RedisStore, _key: string, lock: { release(): Promise<void> }) => lock.release(),
    ],
    [
      'a patch with releaseLock',
      async (store: RedisStore, key: string, lock: { token: string }) => {
        await store.patch(key, {
          set: { a: '2' },
          unset: [],
          expiresAt: expiresAt(),
          lockToken: lock.token,
          releaseLock: true,
        });
      },
    ],
    ['destroy()', async (store: RedisStore, key: string) => void (await store.destroy(key))],
  ] as const) {
    it(`wakes a waiter on another store instance when ${how} frees the lock, long before its timeout`, async () => {
      const p = prefix();
      const holder = open(p);
      const other = open(p);
      const key = newKey();
      await holder.create(key, record());
      const lock = await holder.lock(key, 30_000);
      assert.ok(lock);
      assert.equal(await other.lock(key, 30_000), null, 'held');
      // The subscription is made on the first wait; give it a moment before the release.
      const first = waiting(other, key);
      await sleep(300);
      assert.equal(first.settled(), false, 'no release yet: still waiting');
      await release(holder, key, lock);
      const waited = await first.done;
      assert.ok(waited < 10_000, `woken by the release after ${waited} ms, not by its 20 s timeout`);
    });
  }

  it('resolves after its timeout when nobody releases (an expiring lock is not announced), and only for its key', async () => {
    const p = prefix();
    const store = open(p);
    const key = newKey();
    const otherKey = newKey();
    await store.create(otherKey, record());
    const lock = await store.lock(otherKey, 30_000);
    const mine = waiting(store, key, 1_000);
    await sleep(300);
    await lock?.release();
    await sleep(200);
    assert.equal(mine.settled(), false, "another key's release does not wake it");
    const waited = await mine.done;
    assert.ok(waited >= 990, `ran to its timeout: ${waited} ms`);
  });

  it('a Redis user whose ACL denies the channel still releases, patches and destroys; waiters use their timers', async () => {
    const admin = createClient({ url });
    await admin.connect();
    const user = `baton-test-${randomBytes(4).toString('hex')}`;
    await admin.sendCommand(['ACL', 'SETUSER', user, 'on', '>pw-0123456789', '~*', 'resetchannels', '+@all']);
    const store = new RedisStore({ url: `redis://${user}:pw-0123456789@${host}:${port}`, prefix: prefix() });
    try {
      const key = newKey();
      await store.create(key, record({ data: { a: '1' } }));
      const first = await store.lock(key, 30_000);
      assert.ok(first);
      const waited = waiting(store, key, 500);
      await first.release();
      const again = await store.lock(key, 30_000);
      assert.ok(again, 'released despite the refused PUBLISH');
      const patched = await store.patch(key, {
        set: { a: '2' },
        unset: [],
        expiresAt: expiresAt(),
        lockToken: again.token,
        releaseLock: true,
      });
      assert.deepEqual(patched, { version: 2 });
      assert.ok(await store.lock(key, 30_000), 'the patch released the lock');
      assert.equal(await store.destroy(key), true);
      assert.ok((await waited.done) >= 490, 'no announcement reached it: its timer ended the wait');
    } finally {
      await store.close();
      await admin.sendCommand(['ACL', 'DELUSER', user]);
      await admin.close();
    }
  });

  it('never rejects: Redis unreachable, or the store closed while waiting', async () => {
    const down = new RedisStore({ url: 'redis://127.0.0.1:1', connectTimeoutMs: 200, commandTimeoutMs: 300 });
    await down.waitForUnlock(newKey(), 400);
    await down.close();
    const store = new RedisStore({ url, prefix: prefix() });
    const pending = store.waitForUnlock(newKey(), 20_000);
    await sleep(200);
    await store.close();
    await pending;
    await store.waitForUnlock(newKey(), 20_000);
  });
});

describe('lock mode on Redis: a waiter wakes on the release instead of polling', { skip }, () => {
  const SECRET = 'redis-notify-secret-that-is-long-enough-0123456789';

  /** The store with its lock and waitForUnlock calls counted. */
  function counted(store: Store, counts: { lock: number; wait: number }): Store {
    return new Proxy(store, {
      get(target, prop) {
        const value = Reflect.get(target, prop, target) as unknown;
        if (typeof value !== 'function') return value;
        return (...args: unknown[]) => {
          if (prop === 'lock') counts.lock++;
          if (prop === 'waitForUnlock') counts.wait++;
          return (value as (...a: unknown[]) => unknown).apply(target, args);
        };
      },
    });
  }

  async function instance(store: Store): Promise<{ url: string; server: Server }> {
    const app = express();
    app.use(express.json());
    app.use(session({ store, secret: SECRET, concurrency: 'lock', lockWait: 10, lockTtl: 30 }));
    app.post('/hold', async (req, res) => {
      req.session.held = true;
      await sleep(req.body.ms);
      res.json({ at: Date.now() });
    });
    app.post('/set', (req, res) => {
      req.session[req.body.key] = req.body.value;
      res.json({ at: Date.now() });
    });
    const server = createServer(app);
    return { url: await listen(server), server };
  }

  it('behind a 1.5 s holder on another instance: at most 5 lock calls (polling makes 8), woken through waitForUnlock', async () => {
    const p = prefix();
    const a = await instance(open(p));
    const counts = { lock: 0, wait: 0 };
    const b = await instance(counted(open(p), counts));
    try {
      const jar = new Jar();
      await jar.request(a.url, '/set', { json: { key: 'start', value: 1 } });
      const post = (base: string, path: string, body: unknown) =>
        fetch(base + path, {
          method: 'POST',
          headers: { cookie: jar.cookie!, 'content-type': 'application/json' },
          body: JSON.stringify(body),
        });
      const holder = post(a.url, '/hold', { ms: 1500 });
      await sleep(200);
      counts.lock = 0;
      const waiter = await post(b.url, '/set', { key: 'after', value: 1 });
      assert.equal(waiter.status, 200);
      assert.equal((await holder).status, 200);
      assert.ok(counts.wait >= 1, 'the waiter listened for the release');
      assert.ok(counts.lock <= 5, `lock calls of the waiter: ${counts.lock}`);
      const state = await jar.request(b.url, '/set', { json: { key: 'end', value: 1 } });
      assert.equal(state.status, 200);
    } finally {
      await Promise.all([close(a.server), close(b.server)]);
    }
  });
});
