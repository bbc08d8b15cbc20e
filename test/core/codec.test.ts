import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { decodeValue, encodeValue } from '../../src/core/codec.js';

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

  it('round-trips every JSON-safe value exactly (property test)', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 6 }), (value) => {
        assert.deepEqual(decodeValue(encodeValue('k', value)), JSON.parse(JSON.stringify(value)));
      }),
      { numRuns: 500 },
    );
  });
});
