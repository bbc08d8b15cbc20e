/**
 * Logout always wins (CONC rows, issue 22 items 1–3), through real HTTP on two Express instances
 * with their own store clients over one engine: memory, Redis and DynamoDB (dynalite). Routes stop
 * at gates the test opens, so each interleaving is chosen, not raced. Responses update the browser's
 * cookie in the order they arrive, as a browser does.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { type GatedCluster, gatedCluster } from '../helpers/gated-app.js';
import { Jar } from '../helpers/http.js';
import { otherEngines, type SharedStores, sharedEngines } from '../helpers/shared-stores.js';

const user = () => `u-${randomBytes(4).toString('hex')}`;
const cleared = (setCookie: string[]) => setCookie.some((c) => /max-age=0/i.test(c));

function logoutWins(name: string, stores: () => Promise<SharedStores>) {
  describe(`logout wins on ${name}`, { timeout: 60_000 }, () => {
    let made: Awaited<ReturnType<typeof stores>>;
    let c: GatedCluster;
    before(async () => {
      made = await stores();
      c = await gatedCluster([{ store: made.stores[0] }, { store: made.stores[1] }]);
      indexed =
        (await made.stores[0].listByUser?.('nobody').then(
          () => true,
          () => false,
        )) ?? false;
    });
    after(async () => {
      await c?.close();
      await made?.close();
    });

    /** The user's sessions, where the store has a user index (none left is the point). */
    const sessionsOf = async (u: string) => (indexed ? c.managers[1].listByUser(u) : []);
    /** Memcached declares `listByUser` but cannot list (it says so with BATON_NOT_SUPPORTED). */
    let indexed = false;

    /** The session the browser's cookie leads to now, as the other instance sees it. */
    const state = async (jar: Jar) => (await jar.request(c.urls[1], '/state')).body.data;

    it('a logout landing while a login is between regenerate() and its response leaves the browser logged out', async () => {
      const jar = new Jar();
      const u = user();
      await jar.request(c.urls[0], '/set', { json: { key: 'basket', value: [1] } });
      const login = jar.request(c.urls[0], '/login', { json: { user: u, gate: 'login-1' } });
      await c.gates.reached('login-1');
      const logout = await jar.request(c.urls[1], '/logout', { json: {} });
      assert.equal(logout.status, 200);
      c.gates.open('login-1');
      const answered = await login;
      assert.equal(answered.status, 200);
      assert.ok(cleared(answered.setCookie), 'the login that lost to the logout clears the cookie');
      assert.deepEqual(await state(jar), {});
      assert.deepEqual(await sessionsOf(u), [], 'no session of the user is left');
    });

    it('a logout that completes between the login loading the session and its regenerate() ends the login', async () => {
      const jar = new Jar();
      const u = user();
      await jar.request(c.urls[0], '/set', { json: { key: 'basket', value: [3] } });
      const login = jar.request(c.urls[0], '/login', { json: { user: u, before: 'login-0' } });
      await c.gates.reached('login-0');
      assert.equal((await jar.request(c.urls[1], '/logout', { json: {} })).status, 200);
      c.gates.open('login-0');
      const answered = await login;
      assert.equal(answered.status, 200);
      assert.ok(cleared(answered.setCookie), 'the login finds its session logged out and is created dead');
      assert.deepEqual(await state(jar), {});
      assert.deepEqual(await sessionsOf(u), []);
    });

    it('a logout that loaded before the regenerate and deletes after it still ends the login', async () => {
      const jar = new Jar();
      const u = user();
      await jar.request(c.urls[0], '/set', { json: { key: 'basket', value: [2] } });
      const logout = jar.request(c.urls[1], '/logout', { json: { gate: 'logout-2' } });
      await c.gates.reached('logout-2');
      const login = jar.request(c.urls[0], '/login', { json: { user: u, gate: 'login-2' } });
      await c.gates.reached('login-2');
      c.gates.open('logout-2');
      assert.equal((await logout).status, 200);
      c.gates.open('login-2');
      assert.equal((await login).status, 200);
      assert.deepEqual(await state(jar), {});
      assert.deepEqual(await sessionsOf(u), []);
    });

    it('destroyUser() while a logged-in session is being regenerated leaves the user no live session', async (t) => {
      if (!indexed) return t.skip('this store has no user index');
      const jar = new Jar();
      const admin = new Jar();
      const u = user();
      await jar.request(c.urls[0], '/login', { json: { user: u } });
      assert.equal((await state(jar)).userId, u);
      const elevate = jar.request(c.urls[0], '/login', { json: { user: u, gate: 'login-3' } });
      await c.gates.reached('login-3');
      const ended = await admin.request(c.urls[1], '/logout-everywhere', { json: { user: u } });
      assert.equal(ended.status, 200);
      c.gates.open('login-3');
      assert.equal((await elevate).status, 200);
      assert.deepEqual(await state(jar), {});
      assert.deepEqual(await sessionsOf(u), []);
    });

    it('destroyUser() while an anonymous session logs in as that user leaves the user no live session', async (t) => {
      if (!indexed) return t.skip('this store has no user index');
      const jar = new Jar();
      const admin = new Jar();
      const u = user();
      await jar.request(c.urls[0], '/set', { json: { key: 'basket', value: [4] } });
      const login = jar.request(c.urls[0], '/login', { json: { user: u, gate: 'login-4' } });
      await c.gates.reached('login-4');
      await admin.request(c.urls[1], '/logout-everywhere', { json: { user: u } });
      c.gates.open('login-4');
      assert.equal((await login).status, 200);
      assert.deepEqual(await state(jar), {});
      assert.deepEqual(await sessionsOf(u), []);
      // A login that starts after the logout stands.
      await jar.request(c.urls[0], '/login', { json: { user: u } });
      assert.equal((await state(jar)).userId, u);
    });

    it('a write that loaded the old id before a login elsewhere lands in the new session and keeps the new cookie', async () => {
      const jar = new Jar();
      const u = user();
      await jar.request(c.urls[0], '/set', { json: { key: 'basket', value: [5] } });
      const write = jar.request(c.urls[0], '/set', { json: { key: 'note', value: 'kept', gate: 'write-5' } });
      await c.gates.reached('write-5');
      assert.equal((await jar.request(c.urls[1], '/login', { json: { user: u } })).status, 200);
      c.gates.open('write-5');
      const answered = await write;
      assert.equal(answered.status, 200);
      assert.deepEqual(answered.setCookie, [], 'neither cleared nor handed the new id');
      assert.deepEqual(await state(jar), { basket: [5], userId: u, note: 'kept' });
    });

    it('a request sent with the old cookie after the login neither clears the cookie nor sees the new session', async () => {
      const jar = new Jar();
      const u = user();
      await jar.request(c.urls[0], '/set', { json: { key: 'basket', value: [6] } });
      const oldCookie = jar.cookie!;
      await jar.request(c.urls[1], '/login', { json: { user: u } });
      const late = await jar.request(c.urls[0], '/state', { headers: { cookie: oldCookie } });
      assert.deepEqual(late.body.data, {}, 'the old id does not lead to the logged-in session');
      assert.ok(!cleared(late.setCookie), 'the old id is not cleared over the new cookie');
      assert.equal((await state(jar)).userId, u);
    });
  });
}

// Memory, Redis and DynamoDB, then file, PostgreSQL, MariaDB and Memcached (no user index: the
// destroyUser rows skip there): the rule lives in the core, so it must hold on every store.
for (const engine of [...(await sharedEngines()), ...(await otherEngines())]) {
  if (engine.skip) describe(`logout wins on ${engine.name}`, { skip: engine.skip }, () => {});
  else logoutWins(engine.name, engine.open);
}
