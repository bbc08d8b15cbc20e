/**
 * Reliability rows that every store runs through the session manager (two managers = two app
 * instances over one store): CONC-01..10, INP-05, INP-07, SEC-04, SEC-09, SEC-11, SEC-14, RET-01/02.
 * Each store's file calls `reliabilitySuite(name, factory)` with a fresh, isolated store.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { hashId } from '../../src/core/ids.js';
import { SessionManager } from '../../src/core/manager.js';
import type { SessionOptions } from '../../src/core/options.js';
import { FORWARD_KEY } from '../../src/core/renewal.js';
import { type Session, STATE } from '../../src/core/session.js';
import type { Store, StoredSession } from '../../src/stores/store.js';
import { countCalls } from '../helpers/counting-store.js';
import { idOf, request } from '../helpers/manager-flow.js';

export interface ReliabilityOptions {
  /** The store has locks (`concurrency: 'lock'`). @default true */
  lock?: boolean;
  /** The store has a user index. @default true */
  userIndex?: boolean;
  /** The store can list its sessions (`scan`), used to dump it. @default true */
  scan?: boolean;
  /**
   * Every raw record as the engine holds it, for dumps (SEC-04, SEC-11): `keys` are the store keys
   * the suite's sessions were created under (for engines that cannot list). Default: scan + get.
   */
  dump?: (store: Store, keys: string[]) => Promise<string[]>;
  /** Sessions issued for the dump (SEC-04; the matrix asks 1,000). @default 1000 */
  sessions?: number;
  /** CONC-01 rounds (the matrix asks 100). @default 100 */
  repeat?: number;
  /** CONC-04 runs (the matrix asks 1,000). @default 1000 */
  logoutRuns?: number;
  /** Rows known to fail on this store: row id → why. They run as `todo` (reported, not failing the run). */
  knownIssues?: Record<string, string>;
  /** Whole seconds of expiry resolution (DynamoDB, Memcached). @default 0 */
  expiryGranularityMs?: number;
  /** RET-01 samples: sessions read as soon as they expire (the matrix asks 10,000). @default 300 */
  expirySamples?: number;
  /** RET-01 sessions being created at once (an engine in this process needs fewer). @default 16 */
  expiryWriters?: number;
}

const secret = 'reliability-secret-reliability-secret';
/** BATON_FULL_COUNTS=1 (set by `npm run test:faults`) runs the matrix's full repetition counts on every store. */
const FULL = process.env.BATON_FULL_COUNTS === '1';
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function defaultDump(store: Store): Promise<string[]> {
  const out: string[] = [];
  if (!store.scan) return out;
  for await (const s of store.scan({ includeExpired: true })) {
    out.push(s.key, JSON.stringify(s));
    const full = await store.get(s.key);
    if (full) out.push(JSON.stringify(full));
  }
  return out;
}

