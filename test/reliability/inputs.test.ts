/**
 * Bad input (INP-01..INP-04, INP-06, INP-10): property-based with fast-check, through the real
 * Express app on MemoryStore and through the core. Seeds are printed; rerun one with
 * BATON_FUZZ_SEED=<seed>.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { isWellFormedId, sign, unsign } from '../../src/core/ids.js';
import { SessionManager } from '../../src/core/manager.js';
import type { SessionOptions } from '../../src/core/options.js';
import { MemoryStore } from '../../src/stores/memory/index.js';
import { countCalls } from '../helpers/counting-store.js';
import { makeApp, SECRET } from '../helpers/express-app.js';
import { close, Jar, listen } from '../helpers/http.js';
import { cookieLine, type RawReply, rawGet } from '../helpers/raw-http.js';

const seed = Number(process.env.BATON_FUZZ_SEED ?? Date.now() % 2_147_483_647);
/** Core-level runs (INP-01 asks for 100,000); HTTP-level runs are fewer, each is a socket round trip. */
const CORE_RUNS = Number(process.env.BATON_FUZZ_RUNS ?? 100_000);
const HTTP_RUNS = Math.max(200, Math.floor(CORE_RUNS / 50));

/** Pieces that cookie parsers trip on, mixed with random text. */
function cookieHeader(valid: string): fc.Arbitrary<string> {
  const piece = fc.oneof(
    fc.constantFrom(
      'sid=',
      'sid',
      '=',
      ';',
      ';;',
      '; ',
      ' ',
      '\t',
      '%',
      '%zz',
      '%00',
      '%E2%82',
      '%ff',
      '"',
      '\\',
      ',',
      '\u0000',
      '\u001f',
      '\u007f',
      '\ud800',
      'é',
      '💥',
      'sid=a.b',
      'sid=..',
      `sid=${valid}`,
      valid,
      `${valid}x`,
      valid.slice(0, 60),
      `sid="${valid}"`,
      'sid=sid=sid',
      '__proto__=1',
      'constructor=x',
    ),
    fc.string({ maxLength: 40 }),
    fc.string({ unit: 'binary', maxLength: 20 }),
    fc.stringMatching(/^[A-Za-z0-9_-]{43}\.[A-Za-z0-9_-]{43}$/),
  );
  return fc.array(piece, { maxLength: 12 }).map((parts) => parts.join(''));
}

/** True when the header could legitimately cost a store read: it carries a token that verifies. */
function carriesValidToken(header: string): boolean {
  for (const m of header.matchAll(/[A-Za-z0-9_-]{43}\.[A-Za-z0-9_-]{43}/g)) {
    if (unsign(m[0], [SECRET])) return true;
  }
  return false;
}

function checkSetCookies(setCookie: string[]): void {
  for (const c of setCookie) {
    const [pair = '', ...attributes] = c.split(';');
    assert.ok(Buffer.byteLength(pair) <= 4096, `name + value within 4096 bytes (${pair.length})`);
    for (const a of attributes) assert.ok(Buffer.byteLength(a) <= 1024, 'attribute within 1024 bytes');
    assert.match(pair, /^sid=([A-Za-z0-9_-]{43}\.[A-Za-z0-9_-]{43})?$/, 'only ever our own token or a clear');
  }
}

