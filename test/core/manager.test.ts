import assert from 'node:assert/strict';
import { createRequire, syncBuiltinESMExports } from 'node:module';
import { describe, it } from 'node:test';
import { SessionManager } from '../../src/core/manager.js';
import type { SessionOptions } from '../../src/core/options.js';
import { STATE } from '../../src/core/session.js';
import { MemoryStore } from '../../src/stores/memory/index.js';
import { countCalls } from '../helpers/counting-store.js';

const OLD = 'old-secret-old-secret-old-secret-0';
const NEW = 'new-secret-new-secret-new-secret-1';
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function cookieOf(setCookie: string[]): string {
  return (setCookie[0] ?? '').split(';')[0] ?? '';
}

async function visit(
  manager: SessionManager,
  cookie: string | undefined,
  change?: (s: Record<string, unknown>) => void,
) {
  const session = await manager.load({ cookie });
  change?.(session);
  const result = await manager.commit(session);
  return { session, result, cookie: result.setCookie.length ? cookieOf(result.setCookie) : cookie };
}

function manager(store: MemoryStore, options: Partial<SessionOptions> = {}) {
  return new SessionManager({ store, secret: NEW, ...options });
}

/** Counts `crypto.createHmac` calls (ESM importers included) until `restore()`. */
function countHmacs() {
  const crypto = createRequire(import.meta.url)('node:crypto') as typeof import('node:crypto');
  const original = crypto.createHmac;
  let count = 0;
  crypto.createHmac = ((...args: Parameters<typeof original>) => {
    count++;
    return original(...args);
  }) as typeof original;
  syncBuiltinESMExports();
  return {
    count: () => count,
    reset: () => {
      count = 0;
    },
    restore: () => {
      crypto.createHmac = original;
      syncBuiltinESMExports();
    },
  };
}

