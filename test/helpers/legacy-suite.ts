/**
 * The adoption suite every legacy source passes: a real express-session app with the peer store
 * creates sessions over HTTP (a Passport-style login and a basket), then baton apps (Express and
 * Hono) configured with `legacy` serve the same cookies. Each source's test file gives the engine.
 */
import assert from 'node:assert/strict';
import type { Server } from 'node:http';
import { after, before, describe, it } from 'node:test';
import express from 'express';
import expressSession from 'express-session';
import type { LegacySource } from '../../src/core/legacy.js';
import { signLegacy } from '../../src/core/legacy-cookie.js';
import { migrateLegacy } from '../../src/legacy/migrate.js';
import type { Store } from '../../src/stores/store.js';
import { countCalls } from './counting-store.js';
import { makeApp } from './express-app.js';
import { makeApp as makeHonoApp, serve as serveHono } from './hono-app.js';
import { close, listen } from './http.js';

export const OLD_SECRETS = ['older express-session secret', 'the old express-session secret'];

export interface LegacyFixture {
  /** The peer's express-session store, on the engine. */
  peer: expressSession.Store;
  /** The baton-session/legacy source reading the same records. */
  source: LegacySource;
  /** A baton store on the same engine (its own table or prefix). */
  store: Store;
  close(): Promise<void>;
}

export interface LegacyEngine {
  name: string;
  skip: string | false;
  open(): Promise<LegacyFixture>;
}

interface Reply {
  status: number;
  body: any;
  setCookie: string[];
}

