/**
 * The benchmark's load generator (bench/load.ts) never sends a request on a session that has one
 * in flight: two at once on one session would make a writing store re-read and retry, and the
 * calls per request would then measure the load's timing instead of the store.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { load } from '../../bench/load.js';

describe('bench load', () => {
  it('takes sessions in turn, never one with a request in flight', async () => {
    const inFlight = new Map<string, number>();
    const served = new Map<string, number>();
    let overlaps = 0;
    // One request in 20 stalls for 40 ms, as a loaded machine stalls some: the rotation then
    // comes back to that session while its request is still open.
    let n = 0;
    const server = createServer((req, res) => {
      const cookie = String(req.headers.cookie);
      const open = (inFlight.get(cookie) ?? 0) + 1;
      if (open > 1) overlaps++;
      inFlight.set(cookie, open);
      served.set(cookie, (served.get(cookie) ?? 0) + 1);
      setTimeout(
        () => {
          inFlight.set(cookie, (inFlight.get(cookie) ?? 1) - 1);
          res.end('ok');
        },
        n++ % 20 === 0 ? 40 : 1,
      );
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = server.address() as AddressInfo;
      const cookies = Array.from({ length: 20 }, (_, i) => `s=${i}`);
      const result = await load({
        base: `http://127.0.0.1:${port}`,
        method: 'GET',
        path: '/',
        cookies,
        durationS: 1.5,
        connections: 16,
        maxRequests: 20_000,
      });
      assert.equal(result.failures, 0);
      assert.ok(result.requests > 200, `${result.requests} requests`);
      assert.equal(overlaps, 0, `${overlaps} requests arrived on a session with one in flight`);
      assert.equal(served.size, cookies.length, 'every session was used');
    } finally {
      server.close();
    }
  });
});