describe('bad cookies through the real Express app on MemoryStore (INP-01, INP-02)', () => {
  const store = new MemoryStore();
  const calls = countCalls(store);
  let server: Server;
  let port: number;
  let valid: string;
  const errors: unknown[] = [];

  before(async () => {
    const { app, manager } = makeApp({ store });
    manager.on('storeError', (e) => errors.push(e));
    server = createServer(app);
    await listen(server);
    port = (server.address() as AddressInfo).port;
    const jar = new Jar();
    await jar.request(`http://127.0.0.1:${port}`, '/set', { json: { key: 'name', value: 'Jack' } });
    valid = jar.cookie!.slice('sid='.length);
  });
  after(() => close(server));

  async function send(line: Buffer): Promise<{ reply: RawReply; storeCalls: number }> {
    calls.reset();
    const reply = await rawGet(port, '/state', [line]);
    return { reply, storeCalls: calls.total() };
  }

  it(`random and malformed Cookie headers (${HTTP_RUNS} runs, seed ${seed}): no 5xx, no store call without a valid token`, async (t) => {
    t.diagnostic(`fast-check seed ${seed}`);
    let served = 0;
    let refusedByNode = 0;
    await fc.assert(
      fc.asyncProperty(cookieHeader(valid), async (header) => {
        // Node's parser rejects CR/LF and NUL in a header line before the app sees it (400): keep framing intact.
        const bytes = Buffer.from(header.replace(/[\r\n]/g, ''), 'utf8');
        const { reply, storeCalls } = await send(cookieLine(bytes));
        assert.ok(reply.status > 0 && reply.status < 500, `no 5xx (got ${reply.status})`);
        if (reply.status === 200) served++;
        else refusedByNode++;
        if (!carriesValidToken(header)) assert.equal(storeCalls, 0, 'no store call');
        checkSetCookies(reply.setCookie);
      }),
      { seed, numRuns: HTTP_RUNS },
    );
    t.diagnostic(`served ${served}, refused by Node's HTTP parser ${refusedByNode}`);
    assert.deepEqual(errors, []);
  });

  it('non-UTF-8 bytes, control characters and duplicated names: no 5xx, no store read', async () => {
    const cases: Buffer[] = [
      Buffer.from([0x73, 0x69, 0x64, 0x3d, 0xff, 0xfe, 0xc3, 0x28]),
      Buffer.from([0x73, 0x69, 0x64, 0x3d, 0x80, 0x81, 0x2e, 0xe2, 0x82]),
      Buffer.from('sid=\u0001\u0002\u0003.\u001f', 'latin1'),
      Buffer.from(`sid=${'%'.repeat(200)}`),
      Buffer.from('sid=a; sid=b; sid=c'),
      Buffer.from(';;;;;;===;;; ;'),
      Buffer.from('sid'),
      Buffer.from(''),
    ];
    for (const bytes of cases) {
      const { reply, storeCalls } = await send(cookieLine(bytes));
      assert.ok(reply.status < 500, `no 5xx for ${bytes.toString('hex')}`);
      assert.equal(storeCalls, 0);
      checkSetCookies(reply.setCookie);
    }
    // Two Cookie header lines, one a forgery: still no store read.
    calls.reset();
    const two = await rawGet(port, '/state', [cookieLine('sid=forged.forged'), cookieLine('other=1')]);
    assert.ok(two.status < 500);
    assert.equal(calls.total(), 0);
  });

  it('a duplicated session cookie: the value that verifies counts, wherever it stands; a forgery costs no read', async () => {
    const forgedFirst = await send(cookieLine(`sid=${valid.slice(0, 44)}${'A'.repeat(43)}; sid=${valid}`));
    assert.equal(forgedFirst.reply.status, 200);
    assert.equal(forgedFirst.storeCalls, 1, 'one read, for the value that verifies');
    assert.equal(JSON.parse(forgedFirst.reply.body).data.name, 'Jack');
    assert.ok(!forgedFirst.reply.setCookie.some((c) => /max-age=0/i.test(c)), 'the cookie is not cleared');
    const forgedOnly = await send(cookieLine(`sid=${valid.slice(0, 44)}${'A'.repeat(43)}; sid=garbage`));
    assert.equal(forgedOnly.storeCalls, 0, 'no value verifies: no read');
    const validFirst = await send(cookieLine(`sid=${valid}; sid=garbage`));
    assert.equal(JSON.parse(validFirst.reply.body).data.name, 'Jack');
  });

  it('oversized session cookies (4, 8, 16 KB) and 32 KB of cookies: absent, no store read, no 5xx', async (t) => {
    const seen: string[] = [];
    for (const kb of [4, 8, 16]) {
      const value = `${valid}${'A'.repeat(kb * 1024 - valid.length)}`;
      const { reply, storeCalls } = await send(cookieLine(`sid=${value}`));
      assert.ok(reply.status < 500, `${kb} KB: no 5xx`);
      assert.equal(storeCalls, 0, `${kb} KB: no store read`);
      if (reply.status === 200) assert.equal(JSON.parse(reply.body).data.name, undefined);
      checkSetCookies(reply.setCookie);
      seen.push(`${kb} KB → ${reply.status}`);
    }
    const many = Array.from({ length: 64 }, (_, i) => `c${i}=${'v'.repeat(500)}`).join('; ');
    const big = await send(cookieLine(`${many}; sid=${valid}`));
    assert.ok(big.reply.status < 500);
    assert.equal(big.storeCalls, 0);
    seen.push(`32 KB of cookies → ${big.reply.status}`);
    t.diagnostic(seen.join(', '));
  });
});

