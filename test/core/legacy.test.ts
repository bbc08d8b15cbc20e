/**
 * The core of adoption, on the memory store with a source holding records in a Map (a real
 * implementation of the source interface): express-session's cookie format, option checks,
 * expiry carried over, `remove`, and the nested user key.
 */
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { describe, it } from 'node:test';
import type { LegacyRecord, LegacySource } from '../../src/core/legacy.js';
import { signLegacy, unsignLegacy } from '../../src/core/legacy-cookie.js';
import { SessionManager } from '../../src/core/manager.js';
import { setUserId, userIdOf } from '../../src/core/user-key.js';
import { MemoryStore } from '../../src/stores/memory/index.js';

// express-session signs with cookie-signature: the format baton must accept.
const cookieSignature = createRequire(import.meta.url)('cookie-signature') as {
  sign(value: string, secret: string): string;
};
const SECRET = 'test-secret-that-is-long-enough-0123456789';
const OLD = 'old secret';

class MapSource implements LegacySource {
  readonly name = 'map';
  readonly records = new Map<string, LegacyRecord>();
  gets = 0;
  async get(id: string): Promise<LegacyRecord | null> {
    this.gets++;
    const r = this.records.get(id);
    return r && (r.expiresAt === null || r.expiresAt > Date.now()) ? r : null;
  }
  async destroy(id: string): Promise<void> {
    this.records.delete(id);
  }
}

function cookieFor(id: string, secret = OLD): string {
  return `connect.sid=${encodeURIComponent(`s:${cookieSignature.sign(id, secret)}`)}`;
}

describe('legacy cookie format', () => {
  it('accepts what express-session signs, with any listed secret, and nothing altered', () => {
    const id = 'AbCdEfGhIjKlMnOpQrStUvWxYz012345';
    const value = `s:${cookieSignature.sign(id, 'second')}`;
    assert.equal(signLegacy(id, 'second'), value);
    assert.equal(unsignLegacy(value, ['first', 'second']), id);
    assert.equal(unsignLegacy(value, ['first']), null);
    assert.equal(unsignLegacy(value.replace('s:', ''), ['second']), null);
    assert.equal(unsignLegacy(`${value.slice(0, -1)}A`, ['second']), null);
    assert.equal(unsignLegacy(`s:x${value.slice(2)}`, ['second']), null);
  });
});

describe('legacy option', () => {
  it('refuses a missing source or secret with ConfigError naming the option', () => {
    const store = new MemoryStore();
    const source = new MapSource();
    for (const [legacy, option] of [
      [{ secret: OLD }, 'legacy.source'],
      [{ secret: '', source }, 'legacy.secret'],
      [{ secret: OLD, source, cookie: 'bad name' }, 'legacy.cookie'],
      [{ secret: OLD, source: { name: 'x', get: async () => null }, remove: true }, 'legacy.remove'],
    ] as const) {
      assert.throws(
        () => new SessionManager({ store, secret: SECRET, legacy: legacy as never }),
        (err: { code?: string; option?: string }) => err.code === 'BATON_CONFIG' && err.option === option,
      );
    }
  });
});

describe('adoption', () => {
  function setup(extra: { remove?: boolean; userKey?: string } = {}) {
    const store = new MemoryStore();
    const source = new MapSource();
    const manager = new SessionManager({
      store,
      secret: SECRET,
      userKey: extra.userKey ?? 'passport.user',
      legacy: { secret: ['another', OLD], source, remove: extra.remove ?? false },
    });
    return { store, source, manager };
  }

  it('keeps the earlier of the old store’s and the old cookie’s expiry; never later', async () => {
    const { source, manager } = setup();
    const cookieExpires = Date.now() + 60_000;
    source.records.set('sid-1', {
      data: { cookie: { expires: new Date(cookieExpires).toISOString() }, passport: { user: 7 } },
      expiresAt: Date.now() + 3_600_000,
    });
    const session = await manager.load({ cookie: cookieFor('sid-1') });
    assert.equal(session.isNew, false);
    assert.deepEqual({ ...session }, { passport: { user: 7 } });
    const [summary] = await manager.listByUser('7');
    assert.ok(summary, 'a numeric Passport user is indexed');
    assert.ok(summary.expiresAt <= cookieExpires, 'not past the old cookie');
    assert.ok(summary.expiresAt > Date.now());
    const { setCookie } = await manager.commit(session);
    assert.equal(setCookie.length, 1, 'baton’s cookie is set');
  });

  it('remove: true deletes the old record once adopted', async () => {
    const { source, manager } = setup({ remove: true });
    source.records.set('sid-2', { data: { basket: ['a'] }, expiresAt: Date.now() + 60_000 });
    const session = await manager.load({ cookie: cookieFor('sid-2') });
    assert.deepEqual(session.basket, ['a']);
    assert.equal(source.records.has('sid-2'), false);
  });

  it('a record past its expiry is not adopted and nothing is stored', async () => {
    const { store, source, manager } = setup();
    source.records.set('sid-3', { data: { basket: ['a'] }, expiresAt: null });
    source.records.get('sid-3')!.data.cookie = { expires: new Date(Date.now() - 1000).toISOString() };
    const session = await manager.load({ cookie: cookieFor('sid-3') });
    assert.equal(session.isNew, true);
    assert.deepEqual({ ...session }, {});
    let n = 0;
    for await (const _ of store.scan!({ includeExpired: true })) n++;
    assert.equal(n, 0);
  });

  it('login() on a nested user key writes the nested value', () => {
    const data: Record<string, unknown> = { passport: { other: 1 } };
    setUserId(data, 'passport.user', 'u1');
    assert.deepEqual(data, { passport: { other: 1, user: 'u1' } });
    assert.equal(userIdOf(data, 'passport.user'), 'u1');
    assert.equal(userIdOf({ 'passport.user': 'flat' }, 'passport.user'), 'flat');
    assert.equal(userIdOf({ passport: { user: 1.5 } }, 'passport.user'), undefined);
  });
});
