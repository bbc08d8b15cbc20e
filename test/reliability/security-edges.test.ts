/**
 * Security edges (issue 22 items 8, 10, 11, 12) through real HTTP on two Express instances (and
 * Koa for header mode) over memory, Redis and DynamoDB (dynalite): tokens in headers only for
 * header requests, reserved names, `__proto__` as data, duplicate and re-spelled cookies, and the
 * decrypt-only rollout of a new encryption key.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import Koa from 'koa';
import { session as koaSession } from '../../src/adapters/koa/index.js';
import { hashId } from '../../src/core/ids.js';
import type { SessionOptions } from '../../src/core/options.js';
import { GATED_SECRET, type GatedCluster, gatedCluster } from '../helpers/gated-app.js';
import { close, Jar, listen } from '../helpers/http.js';
import { type SharedStores, sharedEngines } from '../helpers/shared-stores.js';

const KEY_1 = Buffer.alloc(32, 1);
const KEY_2 = Buffer.alloc(32, 2);

/** The unsigned id in a `sid=<id>.<mac>` pair. */
const idOf = (cookie: string) => cookie.slice('sid='.length).split('.')[0] as string;

function edges(name: string, open: () => Promise<SharedStores>) {
  describe(`security edges on ${name}`, { timeout: 60_000 }, () => {
    let made: SharedStores;
    const clusters: GatedCluster[] = [];
    const cluster = async (a: Omit<SessionOptions, 'secret' | 'store'>, b = a) => {
      const c = await gatedCluster([
        { store: made.stores[0], ...a },
        { store: made.stores[1], ...b },
      ]);
      clusters.push(c);
      return c;
    };
    before(async () => {
      made = await open();
    });
    after(async () => {
      await Promise.all(clusters.map((c) => c.close()));
      await made?.close();
    });

    describe('header mode (item 8)', () => {
      const header = 'x-session-token';

      it('Express: a cookie request never gets the token in a header; a header request does', async () => {
        const c = await cluster({ header });
        const browser = new Jar();
        const write = await browser.request(c.urls[0], '/set', { json: { key: 'a', value: 1 } });
        assert.equal(write.setCookie.length, 1, 'the browser gets its cookie');
        assert.equal(write.headers.get(header), null, 'but not the token where scripts can read it');
        const again = await browser.request(c.urls[1], '/login', { json: { user: 'u' } });
        assert.equal(again.headers.get(header), null, 'nor after a regenerate');
        // An API client asks to be issued a token by sending the header empty, then uses it.
        const issued = await new Jar().request(c.urls[0], '/set', {
          json: { key: 'b', value: 2 },
          headers: { [header]: '' },
        });
        const token = issued.headers.get(header);
        assert.ok(token, 'a request that sent the header is issued a token by header');
        const login = await new Jar().request(c.urls[1], '/login', {
          json: { user: 'api' },
          headers: { [header]: token },
        });
        const next = login.headers.get(header);
        assert.ok(next && next !== token, 'its new token after regenerate comes by header');
        const state = await new Jar().request(c.urls[0], '/state', { headers: { [header]: next } });
        assert.deepEqual(state.body.data, { b: 2, userId: 'api' });
      });

      it('Koa: a cookie request never gets the token in a header', async () => {
        const app = new Koa();
        app.silent = true;
        app.use(koaSession({ store: made.stores[0], secret: GATED_SECRET, header }));
        app.use(async (ctx) => {
          ctx.session.n = 1;
          ctx.body = { ok: true };
        });
        const server = (await import('node:http')).createServer(app.callback());
        const url = await listen(server);
        try {
          const reply = await new Jar().request(url, '/', { method: 'POST' });
          assert.equal(reply.setCookie.length, 1);
          assert.equal(reply.headers.get(header), null);
          const api = await new Jar().request(url, '/', { method: 'POST', headers: { [header]: '' } });
          assert.ok(api.headers.get(header));
        } finally {
          await close(server);
        }
      });
    });

    describe('reserved names and __proto__ (item 10)', () => {
      let c: GatedCluster;
      before(async () => {
        c = await cluster({});
      });

      for (const key of ['id', 'isNew', 'regenerate', 'cookie', 'save', '__baton_renewed', '__baton_moved']) {
        it(`assigning session.${key} is refused with BATON_SESSION_DATA naming it`, async () => {
          const reply = await new Jar().request(c.urls[0], '/set', { json: { key, value: 1 } });
          assert.equal(reply.status, 500);
          assert.equal(reply.body.code, 'BATON_SESSION_DATA');
          assert.match(reply.body.message, new RegExp(`"${key}"`));
        });
      }

      for (const key of ['id', 'isNew', 'regenerate']) {
        it(`a stored record holding "${key}" (written by other code) reads as unreadable: a fresh session, no 500`, async () => {
          const jar = new Jar();
          await jar.request(c.urls[0], '/set', { json: { key: 'basket', value: [1] } });
          const storeKey = hashId(idOf(jar.cookie!));
          await made.stores[0].patch(storeKey, {
            set: { [key]: '"x"' },
            unset: [],
            expiresAt: Date.now() + 60_000,
          });
          const seen: string[] = [];
          const listener = (info: { reason: string }) => seen.push(info.reason);
          c.managers[1].on('unreadable', listener);
          try {
            const reply = await jar.request(c.urls[1], '/state');
            assert.equal(reply.status, 200);
            assert.deepEqual(reply.body.data, {});
            assert.deepEqual(seen, ['reserved']);
          } finally {
            c.managers[1].off('unreadable', listener);
          }
        });
      }

      it('__proto__ is stored and read back as data and never becomes the prototype', async () => {
        const jar = new Jar();
        const set = await jar.request(c.urls[0], '/set', {
          json: { key: '__proto__', value: { admin: true } },
        });
        assert.equal(set.status, 200);
        const state = await jar.request(c.urls[1], '/state');
        assert.deepEqual(Object.getOwnPropertyDescriptor(state.body.data, '__proto__')?.value, {
          admin: true,
        });
        assert.equal((await jar.request(c.urls[1], '/probe?key=admin')).body.value, null);
        assert.equal((await jar.request(c.urls[0], '/probe?key=admin')).body.value, null);
      });
    });

    describe('duplicate and re-spelled cookies (item 11)', () => {
      let c: GatedCluster;
      before(async () => {
        c = await cluster({});
      });

      it('a garbage cookie of the same name sent first neither hides the valid one nor clears it', async () => {
        const jar = new Jar();
        await jar.request(c.urls[0], '/set', { json: { key: 'basket', value: [7] } });
        for (const cookie of [`sid=garbage; ${jar.cookie}`, `${jar.cookie}; sid=garbage`]) {
          const reply = await jar.request(c.urls[1], '/state', { headers: { cookie } });
          assert.deepEqual(reply.body.data, { basket: [7] }, cookie);
          assert.deepEqual(reply.setCookie, []);
        }
      });

      it('only the exact spelling verifies: a percent-encoded or quoted one does not', async () => {
        const jar = new Jar();
        await jar.request(c.urls[0], '/set', { json: { key: 'basket', value: [8] } });
        const value = jar.cookie!.slice('sid='.length);
        for (const cookie of [`sid=${value.replace('.', '%2E')}`, `sid="${value}"`]) {
          const reply = await new Jar().request(c.urls[1], '/state', { headers: { cookie } });
          assert.deepEqual(reply.body.data, {}, cookie);
        }
        assert.deepEqual((await jar.request(c.urls[1], '/state')).body.data, { basket: [8] });
      });
    });

    describe('maxSize held by the store in the write itself (item 9)', () => {
      it('10 concurrent 500-byte writes under maxSize 2,000: never more stored, the rest 413, the session stays usable', async (t) => {
        const c = await cluster({ maxSize: 2_000 });
        const jar = new Jar();
        await jar.request(c.urls[0], '/set', { json: { key: 'a', value: 1 } });
        const writes = Array.from({ length: 10 }, (_, i) =>
          jar.request(c.urls[i % 2] as string, '/set', {
            json: { key: `k${i}`, value: 'x'.repeat(480), gate: `size-${i}` },
          }),
        );
        // Every request has loaded the small session before any of them writes.
        for (let i = 0; i < 10; i++) await c.gates.reached(`size-${i}`);
        for (let i = 0; i < 10; i++) c.gates.open(`size-${i}`);
        const statuses = (await Promise.all(writes)).map((r) => r.status).sort();
        const stored = await made.stores[0].get(hashId(idOf(jar.cookie!)));
        const size = Object.entries(stored?.data ?? {}).reduce(
          (sum, [k, v]) => sum + Buffer.byteLength(k) + Buffer.byteLength(v),
          0,
        );
        t.diagnostic(`stored ${size} bytes; statuses ${statuses.join(',')}`);
        assert.ok(size <= 2_000, `stored ${size} bytes`);
        const kept = Object.keys(stored?.data ?? {}).length - 1;
        assert.equal(statuses.filter((s) => s === 200).length, kept, statuses.join(','));
        assert.equal(statuses.filter((s) => s === 413).length, 10 - kept, statuses.join(','));
        assert.equal((await jar.request(c.urls[1], '/set', { json: { key: 'b', value: 2 } })).status, 200);
        assert.equal((await jar.request(c.urls[0], '/login', { json: { user: 'u' } })).status, 200);
        assert.equal((await jar.request(c.urls[1], '/state')).body.data.userId, 'u');
      });
    });

    describe('encryption key rollout (item 12)', () => {
      it('a new key deployed decrypt-only first, then made current, logs nobody out at any step', async () => {
        const old = { id: 'k1', key: KEY_1 };
        const added = { id: 'k2', key: KEY_2 };
        // Step 1: one instance already has the new key as decrypt-only; the other only the old.
        let c = await cluster({ encryption: { keys: [old, added] } }, { encryption: { keys: [old] } });
        const jar = new Jar();
        await jar.request(c.urls[0], '/set', { json: { key: 'basket', value: [9] } });
        assert.deepEqual((await jar.request(c.urls[1], '/state')).body.data, { basket: [9] });
        // Step 2: every instance has both; one makes the new key current and rewrites with it.
        c = await cluster({ encryption: { keys: [added, old] } }, { encryption: { keys: [old, added] } });
        await jar.request(c.urls[0], '/set', { json: { key: 'more', value: 1 } });
        assert.deepEqual((await jar.request(c.urls[1], '/state')).body.data, { basket: [9], more: 1 });
        // Skipping step 1 is what logs users out: an instance with only the old key cannot read it.
        c = await cluster({ encryption: { keys: [added, old] } }, { encryption: { keys: [old] } });
        await jar.request(c.urls[0], '/set', { json: { key: 'more', value: 2 } });
        assert.deepEqual(
          (await new Jar().request(c.urls[1], '/state', { headers: { cookie: jar.cookie! } })).body.data,
          {},
        );
      });
    });
  });
}

for (const engine of await sharedEngines()) {
  if (engine.skip) describe(`security edges on ${engine.name}`, { skip: engine.skip }, () => {});
  else edges(engine.name, engine.open);
}
