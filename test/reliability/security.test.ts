/**
 * Security rows through the real Express app on MemoryStore: SEC-01 (entropy), SEC-02 (fixation),
 * SEC-03 (strict mode), SEC-05 (timing-safe comparison), SEC-06 (cookie flags, https direct and
 * behind a trusted proxy), SEC-07 (logout), SEC-08 (idle/absolute timeouts), SEC-10 (secret
 * rotation), SEC-13 (no ids in events or output), RET-06 (cookie lifetime vs server lifetime).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { createServer as createHttpsServer, request as httpsRequest } from 'node:https';
import { createRequire, syncBuiltinESMExports } from 'node:module';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { generateId, hashId, sign, unsign } from '../../src/core/ids.js';
import type { SessionManager } from '../../src/core/manager.js';
import type { SessionOptions } from '../../src/core/options.js';
import { MemoryStore } from '../../src/stores/memory/index.js';
import type { Store } from '../../src/stores/store.js';
import { countCalls } from '../helpers/counting-store.js';
import { makeApp, SECRET } from '../helpers/express-app.js';
import { close, Jar, listen } from '../helpers/http.js';
import { chiSquareP, uniformChiSquare } from '../helpers/stats.js';

const require = createRequire(import.meta.url);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function instances(store: Store, options: Partial<SessionOptions> = {}, count = 2) {
  const servers: Server[] = [];
  const urls: string[] = [];
  const managers: SessionManager[] = [];
  const apps: ReturnType<typeof makeApp>['app'][] = [];
  for (let i = 0; i < count; i++) {
    const { app, manager } = makeApp({ ...options, store }, String.fromCharCode(65 + i));
    app.post('/promote', async (req, res) => {
      await req.session.regenerate();
      req.session.role = 'admin';
      res.json({ ok: true });
    });
    const server = createServer(app);
    servers.push(server);
    apps.push(app);
    managers.push(manager);
    urls.push(await listen(server));
  }
  return { urls, managers, apps, close: () => Promise.all(servers.map(close)) };
}

const idOf = (cookie: string | undefined) => (cookie ?? '').slice('sid='.length).split('.')[0] ?? '';

describe('SEC-01: id entropy and uniqueness', () => {
  // 10^6 ids take ~25 s on this 2-core machine (measured: 25.5 s, mostly the duplicate Set);
  // 250,000 take ~3.4 s, with ≥ 3,900 expected per cell. BATON_ENTROPY_IDS=1000000 runs the full count.
  const N = Number(process.env.BATON_ENTROPY_IDS ?? 250_000);

  it(`${N} ids: no duplicate, 32 bytes each, uniform per character position and per bit (α = 0.01)`, (t) => {
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const index = new Int16Array(128).fill(-1);
    for (let i = 0; i < 64; i++) index[alphabet.charCodeAt(i)] = i;
    const positions = Array.from({ length: 43 }, () => new Float64Array(64));
    const ones = new Float64Array(256);
    const seen = new Set<string>();
    for (let n = 0; n < N; n++) {
      const id = generateId();
      seen.add(id);
      for (let p = 0; p < 43; p++) (positions[p] as Float64Array)[index[id.charCodeAt(p)] as number]! += 1;
      if (n < 100_000) {
        const bytes = Buffer.from(id, 'base64url');
        assert.equal(bytes.length, 32);
        for (let b = 0; b < 32; b++) {
          const byte = bytes[b] as number;
          for (let bit = 0; bit < 8; bit++) if (byte & (1 << bit)) ones[b * 8 + bit]! += 1;
        }
      }
    }
    assert.equal(seen.size, N, '0 duplicates');
    // 43 position tests + 1 bit test: Bonferroni keeps the family-wise false-alarm rate at 0.01.
    const alpha = 0.01 / 44;
    let minP = 1;
    for (let p = 0; p < 43; p++) {
      // The last character carries 4 bits (256 = 42×6 + 4): only 16 of 64 symbols can occur.
      const counts = p === 42 ? (positions[p] as Float64Array).filter((_, i) => i % 4 === 0) : positions[p]!;
      if (p === 42) {
        const impossible = (positions[p] as Float64Array).reduce((s, c, i) => s + (i % 4 ? c : 0), 0);
        assert.equal(impossible, 0, 'last character only from the 16 possible symbols');
      }
      const { p: pValue } = uniformChiSquare(counts);
      minP = Math.min(minP, pValue);
      assert.ok(pValue > alpha, `position ${p}: p = ${pValue}`);
    }
    const bitsN = Math.min(N, 100_000);
    let chi2 = 0;
    for (const k of ones) chi2 += (k - bitsN / 2) ** 2 / (bitsN / 4);
    // Sum of squared monobit z-scores over 256 bit positions: chi-square with 256 degrees of freedom.
    const bitTest = chiSquareP(chi2, 256);
    assert.ok(bitTest > alpha, `bit frequency p = ${bitTest}`);
    t.diagnostic(
      `N = ${N}: 0 duplicates; smallest position p = ${minP.toFixed(4)}; bit-frequency p = ${bitTest.toFixed(4)}`,
    );
  });

  it('the id code uses the platform CSPRNG, never Math.random', () => {
    const source = readFileSync(new URL('../../src/core/ids.ts', import.meta.url), 'utf8');
    assert.match(source, /randomBytes\(ID_BYTES\)/);
    assert.doesNotMatch(source, /Math\.random/);
  });
});

describe('SEC-05: constant-time signature check', () => {
  it('compares HMACs with crypto.timingSafeEqual on equal-length buffers, and never throws on a length mismatch', () => {
    const crypto = require('node:crypto') as typeof import('node:crypto');
    const original = crypto.timingSafeEqual;
    const calls: [number, number][] = [];
    crypto.timingSafeEqual = ((a: NodeJS.ArrayBufferView, b: NodeJS.ArrayBufferView) => {
      calls.push([a.byteLength, b.byteLength]);
      return original(a, b);
    }) as typeof original;
    syncBuiltinESMExports();
    try {
      const id = generateId();
      const good = sign(id, SECRET);
      assert.deepEqual(unsign(good, [SECRET]), { id, stale: false });
      const forged = `${id}.${'A'.repeat(43)}`;
      assert.equal(unsign(forged, [SECRET, 'x'.repeat(40)]), null);
      assert.ok(calls.length >= 3, 'timingSafeEqual used for each secret tried');
      for (const [a, b] of calls) assert.equal(a, b, 'equal lengths');
      calls.length = 0;
      for (const bad of [`${id}.short`, `${id}.${'A'.repeat(44)}`, `${id}.`, 'x', '']) {
        assert.doesNotThrow(() => assert.equal(unsign(bad, [SECRET]), null));
      }
      assert.equal(calls.length, 0, 'malformed values are refused before any comparison');
    } finally {
      crypto.timingSafeEqual = original;
      syncBuiltinESMExports();
    }
  });
});

describe('SEC-02 / SEC-03 / SEC-07 / SEC-10 across two Express instances', () => {
  it('SEC-02: login and a privilege change issue a new id; the old id returns nothing and is gone from the store', async () => {
    const store = new MemoryStore();
    const c = await instances(store);
    try {
      const [a, b] = c.urls as [string, string];
      const jar = new Jar();
      await jar.request(a, '/set', { json: { key: 'basket', value: ['rum'] } });
      const pre = jar.cookie!;
      await jar.request(b, '/login', { json: { user: 'jack' } });
      const post = jar.cookie!;
      assert.notEqual(idOf(post), idOf(pre));
      assert.equal(await store.get(hashId(idOf(pre))), null, 'no entry under the pre-login key');
      const replay = new Jar();
      replay.cookie = pre;
      assert.deepEqual((await replay.request(a, '/state')).body.data, {}, 'pre-login id returns no session');
      await jar.request(a, '/promote', { json: {} });
      assert.notEqual(idOf(jar.cookie), idOf(post), 'privilege change: another new id');
      replay.cookie = post;
      assert.deepEqual((await replay.request(b, '/state')).body.data, {});
      assert.equal((await jar.request(b, '/state')).body.data.role, 'admin');
    } finally {
      await c.close();
    }
  });

  it('SEC-03: a correctly signed id the store does not know is never adopted; a new one is issued and counted', async () => {
    const store = new MemoryStore();
    const c = await instances(store);
    try {
      const unknown: string[] = [];
      const created: string[] = [];
      c.managers[0]!.on('unknown', (e) => unknown.push(e.key));
      c.managers[0]!.on('created', (e) => created.push(e.key));
      const planted = generateId();
      const jar = new Jar();
      jar.cookie = `sid=${sign(planted, SECRET)}`;
      await jar.request(c.urls[0]!, '/set', { json: { key: 'a', value: 1 } });
      assert.notEqual(idOf(jar.cookie), planted, 'a new id');
      assert.equal(await store.get(hashId(planted)), null, 'nothing stored under the planted id');
      assert.deepEqual(unknown, [hashId(planted)]);
      assert.deepEqual(created, [hashId(idOf(jar.cookie))]);
    } finally {
      await c.close();
    }
  });

  it('SEC-07: after logout the copied cookie gets no session on either instance; the response clears the cookie', async () => {
    const store = new MemoryStore();
    const c = await instances(store);
    try {
      const [a, b] = c.urls as [string, string];
      const jar = new Jar();
      await jar.request(a, '/login', { json: { user: 'jack' } });
      const copy = jar.cookie!;
      const out = await jar.request(b, '/logout', { json: {} });
      const cleared = out.setCookie.find((s) => s.startsWith('sid='));
      assert.ok(cleared, 'a Set-Cookie on logout');
      assert.match(cleared, /^sid=;/);
      assert.match(cleared, /Max-Age=0/);
      assert.match(cleared, /Expires=Thu, 01 Jan 1970/);
      for (const url of [a, b]) {
        const thief = new Jar();
        thief.cookie = copy;
        assert.deepEqual((await thief.request(url, '/state')).body.data, {}, `replay on ${url}`);
      }
    } finally {
      await c.close();
    }
  });

  it('SEC-10: cookies signed with the old secret verify under [new, old] and are re-signed; under [new] they cost 0 reads', async () => {
    const OLD = 'old-secret-old-secret-old-secret-0';
    const NEW = 'new-secret-new-secret-new-secret-1';
    const store = new MemoryStore();
    const old = await instances(store, { secret: OLD }, 1);
    const both = await instances(store, { secret: [NEW, OLD] }, 1);
    const only = await instances(store, { secret: NEW }, 1);
    try {
      const jar = new Jar();
      await jar.request(old.urls[0]!, '/set', { json: { key: 'name', value: 'Jack' } });
      const oldCookie = jar.cookie!;
      const reply = await jar.request(both.urls[0]!, '/state');
      assert.equal(reply.body.data.name, 'Jack');
      assert.notEqual(jar.cookie, oldCookie, 're-signed');
      assert.ok(unsign(jar.cookie!.slice(4), [NEW]), 'with the new secret');
      assert.equal((await jar.request(only.urls[0]!, '/state')).body.data.name, 'Jack');
      const calls = countCalls(store);
      const stale = new Jar();
      stale.cookie = oldCookie;
      assert.deepEqual((await stale.request(only.urls[0]!, '/state')).body.data, {});
      assert.equal(calls.total(), 0, '0 store reads');
    } finally {
      await Promise.all([old.close(), both.close(), only.close()]);
    }
  });
});

describe('SEC-06: cookie flags', () => {
  const check = (c: string) => {
    assert.match(c, /HttpOnly/);
    assert.match(c, /Path=\//);
    assert.match(c, /SameSite=(Lax|Strict)/);
    assert.doesNotMatch(c, /SameSite=None/);
  };

  it('plain http: HttpOnly, SameSite=Lax, Path=/, no Secure; no-store on every response that sets it', async () => {
    const c = await instances(new MemoryStore(), {}, 1);
    try {
      const r = await new Jar().request(c.urls[0]!, '/set', { json: { key: 'a', value: 1 } });
      const cookie = r.setCookie[0]!;
      check(cookie);
      assert.doesNotMatch(cookie, /Secure/);
      assert.doesNotMatch(cookie, /Domain/);
      assert.equal(r.headers.get('cache-control'), 'no-store');
    } finally {
      await c.close();
    }
  });

  it("behind a trusted proxy (Express 'trust proxy'), X-Forwarded-Proto: https gives Secure; untrusted, it is ignored", async () => {
    const c = await instances(new MemoryStore(), {}, 2);
    try {
      c.apps[0]!.set('trust proxy', 'loopback');
      const headers = { 'x-forwarded-proto': 'https' };
      const trusted = await new Jar().request(c.urls[0]!, '/set', { json: { key: 'a', value: 1 }, headers });
      check(trusted.setCookie[0]!);
      assert.match(trusted.setCookie[0]!, /; Secure/);
      const untrusted = await new Jar().request(c.urls[1]!, '/set', {
        json: { key: 'a', value: 1 },
        headers,
      });
      assert.doesNotMatch(
        untrusted.setCookie[0]!,
        /Secure/,
        'a spoofed header from an untrusted peer is ignored',
      );
    } finally {
      await c.close();
    }
  });

  it('https direct: Secure under secure: auto', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'baton-tls-'));
    try {
      execFileSync(
        'openssl',
        [
          'req',
          '-x509',
          '-newkey',
          'ec',
          '-pkeyopt',
          'ec_paramgen_curve:prime256v1',
          '-nodes',
          '-keyout',
          join(dir, 'key.pem'),
          '-out',
          join(dir, 'cert.pem'),
          '-days',
          '1',
          '-subj',
          '/CN=127.0.0.1',
        ],
        { stdio: 'ignore' },
      );
    } catch {
      t.skip('openssl is not available to make a test certificate');
      rmSync(dir, { recursive: true, force: true });
      return;
    }
    const { app } = makeApp({ store: new MemoryStore() });
    const server = createHttpsServer(
      { key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) },
      app,
    );
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const setCookie = await new Promise<string[]>((resolve, reject) => {
        const req = httpsRequest(
          {
            host: '127.0.0.1',
            port: (server.address() as AddressInfo).port,
            path: '/set',
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            rejectUnauthorized: false,
          },
          (res) => {
            res.resume();
            res.on('end', () => resolve(res.headers['set-cookie'] ?? []));
          },
        );
        req.on('error', reject);
        req.end(JSON.stringify({ key: 'a', value: 1 }));
      });
      check(setCookie[0]!);
      assert.match(setCookie[0]!, /; Secure/);
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('__Host- name: Secure, Path=/, no Domain; SameSite=Strict is honoured', async () => {
    const c = await instances(
      new MemoryStore(),
      { cookie: { name: '__Host-sid', secure: true, sameSite: 'strict' } },
      1,
    );
    try {
      const r = await new Jar().request(c.urls[0]!, '/set', { json: { key: 'a', value: 1 } });
      const cookie = r.setCookie[0]!;
      assert.match(cookie, /^__Host-sid=/);
      assert.match(cookie, /; Secure/);
      assert.match(cookie, /Path=\/;|Path=\/$/);
      assert.doesNotMatch(cookie, /Domain/);
      assert.match(cookie, /SameSite=Strict/);
    } finally {
      await c.close();
    }
  });
});

describe('SEC-08 / RET-06: idle and absolute timeouts, enforced by the core even when the record remains', () => {
  // A MemoryStore whose clock stands still never expires anything itself: the record stays, as with
  // DynamoDB's lagging TTL. Only the core's own check can make the session absent.
  const laggingStore = () => new MemoryStore({ now: () => 0 });

  it('idle: lifetime 1 s — absent once 1 s has passed since the last activity, record still present', async (t) => {
    const store = laggingStore();
    const c = await instances(store, { lifetime: 1, absoluteLifetime: 60, touchAfter: 0.1 }, 1);
    try {
      const jar = new Jar();
      const first = await jar.request(c.urls[0]!, '/set', { json: { key: 'a', value: 1 } });
      const maxAge = Number(/Max-Age=(\d+)/.exec(first.setCookie[0]!)?.[1]);
      assert.ok(maxAge <= 1, `cookie Max-Age ${maxAge} never outlives the server-side expiry`);
      const key = hashId(idOf(jar.cookie));
      const stored = (await store.get(key))!;
      while (Date.now() < stored.expiresAt) await sleep(20);
      const copy = jar.cookie;
      const reply = await jar.request(c.urls[0]!, '/state');
      assert.deepEqual(reply.body.data, {}, 'absent at t ≥ last activity + lifetime');
      assert.ok(await store.get(key), 'even though the record is still in the store');
      t.diagnostic(
        `read at ${Date.now() - stored.expiresAt} ms past expiry: absent; cookie was ${copy ? 'set' : 'unset'}`,
      );
    } finally {
      await c.close();
    }
  });

  it('absolute: 2 s — absent after 2 s despite a request every 300 ms; touch never extends it', async (t) => {
    const store = laggingStore();
    const c = await instances(store, { lifetime: 1, absoluteLifetime: 2, touchAfter: 0.05 }, 1);
    c.apps[0]!.get('/touch', async (req, res) => {
      await req.session.touch();
      res.json({ data: { ...req.session } });
    });
    try {
      const jar = new Jar();
      const started = Date.now();
      await jar.request(c.urls[0]!, '/set', { json: { key: 'a', value: 1 } });
      const key = hashId(idOf(jar.cookie));
      const absolute = (await store.get(key))!.absoluteExpiresAt;
      let alive = 0;
      while (Date.now() < absolute) {
        const r = await jar.request(c.urls[0]!, '/touch');
        const maxAge = /Max-Age=(\d+)/.exec(r.setCookie[0] ?? '')?.[1];
        if (maxAge !== undefined) {
          assert.ok(
            Date.now() + Number(maxAge) * 1000 <= absolute + 1000,
            'cookie never outlives the absolute expiry',
          );
        }
        if (Date.now() < absolute && r.body.data?.a === 1) alive++;
        assert.ok((await store.get(key))!.absoluteExpiresAt === absolute, 'absolute expiry never moves');
        await sleep(300);
      }
      const copy = new Jar();
      copy.cookie = `sid=${sign(idOf(jar.cookie) || '', SECRET)}`;
      const after = await copy.request(c.urls[0]!, '/state');
      assert.deepEqual(after.body.data, {}, 'absent at t ≥ created + absoluteLifetime');
      t.diagnostic(
        `${alive} active requests before the absolute expiry at ${absolute - started} ms; absent after`,
      );
      assert.ok(alive >= 3);
    } finally {
      await c.close();
    }
  });

  it('a browser-session cookie option emits no Max-Age or Expires', async () => {
    const c = await instances(new MemoryStore(), { cookie: { maxAge: null } }, 1);
    try {
      const r = await new Jar().request(c.urls[0]!, '/set', { json: { key: 'a', value: 1 } });
      assert.doesNotMatch(r.setCookie[0]!, /Max-Age|Expires/);
    } finally {
      await c.close();
    }
  });
});

describe('SEC-13: no ids in events or output', () => {
  it('a full login/logout flow: no id or cookie value in any event payload or anything written to stdout/stderr', async () => {
    const store = new MemoryStore();
    const c = await instances(store);
    const seen: string[] = [];
    const names = ['created', 'destroyed', 'regenerated', 'expired', 'conflict', 'lockTimeout', 'storeError'];
    for (const m of c.managers) {
      for (const name of [
        ...names,
        'operation',
        'suspicious',
        'unknown',
        'userLoggedOut',
        'unreadable',
        'bruteForce',
      ]) {
        m.on(name as 'created', (info: unknown) => seen.push(`${name} ${JSON.stringify(info)}`));
      }
    }
    const written: string[] = [];
    const out = process.stdout.write.bind(process.stdout);
    const err = process.stderr.write.bind(process.stderr);
    process.stdout.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
      written.push(String(chunk));
      return out(chunk as string, ...(rest as []));
    }) as typeof process.stdout.write;
    process.stderr.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
      written.push(String(chunk));
      return err(chunk as string, ...(rest as []));
    }) as typeof process.stderr.write;
    const cookies: string[] = [];
    try {
      const [a, b] = c.urls as [string, string];
      const jar = new Jar();
      await jar.request(a, '/set', { json: { key: 'basket', value: ['rum'] } });
      cookies.push(jar.cookie!);
      await jar.request(b, '/login', { json: { user: 'jack' } });
      cookies.push(jar.cookie!);
      await jar.request(a, '/state');
      await c.managers[1]!.listByUser('jack');
      await jar.request(b, '/logout', { json: {} });
      const replay = new Jar();
      replay.cookie = cookies[1];
      await replay.request(a, '/state');
      replay.cookie = `sid=${idOf(cookies[0])}.forged`;
      await replay.request(a, '/state');
    } finally {
      process.stdout.write = out;
      process.stderr.write = err;
      await c.close();
    }
    const text = [...seen, ...written].join('\n');
    assert.ok(seen.length > 5, 'events were observed');
    for (const cookie of cookies) {
      assert.ok(!text.includes(idOf(cookie)), 'no id');
      assert.ok(!text.includes(cookie.slice(4)), 'no cookie value');
    }
  });
});
