/**
 * Tests both SQL stores share beyond the conformance suite: the per-key size guard inside the
 * patch statement, keys JSON paths find hard, bounded row-lock waits, paging, gc batches, error
 * mapping and pool ownership. Each test file passes what differs per engine.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import type { SqlStore } from '../../src/stores/sql/sql-store.js';
import { newKey, record } from '../conformance/suite.js';

export const postgresUrl = process.env.BATON_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
export const mysqlUrl = process.env.BATON_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306/test';

/** Host and port of a server URL, for `needService`. */
export function endpoint(url: string, defaultPort: number): { host: string; port: number } {
  const u = new URL(url);
  return { host: u.hostname || '127.0.0.1', port: Number(u.port || defaultPort) };
}

/** A table name no other test file uses. */
export function randomTableName(prefix = 'baton_test'): string {
  return `${prefix}_${randomBytes(6).toString('hex')}`;
}

export interface SqlQuirkOptions {
  /** A store on the same table, with these options on top of the file's defaults. */
  makeStore: (extra?: Record<string, unknown>) => SqlStore;
  /** The same, over a pool the test made and passes in (the store must not end it). */
  makeStoreOnPool: (extra?: Record<string, unknown>) => SqlStore;
  /** Whether the engine refuses U+0000 in text (PostgreSQL). */
  forbidsNul: boolean;
  /** Whether row-lock waits are bounded on pools passed in too (not on MySQL 8). */
  boundsPassedPools: boolean;
  /** Opens a transaction that row-locks the session; the returned function rolls it back. */
  holdRowLock: (key: string) => Promise<() => Promise<void>>;
  /** The stored `data` column of a session as the engine returns it, parsed. */
  rawData: (key: string) => Promise<Record<string, unknown>>;
  /** A store whose server refuses connections. */
  unreachableStore: () => SqlStore;
  /** A store on a table that does not exist. */
  missingTableStore: () => SqlStore;
}

/**
 * A deadlock victim is run again: the store is made over `pool` with its `query` failing `failures`
 * times with `deadlock()` (the driver's error shape; a real deadlock cannot be forced at will), and
 * a lasting deadlock ends as the store's 503.
 */
export function deadlockRetryTest<P extends { query: (...args: never[]) => unknown }>(
  pool: P,
  makeStore: (pool: P) => SqlStore,
  deadlock: () => Error,
): void {
  it('a statement the engine picks as a deadlock victim runs again; a lasting deadlock is a 503', async () => {
    let failures = 0;
    const flaky = Object.create(pool) as P;
    flaky.query = (async (...args: never[]) => {
      if (failures > 0) {
        failures--;
        throw deadlock();
      }
      return (pool.query as (...a: never[]) => unknown).apply(pool, args);
    }) as unknown as P['query'];
    const store = makeStore(flaky);
    await store.ensureTable();
    const key = newKey();
    failures = 2;
    await store.create(key, record({ data: { a: '1' } }));
    assert.equal(failures, 0, 'both deadlocks were met');
    assert.equal((await store.get(key))?.data.a, '1', 'written once, after two deadlocks');
    failures = 10;
    await assert.rejects(store.get(key), /deadlock/i);
    failures = 0;
    await store.close();
  });
}

