/**
 * The lean transport's credential cache: the client's provider is asked once while the identity
 * is fresh, again within the SDK's 5-minute refresh window, once for many requests at a time, and
 * again after a failed call. (The transport tests sign and send with it against a real engine.)
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  CredentialCache,
  type Identity,
  REFRESH_BEFORE_MS,
} from '../../src/stores/dynamodb/transport/credentials.js';

function provider(identities: Array<Identity | Error>) {
  let calls = 0;
  const fn = async () => {
    const next = identities[Math.min(calls, identities.length - 1)] as Identity | Error;
    calls++;
    if (next instanceof Error) throw next;
    return next;
  };
  return { fn, calls: () => calls };
}

const identity = (id: string, expiresInMs?: number): Identity => ({
  accessKeyId: id,
  secretAccessKey: `secret-${id}`,
  ...(expiresInMs === undefined ? {} : { expiration: new Date(Date.now() + expiresInMs) }),
});

describe('lean transport credential cache', () => {
  it('gives a fresh identity at once, without asking the provider again', async () => {
    const p = provider([identity('A', 3_600_000)]);
    const cache = new CredentialCache(p.fn);
    assert.equal((await cache.get()).accessKeyId, 'A');
    const again = cache.get();
    assert.ok(!(again instanceof Promise), 'a fresh identity comes without a promise');
    assert.equal((again as Identity).accessKeyId, 'A');
    assert.equal(p.calls(), 1);
  });

  it('keeps identities without an expiration (static keys)', async () => {
    const p = provider([identity('static')]);
    const cache = new CredentialCache(p.fn);
    await cache.get();
    for (let i = 0; i < 5; i++) assert.ok(!(cache.get() instanceof Promise), 'kept without a promise');
    assert.equal(p.calls(), 1);
  });

  it('asks again within the refresh window before expiry, and uses the new identity', async () => {
    const p = provider([identity('old', REFRESH_BEFORE_MS - 1_000), identity('new', 3_600_000)]);
    const cache = new CredentialCache(p.fn);
    assert.equal((await cache.get()).accessKeyId, 'old');
    const next = cache.get();
    assert.ok(next instanceof Promise, 'an identity about to expire is fetched again');
    assert.equal((await next).accessKeyId, 'new');
    assert.equal(p.calls(), 2);
  });

  it('asks once for every request that finds the identity stale at the same time', async () => {
    const p = provider([identity('A', 3_600_000)]);
    const cache = new CredentialCache(p.fn);
    const all = await Promise.all(Array.from({ length: 20 }, () => cache.get()));
    assert.ok(all.every((i) => i.accessKeyId === 'A'));
    assert.equal(p.calls(), 1);
  });

  it('passes a failed provider call on, and asks again on the next request', async () => {
    const p = provider([new Error('metadata endpoint unreachable'), identity('A', 3_600_000)]);
    const cache = new CredentialCache(p.fn);
    await assert.rejects(async () => cache.get(), /metadata endpoint unreachable/);
    assert.equal((await cache.get()).accessKeyId, 'A');
    assert.equal(p.calls(), 2);
  });
});
