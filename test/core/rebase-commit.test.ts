/**
 * The merge-mode commit path (src/core/merge.ts) through the session manager on the memory store:
 * interleavings chosen by the test (load, load, commit, commit), encryption at rest, a save()
 * before the race, the bounded retries, the other modes left alone, and the commit trace.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import diagnostics from 'node:diagnostics_channel';
import { describe, it } from 'node:test';
import { hashId } from '../../src/core/ids.js';
import { SessionManager } from '../../src/core/manager.js';
import { MAX_REBASE_RETRIES, REBASE_PAUSE_MAX_MS, rebasePause } from '../../src/core/merge.js';
import type { SessionOptions } from '../../src/core/options.js';
import type { Patch } from '../../src/core/store.js';
import type { CommitContext } from '../../src/core/tracing.js';
import { MemoryStore } from '../../src/stores/memory/index.js';
import { countCalls } from '../helpers/counting-store.js';
import { idOf, request } from '../helpers/manager-flow.js';

const secret = 'rebase-commit-secret-0123456789abcdef';
const encryption = { keys: [{ id: '1', key: randomBytes(32) }] };

/** A memory store that records every patch it receives. */
class SpyStore extends MemoryStore {
  readonly patches: Patch[] = [];
  override patch(key: string, patch: Patch) {
    this.patches.push(structuredClone(patch));
    return super.patch(key, patch);
  }
}

/** A memory store where another writer adds to the basket just before every expecting patch. */
class BusyStore extends MemoryStore {
  patches = 0;
  override async patch(key: string, patch: Patch) {
    if (patch.expect) {
      this.patches++;
      const now = await this.get(key);
      const basket = JSON.parse(now?.data.basket ?? '[]') as string[];
      const intruder = { set: { basket: JSON.stringify([...basket, `other-${this.patches}`]) }, unset: [] };
      await super.patch(key, { ...intruder, expiresAt: patch.expiresAt });
    }
    return super.patch(key, patch);
  }
}

function pair(store: MemoryStore, options: Partial<SessionOptions> = {}) {
  return [
    new SessionManager({ store, secret, ...options }),
    new SessionManager({ store, secret, ...options }),
  ] as const;
}

/** Two requests that both loaded before either commits: `first` commits first. */
async function race(
  [a, b]: readonly [SessionManager, SessionManager],
  cookie: string | undefined,
  first: (s: Record<string, unknown>) => void,
  second: (s: Record<string, unknown>) => void,
) {
  const sa = await a.load({ cookie });
  const sb = await b.load({ cookie });
  first(sa);
  second(sb);
  await a.commit(sa);
  await b.commit(sb);
  return [sa, sb] as const;
}

const add = (item: string) => (s: Record<string, unknown>) => {
  s.basket = [...((s.basket as string[] | undefined) ?? []), item];
};

for (const sealed of [false, true]) {
  describe(`merge-mode commit path${sealed ? ', encryption at rest' : ''}`, () => {
    const options = sealed ? { encryption } : {};

    it('a request that lost the race rebases: both adds stored, and its session shows the merged basket', async () => {
      const store = new MemoryStore();
      const managers = pair(store, options);
      const seeded = await request(managers[0], undefined, add('a'));
      const [, late] = await race(managers, seeded.cookie, add('x'), add('y'));
      assert.deepEqual(late.basket, ['a', 'x', 'y'], 'the late session holds what was stored');
      const stored = await store.get(hashId(idOf(seeded.cookie)));
      if (sealed) assert.ok(!stored?.data.basket?.includes('"x"'), 'still sealed after the rebase');
      assert.deepEqual((await request(managers[1], seeded.cookie)).session.basket, ['a', 'x', 'y']);
    });

    it('after a save() within the request, the commit expects what the save wrote', async () => {
      const store = new MemoryStore();
      const [a, b] = pair(store, options);
      const seeded = await request(a, undefined, add('a'));
      const sa = await a.load({ cookie: seeded.cookie });
      add('x')(sa);
      await sa.save();
      await request(b, seeded.cookie, add('y'));
      add('z')(sa);
      await a.commit(sa);
      assert.deepEqual((await request(b, seeded.cookie)).session.basket, ['a', 'x', 'y', 'z']);
    });

    it('a key one request removed while another added to it: removed (last writer wins on the key)', async () => {
      const store = new MemoryStore();
      const managers = pair(store, options);
      const seeded = await request(managers[0], undefined, (s) => {
        add('a')(s);
        s.keep = 1;
      });
      await race(managers, seeded.cookie, add('x'), (s) => {
        delete s.basket;
      });
      assert.deepEqual({ ...(await request(managers[1], seeded.cookie)).session }, { keep: 1 });
    });
  });
}