export function sqlQuirks(o: SqlQuirkOptions): void {
  describe('SQL specifics', () => {
    it('stores each value as its exact JSON text, readable from SQL as a JSON string', async () => {
      const store = o.makeStore();
      const key = newKey();
      const data = { n: '1.5e+300', o: '{"b":1,"a":2}', s: '"x"' };
      await store.create(key, record({ data }));
      assert.deepEqual(await o.rawData(key), data);
      assert.deepEqual((await store.get(key))?.data, data);
      await store.close();
    });

    it('round-trips keys with quotes, backslashes, path syntax, __proto__ and control characters through patches', async () => {
      const store = o.makeStore();
      const key = newKey();
      const odd = [
        '日本語',
        '🦜',
        '__proto__',
        'constructor',
        '"',
        '\\',
        'a"b',
        'a\\b',
        '\\"',
        '$.a',
        '$[0]',
        '*',
        '**',
        'a[0]',
        '\n',
        '\t',
        "'",
        '`',
        '\u0001',
      ];
      await store.create(key, record({ data: {} }));
      const set = Object.fromEntries(odd.map((k, i) => [k, JSON.stringify(`${i}:${k}`)]));
      await store.patch(key, { set, unset: [], expiresAt: Date.now() + 60_000 });
      assert.deepEqual((await store.get(key))?.data, set);
      await store.patch(key, { set: {}, unset: odd.slice(0, 12), expiresAt: Date.now() + 60_000 });
      assert.deepEqual(
        (await store.get(key))?.data,
        Object.fromEntries(odd.slice(12).map((k) => [k, set[k]])),
      );
      await store.close();
    });

    it('enforces the size limit inside the patch statement, so concurrent patches cannot pass it together', async () => {
      const store = o.makeStore({ maxSize: 1_000 });
      const key = newKey();
      await store.create(key, record({ data: {} }));
      const value = JSON.stringify('v'.repeat(290)); // 292 bytes + 2 for the key: 3 fit, 4 do not
      const outcomes = await Promise.allSettled(
        [0, 1, 2, 3].map((i) =>
          store.patch(key, { set: { [`k${i}`]: value }, unset: [], expiresAt: Date.now() + 60_000 }),
        ),
      );
      const failed = outcomes.filter((r) => r.status === 'rejected');
      assert.equal(failed.length, 1);
      assert.equal((failed[0] as PromiseRejectedResult).reason.code, 'BATON_SESSION_TOO_LARGE');
      const got = await store.get(key);
      assert.equal(Object.keys(got?.data ?? {}).length, 3);
      // Replacing a key with a value of the same size fits even at the limit.
      const [first] = Object.keys(got?.data ?? {});
      assert.ok(first);
      assert.ok(
        await store.patch(key, { set: { [first]: value }, unset: [], expiresAt: Date.now() + 60_000 }),
      );
      await store.close();
    });

    describe('Patch.expect: a merge patch applies only while each changed key holds what was read', () => {
      const expiresAt = () => Date.now() + 60_000;
      const staleOf = (err: { code?: string; staleKeys?: readonly string[] }) => {
        assert.equal(err.code, 'BATON_CONFLICT');
        return [...(err.staleKeys ?? [])].sort();
      };

      it('refuses a patch whose expected key changed, names it in staleKeys, and writes nothing', async () => {
        const store = o.makeStore();
        const key = newKey();
        await store.create(key, record({ data: { a: '"1"', b: '"x"', c: '[1]' } }));
        assert.equal(
          (
            await store.patch(key, {
              set: { a: '"2"' },
              unset: [],
              expiresAt: expiresAt(),
              expect: { a: '"1"' },
            })
          )?.version,
          2,
        );
        let caught: unknown;
        await store
          .patch(key, {
            set: { a: '"3"', b: '"y"' },
            unset: ['c'],
            expiresAt: expiresAt(),
            userId: 'someone',
            expect: { a: '"1"', b: '"x"', c: '[1]' },
          })
          .catch((err: unknown) => {
            caught = err;
          });
        assert.deepEqual(staleOf(caught as never), ['a']);
        const got = await store.get(key);
        assert.deepEqual(got?.data, { a: '"2"', b: '"x"', c: '[1]' }, 'nothing of the refused patch written');
        assert.equal(got?.version, 2);
        assert.equal(got?.userId, undefined);
        await store.close();
      });

      it('null expects the key absent: applies while it is, names it once another request set it', async () => {
        const store = o.makeStore();
        const key = newKey();
        await store.create(key, record({ data: { a: '"1"' } }));
        await store.patch(key, {
          set: { n: '"first"' },
          unset: [],
          expiresAt: expiresAt(),
          expect: { n: null },
        });
        let caught: unknown;
        await store
          .patch(key, { set: { n: '"second"' }, unset: [], expiresAt: expiresAt(), expect: { n: null } })
          .catch((err: unknown) => {
            caught = err;
          });
        assert.deepEqual(staleOf(caught as never), ['n']);
        // The other way round: a key expected present that another request removed.
        await store.patch(key, { set: {}, unset: ['a'], expiresAt: expiresAt() });
        caught = undefined;
        await store
          .patch(key, {
            set: { a: '"2"' },
            unset: [],
            expiresAt: expiresAt(),
            expect: { a: '"1"', n: '"first"' },
          })
          .catch((err: unknown) => {
            caught = err;
          });
        assert.deepEqual(staleOf(caught as never), ['a']);
        assert.deepEqual((await store.get(key))?.data, { n: '"first"' });
        await store.close();
      });

      it('compares the exact JSON text: unchanged odd texts apply, a respelling of the same value does not', async () => {
        const store = o.makeStore();
        const key = newKey();
        const odd: Record<string, string> = {
          q: JSON.stringify('a"b\\c\n\t\u2028é🦜'),
          o: '{"b":1, "a":[2,{"z":null}]}',
          n: '1.5e+300',
          e: '""',
          s: JSON.stringify(`${'x'.repeat(5_000)}ü`),
        };
        await store.create(key, record({ data: { q: odd.q ?? '' } }));
        // Written by a patch too (MariaDB: through JSON_MERGE_PATCH), then expected unchanged.
        const rest = Object.fromEntries(Object.entries(odd).filter(([k]) => k !== 'q'));
        await store.patch(key, { set: rest, unset: [], expiresAt: expiresAt() });
        const next = Object.fromEntries(Object.keys(odd).map((k) => [k, JSON.stringify(`${k}!`)]));
        assert.ok(await store.patch(key, { set: next, unset: [], expiresAt: expiresAt(), expect: odd }));
        assert.deepEqual((await store.get(key))?.data, next);
        await store.patch(key, { set: { o: '{"b":1, "a":2}' }, unset: [], expiresAt: expiresAt() });
        let caught: unknown;
        await store
          .patch(key, {
            set: { o: '"z"' },
            unset: [],
            expiresAt: expiresAt(),
            expect: { o: '{"a":2,"b":1}' },
          })
          .catch((err: unknown) => {
            caught = err;
          });
        assert.deepEqual(staleOf(caught as never), ['o'], 'another spelling is another text');
        await store.close();
      });

      it('a gone session stays null, whatever the expectations', async () => {
        const store = o.makeStore();
        const key = newKey();
        assert.equal(
          await store.patch(key, {
            set: { a: '"2"' },
            unset: [],
            expiresAt: expiresAt(),
            expect: { a: '"1"' },
          }),
          null,
        );
        await store.create(key, record({ data: { a: '"1"' }, expiresAt: Date.now() + 200 }));
        await new Promise((resolve) => setTimeout(resolve, 300));
        assert.equal(
          await store.patch(key, {
            set: { a: '"2"' },
            unset: [],
            expiresAt: expiresAt(),
            expect: { a: '"9"' },
          }),
          null,
        );
        await store.close();
      });

      it('10 concurrent patches expecting the same value of one key: exactly one applies', async () => {
        const store = o.makeStore();
        const key = newKey();
        await store.create(key, record({ data: { basket: '[]' } }));
        const outcomes = await Promise.allSettled(
          Array.from({ length: 10 }, (_, i) =>
            store.patch(key, {
              set: { basket: JSON.stringify([i]) },
              unset: [],
              expiresAt: expiresAt(),
              expect: { basket: '[]' },
            }),
          ),
        );
        const applied = outcomes.filter((r) => r.status === 'fulfilled');
        assert.equal(applied.length, 1);
        for (const r of outcomes) {
          if (r.status === 'rejected') assert.deepEqual(staleOf(r.reason), ['basket']);
        }
        const got = await store.get(key);
        assert.equal(got?.version, 2);
        assert.match(got?.data.basket ?? '', /^\[\d\]$/);
        await store.close();
      });

      it('1,000 expected keys: applies when all hold, names the one that changed', async () => {
        const store = o.makeStore();
        const key = newKey();
        const data = Object.fromEntries(
          Array.from({ length: 1_000 }, (_, i) => [`k${i}`, JSON.stringify(i)]),
        );
        await store.create(key, record({ data }));
        const set = Object.fromEntries(Object.keys(data).map((k) => [k, JSON.stringify(`${k}+`)]));
        const expect: Record<string, string | null> = { ...data, fresh: null };
        assert.equal(
          (await store.patch(key, { set: { ...set, fresh: '1' }, unset: [], expiresAt: expiresAt(), expect }))
            ?.version,
          2,
        );
        let caught: unknown;
        const stale = { ...set, k500: '"elsewhere"' };
        await store
          .patch(key, {
            set: data,
            unset: ['fresh'],
            expiresAt: expiresAt(),
            expect: { ...stale, fresh: '1' },
          })
          .catch((err: unknown) => {
            caught = err;
          });
        assert.deepEqual(staleOf(caught as never), ['k500']);
        assert.equal((await store.get(key))?.data.k0, '"k0+"', 'nothing written');
        await store.close();
      });
    });

    const pools = o.boundsPassedPools ? (['own', 'passed'] as const) : (['own'] as const);
    for (const which of pools) {
      // The timeout turns a regression (a wait with no bound) into a failure instead of a hang.
      it(`a row locked by another transaction blocks a write no longer than rowLockTimeoutMs (${which} pool)`, {
        timeout: 20_000,
      }, async () => {
        const make = which === 'own' ? o.makeStore : o.makeStoreOnPool;
        const store = make({ rowLockTimeoutMs: 1_000 });
        const key = newKey();
        await store.create(key, record());
        const rollback = await o.holdRowLock(key);
        try {
          let started = Date.now();
          await assert.rejects(
            store.patch(key, { set: { a: '1' }, unset: [], expiresAt: Date.now() + 60_000 }),
            (err: { code?: string }) => err.code === 'BATON_LOCK_TIMEOUT',
          );
          const waited = Date.now() - started;
          assert.ok(waited >= 900, `waited ${waited} ms for the row lock`);
          assert.ok(waited < 5_000, `waited ${waited} ms: the engine default, not rowLockTimeoutMs`);
          started = Date.now();
          assert.equal(await store.lock(key, 5_000), null, 'a row held elsewhere counts as locked');
          assert.ok(Date.now() - started < 5_000);
        } finally {
          await rollback();
        }
        assert.deepEqual((await store.get(key))?.data, record().data, 'nothing written');
        const handle = await store.lock(key, 5_000);
        assert.ok(handle, 'lockable once the transaction ended');
        await handle.release();
        await store.close();
      });
    }

    it('scan pages by key and sees every session exactly once', async () => {
      const store = o.makeStore({ batchSize: 3 });
      const keys = Array.from({ length: 8 }, () => newKey());
      for (const k of keys) await store.create(k, record());
      const seen: string[] = [];
      for await (const s of store.scan({ includeExpired: true })) seen.push(s.key);
      assert.equal(new Set(seen).size, seen.length, 'no key twice');
      for (const k of keys) assert.ok(seen.includes(k));
      assert.deepEqual(
        seen,
        [...seen].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b))),
      );
      let limited = 0;
      for await (const _ of store.scan({ limit: 5 })) limited++;
      assert.equal(limited, 5);
      await store.close();
    });

    it('gc deletes in batches, reports progress and holds its rate', async () => {
      const store = o.makeStore({ batchSize: 2 });
      assert.ok(store.gc);
      await store.gc(); // leftovers of other tests
      const now = Date.now();
      for (let i = 0; i < 5; i++) await store.create(newKey(), record({ expiresAt: now + 300 }));
      const live = newKey();
      await store.create(live, record());
      await new Promise((resolve) => setTimeout(resolve, 450));
      const dry = await store.gc({ dryRun: true });
      assert.equal(dry.deleted, 5);
      const progress: number[] = [];
      const started = Date.now();
      const result = await store.gc({ rate: 4, onProgress: (p) => progress.push(p.deleted) });
      assert.equal(result.deleted, 5);
      assert.deepEqual(progress, [2, 4, 5]);
      // 5 deletions at 4 per second: the second batch may start no sooner than 2/4 s in.
      assert.ok(Date.now() - started >= 900, `took ${Date.now() - started} ms`);
      assert.ok(await store.get(live));
      await store.close();
    });

    it('maps a refused connection to StoreUnavailableError with the cause', async () => {
      const store = o.unreachableStore();
      await assert.rejects(
        store.get(newKey()),
        (err: { code?: string; cause?: unknown; message: string }) => {
          assert.equal(err.code, 'BATON_STORE_UNAVAILABLE');
          assert.ok(err.cause, 'carries the driver error');
          assert.match(err.message, /not reachable/);
          return true;
        },
      );
      await store.close();
    });

    it('says how to create a missing table', async () => {
      const store = o.missingTableStore();
      await assert.rejects(store.get(newKey()), (err: { code?: string; message: string }) => {
        assert.equal(err.code, 'BATON_STORE_UNAVAILABLE');
        assert.match(err.message, /ensureTable/);
        return true;
      });
      await store.close();
    });

    it('stores U+0000 in names and values, or refuses it up front by name where the engine cannot', async () => {
      const store = o.makeStore();
      const key = newKey();
      const data = { 'a\u0000b': '"x"', v: '"\u0000"' };
      if (o.forbidsNul) {
        for (const attempt of [
          store.create(key, record({ data })),
          store.create(key, record({ userId: 'u\u0000' })),
          store.get('k\u0000'),
          store.listByUser('u\u0000'),
        ]) {
          await assert.rejects(attempt, (err: { code?: string; message: string }) => {
            assert.equal(err.code, 'BATON_INVALID_INPUT');
            assert.match(err.message, /U\+0000/);
            return true;
          });
        }
        await store.create(key, record());
        await assert.rejects(store.patch(key, { set: data, unset: [], expiresAt: Date.now() + 60_000 }), {
          code: 'BATON_INVALID_INPUT',
        });
      } else {
        await store.create(key, record({ data, userId: 'u\u0000' }));
        assert.deepEqual((await store.get(key))?.data, data);
        assert.equal((await store.listByUser('u\u0000'))[0]?.key, key);
      }
      await store.close();
    });

    it('refuses keys and user ids longer than the columns hold', async () => {
      const store = o.makeStore();
      await assert.rejects(store.get('k'.repeat(2_000)), { code: 'BATON_INVALID_INPUT' });
      await assert.rejects(store.create(newKey(), record({ userId: 'u'.repeat(2_000) })), {
        code: 'BATON_INVALID_INPUT',
      });
      await store.close();
    });

    it('a closed store refuses calls with StoreUnavailableError', async () => {
      const store = o.makeStore();
      await store.close();
      await assert.rejects(store.get(newKey()), { code: 'BATON_STORE_UNAVAILABLE' });
    });
  });
}
