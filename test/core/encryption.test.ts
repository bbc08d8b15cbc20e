/** SEC-11: encryption at rest — no plaintext in the store, tampering and unknown keys make the session absent, rotation. */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { Encryption } from '../../src/core/encryption.js';
import { hashId } from '../../src/core/ids.js';
import { SessionManager } from '../../src/core/manager.js';
import type { SessionOptions } from '../../src/core/options.js';
import { MemoryStore } from '../../src/stores/memory/index.js';
import type { StoredSession } from '../../src/stores/store.js';
import { countCalls } from '../helpers/counting-store.js';
import { idOf, request } from '../helpers/manager-flow.js';

const secret = 'e'.repeat(40);
const k1 = { id: '1', key: randomBytes(32) };
const k2 = { id: '2', key: randomBytes(32).toString('base64') };
const CANARY = 'canary-4111-1111-1111-1111';

function manager(store: MemoryStore, keys: SessionOptions['encryption'] | undefined) {
  return new SessionManager({ store, secret, ...(keys ? { encryption: keys } : {}) });
}

async function raw(store: MemoryStore, cookie: string | undefined): Promise<StoredSession> {
  const stored = await store.get(hashId(idOf(cookie)));
  assert.ok(stored, 'the session is in the store');
  return stored;
}

