import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { generateId, hashId } from '../../src/core/ids.js';
import { SessionManager } from '../../src/core/manager.js';
import type { SessionOptions } from '../../src/core/options.js';
import { FORWARD_KEY, openForward, sealForward, shouldRenew } from '../../src/core/renewal.js';
import { MemoryStore } from '../../src/stores/memory/index.js';
import { idOf, request } from '../helpers/manager-flow.js';

const secret = 'renewal-secret-renewal-secret-renewal';

describe('renewal: the forwarding value', () => {
  it('opens only with the old id it was sealed for', () => {
    const oldId = generateId();
    const newId = generateId();
    const sealed = sealForward(oldId, newId);
    assert.equal(openForward(oldId, sealed), newId);
    assert.equal(openForward(generateId(), sealed), null, 'another id cannot read it');
    assert.notEqual(sealForward(oldId, newId), sealed, 'a fresh IV each time');
  });

  it('holds neither id nor either store key in readable form', () => {
    const oldId = generateId();
    const newId = generateId();
    const sealed = sealForward(oldId, newId);
    for (const secretText of [oldId, newId, hashId(oldId), hashId(newId)]) {
      assert.ok(!sealed.includes(secretText));
    }
  });

  it('refuses tampered, truncated and malformed values', () => {
    const oldId = generateId();
    const text = JSON.parse(sealForward(oldId, generateId())) as string;
    const flipped = `${text.slice(0, 20)}${text[20] === 'A' ? 'B' : 'A'}${text.slice(21)}`;
    for (const bad of [
      JSON.stringify(flipped),
      JSON.stringify(text.slice(0, -4)),
      JSON.stringify(`${text}AAAA`),
      'not json',
      '42',
      '{"a":1}',
      JSON.stringify(''),
    ]) {
      assert.equal(openForward(oldId, bad), null, bad);
    }
  });

  it('is due when the id has been used for the interval', () => {
    assert.equal(shouldRenew(1000, 1999, 1000), false);
    assert.equal(shouldRenew(1000, 2000, 1000), true);
  });
});

describe('renewal through the manager', () => {
  const manager = (extra: Partial<SessionOptions> = {}) =>
    new SessionManager({ store: new MemoryStore(), secret, ...extra });

  it('validates its options', () => {
    const store = new MemoryStore();
    const refused = (renewal: unknown, option: string) =>
      assert.throws(
        () => new SessionManager({ store, secret, renewal } as SessionOptions),
        (err: { code: string; option: string }) => err.code === 'BATON_CONFIG' && err.option === option,
      );
    refused({}, 'renewal.interval');
    refused({ interval: 0 }, 'renewal.interval');
    refused({ interval: -5 }, 'renewal.interval');
    refused({ interval: 'soon' }, 'renewal.interval');
    refused({ interval: 60, grace: -1 }, 'renewal.grace');
    refused({ interval: 60, grace: 61 }, 'renewal.grace');
    refused('yes', 'renewal');
    assert.equal(new SessionManager({ store, secret }).options.renewal, false, 'off by default');
    assert.deepEqual(new SessionManager({ store, secret, renewal: { interval: 900 } }).options.renewal, {
      intervalMs: 900_000,
      graceMs: 30_000,
    });
  });

  it('a session data key named like the forwarding marker is refused at assignment', async () => {
    const m = manager();
    await assert.rejects(
      request(m, undefined, (s) => {
        s.a = 1;
        s[FORWARD_KEY] = 'forged';
      }),
      (err: { code: string; key: string }) => err.code === 'BATON_SESSION_DATA' && err.key === FORWARD_KEY,
    );
  });

  it('renews on the first request after the interval, and emits renewed, then forwarded for the old id', async (t) => {
    // The clock moves only when the test says so: a loaded machine cannot push the forwarded
    // request past the grace window.
    t.mock.timers.enable({ apis: ['Date'], now: Date.now() });
    const m = manager({ renewal: { interval: 0.05, grace: 0.05 } });
    const events: string[] = [];
    m.on('renewed', () => events.push('renewed'));
    m.on('forwarded', () => events.push('forwarded'));
    const first = await request(m, undefined, (s) => {
      s.a = 1;
    });
    t.mock.timers.tick(60);
    const renewed = await request(m, first.cookie);
    assert.notEqual(renewed.cookie, first.cookie);
    assert.equal(renewed.session.a, 1);
    const forwarded = await request(m, first.cookie);
    assert.equal(forwarded.session.a, 1);
    assert.deepEqual(events, ['renewed', 'forwarded']);
  });

  it('a forwarding record that does not open for the old id gives no session', async () => {
    const m = manager();
    const first = await request(m, undefined, (s) => {
      s.a = 1;
    });
    const key = hashId(idOf(first.cookie));
    const stored = await m.store.get(key);
    assert.ok(stored);
    // A forwarding record sealed for some other id (a copied row, say).
    await m.store.patch(key, {
      set: { [FORWARD_KEY]: sealForward(generateId(), generateId()) },
      unset: ['a'],
      expiresAt: stored.expiresAt,
    });
    const replay = await request(m, first.cookie);
    assert.equal(replay.session.isNew, true);
    assert.equal(replay.cookie, undefined, 'the cookie is cleared');
  });

  it('a renewal whose forwarding write fails answers 503 within the timeouts, even if the clean-up delete hangs', {
    timeout: 10_000,
  }, async () => {
    // Faults a real engine cannot be made to produce on cue: the forwarding patch fails, then the
    // delete of the unused new record never answers.
    const store = new MemoryStore();
    const m = new SessionManager({ store, secret, timeoutMs: 200, renewal: { interval: 0.05, grace: 0.05 } });
    const first = await request(m, undefined, (s) => {
      s.a = 1;
    });
    await new Promise((resolve) => setTimeout(resolve, 60));
    const patch = store.patch.bind(store);
    store.patch = (key, p) =>
      FORWARD_KEY in p.set ? Promise.reject(new Error('connection reset')) : patch(key, p);
    store.destroy = () => new Promise<boolean>(() => {});
    // The timeout's timer is unref'd (a server keeps the process alive); so does this, here.
    const alive = setInterval(() => {}, 1000);
    try {
      await assert.rejects(request(m, first.cookie), { code: 'BATON_STORE_UNAVAILABLE', status: 503 });
    } finally {
      clearInterval(alive);
    }
    store.patch = patch;
    const stored = await store.get(hashId(idOf(first.cookie)));
    assert.equal(stored?.data.a, '1', 'the old id still holds the session');
  });
});
