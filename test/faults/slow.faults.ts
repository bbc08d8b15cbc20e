/**
 * FLT-03: a slow store. The shared Redis sits behind a loopback proxy that delays every chunk
 * (500 ± 200 ms), then stalls (data never passed on, like Toxiproxy's `timeout 0`). The app's
 * core `timeoutMs` (300 ms) bounds each store call: requests answer 503 near the timeout, the
 * event loop stays free, and once the delay goes, requests succeed again.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { after, describe, it } from 'node:test';
import { createClient } from 'redis';
import { RedisStore } from '../../src/stores/redis/index.js';
import { makeApp } from '../helpers/express-app.js';
import { close, Jar, listen } from '../helpers/http.js';
import { needService } from '../helpers/services.js';
import { TcpProxy } from '../helpers/tcp-proxy.js';

const skip = await needService('Redis', 6379);
const TIMEOUT = 300;

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? 0;
}

describe('FLT-03 slow Redis behind a delaying proxy', { skip, timeout: 120_000 }, () => {
  const prefix = `baton-flt03-${randomBytes(4).toString('hex')}:`;
  after(async () => {
    const admin = createClient({ url: 'redis://127.0.0.1:6379' });
    await admin.connect();
    for await (const keys of admin.scanIterator({ MATCH: `${prefix}*`, COUNT: 500 })) {
      if (keys.length > 0) await admin.del(keys);
    }
    await admin.close();
  });

  it(`latency 500 ± 200 ms, then a stall (bytes held, as TCP does): 503 within 2 × timeoutMs (${TIMEOUT} ms) + 50 ms at p99, event loop free; healthy again after`, async (t) => {
    const proxy = new TcpProxy({ targetPort: 6379 });
    await proxy.start();
    // The store's own command timeout is set high so the core's safety net is what acts.
    const store = new RedisStore({
      url: `redis://127.0.0.1:${proxy.port}`,
      prefix,
      commandTimeoutMs: 10_000,
    });
    const { app } = makeApp({ store, timeoutMs: TIMEOUT });

    const server = createServer(app);
    const base = await listen(server);
    const lag = monitorEventLoopDelay({ resolution: 10 });
    try {
      // Readiness: the first connection is made before the delay (and before the 300 ms net applies).
      const ready = Date.now();
      for (;;) {
        try {
          await store.get('baton-warm-up');
          break;
        } catch (err) {
          if (Date.now() - ready > 15_000) throw err;
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
      }
      const users = Array.from({ length: 10 }, () => new Jar());
      for (const jar of users)
        assert.equal((await jar.request(base, '/set', { json: { key: 'k', value: 1 } })).status, 200);

      const phase = async (requests: number) => {
        const times: number[] = [];
        const statuses: Record<number, number> = {};
        await Promise.all(
          users.map(async (jar) => {
            for (let i = 0; i < requests; i++) {
              const started = performance.now();
              const r = await jar.request(base, '/push', { json: { value: i } });
              times.push(performance.now() - started);
              statuses[r.status] = (statuses[r.status] ?? 0) + 1;
            }
          }),
        );
        return { p50: percentile(times, 50), p99: percentile(times, 99), max: Math.max(...times), statuses };
      };

      lag.enable();
      proxy.latency(500, 200);
      const slow = await phase(10);
      proxy.heal();
      proxy.stall();
      const stalled = await phase(5);
      lag.disable();
      proxy.heal();
      const healthy = await phase(5);

      const figures = {
        slow: { ...slow, p50: Math.round(slow.p50), p99: Math.round(slow.p99), max: Math.round(slow.max) },
        stalled: {
          ...stalled,
          p50: Math.round(stalled.p50),
          p99: Math.round(stalled.p99),
          max: Math.round(stalled.max),
        },
        healthy: healthy.statuses,
        eventLoopLagP99Ms: Math.round(lag.percentile(99) / 1e6),
        eventLoopLagMaxMs: Math.round(lag.max / 1e6),
      };
      t.diagnostic(JSON.stringify(figures));
      assert.deepEqual(Object.keys(slow.statuses), ['503'], 'every slow call gives up as 503');
      assert.deepEqual(Object.keys(stalled.statuses), ['503'], 'a stall is a 503, never a hang');
      // timeoutMs bounds each store call; a request makes at most two (load, commit), so its bound
      // is 2 × timeoutMs. A load that squeaks in under the timeout is followed by a commit that may not.
      assert.ok(slow.p99 <= 2 * TIMEOUT + 50, `slow p99 ${slow.p99} ms`);
      assert.ok(stalled.p99 <= 2 * TIMEOUT + 50, `stalled p99 ${stalled.p99} ms`);
      assert.ok(
        Math.max(slow.max, stalled.max) <= 2 * TIMEOUT + 100,
        'no request waits past its calls × timeoutMs',
      );
      assert.ok(lag.percentile(99) / 1e6 < 100, 'event loop lag p99 under 100 ms (no CPU spin)');
      assert.equal(healthy.statuses[200], 50, 'all requests succeed again once the store is fast');
    } finally {
      lag.disable();
      await close(server);
      await store.close();
      await proxy.close();
    }
  });
});
