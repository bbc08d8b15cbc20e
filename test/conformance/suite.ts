/**
 * The one suite that proves a store. Each store's test file calls `storeConformance()` with a
 * factory for a fresh, isolated store (own table, prefix or directory) on its real engine.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { Store, StoredSession } from '../../src/stores/store.js';

export interface ConformanceOptions {
  /** Resolution of the engine's expiry (DynamoDB and Memcached keep seconds). @default 0 */
  expiryGranularityMs?: number;
  /** Set false for stores that declare no lock. @default true */
  lock?: boolean;
  /** Set false for stores without a user index: `listByUser` must then throw BATON_NOT_SUPPORTED. @default true */
  userIndex?: boolean;
  /** Set false for stores that cannot list sessions (Memcached). @default true */
  scan?: boolean;
  /** Extra tests for the backend's quirks, run with the same store. */
  additionalTests?: (getStore: () => Store) => void;
}

export function newKey(): string {
  return `t-${randomBytes(12).toString('base64url')}`;
}

export function record(overrides: Partial<StoredSession> = {}): StoredSession {
  const now = Date.now();
  return {
    data: { name: '"Jack Sparrow"', basket: '["rum"]' },
    createdAt: now,
    expiresAt: now + 60_000,
    absoluteExpiresAt: now + 600_000,
    version: 1,
    ...overrides,
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function rejectsWithCode(promise: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(promise, (err: { code?: string; message?: string }) => {
    assert.equal(err.code, code, `expected ${code}, got ${err.code}: ${err.message}`);
    assert.match(String(err.message), /\[baton-session\]/);
    return true;
  });
}

export function storeConformance(
  name: string,
  factory: () => Promise<Store>,
  options: ConformanceOptions = {},
): void {
  const granularity = options.expiryGranularityMs ?? 0;
  const hasLock = options.lock ?? true;
  const hasUserIndex = options.userIndex ?? true;
  const hasScan = options.scan ?? true;

  describe(`${name}: Store conformance`, () => {
    let store: Store;
    before(async () => {
      store = await factory();
    });
    after(async () => {
      await store?.close();
      await store?.close(); // idempotent
    });

    describe('round trip', () => {
      it('gives back what was created', async () => {
        const key = newKey();
        const s = record({ userId: 'user-1' });
        await store.create(key, s);
        const got = await store.get(key);
        assert.ok(got, 'the session is there');
        assert.deepEqual(got.data, s.data);
        assert.equal(got.version, 1);
        assert.equal(got.userId, 'user-1');
        assert.ok(Math.abs(got.createdAt - s.createdAt) <= Math.max(granularity, 1));
        assert.ok(Math.abs(got.expiresAt - s.expiresAt) <= Math.max(granularity, 1));
        assert.ok(Math.abs(got.absoluteExpiresAt - s.absoluteExpiresAt) <= Math.max(granularity, 1));
      });

      it('returns null for a key never stored', async () => {
        assert.equal(await store.get(newKey()), null);
      });

      it('refuses a second create under the same key and keeps the first', async () => {
        const key = newKey();
        await store.create(key, record());
        await rejectsWithCode(store.create(key, record({ data: { other: '1' } })), 'BATON_SESSION_EXISTS');
        assert.deepEqual((await store.get(key))?.data, record().data);
      });

      it('patches only the keys named, bumps the version and moves the expiry', async () => {
        const key = newKey();
        const s = record();
        await store.create(key, s);
        const result = await store.patch(key, {
          set: { basket: '["rum","map"]', added: '{"a":1}' },
          unset: ['name'],
          expiresAt: s.expiresAt + 10_000,
        });
        assert.deepEqual(result, { version: 2 });
        const got = await store.get(key);
        assert.deepEqual(got?.data, { basket: '["rum","map"]', added: '{"a":1}' });
        assert.equal(got?.version, 2);
        assert.ok(Math.abs((got?.expiresAt ?? 0) - (s.expiresAt + 10_000)) <= Math.max(granularity, 1));
      });

      it('never moves the expiry past the absolute expiry', async () => {
        const key = newKey();
        const s = record();
        await store.create(key, s);
        await store.patch(key, { set: {}, unset: [], expiresAt: s.absoluteExpiresAt + 3_600_000 });
        const got = await store.get(key);
        assert.ok((got?.expiresAt ?? Number.POSITIVE_INFINITY) <= s.absoluteExpiresAt + granularity);
        assert.equal(await store.touch(key, s.absoluteExpiresAt + 3_600_000), true);
        const touched = await store.get(key);
        assert.ok((touched?.expiresAt ?? Number.POSITIVE_INFINITY) <= s.absoluteExpiresAt + granularity);
      });

      it('touch moves the expiry of a live session and leaves the data', async () => {
        const key = newKey();
        const s = record();
        await store.create(key, s);
        assert.equal(await store.touch(key, s.expiresAt + 30_000), true);
        const got = await store.get(key);
        assert.deepEqual(got?.data, s.data);
        assert.ok(Math.abs((got?.expiresAt ?? 0) - (s.expiresAt + 30_000)) <= Math.max(granularity, 1));
      });

      it("'replace' writes the whole data map (overwrite mode)", async () => {
        const key = newKey();
        await store.create(key, record());
        await store.patch(key, {
          set: { only: 'true' },
          unset: [],
          expiresAt: Date.now() + 60_000,
          replace: true,
        });
        assert.deepEqual((await store.get(key))?.data, { only: 'true' });
      });
    });

    describe('concurrency', () => {
      it('keeps all of 50 concurrent patches to different keys (merge)', async () => {
        const key = newKey();
        await store.create(key, record({ data: {} }));
        const expiresAt = Date.now() + 60_000;
        const results = await Promise.all(
          Array.from({ length: 50 }, (_, i) =>
            store.patch(key, { set: { [`k${i}`]: String(i) }, unset: [], expiresAt }),
          ),
        );
        assert.ok(results.every((r) => r !== null));
        const got = await store.get(key);
        assert.equal(Object.keys(got?.data ?? {}).length, 50);
        for (let i = 0; i < 50; i++) assert.equal(got?.data[`k${i}`], String(i));
        assert.equal(got?.version, 51);
        const versions = results.map((r) => r?.version).sort((a, b) => (a ?? 0) - (b ?? 0));
        assert.deepEqual(
          versions,
          Array.from({ length: 50 }, (_, i) => i + 2),
          'each patch got its own version',
        );
      });

      it('refuses a patch whose expected version is stale (strict) and writes nothing', async () => {
        const key = newKey();
        await store.create(key, record());
        assert.deepEqual(
          await store.patch(key, {
            set: { a: '1' },
            unset: [],
            expiresAt: Date.now() + 60_000,
            expectVersion: 1,
          }),
          { version: 2 },
        );
        await rejectsWithCode(
          store.patch(key, { set: { b: '2' }, unset: [], expiresAt: Date.now() + 60_000, expectVersion: 1 }),
          'BATON_CONFLICT',
        );
        const got = await store.get(key);
        assert.equal(got?.data.b, undefined);
        assert.equal(got?.version, 2);
      });

      it('of two strict writers reading the same version, exactly one wins', async () => {
        const key = newKey();
        await store.create(key, record());
        const outcomes = await Promise.allSettled(
          [0, 1].map((i) =>
            store.patch(key, {
              set: { w: String(i) },
              unset: [],
              expiresAt: Date.now() + 60_000,
              expectVersion: 1,
            }),
          ),
        );
        assert.equal(outcomes.filter((o) => o.status === 'fulfilled').length, 1);
        assert.equal(outcomes.filter((o) => o.status === 'rejected').length, 1);
      });
    });

    describe('destroy and no resurrection', () => {
      it('destroy says whether there was a session', async () => {
        const key = newKey();
        await store.create(key, record());
        assert.equal(await store.destroy(key), true);
        assert.equal(await store.destroy(key), false);
        assert.equal(await store.get(key), null);
      });

      it('of two concurrent destroys, exactly one reports that there was a session', async () => {
        const key = newKey();
        await store.create(key, record());
        const results = await Promise.all([store.destroy(key), store.destroy(key)]);
        assert.deepEqual(results.sort(), [false, true]);
      });

      it('a patch or touch after destroy writes nothing', async () => {
        const key = newKey();
        await store.create(key, record());
        await store.destroy(key);
        assert.equal(
          await store.patch(key, { set: { a: '1' }, unset: [], expiresAt: Date.now() + 60_000 }),
          null,
        );
        assert.equal(await store.touch(key, Date.now() + 60_000), false);
        assert.equal(await store.get(key), null);
      });

      it('a patch on a key never stored creates nothing', async () => {
        const key = newKey();
        assert.equal(
          await store.patch(key, { set: { a: '1' }, unset: [], expiresAt: Date.now() + 60_000 }),
          null,
        );
        assert.equal(await store.get(key), null);
      });
    });

    describe('expiry on read', () => {
      it('a session past its expiry is absent, cannot be patched or touched, and can be created anew', async () => {
        const key = newKey();
        const now = Date.now();
        await store.create(
          key,
          record({ createdAt: now, expiresAt: now + 1_200, absoluteExpiresAt: now + 600_000 }),
        );
        assert.ok(await store.get(key), 'live before expiry');
        await sleep(1_200 + granularity + 150);
        assert.equal(await store.get(key), null);
        assert.equal(
          await store.patch(key, { set: { a: '1' }, unset: [], expiresAt: Date.now() + 60_000 }),
          null,
        );
        assert.equal(await store.touch(key, Date.now() + 60_000), false);
        await store.create(key, record({ data: { fresh: 'true' } }));
        assert.deepEqual((await store.get(key))?.data, { fresh: 'true' });
      });

      it('a session past its absolute expiry is absent', async () => {
        const key = newKey();
        const now = Date.now();
        await store.create(key, record({ expiresAt: now + 1_000, absoluteExpiresAt: now + 1_000 }));
        await sleep(1_000 + granularity + 150);
        assert.equal(await store.get(key), null);
      });
    });

    describe('locks', { skip: !hasLock && 'store declares no lock' }, () => {
      it('acquires, reads in the same call, and refuses a second holder', async () => {
        const key = newKey();
        await store.create(key, record());
        const a = await store.lock!(key, 5_000);
        assert.ok(a, 'first lock acquired');
        assert.deepEqual(a.session?.data, record().data);
        assert.equal(await store.lock!(key, 5_000), null, 'second lock refused while held');
        await a.release();
        await a.release(); // idempotent
        const b = await store.lock!(key, 5_000);
        assert.ok(b, 'acquired after release');
        await b.release();
      });

      it('a waiter gets the lock once the holder releases it', async () => {
        const key = newKey();
        await store.create(key, record());
        const holder = await store.lock!(key, 5_000);
        assert.ok(holder);
        setTimeout(() => void holder.release(), 200);
        const started = Date.now();
        let waiter = null;
        while (!waiter && Date.now() - started < 3_000) {
          waiter = await store.lock!(key, 5_000);
          if (!waiter) await sleep(20);
        }
        assert.ok(waiter, 'waiter acquired');
        assert.ok(Date.now() - started >= 150);
        await waiter.release();
      });

      it('a lock expires by itself when its holder dies, and the dead holder can no longer write', async () => {
        const key = newKey();
        await store.create(key, record());
        const dead = await store.lock!(key, 300);
        assert.ok(dead);
        await sleep(450);
        const next = await store.lock!(key, 5_000);
        assert.ok(next, 'acquired after lockTtl');
        await rejectsWithCode(
          store.patch(key, {
            set: { late: '1' },
            unset: [],
            expiresAt: Date.now() + 60_000,
            lockToken: dead.token,
          }),
          'BATON_CONFLICT',
        );
        assert.deepEqual(
          await store.patch(key, {
            set: { mine: '1' },
            unset: [],
            expiresAt: Date.now() + 60_000,
            lockToken: next.token,
            releaseLock: true,
          }),
          { version: 2 },
        );
        const got = await store.get(key);
        assert.equal(got?.data.late, undefined);
        assert.equal(got?.data.mine, '1');
        const again = await store.lock!(key, 5_000);
        assert.ok(again, 'the patch released the lock');
        await again.release();
      });

      it('locking a missing session holds nothing and reads null', async () => {
        const handle = await store.lock!(newKey(), 5_000);
        assert.ok(handle);
        assert.equal(handle.session, null);
        await handle.release();
      });

      it('destroy removes a locked session', async () => {
        const key = newKey();
        await store.create(key, record());
        const h = await store.lock!(key, 5_000);
        assert.ok(h);
        assert.equal(await store.destroy(key), true);
        assert.equal(await store.get(key), null);
      });
    });

    describe('user index', () => {
      if (!hasUserIndex) {
        it('says clearly that it has no user index', async () => {
          if (!store.listByUser) return assert.equal(store.listByUser, undefined);
          await rejectsWithCode(store.listByUser('u'), 'BATON_NOT_SUPPORTED');
        });
        return;
      }
      it('lists the live sessions of one user, follows patches and destroys', async () => {
        const user = `user-${randomBytes(6).toString('hex')}`;
        const [k1, k2, k3, k4] = [newKey(), newKey(), newKey(), newKey()];
        const now = Date.now();
        await store.create(k1, record({ userId: user }));
        await store.create(k2, record({ userId: user }));
        await store.create(k3, record({ userId: 'someone-else' }));
        await store.create(k4, record());
        await store.patch(k4, { set: {}, unset: [], expiresAt: now + 60_000, userId: user });
        const keys = (await store.listByUser!(user)).map((s) => s.key).sort();
        assert.deepEqual(keys, [k1, k2, k4].sort());
        await store.destroy(k1);
        await store.patch(k2, { set: {}, unset: [], expiresAt: now + 60_000, userId: null });
        const after = await store.listByUser!(user);
        assert.deepEqual(
          after.map((s) => s.key),
          [k4],
        );
        assert.equal(after[0]?.userId, user);
        assert.equal('data' in (after[0] ?? {}), false, 'summaries carry no session data');
      });

      it('leaves expired sessions out', async () => {
        const user = `user-${randomBytes(6).toString('hex')}`;
        const now = Date.now();
        await store.create(newKey(), record({ userId: user, expiresAt: now + 800 }));
        await sleep(800 + granularity + 150);
        assert.deepEqual(await store.listByUser!(user), []);
      });
    });

    describe('scan and gc', { skip: !hasScan && 'store cannot list sessions' }, () => {
      it('scan lists live sessions without their data and skips expired ones', async () => {
        const live = newKey();
        const gone = newKey();
        const now = Date.now();
        await store.create(live, record());
        await store.create(gone, record({ expiresAt: now + 500 }));
        await sleep(500 + granularity + 150);
        const seen = new Map<string, unknown>();
        for await (const s of store.scan!()) seen.set(s.key, s);
        assert.ok(seen.has(live));
        assert.equal(seen.has(gone), false);
        const summary = seen.get(live) as Record<string, unknown>;
        assert.equal(summary.data, undefined);
        assert.ok((summary.size as number) > 0);
        const withExpired = new Set<string>();
        for await (const s of store.scan!({ includeExpired: true })) withExpired.add(s.key);
        // An engine that deletes on expiry by itself (Redis) may have removed it: either is fine.
        assert.ok(withExpired.has(live));
      });

      it('gc deletes expired records and leaves live ones; dry run deletes nothing', async () => {
        if (!store.gc) return;
        const live = newKey();
        const expired = [newKey(), newKey(), newKey()];
        const now = Date.now();
        await store.create(live, record());
        for (const k of expired) await store.create(k, record({ expiresAt: now + 500 }));
        await sleep(500 + granularity + 150);
        const dry = await store.gc({ dryRun: true });
        assert.ok(dry.scanned >= 1);
        const real = await store.gc();
        assert.ok(real.deleted >= 0);
        assert.ok(await store.get(live), 'live session kept');
        const left = new Set<string>();
        for await (const s of store.scan!({ includeExpired: true })) left.add(s.key);
        for (const k of expired) assert.equal(left.has(k), false, 'expired record deleted');
      });
    });

    describe('size limit', () => {
      it('refuses a session over the limit on create and patch, keeping the earlier data', async () => {
        const limit = store.limits.maxSessionBytes;
        const big = JSON.stringify('x'.repeat(limit + 10));
        await rejectsWithCode(store.create(newKey(), record({ data: { big } })), 'BATON_SESSION_TOO_LARGE');
        const key = newKey();
        await store.create(key, record());
        await rejectsWithCode(
          store.patch(key, { set: { big }, unset: [], expiresAt: Date.now() + 60_000 }),
          'BATON_SESSION_TOO_LARGE',
        );
        const got = await store.get(key);
        assert.deepEqual(got?.data, record().data);
        assert.equal(got?.version, 1);
      });
    });

    describe('odd data keys', () => {
      const odd = [
        '',
        'é',
        '日本語',
        '🦜',
        '.',
        'a.b',
        '$',
        '$set',
        '#',
        '#x',
        ':v',
        'a-b',
        'a b',
        'data',
        'name',
        'status',
        'id',
        '__proto__x',
        'x'.repeat(1024),
      ];
      it('round-trips keys with unicode, dots, $, #, reserved words and 1 KB names, through create and patch', async () => {
        const key = newKey();
        const data = Object.fromEntries(odd.map((k, i) => [k, JSON.stringify({ i, k })]));
        await store.create(key, record({ data }));
        assert.deepEqual((await store.get(key))?.data, data);
        const set = Object.fromEntries(odd.map((k, i) => [k, String(i)]));
        await store.patch(key, { set, unset: [], expiresAt: Date.now() + 60_000 });
        assert.deepEqual((await store.get(key))?.data, set);
        await store.patch(key, { set: {}, unset: odd.slice(0, 10), expiresAt: Date.now() + 60_000 });
        assert.deepEqual(
          (await store.get(key))?.data,
          Object.fromEntries(odd.slice(10).map((k) => [k, set[k]])),
        );
      });

      it('keeps JSON text exactly, including unicode escapes and nesting', async () => {
        const key = newKey();
        const data = {
          s: '"a\\u0000b\\"c"',
          n: '1.5e+300',
          nested: JSON.stringify({ a: [1, { b: [null, true] }] }),
        };
        await store.create(key, record({ data }));
        assert.deepEqual((await store.get(key))?.data, data);
      });
    });

    describe('bad input', () => {
      it('an empty key is refused with a clear error', async () => {
        await rejectsWithCode(store.get(''), 'BATON_INVALID_INPUT');
        await rejectsWithCode(store.create('', record()), 'BATON_INVALID_INPUT');
        await rejectsWithCode(
          store.patch('', { set: {}, unset: [], expiresAt: Date.now() + 1 }),
          'BATON_INVALID_INPUT',
        );
        await rejectsWithCode(store.destroy(''), 'BATON_INVALID_INPUT');
      });

      it('data that is not JSON text is refused and nothing is written', async () => {
        const key = newKey();
        await rejectsWithCode(
          store.create(key, record({ data: { n: 42 as unknown as string } })),
          'BATON_INVALID_INPUT',
        );
        assert.equal(await store.get(key), null);
        await store.create(key, record());
        await rejectsWithCode(
          store.patch(key, {
            set: { n: { a: 1 } as unknown as string },
            unset: [],
            expiresAt: Date.now() + 60_000,
          }),
          'BATON_INVALID_INPUT',
        );
        assert.deepEqual((await store.get(key))?.data, record().data);
      });

      it('a negative or non-numeric expiry is refused', async () => {
        const key = newKey();
        await rejectsWithCode(store.create(key, record({ expiresAt: -5 })), 'BATON_INVALID_INPUT');
        await rejectsWithCode(store.create(key, record({ expiresAt: Number.NaN })), 'BATON_INVALID_INPUT');
        assert.equal(await store.get(key), null);
        await store.create(key, record());
        await rejectsWithCode(store.touch(key, -1), 'BATON_INVALID_INPUT');
        await rejectsWithCode(store.patch(key, { set: {}, unset: [], expiresAt: -1 }), 'BATON_INVALID_INPUT');
      });
    });

    describe('operation metrics', () => {
      it('reports each call with its duration', async () => {
        const seen: string[] = [];
        const off = store.onOperation((info) => {
          assert.equal(info.store, store.name);
          assert.ok(info.ms >= 0);
          seen.push(info.op);
        });
        const key = newKey();
        await store.create(key, record());
        await store.get(key);
        off();
        await store.get(key);
        assert.deepEqual(seen, ['create', 'get']);
      });
    });

    options.additionalTests?.(() => store);
  });
}
