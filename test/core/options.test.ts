import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SessionManager, shouldCreate, shouldTouch } from '../../src/core/manager.js';
import type { SessionOptions } from '../../src/core/options.js';
import { MemoryStore } from '../../src/stores/memory/index.js';

const secret = 's'.repeat(32);
const store = new MemoryStore();

function configError(options: Partial<SessionOptions>, option: string) {
  assert.throws(
    () => new SessionManager({ store, secret, ...options } as SessionOptions),
    (err: { code: string; option: string; message: string }) => {
      assert.equal(err.code, 'BATON_CONFIG');
      assert.equal(err.option, option);
      assert.match(err.message, new RegExp(`option \`${option.replace(/[[\].]/g, '\\$&')}\``));
      return true;
    },
  );
}

describe('options are validated at construction', () => {
  it('refuses short or missing secrets', () => {
    configError({ secret: 'short' }, 'secret');
    configError({ secret: [] }, 'secret');
    configError({ secret: [secret, 'x'] }, 'secret[1]');
    configError({ secret: undefined as unknown as string }, 'secret');
  });

  it('refuses cookie names, paths and domains that could inject attributes', () => {
    for (const name of ['a;b', 'a b', 'a\r\nSet-Cookie: x', 'a=b', ''])
      configError({ cookie: { name } }, 'cookie.name');
    for (const path of ['/;x', '/a b', '/\n', 'relative']) configError({ cookie: { path } }, 'cookie.path');
    for (const domain of ['a;b', 'a b', 'x\r\n', 'a=b']) configError({ cookie: { domain } }, 'cookie.domain');
  });

  it('enforces the __Host- prefix rules and SameSite=None needing Secure', () => {
    configError({ cookie: { name: '__Host-sid', secure: true, domain: 'example.com' } }, 'cookie.domain');
    configError({ cookie: { name: '__Host-sid' } }, 'cookie.secure');
    configError({ cookie: { name: '__Host-sid', secure: true, path: '/app' } }, 'cookie.path');
    configError({ cookie: { sameSite: 'none' } }, 'cookie.sameSite');
    assert.ok(new SessionManager({ store, secret, cookie: { name: '__Host-sid', secure: true } }));
  });

  it('refuses bad lifetimes, modes and sizes', () => {
    configError({ lifetime: -1 }, 'lifetime');
    configError({ lifetime: 0 }, 'lifetime');
    configError({ touchAfter: 100, lifetime: 50 }, 'touchAfter');
    configError({ touchAfter: 1800, cookie: { maxAge: 1800 } }, 'touchAfter');
    configError({ concurrency: 'yolo' as 'merge' }, 'concurrency');
    configError({ maxSize: 0 }, 'maxSize');
    configError({ header: 'bad header' }, 'header');
  });

  it('has the documented defaults', () => {
    const m = new SessionManager({ store, secret });
    assert.equal(m.options.lifetimeMs, 86_400_000);
    assert.equal(m.options.absoluteLifetimeMs, 604_800_000);
    assert.equal(m.options.touchAfterMs, 8_640_000);
    assert.equal(m.options.concurrency, 'merge');
    assert.equal(m.options.hashIds, true);
    assert.equal(m.options.saveUninitialized, false);
    assert.deepEqual(m.options.cookie, {
      name: 'sid',
      path: '/',
      domain: undefined,
      httpOnly: true,
      secure: 'auto',
      sameSite: 'lax',
      maxAge: undefined,
    });
  });
});

describe('touchAfter never outlives a short lifetime', () => {
  it('defaults to a tenth of lifetime, or of a shorter cookie.maxAge', () => {
    assert.equal(new SessionManager({ store, secret, lifetime: 1.5 }).options.touchAfterMs, 150);
    assert.equal(
      new SessionManager({ store, secret, cookie: { maxAge: 1800 } }).options.touchAfterMs,
      180_000,
    );
    assert.equal(
      new SessionManager({ store, secret, lifetime: 600, cookie: { maxAge: 3600 } }).options.touchAfterMs,
      60_000,
    );
    assert.equal(
      new SessionManager({ store, secret, cookie: { maxAge: null } }).options.touchAfterMs,
      8_640_000,
    );
  });
});

describe('save decisions', () => {
  it('touch only when the expiry would move by more than touchAfter', () => {
    assert.equal(shouldTouch(1_000, 1_500, 1_000), false);
    assert.equal(shouldTouch(1_000, 2_000, 1_000), false);
    assert.equal(shouldTouch(1_000, 2_001, 1_000), true);
  });
  it('create a new session only with data, unless saveUninitialized', () => {
    assert.equal(shouldCreate(0, false), false);
    assert.equal(shouldCreate(0, true), true);
    assert.equal(shouldCreate(2, false), true);
  });
});
