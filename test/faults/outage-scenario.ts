/**
 * FLT-01/02 scenario, shared by every engine: an Express app serves a bounded load of users who
 * each append to their session; the engine goes down mid-load (killed, or its connections cut),
 * stays down, comes back. Checks: only 503s during the outage, no Set-Cookie on a failed
 * response (nobody's cookie replaced or cleared), no other 5xx, the app keeps serving, and
 * afterwards every session holds every acknowledged append exactly once, in order. An engine
 * that keeps nothing across a restart (`persistent: false`, Memcached) is checked differently
 * after it: every user is logged out (their next success starts a fresh session with a new
 * cookie, never a 5xx), and that fresh session holds every append acknowledged in it exactly once.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { TestContext } from 'node:test';
import type { Store } from '../../src/stores/store.js';
import { makeApp } from '../helpers/express-app.js';
import { close, Jar, listen } from '../helpers/http.js';

export interface OutageOptions {
  store: Store;
  /** Takes the engine away (kill -9, or cut its connections). */
  down: () => Promise<void>;
  /** Brings it back (restart on the same port and data, or heal). */
  up: () => Promise<void>;
  users?: number;
  /** How long the engine stays down. @default 2500 */
  outageMs?: number;
  /** The core's per-call timeout for the app. @default 1000 */
  timeoutMs?: number;
  /**
   * Whether sessions written before the outage survive it. `false` (Memcached): after the
   * restart each user gets a fresh session, and only appends acknowledged in it are checked.
   * @default true
   */
  persistent?: boolean;
}

interface Sample {
  user: number;
  start: number;
  end: number;
  status: number;
  setCookie: boolean;
  cookieChanged: boolean;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export interface OutageFigures {
  requests: number;
  duringOutage: number;
  okDuringOutage: number;
  worstOutageMs: number;
  recoveryMs: number;
  users: number;
  acked: number;
  ambiguous: number;
  /** Users whose session was gone after the restart and who got a fresh one (`persistent: false`). */
  freshSessions?: number;
}

export async function outageScenario(t: TestContext, options: OutageOptions): Promise<OutageFigures> {
  const usersCount = options.users ?? 20;
  const timeoutMs = options.timeoutMs ?? 1000;
  const persistent = options.persistent ?? true;
  // Readiness: poll until the engine answers (a fresh connection can be slow on a busy machine).
  const ready = Date.now();
  for (;;) {
    try {
      await options.store.get('baton-warm-up');
      break;
    } catch (err) {
      if (Date.now() - ready > 15_000) throw err;
      await sleep(50);
    }
  }
  const { app } = makeApp({ store: options.store, timeoutMs });
  const server = createServer(app);
  const base = await listen(server);
  try {
    const users = Array.from({ length: usersCount }, () => new Jar());
    const acked: string[][] = users.map(() => []);
    for (const [i, jar] of users.entries()) {
      const r = await jar.request(base, '/set', { json: { key: 'owner', value: `user-${i}` } });
      assert.equal(r.status, 200, r.text);
    }
    const samples: Sample[] = [];
    /** When each user's session was replaced by a fresh one (the response of a 200 that changed the cookie). */
    const freshAt: number[][] = users.map(() => []);
    let stop = false;
    const loops = users.map(async (jar, u) => {
      let seq = 0;
      while (!stop) {
        const value = `${u}-${seq++}`;
        const before = jar.cookie;
        const start = Date.now();
        let status = 0;
        let setCookie = false;
        try {
          const r = await jar.request(base, '/push', { json: { value } });
          status = r.status;
          setCookie = r.setCookie.length > 0;
        } catch {
          status = 0;
        }
        samples.push({
          user: u,
          start,
          end: Date.now(),
          status,
          setCookie,
          cookieChanged: jar.cookie !== before,
        });
        if (status === 200 && jar.cookie !== before) {
          // A fresh session (the old one was gone): only what is acknowledged in it can be kept.
          // Recorded at the response: a request sent while the engine was down may be served
          // after it came back (empty), which is still the restart's doing.
          freshAt[u]!.push(Date.now());
          acked[u] = [value];
        } else if (status === 200) acked[u]!.push(value);
        else await sleep(20);
      }
    });

    await sleep(800);
    await options.down();
    const downAt = Date.now();
    await sleep(options.outageMs ?? 2500);
    const upStart = Date.now();
    await options.up();
    // Recovery: poll with one user's real request until it succeeds.
    let recoveredAt = 0;
    while (recoveredAt === 0 && Date.now() - upStart < 30_000) {
      if (samples.some((s) => s.start >= upStart && s.status === 200)) recoveredAt = Date.now();
      else await sleep(20);
    }
    await sleep(800);
    stop = true;
    await Promise.all(loops);

    const during = samples.filter((s) => s.start >= downAt && s.end <= upStart);
    const failed = samples.filter((s) => s.status !== 200);
    assert.ok(during.length > 0, 'requests were made during the outage');
    for (const s of during) assert.equal(s.status, 503, 'only 503 during the outage');
    for (const s of failed) {
      assert.ok(s.status === 503, `a failure is a 503, got ${s.status}`);
      assert.equal(s.setCookie, false, 'a failed response sets no cookie');
      assert.equal(s.cookieChanged, false, "the user's cookie is neither replaced nor cleared");
    }
    assert.ok(recoveredAt > 0, 'requests succeed again once the engine is back');
    const worst = Math.max(...during.map((s) => s.end - s.start));
    assert.ok(worst <= timeoutMs + 1000, `no request hung during the outage (worst ${worst} ms)`);

    // Persistent engine: every session written before is intact, with every acknowledged append
    // exactly once, in order. Without persistence: every user was logged out once, after the
    // restart, and the fresh session holds every append acknowledged in it exactly once, in order.
    let ambiguous = 0;
    for (const [u, jar] of users.entries()) {
      if (persistent) assert.deepEqual(freshAt[u], [], `user ${u}: never handed a fresh session`);
      else {
        assert.equal(freshAt[u]!.length, 1, `user ${u}: logged out exactly once`);
        assert.ok(freshAt[u]![0]! >= upStart, `user ${u}: logged out only by the restart`);
      }
      const state = await jar.request(base, '/state');
      assert.equal(state.status, 200);
      if (persistent) assert.equal(state.body.data.owner, `user-${u}`, `user ${u}: session intact`);
      else assert.equal(state.body.data.owner, undefined, `user ${u}: the old session is gone`);
      const list = (state.body.data.list as string[] | undefined) ?? [];
      for (const v of list) assert.ok(v.startsWith(`${u}-`), `user ${u}: only their own appends (${v})`);
      for (const v of acked[u]!) assert.equal(list.filter((x) => x === v).length, 1, `${v} kept once`);
      const positions = acked[u]!.map((v) => list.indexOf(v));
      assert.deepEqual(
        positions,
        [...positions].sort((a, b) => a - b),
        `user ${u}: order kept`,
      );
      ambiguous += list.length - acked[u]!.length;
    }
    const figures: OutageFigures = {
      requests: samples.length,
      duringOutage: during.length,
      okDuringOutage: during.filter((s) => s.status === 200).length,
      worstOutageMs: worst,
      recoveryMs: recoveredAt - upStart,
      users: usersCount,
      acked: acked.reduce((n, a) => n + a.length, 0),
      ambiguous,
      ...(persistent ? {} : { freshSessions: freshAt.filter((f) => f.length > 0).length }),
    };
    t.diagnostic(JSON.stringify(figures));
    return figures;
  } finally {
    await close(server);
  }
}
