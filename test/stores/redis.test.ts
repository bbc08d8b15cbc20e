import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { createClient } from 'redis';
import { dataSize } from '../../src/stores/kit/index.js';
import { RedisStore } from '../../src/stores/redis/index.js';
import type { Patch, Store } from '../../src/stores/store.js';
import { storeConformance } from '../../src/testing/index.js';
import { newKey, record } from '../conformance/suite.js';
import { needService } from '../helpers/services.js';

const [host = '127.0.0.1', port = '6379'] = (process.env.BATON_REDIS ?? '127.0.0.1:6379').split(':');
const url = `redis://${host}:${port}`;
const skip = await needService('Redis', Number(port), host);
const prefixes: string[] = [];

function prefix(): string {
  const p = `baton-test-${randomBytes(5).toString('hex')}:`;
  prefixes.push(p);
  return p;
}

/** Keys under `p`, with their PTTL. */
async function keysOf(p: string): Promise<Map<string, number>> {
  const admin = createClient({ url });
  await admin.connect();
  try {
    const out = new Map<string, number>();
    for await (const keys of admin.scanIterator({ MATCH: `${p}*`, COUNT: 500 })) {
      for (const k of keys) out.set(k, await admin.pTTL(k));
    }
    return out;
  } finally {
    await admin.close();
  }
}

after(async () => {
  if (skip) return;
  const admin = createClient({ url });
  await admin.connect();
  for (const p of prefixes) {
    for await (const keys of admin.scanIterator({ MATCH: `${p}*`, COUNT: 500 })) {
      if (keys.length > 0) await admin.del(keys);
    }
  }
  await admin.close();
});

const additionalTests = (getStore: () => Store) => {
  it('keeps the size that listings show equal to the data, through sets, unsets, overwrites and replace', async () => {
    const store = getStore() as RedisStore;
    const key = newKey();
    const user = `u-${randomBytes(4).toString('hex')}`;
    await store.create(key, record({ userId: user, data: { a: '"é"', b: '[1,2]' } }));
    const expiresAt = Date.now() + 60_000;
    const steps: Patch[] = [
      { set: { a: '"ééé"', c: '{"x":"日本"}' }, unset: ['b'], expiresAt },
      { set: { b: '1' }, unset: ['b', 'zz'], expiresAt },
      { set: {}, unset: ['a', 'a'], expiresAt },
      { set: { only: 'true', '🦜': '"🦜"' }, unset: [], expiresAt, replace: true },
    ];
    for (const step of steps) {
      await store.patch(key, step);
      const data = (await store.get(key))?.data ?? {};
      const [summary] = await store.listByUser(user);
      assert.equal(summary?.size, dataSize(data), `size after ${JSON.stringify(step)}`);
    }
  });

  it('creates, patches and replaces sessions of thousands of keys whole (the scripts write in slices)', async () => {
    const store = getStore() as RedisStore;
    const key = newKey();
    const user = `u-${randomBytes(4).toString('hex')}`;
    const many = (n: number, tag: string): Record<string, string> =>
      Object.fromEntries(Array.from({ length: n }, (_, i) => [`${tag}${i}`, JSON.stringify(i)]));
    const first = many(4_500, 'a');
    await store.create(key, record({ userId: user, data: first }));
    assert.deepEqual((await store.get(key))?.data, first);
    const expiresAt = Date.now() + 60_000;
    const set = many(4_100, 'b');
    const unset = Object.keys(first).slice(0, 4_200);
    const patched = await store.patch(key, { set, unset, expiresAt });
    assert.equal(patched?.version, 2);
    const expected = { ...Object.fromEntries(Object.entries(first).slice(4_200)), ...set };
    const data = (await store.get(key))?.data ?? {};
    assert.deepEqual(data, expected);
    assert.equal((await store.listByUser(user))[0]?.size, dataSize(data));
    const replaced = many(4_001, 'c');
    await store.patch(key, { set: replaced, unset: [], expiresAt, replace: true });
    assert.deepEqual((await store.get(key))?.data, replaced);
    assert.equal((await store.listByUser(user))[0]?.size, dataSize(replaced));
  });

  it('gc leaves no user-index entry behind for sessions that expired idle (no orphan keys)', async () => {
    const store = getStore() as RedisStore;
    const user = `u-${randomBytes(4).toString('hex')}`;
    const now = Date.now();
    const live = newKey();
    await store.create(newKey(), record({ userId: user, expiresAt: now + 300 }));
    await store.create(newKey(), record({ userId: user, expiresAt: now + 300 }));
    await store.create(live, record({ userId: user }));
    await new Promise((resolve) => setTimeout(resolve, 450));
    const dry = await store.gc({ dryRun: true });
    assert.ok(dry.deleted >= 2, `dry run counts the stale entries (${dry.deleted})`);
    assert.ok((await store.gc()).deleted >= 2);
    const keys = await keysOf(store.userKey(user));
    assert.equal(keys.size, 1, 'the user index is still there for the live session');
    const admin = createClient({ url });
    await admin.connect();
    try {
      assert.deepEqual(await admin.zRange(store.userKey(user), 0, -1), [live]);
    } finally {
      await admin.close();
    }
  });

  it('takes fractional times (Redis wants whole milliseconds)', async () => {
    const store = getStore();
    const key = newKey();
    const now = Date.now() + 0.25;
    await store.create(
      key,
      record({ createdAt: now, expiresAt: now + 60_000.5, absoluteExpiresAt: now + 600_000.5 }),
    );
    assert.ok(await store.patch(key, { set: { a: '1' }, unset: [], expiresAt: now + 70_000.7 }));
    assert.equal(await store.touch(key, now + 80_000.1), true);
    const lock = await store.lock?.(key, 1_000.5);
    assert.ok(lock?.session);
    await lock.release();
    assert.ok(Math.abs((await store.get(key))!.expiresAt - (now + 80_000.1)) <= 1);
  });

  it('gives every key it writes a TTL and keeps the session key as given', async () => {
    const store = getStore() as RedisStore;
    const key = newKey();
    await store.create(key, record({ userId: `u-${randomBytes(4).toString('hex')}` }));
    const keys = await keysOf(store.hashKey(key).slice(0, -(key.length + 2)));
    assert.ok(keys.has(store.hashKey(key)), 'the hash key embeds the key unchanged');
    assert.equal(store.hashKey(key), `${store.hashKey('').slice(0, -2)}{${key}}`);
    assert.ok(keys.size >= 2, 'the session hash and its user index');
    for (const [k, ttl] of keys) assert.ok(ttl > 0, `${k} has a TTL (PTTL ${ttl})`);
  });
};

