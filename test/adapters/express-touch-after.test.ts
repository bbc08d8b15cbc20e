/**
 * The native middleware keeps an active user logged in whatever the session's lifetime: its
 * `touchAfter` stays under the idle lifetime and under a shorter `cookie.maxAge`, so an unchanged
 * request writes (and sends the cookie again) before either runs out. Over real HTTP with a cookie
 * jar that drops cookies when their Max-Age passes, as a browser does.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { describe, it } from 'node:test';
import type { SessionOptions } from '../../src/core/options.js';
import { MemoryStore } from '../../src/stores/memory/index.js';
import { ExpiringJar } from '../helpers/cookie-jar.js';
import { makeApp } from '../helpers/express-app.js';
import { close, listen } from '../helpers/http.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Logs in, then makes unchanged requests every `everyMs` for `forMs`; returns what each one saw. */
async function activeUser(options: Partial<SessionOptions>, everyMs: number, forMs: number) {
  const server = createServer(makeApp({ store: new MemoryStore(), ...options }).app);
  const url = await listen(server);
  try {
    const jar = new ExpiringJar();
    await jar.request(url, '/login', { json: { user: 'ann' } });
    const seen: (string | undefined)[] = [];
    const start = Date.now();
    while (Date.now() - start < forMs) {
      await sleep(everyMs);
      seen.push((await jar.request(url, '/state')).body.data.userId);
    }
    return seen;
  } finally {
    await close(server);
  }
}

describe('native session(): touchAfter never outlives a short lifetime', () => {
  it('lifetime 1.5 s: logged in through 4.5 s of unchanged requests every 300 ms', async () => {
    const seen = await activeUser({ lifetime: 1.5 }, 300, 4_500);
    assert.ok(seen.length >= 12, `${seen.length} requests`);
    assert.deepEqual(
      seen,
      seen.map(() => 'ann'),
    );
  });

  it('cookie.maxAge 1.5 s under a 1-day lifetime: logged in through 4.5 s of unchanged requests', async () => {
    const seen = await activeUser({ cookie: { maxAge: 1.5 } }, 300, 4_500);
    assert.ok(seen.length >= 12, `${seen.length} requests`);
    assert.deepEqual(
      seen,
      seen.map(() => 'ann'),
    );
  });
});
