/**
 * Same-key changes merge in the default `merge` mode (issue 19), through real HTTP on two Express
 * instances, each with its own store client over one engine: memory, Redis, DynamoDB, file,
 * PostgreSQL, MariaDB and Memcached. Concurrent requests wait at a barrier after loading the
 * session, so every one of them read the same value and all but one must rebase: the race is
 * forced, not hoped for. Store calls are counted through the stores' own operation reports.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { after, before, describe, it } from 'node:test';
import express from 'express';
import { session } from '../../src/adapters/express/index.js';
import type { SessionManager } from '../../src/core/manager.js';
import type { SessionOptions } from '../../src/core/options.js';
import type { Store } from '../../src/core/store.js';
import { countCalls } from '../helpers/counting-store.js';
import { close, Jar, listen } from '../helpers/http.js';
import { otherEngines, type SharedStores, sharedEngines } from '../helpers/shared-stores.js';

const SECRET = 'same-key-secret-that-is-long-enough-0123456789';

/** Requests that wait until `of` of them arrived under one name: all loaded before any commits. */
class Barriers {
  readonly #waiting = new Map<string, { arrived: number; release: () => void; all: Promise<void> }>();

  wait(name: string | undefined, of: number | undefined): Promise<void> {
    if (!name || !of) return Promise.resolve();
    let barrier = this.#waiting.get(name);
    if (!barrier) {
      let release!: () => void;
      const all = new Promise<void>((resolve) => (release = resolve));
      barrier = { arrived: 0, release, all };
      this.#waiting.set(name, barrier);
    }
    barrier.arrived++;
    if (barrier.arrived === of) barrier.release();
    return barrier.all;
  }
}

type Body = { barrier?: string; of?: number; item?: string; field?: string; value?: unknown };

function instance(store: Store, options: Partial<SessionOptions>, barriers: Barriers) {
  const app = express();
  const middleware = session({ store, secret: SECRET, ...options });
  app.use(express.json());
  // The README's counter recipe: a counter is a scalar (last writer wins in merge mode), so its
  // route takes the session in 'lock' mode; every other route stays in the default mode.
  if (store.capabilities.lock) {
    app.post('/visits', session({ store, secret: SECRET, concurrency: 'lock' }), (req, res) => {
      req.session.visits = ((req.session.visits as number | undefined) ?? 0) + 1;
      res.json({ visits: req.session.visits });
    });
  }
  app.use(middleware);
  app.post('/visits-merge', async (req, res) => {
    const body = req.body as Body;
    const visits = ((req.session.visits as number | undefined) ?? 0) + 1;
    await barriers.wait(body.barrier, body.of);
    req.session.visits = visits;
    res.json({ visits });
  });
  app.get('/state', (req, res) => {
    res.json({ ...req.session });
  });
  // The README's quick start.
  app.post('/basket', async (req, res) => {
    const body = req.body as Body;
    await barriers.wait(body.barrier, body.of);
    req.session.basket = [...((req.session.basket as string[] | undefined) ?? []), body.item as string];
    res.json(req.session.basket);
  });
  app.post('/basket/remove', async (req, res) => {
    const body = req.body as Body;
    await barriers.wait(body.barrier, body.of);
    req.session.basket = ((req.session.basket as string[] | undefined) ?? []).filter((i) => i !== body.item);
    res.json(req.session.basket);
  });
  app.post('/prefs', async (req, res) => {
    const body = req.body as Body;
    await barriers.wait(body.barrier, body.of);
    req.session.prefs = { ...(req.session.prefs as object | undefined), [body.field as string]: body.value };
    res.json(req.session.prefs);
  });
  app.use(
    (
      err: { status?: number; code?: string; message: string },
      _req: express.Request,
      res: express.Response,
      _next: express.NextFunction,
    ) => {
      res.status(err.status ?? 500).json({ code: err.code, message: err.message });
    },
  );
  return { app, manager: middleware.manager };
}

interface Cluster {
  urls: [string, string];
  managers: SessionManager[];
  /** Totals of the `rebased` and `conflict` events of both instances. */
  events: { rebased: number; retries: number; leafConflicts: number; conflicts: number };
  close(): Promise<void>;
}

async function cluster(stores: [Store, Store], options: Partial<SessionOptions> = {}): Promise<Cluster> {
  const barriers = new Barriers();
  const servers: Server[] = [];
  const urls: string[] = [];
  const managers: SessionManager[] = [];
  const events = { rebased: 0, retries: 0, leafConflicts: 0, conflicts: 0 };
  for (const store of stores) {
    const made = instance(store, options, barriers);
    made.manager.on('rebased', (e) => {
      events.rebased++;
      events.retries += e.retries;
      events.leafConflicts += e.leafConflicts;
    });
    made.manager.on('conflict', () => events.conflicts++);
    const server = createServer(made.app);
    servers.push(server);
    urls.push(await listen(server));
    managers.push(made.manager);
  }
  return {
    urls: urls as [string, string],
    managers,
    events,
    close: async () => {
      await Promise.all(servers.map(close));
      await Promise.all(managers.map((m) => m.close()));
    },
  };
}

