/**
 * The per-key diff both the manager and the express-session store write from: the same answer
 * whether each side is a Map (the session's snapshot) or an object (a stored record), and key
 * names that are also Object.prototype's (`constructor`, `__proto__`) are only ever data.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { diffData, hasChanges } from '../../src/core/decisions.js';

/** `entries` as an object whose every key is an own property, `__proto__` included. */
function record(entries: Array<[string, string]>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of entries) Object.defineProperty(out, k, { value: v, enumerable: true, writable: true });
  return out;
}

const loaded: Array<[string, string]> = [
  ['user', '"ann"'],
  ['basket', '[1]'],
  ['gone', '1'],
  ['__proto__', '{"admin":false}'],
];
const next: Array<[string, string]> = [
  ['user', '"ann"'],
  ['basket', '[1,2]'],
  ['constructor', '"data"'],
  ['__proto__', '{"admin":true}'],
];

describe('diffData', () => {
  for (const [name, before, after] of [
    ['Map to Map', new Map(loaded), new Map(next)],
    ['object to Map', record(loaded), new Map(next)],
    ['object to object', record(loaded), record(next)],
    ['Map to object', new Map(loaded), record(next)],
  ] as const) {
    it(`sets changed and new keys, unsets missing ones: ${name}`, () => {
      const diff = diffData(before, after);
      assert.deepEqual(Object.keys(diff.set).sort(), ['__proto__', 'basket', 'constructor']);
      assert.equal(Object.getPrototypeOf(diff.set), Object.prototype, 'no prototype was set');
      assert.equal(Object.getOwnPropertyDescriptor(diff.set, '__proto__')?.value, '{"admin":true}');
      assert.equal(diff.set.constructor, '"data"');
      assert.deepEqual(diff.unset, ['gone']);
      assert.equal(hasChanges(diff), true);
    });
  }

  it('an inherited name is not a loaded key: `constructor` absent on both sides is no change', () => {
    const diff = diffData(record([['a', '1']]), record([['a', '1']]));
    assert.deepEqual(diff, { set: {}, unset: [] });
    assert.equal(hasChanges(diff), false);
  });
});
