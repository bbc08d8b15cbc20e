/** Locks: acquire (reading in the same call), wait, expire; run where `capabilities.lock`. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { LockHandle, Store } from '../../core/store.js';
import { lacks, newKey, record, rejectsWithCode, type SuiteContext, sleep } from '../helpers.js';

/** `store.lock`, which the capability check has proved present where `lock` is declared. */
function lockOf(store: Store): (key: string, ttlMs: number) => Promise<LockHandle | null> {
  const lock = store.lock;
  assert.ok(lock, 'a store that declares lock has a lock method');
  return lock.bind(store);
}

export function locks(ctx: SuiteContext): void {
  describe('locks', () => {
    it('acquires, reads in the same call, and refuses a second holder', async (t) => {
      if (lacks(ctx, t, 'lock')) return;
      const store = ctx.store();
      const lock = lockOf(store);
      const key = newKey();
      await store.create(key, record());
      const a = await lock(key, 5_000);
      assert.ok(a, 'first lock acquired');
      assert.deepEqual(a.session?.data, record().data);
      assert.equal(await lock(key, 5_000), null, 'second lock refused while held');
      await a.release();
      await a.release(); // idempotent
      const b = await lock(key, 5_000);
      assert.ok(b, 'acquired after release');
      await b.release();
    });

    it('a waiter gets the lock once the holder releases it', async (t) => {
      if (lacks(ctx, t, 'lock')) return;
      const store = ctx.store();
      const lock = lockOf(store);
      const key = newKey();
      await store.create(key, record());
      const holder = await lock(key, 5_000);
      assert.ok(holder);
      setTimeout(() => void holder.release(), 200);
      const started = Date.now();
      let waiter: LockHandle | null = null;
      while (!waiter && Date.now() - started < 3_000) {
        waiter = await lock(key, 5_000);
        if (!waiter) await sleep(20);
      }
      assert.ok(waiter, 'waiter acquired');
      assert.ok(Date.now() - started >= 150);
      await waiter.release();
    });

    it('a lock expires by itself when its holder dies, and the dead holder can no longer write', async (t) => {
      if (lacks(ctx, t, 'lock')) return;
      const store = ctx.store();
      const lock = lockOf(store);
      const key = newKey();
      await store.create(key, record());
      const dead = await lock(key, 300);
      assert.ok(dead);
      await sleep(450);
      const next = await lock(key, 5_000);
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
      const again = await lock(key, 5_000);
      assert.ok(again, 'the patch released the lock');
      await again.release();
    });

    it('locking a missing session holds nothing and reads null', async (t) => {
      if (lacks(ctx, t, 'lock')) return;
      const handle = await lockOf(ctx.store())(newKey(), 5_000);
      assert.ok(handle);
      assert.equal(handle.session, null);
      await handle.release();
    });

    it('destroy removes a locked session', async (t) => {
      if (lacks(ctx, t, 'lock')) return;
      const store = ctx.store();
      const key = newKey();
      await store.create(key, record());
      const h = await lockOf(store)(key, 5_000);
      assert.ok(h);
      assert.equal(await store.destroy(key), true);
      assert.equal(await store.get(key), null);
    });
  });
}
