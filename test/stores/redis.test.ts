import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { createClient } from 'redis';
import { RedisStore } from '../../src/stores/redis/index.js';
import type { Store } from '../../src/stores/store.js';
import { newKey, record, storeConformance } from '../conformance/suite.js';
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
  storeConformance(
    'RedisStore (node-redis)',
    async () => {
      if (!client.isOpen) await client.connect();
      return new RedisStore({ client, prefix: prefix() });
    },
    { additionalTests },
  );
});

describe('RedisStore on ioredis', { skip }, () => {
  const client = new Redis(url, { lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 1 });
  after(() => client.quit());
  storeConformance(
    'RedisStore (ioredis)',
    async () => {
      await client.connect();
      return new RedisStore({ client, prefix: prefix() });
    },
    { additionalTests },
  );
});

describe('RedisStore from a URL', { skip }, () => {
  storeConformance('RedisStore (url)', async () => new RedisStore({ url: `${url}/0?prefix=${prefix()}` }));

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

  it('answers StoreUnavailableError fast when nothing listens', async () => {
    const store = new RedisStore({ url: 'redis://127.0.0.1:1', connectTimeoutMs: 300 });
    const started = Date.now();
    await assert.rejects(store.get(newKey()), { code: 'BATON_STORE_UNAVAILABLE' });
    assert.ok(Date.now() - started < 1_500, `failed after ${Date.now() - started} ms`);
    await store.close();
  });
});