async function send(base: string, path: string, cookie?: string, json?: unknown): Promise<Reply> {
  const headers: Record<string, string> = {};
  if (cookie) headers.cookie = cookie;
  if (json !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(base + path, {
    method: json === undefined ? 'GET' : 'POST',
    headers,
    body: json === undefined ? undefined : JSON.stringify(json),
  });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {}
  return { status: res.status, body, setCookie: res.headers.getSetCookie() };
}

/** `name=value` of the Set-Cookie for `name`, if any. */
function cookieOf(reply: Reply, name: string): string | undefined {
  const line = reply.setCookie.find((c) => c.startsWith(`${name}=`));
  return line?.split(';')[0];
}

/** The express-session app the team runs before switching. */
function oldApp(peer: expressSession.Store) {
  const app = express();
  app.use(express.json());
  app.use(
    expressSession({
      store: peer,
      // The last of express-session's list signs; the baton side must accept it among its secrets.
      secret: [OLD_SECRETS[1] as string, OLD_SECRETS[0] as string],
      resave: false,
      saveUninitialized: false,
      cookie: { maxAge: 3_600_000 },
    }),
  );
  app.post('/login', (req, res, next) => {
    req.session.regenerate((err) => {
      if (err) return next(err);
      (req.session as any).passport = { user: req.body.user };
      if (req.body.maxAgeMs) (req.session as any).cookie.maxAge = req.body.maxAgeMs;
      res.json({ ok: true });
    });
  });
  app.post('/basket', (req, res) => {
    const s = req.session as any;
    s.basket = [...(s.basket ?? []), req.body.item];
    res.json(s.basket);
  });
  return app;
}

export function legacySuite(engine: LegacyEngine): void {
  describe(`legacy adoption: ${engine.name}`, { skip: engine.skip, timeout: 120_000 }, () => {
    let fx: LegacyFixture;
    let oldServer: Server;
    let oldUrl: string;
    let batonServer: Server;
    let batonUrl: string;
    let manager: ReturnType<typeof makeApp>['manager'];
    let hono: { url: string; close: () => Promise<void> };
    let sourceGets = 0;
    const adopted: string[] = [];

    before(async () => {
      fx = await engine.open();
      oldServer = (await new Promise<Server>((resolve) => {
        const s = oldApp(fx.peer).listen(0, '127.0.0.1', () => resolve(s));
      })) as Server;
      oldUrl = `http://127.0.0.1:${(oldServer.address() as { port: number }).port}`;
      const source: LegacySource = {
        ...fx.source,
        name: fx.source.name,
        get: (id) => {
          sourceGets++;
          return fx.source.get(id);
        },
      };
      const legacy = { cookie: 'connect.sid', secret: OLD_SECRETS, source };
      const built = makeApp({ store: fx.store, userKey: 'passport.user', legacy });
      manager = built.manager;
      manager.on('adopted', ({ key }) => adopted.push(key));
      const { createServer } = await import('node:http');
      batonServer = createServer(built.app);
      batonUrl = await listen(batonServer);
      hono = await serveHono(
        makeHonoApp(
          {
            store: fx.store,
            secret: 'test-secret-that-is-long-enough-0123456789',
            userKey: 'passport.user',
            legacy,
          },
          'H',
        ),
      );
    });

    after(async () => {
      await hono?.close();
      if (batonServer) await close(batonServer);
      if (oldServer) await close(oldServer);
      await fx?.close();
    });

    /** Logs a user in on the old app and fills a basket; returns the express-session cookie. */
    async function oldSession(
      user: string,
      items: string[],
      maxAgeMs?: number,
    ): Promise<{ cookie: string; id: string }> {
      const login = await send(oldUrl, '/login', undefined, { user, maxAgeMs });
      assert.equal(login.status, 200);
      const cookie = cookieOf(login, 'connect.sid');
      assert.ok(cookie, 'the old app set its cookie');
      for (const item of items) assert.equal((await send(oldUrl, '/basket', cookie, { item })).status, 200);
      const id = decodeURIComponent(cookie.slice('connect.sid='.length)).slice(2).split('.')[0] as string;
      return { cookie, id };
    }

    async function rawStoreText(): Promise<string> {
      const parts: string[] = [];
      for await (const s of fx.store.scan!({ includeExpired: true })) {
        parts.push(s.key);
        const got = await fx.store.get(s.key);
        if (got) parts.push(JSON.stringify(got.data));
      }
      return parts.join('\n');
    }

    it('the user stays logged in with the basket; the new cookie is baton’s; the store holds no legacy id', async () => {
      const { cookie, id } = await oldSession('u-1', ['apple', 'pear']);
      const before = adopted.length;
      const first = await send(batonUrl, '/state', cookie);
      assert.equal(first.status, 200);
      assert.deepEqual(first.body.data, { passport: { user: 'u-1' }, basket: ['apple', 'pear'] });
      const sid = cookieOf(first, 'sid');
      assert.ok(sid, 'baton set its own cookie');
      assert.equal(adopted.length, before + 1);
      // Later requests need baton's cookie only.
      const later = await send(batonUrl, '/basket', sid, { item: 'plum' });
      assert.deepEqual(later.body, ['apple', 'pear', 'plum']);
      const sessions = await manager.listByUser('u-1');
      assert.equal(sessions.length, 1, 'the user index was filled from passport.user');
      assert.ok(!(await rawStoreText()).includes(id), 'no raw legacy id at rest');
    });

    it('a second adapter (Hono) adopts the same way', async () => {
      const { cookie } = await oldSession('u-2', ['fig']);
      const reply = await send(hono.url, '/state', cookie);
      assert.deepEqual(reply.body.data, { passport: { user: 'u-2' }, basket: ['fig'] });
      const sid = cookieOf(reply, 'sid');
      assert.ok(sid);
      // The Express app serves the session Hono adopted, by baton's cookie.
      assert.deepEqual((await send(batonUrl, '/state', sid)).body.data.basket, ['fig']);
    });

    it('20 concurrent first requests: one session, 20 of 20 changes, one cookie value', async () => {
      const { cookie } = await oldSession('u-3', []);
      const before = adopted.length;
      const replies = await Promise.all(
        // Each request changes its own key: per-key merge keeps all of them.
        Array.from({ length: 20 }, (_, i) => send(batonUrl, '/set', cookie, { key: `k${i}`, value: i })),
      );
      for (const r of replies) assert.equal(r.status, 200);
      const cookies = new Set(replies.map((r) => cookieOf(r, 'sid')));
      assert.equal(cookies.size, 1, 'every response handed out the same baton cookie');
      const [sid] = [...cookies];
      assert.ok(sid);
      const state = await send(batonUrl, '/state', sid);
      for (let i = 0; i < 20; i++) assert.equal(state.body.data[`k${i}`], i, `change ${i} kept`);
      assert.deepEqual(state.body.data.passport, { user: 'u-3' });
      assert.equal(adopted.length, before + 1, 'adopted once');
      assert.equal((await manager.listByUser('u-3')).length, 1, 'one baton session');
    });

    it('a forged or wrong-secret legacy cookie costs no read of either store', async () => {
      const { id } = await oldSession('u-4', ['secret thing']);
      const counts = countCalls(fx.store);
      const gets = sourceGets;
      const wrong = `connect.sid=${encodeURIComponent(signLegacy(id, 'not the secret'))}`;
      const forged = `connect.sid=${encodeURIComponent(`s:${id}.${'A'.repeat(43)}`)}`;
      for (const cookie of [wrong, forged]) {
        const reply = await send(batonUrl, '/state', cookie);
        assert.deepEqual(reply.body.data, {});
      }
      assert.equal(counts.total(), 0, 'no baton store call');
      assert.equal(sourceGets, gets, 'no legacy store read');
    });

    it('an expired legacy record gives a fresh, empty session', async () => {
      const { cookie, id } = await oldSession('u-5', ['old'], 1_500);
      const deadline = Date.now() + 15_000;
      // The peer itself decides when its record is gone: poll it.
      while (
        (await new Promise((resolve) => fx.peer.get(id, (_e, s) => resolve(s)))) &&
        Date.now() < deadline
      ) {
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      const reply = await send(batonUrl, '/state', cookie);
      assert.deepEqual(reply.body.data, {});
      assert.equal(cookieOf(reply, 'sid'), undefined, 'nothing stored, no cookie');
      assert.equal((await manager.listByUser('u-5')).length, 0);
    });

    it('after logout the old cookie alone brings nothing back', async () => {
      const { cookie } = await oldSession('u-6', ['kept until logout']);
      const first = await send(batonUrl, '/state', cookie);
      const sid = cookieOf(first, 'sid');
      assert.ok(sid);
      assert.equal((await send(batonUrl, '/logout', sid, {})).status, 200);
      const again = await send(batonUrl, '/state', cookie);
      assert.deepEqual(again.body.data, {});
      assert.equal(cookieOf(again, 'sid'), undefined);
      assert.equal((await manager.listByUser('u-6')).length, 0);
    });

    it('migrate copies every live session in adoption-ready form; a second run copies 0', async () => {
      const made = await Promise.all(['u-7', 'u-8', 'u-9'].map((u) => oldSession(u, [`${u}-item`])));
      const first = await migrateLegacy(fx.source, fx.store, { userKey: 'passport.user' });
      assert.equal(first.failed, 0, first.errors.join('; '));
      assert.ok(first.copied >= 3, `copied ${first.copied}`);
      const second = await migrateLegacy(fx.source, fx.store, { userKey: 'passport.user' });
      assert.equal(second.copied, 0);
      assert.equal(second.failed, 0);
      assert.equal(second.skipped, second.found - second.gone);
      const gets = sourceGets;
      for (const [i, { cookie }] of made.entries()) {
        const reply = await send(batonUrl, '/state', cookie);
        assert.deepEqual(reply.body.data.basket, [`u-${7 + i}-item`]);
      }
      assert.equal(sourceGets, gets, 'migrated sessions need no legacy read');
    });
  });
}