describe('RedisStore on node-redis', { skip }, () => {
  const client = createClient({ url, disableOfflineQueue: true });
  after(() => client.close());
  storeConformance({
    name: 'RedisStore (node-redis)',
    create: async () => {
      if (!client.isOpen) await client.connect();
      return new RedisStore({ client, prefix: prefix() });
    },
    additionalTests,
  });
});

describe('RedisStore on ioredis', { skip }, () => {
  const client = new Redis(url, { lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 1 });
  after(() => client.quit());
  storeConformance({
    name: 'RedisStore (ioredis)',
    create: async () => {
      await client.connect();
      return new RedisStore({ client, prefix: prefix() });
    },
    additionalTests,
  });
});

describe('RedisStore from a URL', { skip }, () => {
  storeConformance({
    name: 'RedisStore (url)',
    create: async () => new RedisStore({ url: `${url}/0?prefix=${prefix()}` }),
  });

  it('keeps a passed client open on close() and closes its own', async () => {
    const client = createClient({ url });
    await client.connect();
    const store = new RedisStore({ client, prefix: prefix() });
    await store.get(newKey());
    await store.close();
    assert.equal(client.isReady, true);
    await client.close();
  });

  it('rejects bad options with ConfigError naming the option', () => {
    const code = (option: string) => (err: { code?: string; option?: string }) =>
      err.code === 'BATON_CONFIG' && err.option === option;
    assert.throws(() => new RedisStore({}), code('url'));
    assert.throws(() => new RedisStore({ url: 'http://x' }), code('url'));
    assert.throws(() => new RedisStore({ client: {} }), code('client'));
    assert.throws(() => new RedisStore({ url, prefix: 'a{b}' }), code('prefix'));
    assert.throws(() => new RedisStore({ url, maxSize: 0 }), code('maxSize'));
    assert.throws(() => new RedisStore({ url, commandTimeoutMs: -1 }), code('commandTimeoutMs'));
  });

  it('checks input before any I/O: bad input is INVALID_INPUT even while Redis is unreachable', async () => {
    const store = new RedisStore({ url: 'redis://127.0.0.1:1', connectTimeoutMs: 300 });
    await assert.rejects(store.get(''), { code: 'BATON_INVALID_INPUT' });
    await assert.rejects(store.listByUser(''), { code: 'BATON_INVALID_INPUT' });
    await assert.rejects(store.touch(newKey(), -1), { code: 'BATON_INVALID_INPUT' });
    await store.close();
  });

  it('answers StoreUnavailableError fast when nothing listens', async () => {
    const store = new RedisStore({ url: 'redis://127.0.0.1:1', connectTimeoutMs: 300 });
    const started = Date.now();
    await assert.rejects(store.get(newKey()), { code: 'BATON_STORE_UNAVAILABLE' });
    assert.ok(Date.now() - started < 1_500, `failed after ${Date.now() - started} ms`);
    await store.close();
  });
});