function sameKey(name: string, open: () => Promise<SharedStores>) {
  describe(`same-key merge on ${name}`, { timeout: 120_000 }, () => {
    let made: SharedStores;
    let calls: Array<ReturnType<typeof countCalls>>;
    /** Store calls since the last reset, by operation, over both store clients. */
    const counted = () => {
      const out: Record<string, number> = {};
      for (const c of calls) for (const [op, n] of Object.entries(c.counts)) out[op] = (out[op] ?? 0) + n;
      return out;
    };
    const reset = () => {
      for (const c of calls) c.reset();
    };
    before(async () => {
      made = await open();
      // Memory: both instances share one store object; count its calls once.
      calls = [...new Set(made.stores)].map((s) => countCalls(s));
    });
    after(async () => {
      await made?.close();
    });

    /** Sends every request at once (they meet at a barrier after loading); all must answer 200. */
    async function all(jar: Jar, c: Cluster, requests: Array<[path: string, body: Body]>) {
      const replies = await Promise.all(
        requests.map(([path, body], i) => jar.request(c.urls[(i % 2) as 0 | 1], path, { json: body })),
      );
      for (const r of replies) assert.equal(r.status, 200, r.text);
      return replies;
    }

    it('the store refuses a patch whose expected key text changed, writing nothing (what the rebase rides on)', async () => {
      const key = `same-key-probe-${Date.now()}-${Math.random().toString(36).slice(2)}`;
      const now = Date.now();
      await made.stores[0].create(key, {
        data: { basket: '["a","b"]', other: '1' },
        createdAt: now,
        expiresAt: now + 60_000,
        absoluteExpiresAt: now + 120_000,
        version: 1,
      });
      const patch = (expect: Record<string, string | null>) =>
        made.stores[1].patch(key, {
          set: { basket: '["a","b","c"]', other: '2' },
          unset: [],
          expiresAt: now + 60_000,
          expect,
        });
      await assert.rejects(
        patch({ basket: '["a"]', other: '1' }),
        (err: { code?: string; staleKeys?: string[] }) => {
          assert.equal(err.code, 'BATON_CONFLICT');
          assert.deepEqual(err.staleKeys, ['basket']);
          return true;
        },
      );
      await assert.rejects(patch({ basket: '["a","b"]', fresh: '0' }), (err: { staleKeys?: string[] }) => {
        assert.deepEqual(err.staleKeys, ['fresh'], 'null means absent; a present key is stale');
        return true;
      });
      assert.deepEqual(
        (await made.stores[0].get(key))?.data,
        { basket: '["a","b"]', other: '1' },
        'nothing written',
      );
      assert.ok(await patch({ basket: '["a","b"]', other: '1', fresh: null }));
      assert.deepEqual((await made.stores[0].get(key))?.data, { basket: '["a","b","c"]', other: '2' });
      await made.stores[0].destroy(key);
    });

    it('the quick start basket: 30 concurrent adds of distinct items, 30 kept; the store calls add up', async (t) => {
      const c = await cluster(made.stores);
      try {
        const jar = new Jar();
        reset();
        await jar.request(c.urls[0], '/basket', { json: { item: 'first' } });
        assert.deepEqual(counted(), { create: 1 }, 'a new session: one call');
        reset();
        assert.deepEqual((await jar.request(c.urls[1], '/state')).body, { basket: ['first'] });
        assert.deepEqual(counted(), { get: 1 }, 'an unchanged request: one call');
        reset();
        await jar.request(c.urls[1], '/basket', { json: { item: 'second' } });
        assert.deepEqual(counted(), { get: 1, patch: 1 }, 'a changed request with no race: two calls');

        reset();
        const items = Array.from({ length: 30 }, (_, i) => `item-${i}`);
        await all(
          jar,
          c,
          items.map((item) => ['/basket', { item, barrier: 'adds', of: items.length }]),
        );
        const after = counted();
        const { basket } = (await jar.request(c.urls[0], '/state')).body as { basket: string[] };
        t.diagnostic(
          `rebased ${c.events.rebased}, retries ${c.events.retries}, calls ${JSON.stringify(after)}`,
        );
        assert.deepEqual([...basket].sort(), ['first', 'second', ...items].sort(), 'every add kept, once');
        assert.deepEqual(basket.slice(0, 2), ['first', 'second']);
        assert.equal(c.events.conflicts, 0);
        assert.ok(c.events.rebased >= 1, 'the requests that lost the race rebased');
        // Each request: one read and one write; each retry: one more of each.
        assert.deepEqual(after, { get: 30 + c.events.retries, patch: 30 + c.events.retries });
      } finally {
        await c.close();
      }
    });

    it('10 concurrent adds while one request removes an item present at load: the 10 kept, the removed one gone', async () => {
      const c = await cluster(made.stores);
      try {
        const jar = new Jar();
        await jar.request(c.urls[0], '/basket', { json: { item: 'keep' } });
        await jar.request(c.urls[1], '/basket', { json: { item: 'drop' } });
        const adds = Array.from({ length: 10 }, (_, i) => `add-${i}`);
        const requests: Array<[string, Body]> = adds.map((item) => [
          '/basket',
          { item, barrier: 'mix', of: 11 },
        ]);
        requests.splice(5, 0, ['/basket/remove', { item: 'drop', barrier: 'mix', of: 11 }]);
        reset();
        await all(jar, c, requests);
        const { basket } = (await jar.request(c.urls[1], '/state')).body as { basket: string[] };
        assert.deepEqual([...basket].sort(), ['keep', ...adds].sort());
        assert.equal(basket[0], 'keep');
        assert.equal(c.events.conflicts, 0);
      } finally {
        await c.close();
      }
    });

    it('prefs.theme and prefs.lang changed by two concurrent requests: both kept, with one extra read and write', async () => {
      const c = await cluster(made.stores);
      try {
        const jar = new Jar();
        await jar.request(c.urls[0], '/prefs', { json: { field: 'theme', value: 'light' } });
        await jar.request(c.urls[0], '/prefs', { json: { field: 'lang', value: 'en' } });
        reset();
        await all(jar, c, [
          ['/prefs', { field: 'theme', value: 'dark', barrier: 'prefs', of: 2 }],
          ['/prefs', { field: 'lang', value: 'fr', barrier: 'prefs', of: 2 }],
        ]);
        assert.deepEqual(
          counted(),
          { get: 3, patch: 3 },
          'two loads and writes, one rebase: one read, one write',
        );
        assert.deepEqual(c.events, { rebased: 1, retries: 1, leafConflicts: 0, conflicts: 0 });
        const { prefs } = (await jar.request(c.urls[1], '/state')).body;
        assert.deepEqual(prefs, { theme: 'dark', lang: 'fr' });
      } finally {
        await c.close();
      }
    });

    it('two requests setting the same leaf: one of the two values, reported as a leaf conflict', async () => {
      const c = await cluster(made.stores);
      try {
        const jar = new Jar();
        await jar.request(c.urls[0], '/prefs', { json: { field: 'theme', value: 'light' } });
        await all(jar, c, [
          ['/prefs', { field: 'theme', value: 'dark', barrier: 'leaf', of: 2 }],
          ['/prefs', { field: 'theme', value: 'blue', barrier: 'leaf', of: 2 }],
        ]);
        const { prefs } = (await jar.request(c.urls[1], '/state')).body;
        assert.ok(['dark', 'blue'].includes(prefs.theme), JSON.stringify(prefs));
        assert.deepEqual(Object.keys(prefs), ['theme']);
        assert.deepEqual(c.events, { rebased: 1, retries: 1, leafConflicts: 1, conflicts: 0 });
      } finally {
        await c.close();
      }
    });

    it('a counter n += 1 is a scalar: last writer wins in merge mode; the lock recipe counts every request', async (t) => {
      const c = await cluster(made.stores);
      try {
        const jar = new Jar();
        await jar.request(c.urls[0], '/basket', { json: { item: 'a' } });
        await all(
          jar,
          c,
          Array.from({ length: 5 }, (): [string, Body] => ['/visits-merge', { barrier: 'n', of: 5 }]),
        );
        assert.equal(
          (await jar.request(c.urls[1], '/state')).body.visits,
          1,
          'five increments of one value: 1',
        );
        if (!made.stores[0].capabilities.lock) return t.skip('the store has no locks');
        await all(
          jar,
          c,
          Array.from({ length: 10 }, (): [string, Body] => ['/visits', {}]),
        );
        assert.equal((await jar.request(c.urls[1], '/state')).body.visits, 11);
        assert.deepEqual((await jar.request(c.urls[1], '/state')).body.basket, ['a']);
      } finally {
        await c.close();
      }
    });

    it("strict mode: of two requests setting the same leaf, one answers 409 and the other's value is stored", async () => {
      const c = await cluster(made.stores, { concurrency: 'strict' });
      try {
        const jar = new Jar();
        await jar.request(c.urls[0], '/prefs', { json: { field: 'theme', value: 'light' } });
        const replies = await Promise.all([
          jar.request(c.urls[0], '/prefs', { json: { field: 'theme', value: 'dark', barrier: 's', of: 2 } }),
          jar.request(c.urls[1], '/prefs', { json: { field: 'theme', value: 'blue', barrier: 's', of: 2 } }),
        ]);
        assert.deepEqual(replies.map((r) => r.status).sort(), [200, 409]);
        const won = replies[0]?.status === 200 ? 'dark' : 'blue';
        assert.equal((await jar.request(c.urls[1], '/state')).body.prefs.theme, won);
        assert.equal(c.events.rebased, 0);
        assert.equal(c.events.conflicts, 1);
      } finally {
        await c.close();
      }
    });
  });
}

// The rule lives in the core and the store kit, so it must hold on every store.
for (const engine of [...(await sharedEngines()), ...(await otherEngines())]) {
  if (engine.skip) describe(`same-key merge on ${engine.name}`, { skip: engine.skip }, () => {});
  else sameKey(engine.name, engine.open);
}