describe('bad cookies through the core (INP-01 at volume, INP-03, INP-04)', () => {
  it(`${CORE_RUNS} random Cookie headers (seed ${seed}): no throw, a fresh session, no store call`, async (t) => {
    t.diagnostic(`fast-check seed ${seed}`);
    const store = new MemoryStore();
    const m = new SessionManager({ store, secret: SECRET });
    const calls = countCalls(store);
    const valid = sign('A'.repeat(43), 'another-deployment-secret-0123456789');
    await fc.assert(
      fc.asyncProperty(cookieHeader(valid), async (header) => {
        const s = await m.load({ cookie: header });
        assert.equal(s.isNew, true);
        await m.commit(s);
      }),
      { seed, numRuns: CORE_RUNS },
    );
    assert.equal(calls.total(), 0, 'no store call in any run');
  });

  it('forged and tampered cookies: fresh session, 0 store reads, no storeError, counted as suspicious (INP-03)', async () => {
    const store = new MemoryStore();
    const m = new SessionManager({ store, secret: SECRET });
    const first = await m.load({});
    first.a = 1;
    const token = (await m.commit(first)).setCookie[0]!.split(';')[0]!.slice(4);
    const calls = countCalls(store);
    let suspicious = 0;
    let storeErrors = 0;
    m.on('suspicious', () => suspicious++);
    m.on('storeError', () => storeErrors++);
    const flip = (s: string, i: number) => s.slice(0, i) + (s[i] === 'A' ? 'B' : 'A') + s.slice(i + 1);
    const [id, mac] = token.split('.') as [string, string];
    const forged = [
      flip(token, 5), // a bit of the id
      flip(token, 60), // a bit of the HMAC
      sign(id, 'a-different-secret-a-different-secret'), // HMAC of another secret
      token.slice(0, 80), // truncated
      `${id}.`,
      `${id}`,
      `.${mac}`,
      sign('B'.repeat(43), 'another-deployment-secret-0123456789'), // a valid id of another deployment
    ];
    for (const value of forged) {
      const s = await m.load({ cookie: `sid=${value}` });
      assert.equal(s.isNew, true, value);
      assert.equal(s.a, undefined);
      await m.commit(s);
    }
    assert.equal(calls.total(), 0, '0 store reads');
    assert.equal(storeErrors, 0, 'storeError not raised');
    assert.equal(suspicious, forged.length, 'each counted');
  });

  it('odd ids, even correctly signed, never reach the store (INP-04)', async () => {
    const store = new MemoryStore();
    const m = new SessionManager({ store, secret: SECRET });
    const calls = countCalls(store);
    const odd = [
      '../../etc/passwd',
      'a.b',
      '#x',
      'a:b',
      '{tag}x',
      '$where',
      "x' OR '1'='1",
      '"quoted"',
      'x--',
      '1; DROP TABLE sessions; --',
      '{"$ne": null}',
      'ünïcødé-🔑',
      'nul\u0000byte',
      'x'.repeat(10 * 1024),
      'A'.repeat(42),
      'A'.repeat(44),
    ];
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.constantFrom(...odd), fc.string({ maxLength: 100 })), async (id) => {
        fc.pre(!isWellFormedId(id));
        const s = await m.load({ cookie: `sid=${encodeURIComponent(sign(id, SECRET))}` });
        assert.equal(s.isNew, true);
        const raw = await m.load({ cookie: `sid=${sign(id, SECRET)}` });
        assert.equal(raw.isNew, true);
      }),
      { seed, numRuns: 2_000 },
    );
    assert.equal(calls.total(), 0);
  });
});