describe('merge-mode commit path: bounds, modes and reports', () => {
  it(`keys that keep changing: ${MAX_REBASE_RETRIES} retries, then a 409 ConflictError and a conflict event; nothing of ours written`, async () => {
    const store = new BusyStore();
    const m = new SessionManager({ store, secret });
    const seeded = await request(m, undefined, add('a'));
    const conflicts: string[] = [];
    m.on('conflict', (e) => conflicts.push(e.key));
    await assert.rejects(request(m, seeded.cookie, add('mine')), (err: { code: string; status: number }) => {
      assert.equal(err.code, 'BATON_CONFLICT');
      assert.equal(err.status, 409);
      return true;
    });
    assert.equal(store.patches, MAX_REBASE_RETRIES + 1);
    assert.equal(conflicts.length, 1);
    const basket = JSON.parse((await store.get(hashId(idOf(seeded.cookie))))?.data.basket ?? '[]');
    assert.ok(!basket.includes('mine'), 'the failed change is not half-written');
    assert.equal(basket.length, MAX_REBASE_RETRIES + 2, "every other writer's add is there");
  });

  it('the pause before a retry: random within slot × 2^n, a slot twice the losing write, at most 64 slots and 2 s', () => {
    assert.equal(
      rebasePause(0, 5, () => 1),
      10,
    );
    assert.equal(
      rebasePause(3, 5, () => 1),
      80,
    );
    assert.equal(
      rebasePause(9, 5, () => 1),
      640,
      'doubling stops at 64 slots',
    );
    assert.equal(
      rebasePause(2, 0, () => 1),
      4,
      'a slot is at least 1 ms',
    );
    assert.equal(
      rebasePause(6, 100, () => 1),
      REBASE_PAUSE_MAX_MS,
    );
    assert.equal(
      rebasePause(4, 5, () => 0),
      0,
    );
  });

  it('only merge-mode data changes carry expectations', async () => {
    for (const concurrency of ['strict', 'lock', 'overwrite', 'merge'] as const) {
      const store = new SpyStore();
      const m = new SessionManager({ store, secret, concurrency });
      const seeded = await request(m, undefined, add('a'));
      await request(m, seeded.cookie, add('b'));
      await request(m, seeded.cookie, (s) => {
        delete s.basket;
      });
      const expects = store.patches.map((p) => p.expect);
      if (concurrency === 'merge') {
        assert.deepEqual(expects, [{ basket: '["a"]' }, { basket: '["a","b"]' }]);
      } else assert.deepEqual(expects, [undefined, undefined], concurrency);
    }
  });

  it('an unchanged request costs one call, a changed one two, when nothing raced', async () => {
    const store = new MemoryStore();
    const m = new SessionManager({ store, secret });
    const seeded = await request(m, undefined, add('a'));
    const calls = countCalls(store);
    await request(m, seeded.cookie);
    assert.deepEqual(calls.counts, { get: 1 });
    calls.reset();
    await request(m, seeded.cookie, add('b'));
    assert.deepEqual(calls.counts, { get: 1, patch: 1 });
  });

  it('the commit trace counts the lost write and the retry; the rebased event names no data', async () => {
    const store = new MemoryStore();
    const managers = pair(store);
    const seeded = await request(managers[0], undefined, add('a'));
    const traces: CommitContext[] = [];
    const rebased: unknown[] = [];
    managers[1].on('rebased', (e) => rebased.push(e));
    const handlers = {
      start() {},
      end() {},
      asyncStart() {},
      error() {},
      asyncEnd: (ctx: CommitContext) => void traces.push({ ...ctx }),
    };
    const channel = diagnostics.tracingChannel<unknown, CommitContext>('baton-session:commit');
    channel.subscribe(handlers);
    try {
      await race(managers, seeded.cookie, add('x'), add('y'));
    } finally {
      channel.unsubscribe(handlers);
    }
    assert.deepEqual(
      traces.map((t) => [t.write, t.conflicts, t.retries]),
      [
        ['patch', 0, 0],
        ['patch', 1, 1],
      ],
    );
    assert.equal(rebased.length, 1);
    assert.deepEqual(Object.keys(rebased[0] as object).sort(), ['key', 'keys', 'leafConflicts', 'retries']);
    assert.ok(!JSON.stringify(rebased).includes(idOf(seeded.cookie)));
  });
});
