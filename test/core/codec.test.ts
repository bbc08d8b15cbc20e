import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { decodeValue, encodeValue, MAX_KEY_BYTES } from '../../src/core/codec.js';

describe('codec', () => {
  it('refuses values JSON cannot carry faithfully, naming the key', () => {
    const cycle: Record<string, unknown> = {};
    cycle.self = cycle;
    let deep: unknown = 1;
    for (let i = 0; i < 40; i++) deep = [deep];
    const cases: Array<[unknown, RegExp]> = [
      [10n, /BigInt/],
      [() => 1, /function/],
      [Symbol('s'), /symbol/],
      [cycle, /circular/],
      [[1, undefined], /undefined/],
      // biome-ignore lint/suspicious/noSparseArray: the case under test
      [[1, , 3], /empty array slot/],
      [Number.NaN, /NaN/],
      [Number.POSITIVE_INFINITY, /Infinity/],
      [new Date(), /Date/],
      [new Map(), /Map/],
      [new Uint8Array(2), /Uint8Array/],
      [{ nested: { when: new Date() } }, /Date at \.nested\.when/],
      [deep, /deeper than 32/],
    ];
    for (const [value, message] of cases) {
      assert.throws(
        () => encodeValue('basket', value),
        (err: { code: string; key: string; message: string }) => {
          assert.equal(err.code, 'BATON_SESSION_DATA');
          assert.equal(err.key, 'basket');
          assert.match(err.message, /"basket"/);
          assert.match(err.message, message);
          return true;
        },
      );
    }
  });

  it('limits key names in UTF-8 bytes, however many characters they are', () => {
    const fits = ['a'.repeat(MAX_KEY_BYTES), 'é'.repeat(MAX_KEY_BYTES / 2), '€'.repeat(682)];
    for (const key of fits) assert.equal(encodeValue(key, 'v'), '"v"', `${key.length} characters`);
    // 2,050 bytes in 1,025 characters, 2,049 bytes in 683: over, though fewer characters than bytes.
    for (const key of ['a'.repeat(MAX_KEY_BYTES + 1), 'é'.repeat(1025), '€'.repeat(683)]) {
      assert.throws(() => encodeValue(key, 'v'), /longer than 2048 bytes/, `${key.length} characters`);
      assert.throws(() => encodeValue(key, { a: 1 }), /longer than 2048 bytes/);
    }
  });

  it('round-trips every JSON-safe value exactly (property test)', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 6 }), (value) => {
        assert.deepEqual(decodeValue(encodeValue('k', value)), JSON.parse(JSON.stringify(value)));
      }),
      { numRuns: 500 },
    );
  });
});