describe('non-serialisable data (INP-06) through the Express app', () => {
  it('each is a 500 SessionDataError naming the key, raised before any write; stored state unchanged', async () => {
    const store = new MemoryStore();
    const { app, manager } = makeApp({ store });
    const bad: Record<string, () => unknown> = {
      big: () => 10n,
      fn: () => () => 1,
      sym: () => Symbol('s'),
      cycle: () => {
        const a: Record<string, unknown> = {};
        a.self = a;
        return a;
      },
      holes: () => [1, undefined, 3],
      nan: () => Number.NaN,
      inf: () => Number.POSITIVE_INFINITY,
      date: () => new Date(0),
      map: () => new Map([[1, 2]]),
      typed: () => new Uint8Array([1, 2]),
      deep: () => {
        let v: unknown = 1;
        for (let i = 0; i < 33; i++) v = { v };
        return v;
      },
    };
    app.post('/store-bad', (req, res) => {
      req.session[req.body.key] = bad[req.body.key]!();
      res.json({ ok: true });
    });
    app.use(
      (err: { status?: number; code?: string; message: string }, _q: unknown, res: any, _n: unknown) => {
        res.status(err.status ?? 500).json({ code: err.code, message: err.message });
      },
    );
    const server = createServer(app);
    const base = await listen(server);
    try {
      const jar = new Jar();
      await jar.request(base, '/set', { json: { key: 'keep', value: 'me' } });
      const key = manager.keyFor(jar.cookie!.slice(4).split('.')[0]!);
      const before = await store.get(key);
      const calls = countCalls(store);
      for (const name of Object.keys(bad)) {
        calls.reset();
        const reply = await jar.request(base, '/store-bad', { json: { key: name } });
        assert.equal(reply.status, 500, name);
        assert.equal(reply.body.code, 'BATON_SESSION_DATA', name);
        assert.match(reply.body.message, new RegExp(`session key "${name}"`), name);
        assert.equal(calls.counts.patch ?? 0, 0, `${name}: nothing written`);
      }
      assert.deepEqual(await store.get(key), before, 'stored session unchanged');
    } finally {
      await close(server);
    }
  });
});

describe('cookie option injection (INP-10)', () => {
  it('any cookie name, path or domain with separators or control characters is a ConfigError naming it (property)', () => {
    const store = new MemoryStore();
    const injected = fc
      .tuple(
        fc.string({ maxLength: 10 }),
        fc.constantFrom(';', '=', '\r\n', '\n', ' ', ',', '\u0000'),
        fc.string({ maxLength: 10 }),
      )
      .map(([a, bad, b]) => `${a}${bad}${b}`);
    fc.assert(
      fc.property(injected, fc.constantFrom('name', 'path', 'domain'), (value, field) => {
        const cookie = { [field]: field === 'path' ? `/${value}` : value } as SessionOptions['cookie'];
        assert.throws(
          () => new SessionManager({ store, secret: SECRET, cookie }),
          (err: { code: string; option: string }) =>
            err.code === 'BATON_CONFIG' && err.option === `cookie.${field}`,
        );
      }),
      { seed, numRuns: 2_000 },
    );
  });

  it('__Host- with a domain, without secure or with another path is refused', () => {
    const store = new MemoryStore();
    const cases: [SessionOptions['cookie'], string][] = [
      [{ name: '__Host-sid', secure: true, domain: 'example.com' }, 'cookie.domain'],
      [{ name: '__Host-sid', secure: false }, 'cookie.secure'],
      [{ name: '__Host-sid', secure: 'auto' }, 'cookie.secure'],
      [{ name: '__Host-sid', secure: true, path: '/app' }, 'cookie.path'],
    ];
    for (const [cookie, option] of cases) {
      assert.throws(() => new SessionManager({ store, secret: SECRET, cookie }), {
        code: 'BATON_CONFIG',
        option,
      });
    }
  });
});

describe('MAC spelling (INP-03)', () => {
  it('every other spelling of a valid MAC is refused, including those that decode to the same bytes', () => {
    const id = 'A'.repeat(43);
    const good = sign(id, SECRET);
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    let refused = 0;
    for (const c of alphabet) {
      const variant = good.slice(0, -1) + c;
      if (variant === good) continue;
      assert.equal(unsign(variant, [SECRET]), null, `last character ${c}`);
      refused++;
    }
    assert.equal(refused, 63);
    assert.deepEqual(unsign(good, [SECRET]), { id, stale: false });
  });
});
