/** Per-key merge under concurrency, version conflicts (strict), and `Patch.expect` (stale keys). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { newKey, record, rejectsWithCode, type SuiteContext } from '../helpers.js';

const later = () => Date.now() + 60_000;

export function mergeUnderConcurrency(ctx: SuiteContext): void {
  describe('concurrency', () => {
    it('keeps all of 50 concurrent patches to different keys (merge)', async () => {
      const store = ctx.store();
      const key = newKey();
      await store.create(key, record({ data: {} }));
      const expiresAt = later();
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
  });
}

export function versionConflicts(ctx: SuiteContext): void {
  describe('version conflicts', () => {
    it('refuses a patch whose expected version is stale (strict) and writes nothing', async () => {
      const store = ctx.store();
      const key = newKey();
      await store.create(key, record());
      assert.deepEqual(
        await store.patch(key, { set: { a: '1' }, unset: [], expiresAt: later(), expectVersion: 1 }),
        { version: 2 },
      );
      await rejectsWithCode(
        store.patch(key, { set: { b: '2' }, unset: [], expiresAt: later(), expectVersion: 1 }),
        'BATON_CONFLICT',
      );
      const got = await store.get(key);
      assert.equal(got?.data.b, undefined);
      assert.equal(got?.version, 2);
    });

    it('of two strict writers reading the same version, exactly one wins', async () => {
      const store = ctx.store();
      const key = newKey();
      await store.create(key, record());
      const outcomes = await Promise.allSettled(
        [0, 1].map((i) =>
          store.patch(key, { set: { w: String(i) }, unset: [], expiresAt: later(), expectVersion: 1 }),
        ),
      );
      assert.equal(outcomes.filter((o) => o.status === 'fulfilled').length, 1);
      assert.equal(outcomes.filter((o) => o.status === 'rejected').length, 1);
    });
  });
}

/** The `staleKeys` of a rejected patch. */
async function staleKeysOf(promise: Promise<unknown>): Promise<string[]> {
  let keys: string[] | undefined;
  await assert.rejects(promise, (err: { code?: string; message?: string; staleKeys?: string[] }) => {
    assert.equal(err.code, 'BATON_CONFLICT', `expected BATON_CONFLICT, got ${err.code}: ${err.message}`);
    assert.ok(Array.isArray(err.staleKeys), 'the ConflictError names its staleKeys');
    keys = [...err.staleKeys];
    return true;
  });
  return (keys ?? []).sort();
}

export function expectedKeys(ctx: SuiteContext): void {
  describe('expect (stale keys)', () => {
    it('refuses a patch whose expected key changed, names the key, and writes nothing', async () => {
      const store = ctx.store();
      const key = newKey();
      const s = record();
      await store.create(key, s);
      const read = s.data.basket ?? null;
      assert.deepEqual(
        await store.patch(key, {
          set: { basket: '["rum","map"]' },
          unset: [],
          expiresAt: later(),
          expect: { basket: read },
        }),
        { version: 2 },
      );
      const stale = store.patch(key, {
        set: { basket: '["rum","hat"]', extra: '1' },
        unset: ['name'],
        expiresAt: later(),
        expect: { basket: read },
      });
      assert.deepEqual(await staleKeysOf(stale), ['basket']);
      const got = await store.get(key);
      assert.deepEqual(got?.data, { name: s.data.name, basket: '["rum","map"]' }, 'nothing written');
      assert.equal(got?.version, 2);
    });

    it('an expectation of null holds only while the key is absent', async () => {
      const store = ctx.store();
      const key = newKey();
      await store.create(key, record());
      assert.deepEqual(
        await store.patch(key, {
          set: { coupon: '"A"' },
          unset: [],
          expiresAt: later(),
          expect: { coupon: null },
        }),
        { version: 2 },
      );
      const second = store.patch(key, {
        set: { coupon: '"B"' },
        unset: [],
        expiresAt: later(),
        expect: { coupon: null },
      });
      assert.deepEqual(await staleKeysOf(second), ['coupon']);
      assert.equal((await store.get(key))?.data.coupon, '"A"');
    });

    it('applies while every expected key is unchanged, whatever happened to other keys', async () => {
      const store = ctx.store();
      const key = newKey();
      const s = record();
      await store.create(key, s);
      await store.patch(key, { set: { other: '1' }, unset: [], expiresAt: later() });
      assert.deepEqual(
        await store.patch(key, {
          set: { basket: '["rum","map"]' },
          unset: ['name'],
          expiresAt: later(),
          expect: { basket: s.data.basket ?? null, name: s.data.name ?? null, absent: null },
        }),
        { version: 3 },
      );
      assert.deepEqual((await store.get(key))?.data, { basket: '["rum","map"]', other: '1' });
    });

    it('names only the keys that changed when several are expected', async () => {
      const store = ctx.store();
      const key = newKey();
      const s = record({ data: { a: '1', b: '2', c: '3' } });
      await store.create(key, s);
      await store.patch(key, { set: { b: '20' }, unset: ['c'], expiresAt: later() });
      const stale = store.patch(key, {
        set: { a: '10', b: '21', c: '30' },
        unset: [],
        expiresAt: later(),
        expect: { a: '1', b: '2', c: '3' },
      });
      assert.deepEqual(await staleKeysOf(stale), ['b', 'c']);
      assert.deepEqual((await store.get(key))?.data, { a: '1', b: '20' });
    });

    it('of two writers expecting the same text of one key, exactly one wins', async () => {
      const store = ctx.store();
      const key = newKey();
      const s = record();
      await store.create(key, s);
      const outcomes = await Promise.allSettled(
        [0, 1].map((i) =>
          store.patch(key, {
            set: { basket: `["rum",${i}]` },
            unset: [],
            expiresAt: later(),
            expect: { basket: s.data.basket ?? null },
          }),
        ),
      );
      assert.equal(outcomes.filter((o) => o.status === 'fulfilled').length, 1);
      const rejected = outcomes.filter((o) => o.status === 'rejected');
      assert.equal(rejected.length, 1);
      assert.equal((rejected[0]!.reason as { code?: string }).code, 'BATON_CONFLICT');
      assert.equal((await store.get(key))?.version, 2);
    });
  });
}
