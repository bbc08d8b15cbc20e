/** The store kit's write tokens: base64url text of the asked length, never repeated, across pool refills. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { writeToken } from '../../src/stores/kit/index.js';

describe('store kit write tokens', () => {
  it('are 12 base64url characters by default and distinct across several pool refills', () => {
    const seen = new Set<string>();
    // 9 bytes each from a 4 KB pool: 2,000 tokens take the pool through four refills.
    for (let i = 0; i < 2_000; i++) {
      const token = writeToken();
      assert.match(token, /^[A-Za-z0-9_-]{12}$/);
      seen.add(token);
    }
    assert.equal(seen.size, 2_000);
  });

  it('give the asked number of bytes, more than a pool holds included', () => {
    assert.equal(Buffer.from(writeToken(16), 'base64url').length, 16);
    assert.equal(Buffer.from(writeToken(5_000), 'base64url').length, 5_000);
  });
});
