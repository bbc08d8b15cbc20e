/** The user index (`listByUser`) and admin listing (`scan`, `gc`), each where declared. */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import type { SessionSummary, Store } from '../../core/store.js';
import { lacks, newKey, record, type SuiteContext, sleep } from '../helpers.js';

async function listed(store: Store, options?: Parameters<NonNullable<Store['scan']>>[0]) {
  const scan = store.scan;
  assert.ok(scan, 'a store that declares scan has a scan method');
  const out = new Map<string, SessionSummary>();
  for await (const s of scan.call(store, options)) out.set(s.key, s);
  return out;
}

function listByUser(store: Store, userId: string): Promise<SessionSummary[]> {
  assert.ok(store.listByUser, 'a store that declares userIndex has a listByUser method');
  return store.listByUser(userId);
}

export function userIndex(ctx: SuiteContext): void {
  const g = ctx.granularity;
  describe('user index', () => {
    it('lists the live sessions of one user, follows patches and destroys', async (t) => {
      if (lacks(ctx, t, 'userIndex')) return;
      const store = ctx.store();
      const user = `user-${randomBytes(6).toString('hex')}`;
      const [k1, k2, k3, k4] = [newKey(), newKey(), newKey(), newKey()];
      const now = Date.now();
      await store.create(k1, record({ userId: user }));
      await store.create(k2, record({ userId: user }));
      await store.create(k3, record({ userId: 'someone-else' }));
      await store.create(k4, record());
      await store.patch(k4, { set: {}, unset: [], expiresAt: now + 60_000, userId: user });
      const keys = (await listByUser(store, user)).map((s) => s.key).sort();
      assert.deepEqual(keys, [k1, k2, k4].sort());
      await store.destroy(k1);
      await store.patch(k2, { set: {}, unset: [], expiresAt: now + 60_000, userId: null });
      const after = await listByUser(store, user);
      assert.deepEqual(
        after.map((s) => s.key),
        [k4],
      );
      assert.equal(after[0]?.userId, user);
      assert.equal('data' in (after[0] ?? {}), false, 'summaries carry no session data');
    });

    it('leaves expired sessions out', async (t) => {
      if (lacks(ctx, t, 'userIndex')) return;
      const store = ctx.store();
      const user = `user-${randomBytes(6).toString('hex')}`;
      const now = Date.now();
      await store.create(newKey(), record({ userId: user, expiresAt: now + 800 }));
      await sleep(800 + g + 150);
      assert.deepEqual(await listByUser(store, user), []);
    });
  });
}

export function scanAndGc(ctx: SuiteContext): void {
  const g = ctx.granularity;
  describe('scan and gc', () => {
    it('scan lists live sessions without their data and skips expired ones', async (t) => {
      if (lacks(ctx, t, 'scan')) return;
      const store = ctx.store();
      const live = newKey();
      const gone = newKey();
      const now = Date.now();
      await store.create(live, record());
      await store.create(gone, record({ expiresAt: now + 500 }));
      await sleep(500 + g + 150);
      const seen = await listed(store);
      assert.ok(seen.has(live));
      assert.equal(seen.has(gone), false);
      const summary = seen.get(live) as unknown as Record<string, unknown>;
      assert.equal(summary.data, undefined);
      assert.ok((summary.size as number) > 0);
      // An engine that deletes on expiry by itself (Redis) may have removed `gone`: either is fine.
      assert.ok((await listed(store, { includeExpired: true })).has(live));
    });

    it('gc deletes expired records and leaves live ones; dry run deletes nothing', async (t) => {
      if (lacks(ctx, t, 'gc')) return;
      const store = ctx.store();
      const gc = store.gc;
      assert.ok(gc, 'a store that declares gc has a gc method');
      const live = newKey();
      const expired = [newKey(), newKey(), newKey()];
      const now = Date.now();
      await store.create(live, record());
      for (const k of expired) await store.create(k, record({ expiresAt: now + 500 }));
      await sleep(500 + g + 150);
      const dry = await gc.call(store, { dryRun: true });
      assert.ok(dry.scanned >= 1);
      const real = await gc.call(store);
      assert.ok(real.deleted >= 0);
      assert.ok(await store.get(live), 'live session kept');
      if (!ctx.capabilities().scan) return;
      const left = await listed(store, { includeExpired: true });
      for (const k of expired) assert.equal(left.has(k), false, 'expired record deleted');
    });
  });
}
