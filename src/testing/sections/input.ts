/** Size limits, odd data keys, bad input, per-call metrics. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { OperationInfo } from '../../core/store.js';
import { newKey, record, rejectsWithCode, type SuiteContext } from '../helpers.js';

export function sizeLimit(ctx: SuiteContext): void {
  describe('size limit', () => {
    it('refuses a session over the limit on create and patch, keeping the earlier data', async () => {
      const store = ctx.store();
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

    it("holds a patch to its own maxBytes when that is below the store's limit", async () => {
      const store = ctx.store();
      const key = newKey();
      await store.create(key, record());
      const set = { notes: JSON.stringify('y'.repeat(200)) };
      await rejectsWithCode(
        store.patch(key, { set, unset: [], expiresAt: Date.now() + 60_000, maxBytes: 100 }),
        'BATON_SESSION_TOO_LARGE',
      );
      assert.deepEqual((await store.get(key))?.data, record().data);
      assert.deepEqual(
        await store.patch(key, { set, unset: [], expiresAt: Date.now() + 60_000, maxBytes: 10_000 }),
        { version: 2 },
      );
    });
  });
}

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

export function oddKeys(ctx: SuiteContext): void {
  describe('odd data keys', () => {
    it('round-trips keys with unicode, dots, $, #, reserved words and 1 KB names, through create and patch', async () => {
      const store = ctx.store();
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
      const store = ctx.store();
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
}

export function badInput(ctx: SuiteContext): void {
  describe('bad input', () => {
    it('an empty key is refused with a clear error', async () => {
      const store = ctx.store();
      await rejectsWithCode(store.get(''), 'BATON_INVALID_INPUT');
      await rejectsWithCode(store.create('', record()), 'BATON_INVALID_INPUT');
      await rejectsWithCode(
        store.patch('', { set: {}, unset: [], expiresAt: Date.now() + 1 }),
        'BATON_INVALID_INPUT',
      );
      await rejectsWithCode(store.destroy(''), 'BATON_INVALID_INPUT');
    });

    it('data that is not JSON text is refused and nothing is written', async () => {
      const store = ctx.store();
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
      const store = ctx.store();
      const key = newKey();
      await rejectsWithCode(store.create(key, record({ expiresAt: -5 })), 'BATON_INVALID_INPUT');
      await rejectsWithCode(store.create(key, record({ expiresAt: Number.NaN })), 'BATON_INVALID_INPUT');
      assert.equal(await store.get(key), null);
      await store.create(key, record());
      await rejectsWithCode(store.touch(key, -1), 'BATON_INVALID_INPUT');
      await rejectsWithCode(store.patch(key, { set: {}, unset: [], expiresAt: -1 }), 'BATON_INVALID_INPUT');
    });

    it('an expectation that is not JSON text or null is refused and nothing is written', async () => {
      const store = ctx.store();
      const key = newKey();
      await store.create(key, record());
      await rejectsWithCode(
        store.patch(key, {
          set: { a: '1' },
          unset: [],
          expiresAt: Date.now() + 60_000,
          expect: { a: 1 as unknown as string },
        }),
        'BATON_INVALID_INPUT',
      );
      assert.deepEqual((await store.get(key))?.data, record().data);
    });
  });
}

export function operationMetrics(ctx: SuiteContext): void {
  describe('operation metrics', () => {
    it('reports each call with its duration', async () => {
      const store = ctx.store();
      const seen: OperationInfo[] = [];
      const off = store.onOperation((info) => seen.push(info));
      const key = newKey();
      try {
        await store.create(key, record());
        await store.get(key);
      } finally {
        off();
      }
      await store.get(key);
      for (const info of seen) {
        assert.equal(info.store, store.name, 'operations carry the store name');
        assert.ok(info.ms >= 0);
      }
      assert.deepEqual(
        seen.map((info) => info.op),
        ['create', 'get'],
      );
    });
  });
}
