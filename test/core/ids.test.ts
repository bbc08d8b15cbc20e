import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { generateId, hashId, isWellFormedId, sign, unsign, VerifiedValues } from '../../src/core/ids.js';

const A = 'a'.repeat(32);
const B = 'b'.repeat(32);

describe('ids', () => {
  it('are 32 random bytes in base64url, and 100,000 of them are all different', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 100_000; i++) {
      const id = generateId();
      assert.ok(isWellFormedId(id));
      seen.add(id);
    }
    assert.equal(seen.size, 100_000);
    assert.equal(Buffer.from(generateId(), 'base64url').length, 32);
  });

  it('come from the platform CSPRNG, never Math.random', () => {
    const source = readFileSync(new URL('../../src/core/ids.ts', import.meta.url), 'utf8');
    assert.match(source, /randomBytes/);
    assert.doesNotMatch(source, /Math\.random/);
    assert.match(source, /timingSafeEqual/);
  });

  it('sign with the first secret and verify with any; older secrets ask for re-signing', () => {
    const id = generateId();
    assert.deepEqual(unsign(sign(id, A), [A, B]), { id, stale: false });
    assert.deepEqual(unsign(sign(id, B), [A, B]), { id, stale: true });
    assert.equal(unsign(sign(id, B), [A]), null);
  });

  it('refuse tampered, truncated and malformed values without throwing', () => {
    const id = generateId();
    const good = sign(id, A);
    const flipped = good.slice(0, -1) + (good.endsWith('A') ? 'B' : 'A');
    for (const bad of [
      flipped,
      good.slice(0, -1),
      `${good}A`,
      id,
      `.${good}`,
      '',
      '.',
      'a.b',
      `${id}.${'\u0000'.repeat(43)}`,
      `${'é'.repeat(43)}.${'A'.repeat(43)}`,
    ]) {
      assert.equal(unsign(bad, [A]), null, JSON.stringify(bad));
    }
  });

  it('remembered verifications are bounded: the oldest goes first, capacity 0 keeps none', () => {
    const memo = new VerifiedValues(3);
    for (const v of ['a', 'b', 'c', 'd']) memo.set(v, { id: v, stale: false, key: `k${v}` });
    assert.equal(memo.size, 3);
    assert.equal(memo.get('a'), undefined);
    assert.deepEqual(memo.get('d'), { id: 'd', stale: false, key: 'kd' });
    const none = new VerifiedValues(0);
    none.set('a', { id: 'a', stale: false, key: 'ka' });
    assert.equal(none.size, 0);
  });

  it('hash to base64url(sha256(id)), which reveals nothing of the id', () => {
    const id = generateId();
    const key = hashId(id);
    assert.match(key, /^[A-Za-z0-9_-]{43}$/);
    assert.notEqual(key, id);
    assert.equal(key, hashId(id));
    assert.equal(key, createHash('sha256').update(id).digest('base64url'));
    // A known answer, independent of both: SHA-256 of "abc" (FIPS 180-2, appendix B.1).
    assert.equal(
      hashId('abc'),
      Buffer.from('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad', 'hex').toString(
        'base64url',
      ),
    );
    // UTF-8, as the stores have always keyed: a non-ASCII id hashes its UTF-8 bytes.
    assert.equal(hashId('é'), createHash('sha256').update(Buffer.from('é', 'utf8')).digest('base64url'));
  });
});
