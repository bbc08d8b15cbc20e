/**
 * FLT-05 on Redis: a private redis-server behind a loopback proxy that resets the connection
 * right after a session write was sent (Toxiproxy's `reset_peer`), either before the reply comes
 * back (the write ran, the caller is never told) or as soon as the bytes are handed on (it may
 * or may not run). Checks, per run: the caller sees success or a typed 503, never silent loss;
 * the stored state is one a single write gives (the run's token at most once, the counter and
 * the version advanced once per applied write). One run in five is not reset. Run with `npm run test:faults`;
 * BATON_FAULT_SEED=<seed> replays a run.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createClient } from 'redis';
import { isBatonError } from '../../src/core/errors.js';
import { SessionManager } from '../../src/core/manager.js';
import { RedisStore } from '../../src/stores/redis/index.js';
import { freePort, hasBinary, RedisServer } from '../helpers/redis-servers.js';
import { TcpProxy } from '../helpers/tcp-proxy.js';

const hasRedis = await hasBinary('redis-server');
const redisSkip = hasRedis ? false : 'redis-server is not installed';
if (!hasRedis && process.env.BATON_REQUIRE_SERVICES === '1') throw new Error('redis-server is required');

const RUNS = 1_000;
const seed = Number(process.env.BATON_FAULT_SEED ?? Date.now() % 2_147_483_647);

/** mulberry32: a small seeded generator, so a failing run can be replayed. */
function random(state: number): () => number {
  let s = state >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

describe('FLT-05 Redis ambiguous write (connection reset after the write was sent)', {
  skip: redisSkip,
  timeout: 60_000,
}, () => {
  it(`${RUNS} patches, each reset after send (seed ${seed}): success or a typed 503, applied at most once, never lost`, async (t) => {
    t.diagnostic(`seed ${seed}`);
    const next = random(seed);
    const server = new RedisServer(await freePort());
    await server.start();
    const proxy = new TcpProxy({ targetPort: server.port });
    await proxy.start();
    // Reconnects at once after a reset; commands fail at once while it does (no offline queue).
    const client = createClient({
      url: `redis://127.0.0.1:${proxy.port}`,
      disableOfflineQueue: true,
      socket: { reconnectStrategy: () => 0 },
    });
    client.on('error', () => {});
    await client.connect();
    const store = new RedisStore({ client, prefix: 'flt05:', clock: 'local' });
    // The checker reads the engine directly, not through the proxy.
    const direct = new RedisStore({
      url: `redis://127.0.0.1:${server.port}`,
      prefix: 'flt05:',
      clock: 'local',
    });
    const manager = new SessionManager({ store, secret: 'ambiguous-secret-ambiguous-secret-0' });
    const figures = {
      runs: 0,
      reset: 0,
      acked: 0,
      errored: 0,
      ambiguous: 0,
      lostBeforeServer: 0,
      violations: 0,
    };
    const violation = (why: string) => {
      figures.violations++;
      t.diagnostic(`violation: ${why}`);
    };
    try {
      let key = '';
      manager.once('created', (e: { key: string }) => {
        key = e.key;
      });
      const first = await manager.load({});
      first.list = [];
      first.n = 0;
      const cookie = (await manager.commit(first)).setCookie[0]!.split(';')[0]!;
      // One clean patch first, so the script is loaded on the server before any reset.
      const warm = await manager.load({ cookie });
      warm.warm = true;
      await manager.commit(warm);
      for (let run = 0; run < RUNS; run++) {
        figures.runs++;
        if (!client.isReady) await new Promise((resolve) => client.once('ready', resolve));
        const before = (await direct.get(key))!;
        const s = await manager.load({ cookie });
        assert.equal(s.isNew, false, 'the session is there');
        const token = `t${run}`;
        s.list = [...(s.list as string[]), token];
        s.n = (s.n as number) + 1;
        // One run in five is left alone (the acknowledged path); the rest are reset after send.
        const roll = next();
        const reset =
          roll < 0.2 ? undefined : proxy.resetAfterSend(roll < 0.6 ? 'before-reply' : 'after-send');
        if (reset) figures.reset++;
        let acked = false;
        try {
          await manager.commit(s);
          acked = true;
          figures.acked++;
        } catch (err) {
          figures.errored++;
          if (!isBatonError(err) || err.code !== 'BATON_STORE_UNAVAILABLE' || err.status !== 503)
            violation(`run ${run}: untyped error ${String(err)}`);
        }
        await reset; // the patch is the only command sent after arming, so it was the one reset
        if (reset && acked) violation(`run ${run}: acknowledged although its reply was never sent`);
        const after = (await direct.get(key))!;
        const list = JSON.parse(after.data.list!) as string[];
        const n = JSON.parse(after.data.n!) as number;
        const copies = list.filter((x) => x === token).length;
        const applied = copies > 0;
        if (copies > 1) violation(`run ${run}: token applied ${copies} times`);
        if (acked && !applied) violation(`run ${run}: acknowledged, not stored (silent loss)`);
        if (!acked && applied) figures.ambiguous++;
        if (!acked && !applied) figures.lostBeforeServer++;
        if (after.version !== before.version + (applied ? 1 : 0))
          violation(`run ${run}: version ${before.version} -> ${after.version}, applied ${applied}`);
        if (n !== list.length) violation(`run ${run}: counter ${n} for ${list.length} tokens`);
      }
      t.diagnostic(JSON.stringify(figures));
      assert.equal(figures.violations, 0, 'no violation');
      assert.ok(figures.ambiguous > 0, 'some writes landed unacknowledged (the fault was real)');
    } finally {
      await manager.close();
      await store.close();
      await client.close().catch(() => client.destroy());
      await direct.close();
      await proxy.close();
      await server.stop();
    }
  });
});
