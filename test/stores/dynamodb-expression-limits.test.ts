/** DynamoDB's expression limits as the store checks them before sending: 300 operators, 4 KB. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fits } from '../../src/stores/dynamodb/expressions.js';

describe('DynamoDB expression limits (fits)', () => {
  it('a one-key patch and its condition fit', () => {
    assert.equal(fits('SET #data.#k0 = :v0, #v = if_not_exists(#v, :zero) + :one, #xms = :x'), true);
  });

  it('300 operators fit, 301 do not, whether the expression is short or long', () => {
    assert.equal(fits('='.repeat(300)), true);
    assert.equal(fits('='.repeat(301)), false);
    const within = Array.from({ length: 300 }, () => '#a=:b').join(',');
    const past = Array.from({ length: 301 }, () => '#a=:b').join(',');
    assert.ok(within.length > 300 && Buffer.byteLength(within) < 4096);
    assert.equal(fits(within), true);
    assert.equal(fits(past), false);
  });

  it('past 4 KB does not fit, however few its operators', () => {
    assert.equal(fits(`#${'a'.repeat(4095)}`), true);
    assert.equal(fits(`#${'a'.repeat(4096)}`), false);
    // Bytes, not characters: 1,366 three-byte characters are 4,098 bytes.
    assert.equal(fits('€'.repeat(1366)), false);
  });
});
