/** Round trip, destroy with no resurrection, expiry on read. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { near, newKey, record, rejectsWithCode, type SuiteContext, sleep } from '../helpers.js';

export function roundTrip(ctx: SuiteContext): void {
  const g = ctx.granularity;
  describe('round trip', () => {
    it('gives back what was created', async () => {
      const store = ctx.store();
      const key = newKey();
      const s = record({ userId: 'user-1' });
      await store.create(key, s);
      const got = await store.get(key);
      assert.ok(got, 'the session is there');
      assert.deepEqual(got.data, s.data);
      assert.equal(got.version, 1);
      assert.equal(got.userId, 'user-1');
      near(got.createdAt, s.createdAt, g);
      near(got.expiresAt, s.expiresAt, g);
      near(got.absoluteExpiresAt, s.absoluteExpiresAt, g);
    });

    it('returns null for a key never stored', async () => {
      assert.equal(await ctx.store().get(newKey()), null);
    });

    it('refuses a second create under the same key and keeps the first', async () => {
      const store = ctx.store();
      const key = newKey();
      await store.create(key, record());
      await rejectsWithCode(store.create(key, record({ data: { other: '1' } })), 'BATON_SESSION_EXISTS');
      assert.deepEqual((await store.get(key))?.data, record().data);
    });

    it('patches only the keys named, bumps the version and moves the expiry', async () => {
      const store = ctx.store();
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
      near(got?.expiresAt, s.expiresAt + 10_000, g);
    });

    it('never moves the expiry past the absolute expiry', async () => {
      const store = ctx.store();
      const key = newKey();
      const s = record();
      await store.create(key, s);
      await store.patch(key, { set: {}, unset: [], expiresAt: s.absoluteExpiresAt + 3_600_000 });
      const got = await store.get(key);
      assert.ok((got?.expiresAt ?? Number.POSITIVE_INFINITY) <= s.absoluteExpiresAt + g);
      assert.equal(await store.touch(key, s.absoluteExpiresAt + 3_600_000), true);
      const touched = await store.get(key);
      assert.ok((touched?.expiresAt ?? Number.POSITIVE_INFINITY) <= s.absoluteExpiresAt + g);
    });

    it('touch moves the expiry of a live session and leaves the data', async () => {
      const store = ctx.store();
      const key = newKey();
      const s = record();
      await store.create(key, s);
      assert.equal(await store.touch(key, s.expiresAt + 30_000), true);
      const got = await store.get(key);
      assert.deepEqual(got?.data, s.data);
      near(got?.expiresAt, s.expiresAt + 30_000, g);
    });

    it("'replace' writes the whole data map (overwrite mode)", async () => {
      const store = ctx.store();
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
}

export function destroyAndNoResurrection(ctx: SuiteContext): void {
  describe('destroy and no resurrection', () => {
    it('destroy says whether there was a session', async () => {
      const store = ctx.store();
      const key = newKey();
      await store.create(key, record());
      assert.equal(await store.destroy(key), true);
      assert.equal(await store.destroy(key), false);
      assert.equal(await store.get(key), null);
    });

    it('of two concurrent destroys, exactly one reports that there was a session', async () => {
      const store = ctx.store();
      const key = newKey();
      await store.create(key, record());
      const results = await Promise.all([store.destroy(key), store.destroy(key)]);
      assert.deepEqual(results.sort(), [false, true]);
    });

    it('a patch or touch after destroy writes nothing', async () => {
      const store = ctx.store();
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
      const store = ctx.store();
      const key = newKey();
      assert.equal(
        await store.patch(key, { set: { a: '1' }, unset: [], expiresAt: Date.now() + 60_000 }),
        null,
      );
      assert.equal(await store.get(key), null);
    });
  });
}

export function expiryOnRead(ctx: SuiteContext): void {
  const g = ctx.granularity;
  describe('expiry on read', () => {
    it('a session past its expiry is absent, cannot be patched or touched, and can be created anew', async () => {
      const store = ctx.store();
      const key = newKey();
      const now = Date.now();
      await store.create(
        key,
        record({ createdAt: now, expiresAt: now + 1_200, absoluteExpiresAt: now + 600_000 }),
      );
      assert.ok(await store.get(key), 'live before expiry');
      await sleep(1_200 + g + 150);
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
      const store = ctx.store();
      const key = newKey();
      const now = Date.now();
      await store.create(key, record({ expiresAt: now + 1_000, absoluteExpiresAt: now + 1_000 }));
      await sleep(1_000 + g + 150);
      assert.equal(await store.get(key), null);
    });
  });
}