export function reliabilitySuite(
  name: string,
  factory: () => Promise<Store>,
  options: ReliabilityOptions = {},
): void {
  const hasLock = options.lock ?? true;
  const hasUserIndex = options.userIndex ?? true;
  const dump = options.dump ?? defaultDump;
  const canDump = options.dump !== undefined || (options.scan ?? true);
  const granularity = options.expiryGranularityMs ?? 0;

  describe(`${name}: reliability through the session manager`, () => {
    let store: Store;
    const managers: SessionManager[] = [];
    before(async () => {
      store = await factory();
    });
    after(async () => {
      await Promise.all(managers.map((m) => m.close()));
      await store.close();
    });
    const created: string[] = [];
    const instances = (extra: Partial<SessionOptions> = {}): [SessionManager, SessionManager] => {
      const pair: [SessionManager, SessionManager] = [
        new SessionManager({ store, secret, ...extra }),
        new SessionManager({ store, secret, ...extra }),
      ];
      for (const m of pair) m.on('created', (e) => created.push(e.key));
      managers.push(...pair);
      return pair;
    };

    it('CONC-01: 50 concurrent requests on two instances each set their own key; repeated, 0 losses', async (t) => {
      const [a, b] = instances();
      const rounds = FULL ? 100 : (options.repeat ?? 100);
      let lost = 0;
      for (let r = 0; r < rounds; r++) {
        const first = await request(a, undefined, (s) => {
          s.start = r;
        });
        await Promise.all(
          Array.from({ length: 50 }, (_, i) =>
            request(i % 2 ? b : a, first.cookie, (s) => {
              s[`k${i}`] = i;
            }),
          ),
        );
        const end = await request(b, first.cookie);
        for (let i = 0; i < 50; i++) if (end.session[`k${i}`] !== i) lost++;
      }
      t.diagnostic(`${rounds} rounds × 50 keys, lost ${lost}`);
      assert.equal(lost, 0);
    });

    it('CONC-02: 10 concurrent read-modify-write pushes onto one key, per mode', async (t) => {
      const results: string[] = [];
      const push = (m: SessionManager, cookie: string | undefined, i: number) =>
        request(m, cookie, async (s) => {
          const list = (s.basket as number[] | undefined) ?? [];
          await sleep(2);
          s.basket = [...list, i];
        });
      const modes: SessionOptions['concurrency'][] = hasLock
        ? ['lock', 'strict', 'merge', 'overwrite']
        : ['strict', 'merge', 'overwrite'];
      for (const mode of modes) {
        const [a, b] = instances({ concurrency: mode, lockWait: 10 });
        const first = await request(a, undefined, (s) => {
          s.basket = [];
        });
        const settled = await Promise.allSettled(
          Array.from({ length: 10 }, (_, i) => push(i % 2 ? b : a, first.cookie, i)),
        );
        const conflicts = settled.filter(
          (r) => r.status === 'rejected' && (r.reason as { code?: string }).code === 'BATON_CONFLICT',
        ).length;
        const otherErrors = settled.filter((r) => r.status === 'rejected').length - conflicts;
        const kept = ((await request(a, first.cookie)).session.basket as number[]).length;
        results.push(`${mode}: kept ${kept}, conflicts ${conflicts}`);
        assert.equal(otherErrors, 0, `${mode}: no other errors`);
        if (mode === 'lock') assert.equal(kept, 10, 'lock keeps all 10');
        else if (mode === 'strict') assert.equal(kept + conflicts, 10, 'strict: kept + conflicts = 10');
        else assert.ok(kept >= 1, `${mode}: last writer wins, at least one kept`);
      }
      t.diagnostic(results.join('; '));
    });

    it('CONC-04: logout during a slow request — the old id stays invalid and the slow commit writes nothing', async (t) => {
      const [a, b] = instances();
      const runs = FULL ? 1000 : (options.logoutRuns ?? 1000);
      let resurrected = 0;
      let slowWrites = 0;
      const calls = countCalls(store);
      for (let r = 0; r < runs; r++) {
        const login = await request(a, undefined, (s) => {
          s.userId = `u${r}`;
        });
        const slow = await a.load({ cookie: login.cookie }); // A loads, then is "suspended"
        await request(b, login.cookie, (s) => s.destroy()); // B logs out
        slow.cart = ['late']; // A resumes and changes data
        calls.reset();
        const result = await a.commit(slow);
        slowWrites += (calls.counts.patch ?? 0) + (calls.counts.create ?? 0);
        assert.ok(
          result.setCookie.every((c) => /Max-Age=0/.test(c)),
          'the slow response clears the cookie',
        );
        const replay = await request(b, login.cookie);
        if (!replay.session.isNew || replay.session.userId !== undefined) resurrected++;
      }
      t.diagnostic(
        `${runs} runs: ${resurrected} resurrections; the slow commit attempted ${slowWrites} patches, none applied`,
      );
      assert.equal(resurrected, 0);
    });

    it('CONC-05: two concurrent regenerates — the old id is invalid, one new id holds the data, no orphan copy', {
      todo: options.knownIssues?.['CONC-05'],
    }, async () => {
      const [a, b] = instances();
      const first = await request(a, undefined, (s) => {
        s.secret = 'data';
      });
      const oldKey = hashId(idOf(first.cookie));
      const one = await a.load({ cookie: first.cookie });
      const two = await b.load({ cookie: first.cookie });
      await Promise.all([one.regenerate(), two.regenerate()]);
      const [r1, r2] = await Promise.all([a.commit(one), b.commit(two)]);
      assert.equal(await store.get(oldKey), null, 'old key gone');
      const cookies = [r1, r2].map((r) => (r.setCookie[0] ?? '').split(';')[0]);
      const holders = [];
      for (const c of cookies) {
        const stored = c && idOf(c) ? await store.get(hashId(idOf(c))) : null;
        if (stored?.data.secret) holders.push(c);
      }
      assert.ok(holders.length <= 1, `at most one new id holds the data (got ${holders.length})`);
      assert.equal((await request(a, first.cookie)).session.isNew, true, 'the old cookie gets nothing');
    });

    it('CONC-06: regenerate + set + save(), a concurrent change to another key survives the end of the first request', async () => {
      const [a, b] = instances();
      const first = await request(a, undefined, (s) => {
        s.before = 1;
      });
      const calls = countCalls(store);
      const s1 = await a.load({ cookie: first.cookie });
      await s1.regenerate();
      s1.role = 'user';
      await s1.save();
      const cookie = `sid=${(await a.commit(s1)).setCookie[0]?.split(';')[0]?.slice(4)}`;
      const writesByFirst = (calls.counts.create ?? 0) + (calls.counts.patch ?? 0);
      // regenerate() wrote its move marker (logout wins), the explicit save wrote once, and the
      // end of the request wrote nothing more.
      assert.equal(writesByFirst, 2);
      await request(b, cookie, (s) => {
        s.other = 'concurrent';
      });
      const end = await request(a, cookie);
      assert.equal(end.session.other, 'concurrent');
      assert.equal(end.session.role, 'user');
    });

    it('CONC-07: a waiter past lockWait gets LockTimeoutError near lockWait; the holder still commits', {
      skip: !hasLock && 'no locks',
    }, async (t) => {
      const [a, b] = instances({ concurrency: 'lock', lockWait: 1, lockTtl: 30 });
      const first = await request(a, undefined, (s) => {
        s.n = 0;
      });
      const holder = await a.load({ cookie: first.cookie });
      const started = Date.now();
      await assert.rejects(b.load({ cookie: first.cookie }), { code: 'BATON_LOCK_TIMEOUT' });
      const waited = Date.now() - started;
      holder.n = 1;
      await a.commit(holder);
      t.diagnostic(`waiter gave up after ${waited} ms (lockWait 1000 ms)`);
      assert.ok(waited >= 1000, 'not before lockWait');
      assert.equal((await request(b, first.cookie)).session.n, 1, "holder's commit kept, nothing partial");
    });

    it('CONC-08: a holder that never releases: the next request gets the lock after lockTtl', {
      skip: !hasLock && 'no locks',
    }, async (t) => {
      const [a, b] = instances({ concurrency: 'lock', lockWait: 5, lockTtl: 1 });
      const first = await request(a, undefined, (s) => {
        s.n = 7;
      });
      const started = Date.now();
      await a.load({ cookie: first.cookie }); // acquired, then the holder "dies": never commits
      const next = await request(b, first.cookie, (s) => {
        s.n = 8;
      });
      const waited = Date.now() - started;
      t.diagnostic(`next request acquired after ${waited} ms (lockTtl 1000 ms)`);
      assert.ok(waited >= 900 - granularity, 'the lock held until it expired');
      assert.equal(next.session.n, 8);
      assert.equal((await request(a, first.cookie)).session.n, 8);
    });

    it('CONC-09: 20 concurrent first visits that write get 20 different ids, each stored once', async () => {
      const [a, b] = instances();
      const replies = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          request(i % 2 ? b : a, undefined, (s) => {
            s.visit = i;
          }),
        ),
      );
      const ids = new Set(replies.map((r) => idOf(r.cookie)));
      assert.equal(ids.size, 20);
      for (const r of replies) {
        const stored = await store.get(hashId(idOf(r.cookie)));
        assert.equal(stored?.data.visit, String(r.session.visit));
      }
    });

    it('CONC-10: a touch right after destroy returns false and recreates nothing', async () => {
      const [a, b] = instances();
      const first = await request(a, undefined, (s) => {
        s.a = 1;
      });
      const key = hashId(idOf(first.cookie));
      const slow = await a.load({ cookie: first.cookie });
      await slow.touch();
      await request(b, first.cookie, (s) => s.destroy());
      await a.commit(slow);
      assert.equal(await store.get(key), null);
      assert.equal(await store.touch(key, Date.now() + 60_000), false);
      assert.equal(await store.get(key), null, 'nothing recreated');
    });

    it('RET-02 (and RET-01 once): lifetime 1 s — an idle session is absent after expiry, and a late write does not revive it', async (t) => {
      const [a] = instances({ lifetime: 1, touchAfter: 0.1 });
      const first = await request(a, undefined, (s) => {
        s.a = 1;
      });
      const key = hashId(idOf(first.cookie));
      const slow = await a.load({ cookie: first.cookie });
      const stored = (await store.get(key)) as StoredSession;
      while (Date.now() <= stored.expiresAt + granularity) await sleep(25);
      const late = Date.now() - stored.expiresAt;
      slow.a = 2;
      await a.commit(slow); // patch after expiry: refused
      assert.equal(await store.get(key), null, 'absent and not revived');
      assert.equal(await store.touch(key, Date.now() + 60_000), false);
      const replay = await request(a, first.cookie);
      assert.equal(replay.session.isNew, true);
      t.diagnostic(`read ${late} ms after expiry: absent`);
    });

    const samples = FULL ? 10_000 : (options.expirySamples ?? 300);
    it(`RET-01: ${samples} sessions with a 1 s lifetime, each read as soon as the clock passes its expiry: 0 served`, async (t) => {
      const [a, b] = instances({ lifetime: 1 });
      // Why each read found nothing: the store returned no record (the engine had dropped it or the
      // store filtered it: 'unknown'), or it returned the record and the core refused it ('expired').
      const why = { expired: 0, unknown: 0 };
      for (const m of [a, b]) {
        m.on('expired', () => why.expired++);
        m.on('unknown', () => why.unknown++);
      }
      // Sessions waiting to be read, by expiry (the expiry the writing instance computed).
      const pending: { i: number; cookie: string; expiresAt: number }[] = [];
      const late: number[] = [];
      const examples: string[] = [];
      const failures: unknown[] = [];
      const reads: Promise<void>[] = [];
      let served = 0;
      let writing = true;

      // Writers create sessions back to back, so expiries are staggered, and stand aside while a
      // read is due within 20 ms: reads come first, and the sessions come in waves.
      let next = 0;
      const writer = async () => {
        for (let i = next++; i < samples; i = next++) {
          while (pending[0] && pending[0].expiresAt - Date.now() < 20) await sleep(5);
          const made = await request(i % 2 ? b : a, undefined, (s) => {
            s.i = i;
          });
          const sample = { i, cookie: made.cookie!, expiresAt: made.session[STATE].expiresAt };
          let at = pending.length;
          while (at > 0 && pending[at - 1]!.expiresAt > sample.expiresAt) at--;
          pending.splice(at, 0, sample);
        }
      };
      // The other instance reads each session once Date.now() has passed its expiry.
      const read = async (sample: (typeof pending)[number]) => {
        const reader = sample.i % 2 ? a : b;
        late.push(Date.now() - sample.expiresAt);
        try {
          const session = await reader.load({ cookie: sample.cookie });
          if (!session.isNew || session.i !== undefined) {
            served++;
            examples.push(`sample ${sample.i} served ${Date.now() - sample.expiresAt} ms after expiry`);
          }
          await reader.commit(session);
        } catch (err) {
          failures.push(err);
        }
      };
      const reader = async () => {
        while (writing || pending.length > 0) {
          const head = pending[0];
          if (!head) {
            await sleep(5);
            continue;
          }
          if (head.expiresAt - Date.now() > 3) await sleep(head.expiresAt - Date.now() - 2);
          while (Date.now() <= head.expiresAt) await new Promise((resolve) => setImmediate(resolve));
          while (pending[0] && pending[0].expiresAt < Date.now()) reads.push(read(pending.shift()!));
        }
      };

      const started = Date.now();
      const reading = reader();
      const writers = await Promise.allSettled(Array.from({ length: options.expiryWriters ?? 16 }, writer));
      writing = false;
      await reading;
      await Promise.all(reads);
      for (const w of writers) if (w.status === 'rejected') throw w.reason;
      if (failures.length > 0) throw failures[0];
      late.sort((x, y) => x - y);
      const at = (q: number) => late[Math.min(late.length - 1, Math.floor(q * late.length))];
      const prompt = late.filter((ms) => ms <= 5).length;
      t.diagnostic(
        `${samples} samples in ${Date.now() - started} ms: ${served} served; read ${late[0]}–${at(1)} ms ` +
          `after expiry (p50 ${at(0.5)}, p99 ${at(0.99)}; ${prompt} within 5 ms); the store returned ` +
          `no record ${why.unknown}, the record but the core refused it ${why.expired}`,
      );
      assert.deepEqual(examples.slice(0, 5), []);
      assert.equal(served, 0);
      assert.equal(late.length, samples);
    });

    it('INP-05: odd data keys round-trip exactly; an over-long key is a SessionDataError naming it', async () => {
      const [a, b] = instances();
      const keys = [
        '',
        '.',
        'a.b',
        'a-b',
        '#x',
        ':v',
        'data',
        'name',
        'status',
        'ünï©ødé 🔑',
        '$set',
        'k'.repeat(1024),
      ];
      const first = await request(a, undefined, (s) => {
        keys.forEach((k, i) => {
          s[k] = { i, k };
        });
      });
      const second = await request(b, first.cookie, (s) => {
        for (const k of keys) (s[k] as { i: number }).i += 100;
      });
      assert.ok(second.cookie);
      const end = await request(a, first.cookie);
      for (const [i, k] of keys.entries()) {
        assert.deepEqual(end.session[k], { i: i + 100, k }, `key ${JSON.stringify(k.slice(0, 20))}`);
      }
      await assert.rejects(
        request(a, first.cookie, (s) => {
          s['x'.repeat(3000)] = 1;
        }),
        (err: { code: string; key: string }) =>
          err.code === 'BATON_SESSION_DATA' && err.key.startsWith('xxxx'),
      );
    });

    it('INP-07: over the size limit is a 413 before any write, earlier data intact; nesting 33 deep refused', async () => {
      const [a] = instances({ maxSize: 16 * 1024 });
      const first = await request(a, undefined, (s) => {
        s.keep = 'me';
      });
      const calls = countCalls(store);
      await assert.rejects(
        request(a, first.cookie, (s) => {
          s.big = 'x'.repeat(17 * 1024);
        }),
        { code: 'BATON_SESSION_TOO_LARGE', status: 413 },
      );
      await assert.rejects(
        request(a, first.cookie, (s) => {
          let v: unknown = 1;
          for (let i = 0; i < 33; i++) v = [v];
          s.deep = v;
        }),
        { code: 'BATON_SESSION_DATA' },
      );
      assert.equal((calls.counts.patch ?? 0) + (calls.counts.create ?? 0), 0, 'nothing written');
      assert.equal((await request(a, first.cookie)).session.keep, 'me');
    });

    const sessions = FULL ? 1000 : (options.sessions ?? 1000);
    it(`SEC-04: ${sessions} sessions — no stored key or value holds an issued id or cookie value`, {
      skip: !canDump && 'cannot dump',
    }, async (t) => {
      const [a] = instances();
      const cookies: string[] = [];
      for (let i = 0; i < sessions; i++) {
        const r = await request(a, undefined, (s) => {
          s.i = i;
        });
        cookies.push(r.cookie!);
      }
      const text = (await dump(store, created)).join('\n');
      let found = 0;
      for (const c of cookies) {
        const id = idOf(c);
        if (text.includes(id) || text.includes(c.slice(4))) found++;
        assert.ok(text.includes(hashId(id)), 'stored under base64url(sha256(id))');
      }
      t.diagnostic(`dumped ${text.length} bytes, ${cookies.length} ids checked, ${found} found`);
      assert.equal(found, 0);
    });

    it('SEC-09: renewal every 1 s, grace 1 s — the old id leads to the session only within the grace window, then never', async (t) => {
      const renewal = { interval: 1, grace: 1 };
      const [a, b] = instances({ renewal });
      const user = `user-${randomBytes(6).toString('hex')}`;
      const first = await request(a, undefined, (s) => {
        s.cart = 'x';
        s.userId = user;
      });
      const oldKey = hashId(idOf(first.cookie));
      const issued = ((await store.get(oldKey)) as StoredSession).createdAt;
      const early = await request(b, first.cookie);
      assert.deepEqual(early.setCookie, [], 'before the interval: no renewal, no write');

      while (Date.now() < issued + 1000 + granularity) await sleep(20);
      const renewed = await request(a, first.cookie, (s) => {
        s.n = 1;
      });
      const rotatedAt = Date.now();
      assert.ok(renewed.cookie && renewed.cookie !== first.cookie, 'a new id is issued');
      const newId = idOf(renewed.cookie);
      const forwarding = (await store.get(oldKey)) as StoredSession;
      assert.deepEqual(Object.keys(forwarding.data), [FORWARD_KEY], 'the old record keeps no data');
      assert.equal(forwarding.userId, undefined, 'nor a user index entry');
      assert.ok(forwarding.expiresAt <= rotatedAt + 1000, 'it expires at the end of the grace window');
      const raw = JSON.stringify(forwarding);
      assert.ok(!raw.includes(newId) && !raw.includes(hashId(newId)), 'the new id is not readable from it');

      // Within the grace window: a request still carrying the old cookie reaches the session and
      // gets the new cookie; what it writes lands on the session.
      const straggler = await request(b, first.cookie, (s) => {
        s.m = 2;
      });
      const inGrace = Date.now() - rotatedAt;
      assert.equal(straggler.session.cart, 'x');
      assert.equal(straggler.session.n, 1);
      assert.equal(straggler.cookie, renewed.cookie, 'handed the new cookie');
      if (hasUserIndex) {
        const listed = await a.listByUser(user);
        assert.deepEqual(
          listed.map((l) => l.key),
          [hashId(newId)],
          'the user index lists the new id only',
        );
      }

      // After the grace window: the old id gets no session, ever; the new one keeps everything.
      while (Date.now() <= forwarding.expiresAt + granularity) await sleep(20);
      const late = await request(b, first.cookie);
      const afterGrace = Date.now() - rotatedAt;
      assert.equal(late.session.isNew, true, 'the old id is dead after the grace window');
      assert.equal(late.cookie, undefined, 'and its cookie is cleared');
      const current = await request(a, renewed.cookie);
      assert.deepEqual([current.session.cart, current.session.n, current.session.m], ['x', 1, 2]);
      t.diagnostic(
        `old id served ${inGrace} ms after renewal, refused ${afterGrace} ms after (grace 1,000 ms)`,
      );
    });

    it('SEC-09: logout on the new id within the grace window leaves the old id nothing', async () => {
      const [a, b] = instances({ renewal: { interval: 0.5, grace: 0.5 } });
      const first = await request(a, undefined, (s) => {
        s.cart = 'y';
      });
      const issued = ((await store.get(hashId(idOf(first.cookie)))) as StoredSession).createdAt;
      while (Date.now() < issued + 500 + granularity) await sleep(20);
      const renewed = await request(a, first.cookie);
      assert.notEqual(renewed.cookie, first.cookie);
      await request(b, renewed.cookie, (s) => s.destroy());
      const replay = await request(a, first.cookie);
      assert.equal(replay.session.isNew, true, 'no resurrection through the forwarding record');
      assert.equal(replay.session.cart, undefined);
    });

    for (const mode of ['merge', 'lock'] as const) {
      it(`SEC-09: 10 requests on the old id as the session renews, ${mode} mode: one new id, every key kept on it`, {
        skip: mode === 'lock' && !hasLock && 'no locks',
      }, async (t) => {
        // Lock mode serves the 10 one at a time: the old id must stay forwarded until the last
        // has had its turn. On a loaded 2-core machine with DynamoDB Local that queue took up to
        // about 2.3 s, past a 1 s grace (the default grace is 30 s); it is 4 s here (at most the
        // interval, which then is 4 s too).
        const seconds = mode === 'lock' ? 4 : 1;
        const [a, b] = instances({ renewal: { interval: seconds, grace: seconds }, concurrency: mode });
        const first = await request(a, undefined, (s) => {
          s.start = true;
        });
        const issued = ((await store.get(hashId(idOf(first.cookie)))) as StoredSession).createdAt;
        while (Date.now() < issued + seconds * 1000 + granularity) await sleep(20);
        const replies = await Promise.all(
          Array.from({ length: 10 }, (_, i) =>
            request(i % 2 ? b : a, first.cookie, (s) => {
              s[`k${i}`] = i;
            }),
          ),
        );
        const handed = new Set(replies.map((r) => r.cookie));
        const end = await request(a, replies[0]?.cookie);
        const kept = Array.from({ length: 10 }, (_, i) => end.session[`k${i}`] === i).filter(Boolean).length;
        t.diagnostic(`${kept} of 10 keys kept; ids handed out: ${handed.size}`);
        assert.equal(kept, 10);
        assert.equal(handed.size, 1, 'every request was handed the one renewed id');
        assert.ok(!handed.has(first.cookie));
      });
    }

    it('SEC-11: with encryption on, no plaintext canary in the dump; tampered data is absent', {
      skip: !canDump && 'cannot dump',
    }, async () => {
      const keys = [
        { id: '2', key: randomBytes(32) },
        { id: '1', key: randomBytes(32) },
      ];
      const [a] = instances({ encryption: { keys } });
      const canary = `canary-${randomBytes(8).toString('hex')}`;
      const first = await request(a, undefined, (s) => {
        s.card = canary;
        s.nested = { deep: [canary] };
      });
      assert.ok(!(await dump(store, created)).join('\n').includes(canary), 'no canary in the dump');
      assert.equal((await request(a, first.cookie)).session.card, canary);
      const key = hashId(idOf(first.cookie));
      const stored = (await store.get(key)) as StoredSession;
      const sealed = JSON.parse(stored.data.card as string) as string;
      const tampered = `${sealed.slice(0, -3)}${sealed.endsWith('AAA') ? 'BBB' : 'AAA'}`;
      await store.patch(key, {
        set: { card: JSON.stringify(tampered) },
        unset: [],
        expiresAt: stored.expiresAt,
      });
      assert.equal((await request(a, first.cookie)).session.isNew, true, 'tampered → absent');
    });

    it('SEC-14: log out everywhere — 5 sessions of one user on 2 instances, one made just before', {
      skip: !hasUserIndex && 'no user index',
    }, async (t) => {
      const [a, b] = instances();
      const user = `user-${randomBytes(6).toString('hex')}`;
      const cookies: string[] = [];
      for (let i = 0; i < 4; i++) {
        cookies.push((await request(i % 2 ? b : a, undefined, (s: Session) => s.login(user))).cookie!);
      }
      cookies.push((await request(b, undefined, (s: Session) => s.login(user))).cookie!);
      await sleep(10);
      const destroyed = await a.destroyUser(user);
      t.diagnostic(`destroyUser removed ${destroyed} of 5`);
      assert.equal(destroyed, 5);
      for (const c of cookies) {
        assert.equal((await request(a, c)).session.isNew, true);
        assert.equal((await request(b, c)).session.isNew, true);
      }
    });
  });
}
