import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, describe, it } from 'node:test';
import { MemcacheClient } from 'memcache-client';
import memjs from 'memjs';
import { MemcachedStore } from '../../src/stores/memcached/index.js';
import { exptime, MAX_RELATIVE_EXPTIME } from '../../src/stores/memcached/record.js';
import type { Store } from '../../src/stores/store.js';
import { storeConformance } from '../../src/testing/index.js';
import { newKey, record } from '../conformance/suite.js';
import { needService } from '../helpers/services.js';

const server = process.env.BATON_MEMCACHED ?? '127.0.0.1:11211';
const [host = '127.0.0.1', port = '11211'] = server.split(':');
const skip = await needService('Memcached', Number(port), host);
const prefix = () => `baton-test-${randomBytes(5).toString('hex')}:`;
const DAY = 86_400_000;

describe('Memcached exptime encoding', () => {
  it('sends up to 30 days as seconds from now, rounded up, and more as an absolute Unix time', () => {
    const now = 1_800_000_000_000;
    assert.equal(exptime(now + 10_000, now), 10);
    assert.equal(exptime(now + 10_001, now), 11);
    assert.equal(exptime(now + 30 * DAY, now), MAX_RELATIVE_EXPTIME);
    assert.equal(exptime(now + 31 * DAY, now), (now + 31 * DAY) / 1000);
    assert.equal(exptime(now - 1, now), -1);
  });
});

const additionalTests = (getStore: () => Store) => {
  it('keeps a session with a 31-day lifetime (sent as an absolute time, not born expired)', async () => {
    const store = getStore();
    const key = newKey();
    const now = Date.now();
    await store.create(key, record({ expiresAt: now + 31 * DAY, absoluteExpiresAt: now + 40 * DAY }));
    assert.ok(await store.get(key), 'readable right after create');
    assert.equal(await store.touch(key, now + 35 * DAY), true);
    assert.ok(await store.get(key), 'readable after touch');
  });

  it('stores one item under prefix + key, the key unchanged', async () => {
    const store = getStore() as MemcachedStore;
    const key = newKey();
    await store.create(key, record());
    const raw = new MemcacheClient({ server });
    try {
      const item = await raw.get<string>(store.itemKey(key));
      assert.ok(item, 'the item is under prefix + key');
      assert.ok(store.itemKey(key).endsWith(key));
      assert.match(String(item.value), /"Jack Sparrow"/);
    } finally {
      raw.shutdown();
    }
  });

  it('refuses keys the text protocol cannot carry', async () => {
    const store = getStore();
    await assert.rejects(store.get('a b'), { code: 'BATON_INVALID_INPUT' });
    await assert.rejects(store.get('k'.repeat(300)), { code: 'BATON_INVALID_INPUT' });
  });

  it('declares no user index and no scan, and has no methods that would only throw', () => {
    const store = getStore();
    assert.equal(store.capabilities.userIndex, false);
    assert.equal(store.capabilities.scan, false);
    assert.equal(store.capabilities.gc, false);
    assert.equal(store.listByUser, undefined);
    assert.equal(store.scan, undefined);
    assert.equal(store.gc, undefined);
    assert.ok(Object.isFrozen(store.capabilities));
  });
};

describe('MemcachedStore', { skip }, () => {
  storeConformance({
    name: 'MemcachedStore',
    create: async () => new MemcachedStore({ servers: [server], prefix: prefix() }),
    capabilities: { lock: true, userIndex: false, scan: false, gc: false },
    additionalTests,
  });

  describe('with a client passed in', () => {
    const client = new MemcacheClient({ server });
    after(() => client.shutdown());
    storeConformance({
      name: 'MemcachedStore (memcache-client passed in)',
      create: async () => new MemcachedStore({ client, prefix: prefix() }),
      capabilities: { lock: true, userIndex: false, scan: false, gc: false },
    });
  });

  it('rejects bad options with ConfigError naming the option', () => {
    const code = (option: string) => (err: { code?: string; option?: string }) =>
      err.code === 'BATON_CONFIG' && err.option === option;
    const mj = memjs.Client.create(server);
    assert.throws(() => new MemcachedStore({ client: mj as never }), code('client'));
    mj.close();
    assert.throws(() => new MemcachedStore({ servers: [] }), code('servers'));
    assert.throws(() => new MemcachedStore({ servers: ['nope'] }), code('servers'));
    assert.throws(() => new MemcachedStore({ prefix: 'a b' }), code('prefix'));
    assert.throws(() => new MemcachedStore({ maxSize: -1 }), code('maxSize'));
  });

  it('answers StoreUnavailableError fast when nothing listens', async () => {
    const store = new MemcachedStore({ servers: ['127.0.0.1:1'], connectTimeoutMs: 300 });
    const started = Date.now();
    await assert.rejects(store.get(newKey()), { code: 'BATON_STORE_UNAVAILABLE' });
    assert.ok(Date.now() - started < 1_500, `failed after ${Date.now() - started} ms`);
    await store.close();
  });
});