describe('SessionManager', () => {
  it('verifies cookies signed with an older secret and signs them again with the first', async () => {
    const store = new MemoryStore();
    const before = await visit(manager(store, { secret: OLD }), undefined, (s) => {
      s.name = 'Jack';
    });
    const rotated = manager(store, { secret: [NEW, OLD] });
    const calls = countCalls(store);
    const next = await visit(rotated, before.cookie);
    assert.equal(next.session.name, 'Jack');
    assert.notEqual(next.cookie, before.cookie, 're-signed');
    assert.equal(calls.total(), 1, 're-signing costs no write');
    const onlyNew = manager(store, { secret: NEW });
    assert.equal((await visit(onlyNew, next.cookie)).session.name, 'Jack');
    calls.reset();
    const dropped = await visit(onlyNew, before.cookie);
    assert.equal(dropped.session.name, undefined, 'the old signature no longer verifies');
    assert.equal(calls.total(), 0, 'and cost no store read');
  });

  it('verifies a returning cookie once: later visits skip the HMAC, forged variants never do', async () => {
    const hmacs = countHmacs();
    try {
      const store = new MemoryStore();
      const m = manager(store);
      const first = await visit(m, undefined, (s) => {
        s.name = 'Jill';
      });
      const value = (first.cookie ?? '').slice((first.cookie ?? '').indexOf('=') + 1);
      hmacs.reset();
      for (let i = 0; i < 10; i++) assert.equal((await visit(m, first.cookie)).session.name, 'Jill');
      assert.equal(hmacs.count(), 1, 'one verification for ten visits');

      // A forged signature on a remembered id is checked, and refused, every time.
      const suspicious: string[] = [];
      m.on('suspicious', (e) => suspicious.push(e.reason));
      const forged = `sid=${value.slice(0, -2)}${value.endsWith('AA') ? 'BB' : 'AA'}`;
      hmacs.reset();
      for (let i = 0; i < 3; i++) assert.equal((await visit(m, forged)).session.name, undefined);
      assert.equal(hmacs.count(), 3);
      assert.deepEqual(suspicious, ['signature', 'signature', 'signature']);

      // A remembered cookie brings back nothing once its session is gone.
      const session = await m.load({ cookie: first.cookie });
      await m.destroy(session);
      await m.commit(session);
      assert.equal((await visit(m, first.cookie)).session.name, undefined);
    } finally {
      hmacs.restore();
    }
  });

  it('sends a verified cookie back as presented when a write re-issues it; a new id is signed', async () => {
    const hmacs = countHmacs();
    try {
      const m = manager(new MemoryStore());
      const first = await visit(m, undefined, (s) => {
        s.n = 0;
      });
      await visit(m, first.cookie); // verified once, then remembered
      hmacs.reset();
      for (let i = 1; i <= 5; i++) {
        const write = await visit(m, first.cookie, (s) => {
          s.n = i;
        });
        assert.equal(write.result.setCookie.length, 1, 'a write moves the expiry: the cookie is set again');
        assert.equal(write.cookie, first.cookie, 'with the same value');
      }
      assert.equal(hmacs.count(), 0, 'no HMAC for five writes under a remembered cookie');
      const session = await m.load({ cookie: first.cookie });
      await session.regenerate();
      const moved = await m.commit(session);
      assert.ok(hmacs.count() > 0, 'a regenerated id is signed');
      assert.notEqual(cookieOf(moved.setCookie), first.cookie);
      assert.equal((await visit(m, cookieOf(moved.setCookie))).session.n, 5);
    } finally {
      hmacs.restore();
    }
  });

  it('keeps asking to re-sign a cookie of an older secret on every visit, remembered or not', async () => {
    const store = new MemoryStore();
    const before = await visit(manager(store, { secret: OLD }), undefined, (s) => {
      s.name = 'Jack';
    });
    const rotated = manager(store, { secret: [NEW, OLD] });
    for (let i = 0; i < 3; i++) {
      const next = await visit(rotated, before.cookie);
      assert.equal(next.session.name, 'Jack');
      assert.notEqual(next.cookie, before.cookie, `visit ${i + 1} is re-signed`);
    }
  });

  it('never adopts an id the store does not know, and tells the browser to forget it', async () => {
    const store = new MemoryStore();
    const m = manager(store);
    const unknown: string[] = [];
    m.on('unknown', (e) => unknown.push(e.key));
    const first = await visit(m, undefined, (s) => {
      s.a = 1;
    });
    await store.destroy(m.keyFor(first.session.id));
    const again = await m.load({ cookie: first.cookie });
    assert.notEqual(again.id, first.session.id);
    assert.equal(unknown.length, 1);
    const result = await m.commit(again);
    assert.match(result.setCookie[0] ?? '', /Max-Age=0/);
  });

  it('an idle session expires after lifetime even while its record exists', async () => {
    const store = new MemoryStore();
    const m = manager(store, { lifetime: 1, touchAfter: 0.1 });
    const first = await visit(m, undefined, (s) => {
      s.a = 1;
    });
    await sleep(1_100);
    assert.equal((await visit(m, first.cookie)).session.a, undefined);
  });

  it('activity never extends the absolute lifetime', async () => {
    const store = new MemoryStore();
    const m = manager(store, { lifetime: 10, absoluteLifetime: 1.2, touchAfter: 0 });
    const first = await visit(m, undefined, (s) => {
      s.a = 1;
    });
    await sleep(500);
    const mid = await visit(m, first.cookie);
    assert.equal(mid.session.a, 1);
    assert.ok(mid.session[STATE].expiresAt <= mid.session[STATE].absoluteExpiresAt);
    assert.match(
      first.result.setCookie[0] ?? '',
      /Max-Age=1;/,
      'the cookie lives no longer than the session',
    );
    await sleep(800);
    assert.equal((await visit(m, first.cookie)).session.a, undefined);
  });

  it('an unchanged session is touched once the expiry would move by more than touchAfter, writing only the expiry', async () => {
    const store = new MemoryStore();
    const m = manager(store, { lifetime: 60, touchAfter: 0.3 });
    const first = await visit(m, undefined, (s) => {
      s.a = 1;
    });
    const calls = countCalls(store);
    await visit(m, first.cookie);
    assert.deepEqual(calls.counts, { get: 1 });
    await sleep(400);
    calls.reset();
    const touched = await visit(m, first.cookie);
    assert.deepEqual(calls.counts, { get: 1, touch: 1 });
    assert.equal(touched.result.setCookie.length, 1, 'the cookie follows the moved expiry');
    const key = m.keyFor(first.session.id);
    assert.equal((await store.get(key))?.version, 1, 'a touch is not a data write');
  });

  it('touch() forces the expiry to move', async () => {
    const store = new MemoryStore();
    const m = manager(store);
    const first = await visit(m, undefined, (s) => {
      s.a = 1;
    });
    const calls = countCalls(store);
    const session = await m.load({ cookie: first.cookie });
    await session.touch();
    await m.commit(session);
    assert.equal(calls.counts.touch, 1);
  });

  it('reads a Bearer token from the Authorization header and sends new tokens in X-Session-Token', async () => {
    const store = new MemoryStore();
    const m = manager(store, { header: 'authorization', cookie: false });
    const session = await m.load({});
    session.cart = ['tea'];
    const result = await m.commit(session);
    assert.deepEqual(result.setCookie, []);
    const token = result.headers['x-session-token'];
    assert.ok(token);
    const headers: Record<string, string> = { authorization: `Bearer ${token}` };
    const again = await m.load({ header: (name) => headers[name] });
    assert.deepEqual(again.cart, ['tea']);
  });

  it('regenerate() moves the data to a new key and deletes the old at once', async () => {
    const store = new MemoryStore();
    const m = manager(store);
    const first = await visit(m, undefined, (s) => {
      s.basket = ['rum'];
    });
    const oldKey = m.keyFor(first.session.id);
    const session = await m.load({ cookie: first.cookie });
    await session.regenerate();
    assert.equal(await store.get(oldKey), null, 'old key gone before the request ends');
    session.userId = 'jack';
    const result = await m.commit(session);
    const stored = await store.get(m.keyFor(session.id));
    assert.deepEqual(stored?.data, { basket: '["rum"]', userId: '"jack"' });
    assert.equal(stored?.userId, 'jack');
    assert.notEqual(cookieOf(result.setCookie), first.cookie);
  });

  it('of two concurrent regenerates of one session, only one new id holds the data', async () => {
    const store = new MemoryStore();
    const m = manager(store);
    const first = await visit(m, undefined, (s) => {
      s.basket = ['rum'];
    });
    const [a, b] = await Promise.all([m.load({ cookie: first.cookie }), m.load({ cookie: first.cookie })]);
    await Promise.all([a.regenerate(), b.regenerate()]);
    await Promise.all([m.commit(a), m.commit(b)]);
    const holders: string[] = [];
    for await (const s of store.scan()) {
      if ((await store.get(s.key))?.data.basket) holders.push(s.key);
    }
    assert.equal(holders.length, 1);
  });

  it('login(userId) regenerates and indexes the session under the user', async () => {
    const store = new MemoryStore();
    const m = manager(store);
    const session = await m.load({});
    const before = session.id;
    await session.login('jack');
    await m.commit(session);
    assert.notEqual(session.id, before);
    assert.deepEqual(
      (await m.listByUser('jack')).map((s) => s.key),
      [m.keyFor(session.id)],
    );
    assert.equal(await m.destroyUser('jack'), 1);
    assert.deepEqual(await m.listByUser('jack'), []);
  });

  it('a value over maxSize is a 413 before any write', async () => {
    const store = new MemoryStore();
    const m = manager(store, { maxSize: 100 });
    const session = await m.load({});
    session.big = 'x'.repeat(200);
    const calls = countCalls(store);
    await assert.rejects(m.commit(session), { code: 'BATON_SESSION_TOO_LARGE', status: 413 });
    assert.equal(calls.total(), 0);
  });

  it('a stored session over a lowered maxSize is still served while unchanged', async () => {
    const store = new MemoryStore();
    const first = await visit(manager(store), undefined, (s) => {
      s.big = 'x'.repeat(200);
    });
    const strict = manager(store, { maxSize: 100 });
    const read = await visit(strict, first.cookie);
    assert.equal((read.session.big as string).length, 200);
    await assert.rejects(
      visit(strict, first.cookie, (s) => {
        s.more = 1;
      }),
      { code: 'BATON_SESSION_TOO_LARGE' },
    );
  });

  it('emits operation events for every store call', async () => {
    const store = new MemoryStore();
    const m = manager(store);
    const ops: string[] = [];
    m.on('operation', (info) => ops.push(info.op));
    const first = await visit(m, undefined, (s) => {
      s.a = 1;
    });
    await visit(m, first.cookie, (s) => {
      s.b = 2;
    });
    assert.deepEqual(ops, ['create', 'get', 'patch']);
  });

  it('listens to the store only while its operation event has listeners', async () => {
    const store = new MemoryStore();
    let subscribed = 0;
    const onOperation = store.onOperation.bind(store);
    store.onOperation = (listener) => {
      subscribed++;
      const off = onOperation(listener);
      return () => {
        subscribed--;
        off();
      };
    };
    const m = manager(store);
    assert.equal(subscribed, 0, 'no listener: the store is not asked to report');
    const ops: string[] = [];
    const listener = (info: { op: string }) => ops.push(info.op);
    m.on('operation', listener);
    m.on('operation', () => {});
    assert.equal(subscribed, 1, 'one subscription, however many listeners');
    const first = await visit(m, undefined, (s) => {
      s.a = 1;
    });
    m.removeAllListeners('operation');
    assert.equal(subscribed, 0, 'the last listener gone: unsubscribed');
    await visit(m, first.cookie, (s) => {
      s.b = 2;
    });
    m.once('operation', listener);
    await visit(m, first.cookie, () => {});
    assert.deepEqual(ops, ['create', 'get']);
    assert.equal(subscribed, 0, 'a once listener unsubscribes after its event');
    m.on('operation', listener);
    m.removeAllListeners();
    assert.equal(subscribed, 0, 'removeAllListeners() stops listening');
    m.on('operation', listener);
    assert.equal(subscribed, 1, 'and a listener added after it starts again');
    await visit(m, first.cookie, () => {});
    assert.deepEqual(ops, ['create', 'get', 'get']);
    await m.close();
    assert.equal(subscribed, 0, 'close stops listening');
    m.on('operation', listener);
    assert.equal(subscribed, 0, 'and a listener added after close does not start it again');
  });
});