describe('encryption at rest (SEC-11)', () => {
  it('stores no plaintext: every value is an AES-GCM envelope naming its key id, and reads back exactly', async () => {
    const store = new MemoryStore();
    const m = manager(store, { keys: [k2, k1] });
    const first = await request(m, undefined, (s) => {
      s.card = CANARY;
      s.nested = { list: [1, 'two', null], ok: true, ünï: 'ß' };
    });
    const stored = await raw(store, first.cookie);
    const dump = JSON.stringify(stored);
    assert.ok(!dump.includes(CANARY), 'no canary in the dump');
    assert.ok(!dump.includes('two'), 'no nested plaintext in the dump');
    for (const text of Object.values(stored.data)) {
      assert.match(JSON.parse(text), /^bsenc1:2:[A-Za-z0-9_-]+$/, 'a JSON string naming key id 2');
    }
    const again = await request(m, first.cookie);
    assert.equal(again.session.card, CANARY);
    assert.deepEqual(again.session.nested, { list: [1, 'two', null], ok: true, ünï: 'ß' });
  });

  it('uses a fresh IV per write: the same value never gives the same ciphertext', () => {
    const enc = new Encryption({ keys: [k1] });
    const a = enc.seal('aad', '"same"');
    const b = enc.seal('aad', '"same"');
    assert.notEqual(a, b);
    assert.equal(enc.open('aad', a)?.text, '"same"');
    assert.equal(Buffer.byteLength(a), enc.sealedBytes(Buffer.byteLength('"same"')));
  });

  it('a tampered value makes the session absent (new id, cookie cleared, event), never plaintext', async () => {
    const store = new MemoryStore();
    const m = manager(store, { keys: [k1] });
    const events: unknown[] = [];
    m.on('unreadable', (e) => events.push(e));
    const first = await request(m, undefined, (s) => {
      s.userId = 'u1';
    });
    const key = hashId(idOf(first.cookie));
    const stored = await raw(store, first.cookie);
    // Flip one character inside the base64url payload of the value.
    const text = JSON.parse(stored.data.userId as string) as string;
    const i = text.length - 5;
    const flipped = text.slice(0, i) + (text[i] === 'A' ? 'B' : 'A') + text.slice(i + 1);
    await store.patch(key, {
      set: { userId: JSON.stringify(flipped) },
      unset: [],
      expiresAt: stored.expiresAt,
    });
    const reply = await request(m, first.cookie);
    assert.equal(reply.session.isNew, true, 'a new session, not the tampered one');
    assert.equal(reply.session.userId, undefined);
    assert.ok(
      reply.setCookie.some((c) => /Max-Age=0/.test(c)),
      'the cookie is cleared',
    );
    assert.deepEqual(events, [{ key, reason: 'decrypt' }]);
  });

  it('plaintext found in the store is refused when encryption is on (no fallback decoding)', async () => {
    const store = new MemoryStore();
    const plain = await request(manager(store, undefined), undefined, (s) => {
      s.role = 'admin';
    });
    const reply = await request(manager(store, { keys: [k1] }), plain.cookie);
    assert.equal(reply.session.isNew, true);
    assert.equal(reply.session.role, undefined);
  });

  it('a value moved from another session or data key does not decrypt (bound to session and key)', async () => {
    const store = new MemoryStore();
    const m = manager(store, { keys: [k1] });
    const admin = await request(m, undefined, (s) => {
      s.role = 'admin';
      s.note = 'x';
    });
    const attacker = await request(m, undefined, (s) => {
      s.role = 'guest';
    });
    const adminRecord = await raw(store, admin.cookie);
    const attackerKey = hashId(idOf(attacker.cookie));
    const attackerRecord = await raw(store, attacker.cookie);
    await store.patch(attackerKey, {
      set: { role: adminRecord.data.role as string },
      unset: [],
      expiresAt: attackerRecord.expiresAt,
    });
    assert.equal((await request(m, attacker.cookie)).session.isNew, true, 'copied across sessions: absent');
    const adminKey = hashId(idOf(admin.cookie));
    await store.patch(adminKey, {
      set: { role: adminRecord.data.note as string },
      unset: [],
      expiresAt: adminRecord.expiresAt,
    });
    assert.equal((await request(m, admin.cookie)).session.isNew, true, 'copied across keys: absent');
  });

  it('rotation: old-key values read, are rewritten under the current key by the next request, then the old key can go', async () => {
    const store = new MemoryStore();
    const old = await request(manager(store, { keys: [k1] }), undefined, (s) => {
      s.a = 1;
      s.b = { deep: [CANARY] };
    });
    const rotated = manager(store, { keys: [k2, k1] });
    const calls = countCalls(store);
    const read = await request(rotated, old.cookie);
    assert.equal(read.session.a, 1);
    assert.deepEqual(read.session.b, { deep: [CANARY] });
    assert.equal(calls.counts.patch, 1, 'one rewrite on the first request under the new key');
    const stored = await raw(store, old.cookie);
    for (const text of Object.values(stored.data)) assert.match(JSON.parse(text), /^bsenc1:2:/);
    calls.reset();
    await request(rotated, old.cookie);
    assert.equal(calls.counts.patch ?? 0, 0, 'nothing left to rewrite: no more writes');
    const onlyNew = await request(manager(store, { keys: [k2] }), old.cookie);
    assert.equal(onlyNew.session.a, 1, 'readable with k1 removed');
  });

  it('a value under a key id no longer configured makes the session absent', async () => {
    const store = new MemoryStore();
    const old = await request(manager(store, { keys: [k1] }), undefined, (s) => {
      s.a = 1;
    });
    const reply = await request(manager(store, { keys: [k2] }), old.cookie);
    assert.equal(reply.session.isNew, true);
    assert.equal(reply.session.a, undefined);
  });

  it('counts the encryption overhead against maxSize before writing', async () => {
    const store = new MemoryStore();
    const m = new SessionManager({ store, secret, maxSize: 1000, encryption: { keys: [k1] } });
    const calls = countCalls(store);
    // 900 bytes of plaintext fit 1000, but not once encrypted (base64 adds a third).
    await assert.rejects(
      request(m, undefined, (s) => {
        s.big = 'x'.repeat(880);
      }),
      { code: 'BATON_SESSION_TOO_LARGE' },
    );
    assert.equal(calls.total(), 0, 'nothing written');
  });

  it('refuses bad keys at construction, naming the option', () => {
    const store = new MemoryStore();
    const bad: [unknown, string][] = [
      [{ keys: [] }, 'encryption.keys'],
      [{ keys: [{ id: '1', key: randomBytes(16) }] }, 'encryption.keys[0].key'],
      [{ keys: [{ id: '1', key: 'short' }] }, 'encryption.keys[0].key'],
      [{ keys: [{ id: 'a:b', key: randomBytes(32) }] }, 'encryption.keys[0].id'],
      [{ keys: [k1, { id: '1', key: randomBytes(32) }] }, 'encryption.keys[1].id'],
    ];
    for (const [encryption, option] of bad) {
      assert.throws(
        () => new SessionManager({ store, secret, encryption } as SessionOptions),
        (err: { code: string; option: string }) => err.code === 'BATON_CONFIG' && err.option === option,
        option,
      );
    }
    assert.doesNotThrow(
      () =>
        new SessionManager({ store, secret, encryption: { keys: [{ id: 'hex', key: 'ab'.repeat(32) }] } }),
    );
  });
});
