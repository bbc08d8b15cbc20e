/** SEC-12 guessing detection, and login(): regenerate + user index. */
import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { hashId } from '../../src/core/ids.js';
import { SessionManager } from '../../src/core/manager.js';
import { MemoryStore } from '../../src/stores/memory/index.js';
import { countCalls } from '../helpers/counting-store.js';
import { idOf, request } from '../helpers/manager-flow.js';

const secret = 'g'.repeat(40);
const randomId = () => randomBytes(32).toString('base64url');

describe('guessing detection (SEC-12)', () => {
  it('1,000 random well-formed forged cookies: bruteForce fires once, 0 store reads, a real session still works', async () => {
    const store = new MemoryStore();
    const m = new SessionManager({ store, secret });
    const legit = await request(m, undefined, (s) => {
      s.user = 'jack';
    });
    const calls = countCalls(store);
    const fired: unknown[] = [];
    let suspicious = 0;
    m.on('bruteForce', (e) => fired.push(e));
    m.on('suspicious', () => suspicious++);
    const wrongKey = 'w'.repeat(40);
    for (let i = 0; i < 1000; i++) {
      // Half unsigned-but-well-formed, half signed with a secret this deployment does not have.
      const id = randomId();
      const mac =
        i % 2 === 0
          ? randomBytes(32).toString('base64url')
          : createHmac('sha256', wrongKey).update(id).digest('base64url');
      const s = await m.load({ cookie: `sid=${id}.${mac}`, client: '203.0.113.7' });
      assert.equal(s.isNew, true);
      await m.commit(s);
    }
    assert.equal(calls.total(), 0, 'no store call for any forged cookie');
    assert.equal(suspicious, 1000);
    assert.deepEqual(fired, [{ failures: 101, windowMs: 60_000, threshold: 100 }], 'once per window');
    assert.equal((await request(m, legit.cookie)).session.user, 'jack', 'legitimate session unaffected');
  });

  it('the threshold is configurable; at or below it nothing fires; `false` turns it off', async () => {
    const store = new MemoryStore();
    const low = new SessionManager({ store, secret, bruteForce: { threshold: 5, window: 10 } });
    const off = new SessionManager({ store, secret, bruteForce: false });
    let lowFired = 0;
    let offFired = 0;
    low.on('bruteForce', () => lowFired++);
    off.on('bruteForce', () => offFired++);
    for (let i = 0; i < 5; i++) await low.load({ cookie: `sid=garbage${i}` });
    assert.equal(lowFired, 0, '5 failures with threshold 5: quiet');
    await low.load({ cookie: 'sid=garbage-6' });
    assert.equal(lowFired, 1, 'the 6th fires');
    for (let i = 0; i < 300; i++) await off.load({ cookie: `sid=x${i}` });
    assert.equal(offFired, 0);
    assert.throws(() => new SessionManager({ store, secret, bruteForce: { threshold: 0 } }), {
      code: 'BATON_CONFIG',
      option: 'bruteForce.threshold',
    });
  });

  it('failures spread wider than the window do not fire', async () => {
    const store = new MemoryStore();
    const m = new SessionManager({ store, secret, bruteForce: { threshold: 3, window: 1 } });
    let fired = 0;
    m.on('bruteForce', () => fired++);
    const t0 = Date.now();
    for (let i = 0; i < 3; i++) await m.load({ cookie: 'sid=bad' });
    // Wait (by polling the clock) until the first three are out of the 1 s window.
    while (Date.now() - t0 <= 1100) await new Promise((r) => setTimeout(r, 50));
    await m.load({ cookie: 'sid=bad' });
    assert.equal(fired, 0, '4 failures, but never more than 3 in any second');
  });
});

describe('session.login(userId)', () => {
  it('regenerates (new id, old key gone) and indexes the user for listByUser / destroyUser', async () => {
    const store = new MemoryStore();
    const m = new SessionManager({ store, secret });
    const anon = await request(m, undefined, (s) => {
      s.basket = ['rum'];
    });
    const oldKey = hashId(idOf(anon.cookie));
    const loggedIn = await request(m, anon.cookie, (s) => s.login('u-42'));
    assert.notEqual(idOf(loggedIn.cookie), idOf(anon.cookie), 'a new id after login');
    assert.equal(await store.get(oldKey), null, 'nothing left under the pre-login key');
    const stored = await store.get(hashId(idOf(loggedIn.cookie)));
    assert.equal(stored?.userId, 'u-42');
    assert.deepEqual(JSON.parse(stored?.data.basket ?? 'null'), ['rum'], 'data carried over');
    const listed = await m.listByUser('u-42');
    assert.deepEqual(
      listed.map((s) => s.key),
      [hashId(idOf(loggedIn.cookie))],
    );
    assert.equal(await m.destroyUser('u-42'), 1);
    assert.equal((await request(m, loggedIn.cookie)).session.isNew, true, 'logged out everywhere');
  });
});
