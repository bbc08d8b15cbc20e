/**
 * The same-key rebase function alone (src/core/rebase.ts): examples of each rule, then
 * property-based checks with fast-check over random base/ours/theirs JSON values.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { arrayEdit, type Json, jsonEqual, rebase } from '../../src/core/rebase.js';

const json = (): fc.Arbitrary<Json> => fc.jsonValue({ maxDepth: 3 }) as fc.Arbitrary<Json>;

/** How many times `value` occurs in `list` (deep equality). */
const count = (list: readonly Json[], value: Json) => list.filter((v) => jsonEqual(v, value)).length;

/** `base` with the elements at the `drop` indexes removed (order kept) and `add` appended. */
function edit(base: readonly Json[], drop: readonly boolean[], add: readonly Json[]): Json[] {
  return [...base.filter((_, i) => !drop[i]), ...add];
}

/** A base array of distinct values, and the removals and appends of two concurrent requests. */
const twoEdits = fc.uniqueArray(fc.string({ maxLength: 4 }), { maxLength: 12 }).chain((base) =>
  fc.record({
    base: fc.constant(base.map((s) => `b:${s}`)),
    oursDrop: fc.array(fc.boolean(), { minLength: base.length, maxLength: base.length }),
    theirsDrop: fc.array(fc.boolean(), { minLength: base.length, maxLength: base.length }),
    oursAdd: fc.array(
      fc.string({ maxLength: 4 }).map((s) => `o:${s}`),
      { maxLength: 6 },
    ),
    theirsAdd: fc.array(
      fc.string({ maxLength: 4 }).map((s) => `t:${s}`),
      { maxLength: 6 },
    ),
  }),
);

describe('rebase: examples', () => {
  it('basket add onto another add: both items kept, ours last', () => {
    assert.deepEqual(rebase(['a'], ['a', 'b'], ['a', 'c']), { value: ['a', 'c', 'b'], conflict: false });
  });

  it('the first adds to a basket that did not exist yet: both kept', () => {
    assert.deepEqual(rebase(undefined, ['b'], ['c']), { value: ['c', 'b'], conflict: false });
  });

  it('two requests adding the same item keep both adds', () => {
    assert.deepEqual(rebase([], ['x'], ['x']), { value: ['x', 'x'], conflict: false });
  });

  it('a removal while another request adds: the removed one gone, the added one kept', () => {
    assert.deepEqual(rebase(['a', 'b', 'c'], ['a', 'c'], ['a', 'b', 'c', 'd']), {
      value: ['a', 'c', 'd'],
      conflict: false,
    });
  });

  it('a removal of an item the other request removed too: removed once, nothing else lost', () => {
    assert.deepEqual(rebase(['a', 'b'], ['a'], ['a']), { value: ['a'], conflict: false });
    assert.deepEqual(rebase(['a', 'b', 'c'], ['a', 'c'], ['a', 'c', 'd']), {
      value: ['a', 'c', 'd'],
      conflict: false,
    });
  });

  it('replacing an element is a removal and an append', () => {
    assert.deepEqual(
      rebase(
        [{ id: 1, q: 1 }],
        [{ id: 1, q: 2 }],
        [
          { id: 1, q: 1 },
          { id: 2, q: 1 },
        ],
      ),
      {
        value: [
          { id: 2, q: 1 },
          { id: 1, q: 2 },
        ],
        conflict: false,
      },
    );
  });

  it('a reordered or prepended array is a conflict: ours wins', () => {
    assert.deepEqual(rebase(['a', 'b'], ['b', 'a'], ['a', 'b', 'c']), { value: ['b', 'a'], conflict: true });
    assert.deepEqual(rebase(['a', 'b'], ['x', 'a', 'b'], ['a', 'b', 'c']), {
      value: ['x', 'a', 'b'],
      conflict: true,
    });
    assert.equal(arrayEdit(['a', 'b', 'c'], ['a', 'c', 'b']), null);
  });

  it('two fields of one object changed by two requests: both kept', () => {
    const base = { theme: 'light', lang: 'en', size: 12 };
    assert.deepEqual(rebase(base, { ...base, theme: 'dark' }, { ...base, lang: 'fr' }), {
      value: { theme: 'dark', lang: 'fr', size: 12 },
      conflict: false,
    });
  });

  it('objects merge recursively; a field deleted by ours is deleted, one added by theirs kept', () => {
    const base = { a: { x: 1, y: 1 }, gone: true };
    const ours = { a: { x: 2, y: 1 } };
    const theirs = { a: { x: 1, y: 3 }, gone: true, added: [1] };
    assert.deepEqual(rebase(base, ours, theirs), {
      value: { a: { x: 2, y: 3 }, added: [1] },
      conflict: false,
    });
  });

  it('the same leaf changed on both sides: ours, flagged as a conflict', () => {
    assert.deepEqual(rebase({ theme: 'light' }, { theme: 'dark' }, { theme: 'blue' }), {
      value: { theme: 'dark' },
      conflict: true,
    });
    assert.deepEqual(rebase(1, 2, 3), { value: 2, conflict: true });
    assert.deepEqual(rebase(1, 2, 2), { value: 2, conflict: false });
  });

  it('a counter n += 1 is a scalar: last writer wins', () => {
    assert.deepEqual(rebase(5, 6, 6), { value: 6, conflict: false });
    assert.deepEqual(rebase(5, 6, 7), { value: 6, conflict: true });
  });

  it('a key ours removed stays removed; theirs removing a key ours did not change keeps it removed', () => {
    assert.deepEqual(rebase(['a'], undefined, ['a', 'b']), { value: undefined, conflict: true });
    assert.deepEqual(rebase({ p: 1, q: 1 }, { p: 2, q: 1 }, { p: 1 }), { value: { p: 2 }, conflict: false });
  });

  it('a type changed on one side against a change on the other is a conflict', () => {
    assert.deepEqual(rebase(['a'], 'none', ['a', 'b']), { value: 'none', conflict: true });
    assert.deepEqual(rebase(['a'], ['a', 'b'], { a: 1 }), { value: ['a', 'b'], conflict: true });
  });

  it('a field named __proto__ is data', () => {
    const base = JSON.parse('{"__proto__":{"x":1},"n":1}') as Json;
    const ours = JSON.parse('{"__proto__":{"x":2},"n":1}') as Json;
    const theirs = JSON.parse('{"__proto__":{"x":1},"n":2}') as Json;
    const { value } = rebase(base, ours, theirs);
    assert.equal(JSON.stringify(value), '{"__proto__":{"x":2},"n":2}');
    assert.equal(Object.getPrototypeOf(value), Object.prototype);
  });
});

describe('rebase: the examples of docs/concurrency.md (B rebased onto A)', () => {
  const cases: Array<[string, Json | undefined, Json, Json, Json]> = [
    ['first adds', undefined, ['x'], ['y'], ['x', 'y']],
    ['two adds', ['a'], ['a', 'x'], ['a', 'y'], ['a', 'x', 'y']],
    ['a removal while another adds', ['a', 'b'], ['a', 'b', 'c'], ['a'], ['a', 'c']],
    ['a prepend is a conflict', ['p1', 'p2'], ['p1', 'p2', 'p3'], ['p9', 'p1', 'p2'], ['p9', 'p1', 'p2']],
    [
      'two fields',
      { theme: 'light', lang: 'en' },
      { theme: 'dark', lang: 'en' },
      { theme: 'light', lang: 'fr' },
      { theme: 'dark', lang: 'fr' },
    ],
    ['the same leaf', { theme: 'light' }, { theme: 'dark' }, { theme: 'blue' }, { theme: 'blue' }],
    ['an object keyed by id', { p1: 1 }, { p1: 1, p2: 1 }, { p1: 3 }, { p1: 3, p2: 1 }],
    ['a counter', 5, 6, 6, 6],
  ];
  for (const [name, base, a, b, stored] of cases) {
    it(name, () => {
      assert.ok(jsonEqual(rebase(base, b, a).value, stored));
    });
  }
});

describe('rebase: properties', () => {
  it('rebasing onto an unchanged base gives ours exactly', () => {
    fc.assert(
      fc.property(json(), json(), (base, ours) => {
        const result = rebase(base, ours, structuredClone(base));
        assert.deepEqual(result, { value: ours, conflict: false });
      }),
      { numRuns: 500 },
    );
  });

  it('a request that changed nothing leaves theirs exactly', () => {
    fc.assert(
      fc.property(json(), json(), (base, theirs) => {
        assert.deepEqual(rebase(base, structuredClone(base), theirs), { value: theirs, conflict: false });
      }),
      { numRuns: 500 },
    );
  });

  it('concurrent removals and appends on one array: every append of both sides kept, every removal applied', () => {
    fc.assert(
      fc.property(twoEdits, ({ base, oursDrop, theirsDrop, oursAdd, theirsAdd }) => {
        const ours = edit(base, oursDrop, oursAdd);
        const theirs = edit(base, theirsDrop, theirsAdd);
        const { value, conflict } = rebase(base, ours, theirs);
        assert.equal(conflict, false);
        const result = value as Json[];
        for (const v of [...oursAdd, ...theirsAdd]) {
          assert.equal(count(result, v), count(oursAdd, v) + count(theirsAdd, v), `append ${v}`);
        }
        base.forEach((v, i) => {
          assert.equal(count(result, v), oursDrop[i] || theirsDrop[i] ? 0 : 1, `base item ${v}`);
        });
        assert.equal(
          result.length,
          base.filter((_, i) => !oursDrop[i] && !theirsDrop[i]).length + oursAdd.length + theirsAdd.length,
        );
        // Ours were appended last, in their order.
        assert.deepEqual(result.slice(result.length - oursAdd.length), oursAdd);
      }),
      { numRuns: 500 },
    );
  });

  it('any removal-and-append change applied to any array: counts follow the rule exactly', () => {
    const item = fc.oneof(fc.integer({ min: 0, max: 5 }), fc.constantFrom<Json>('a', null, { k: 1 }, [1]));
    fc.assert(
      fc.property(
        fc.array(item, { maxLength: 10 }).chain((base) =>
          fc.record({
            base: fc.constant(base),
            drop: fc.array(fc.boolean(), { minLength: base.length, maxLength: base.length }),
            add: fc.array(item, { maxLength: 5 }),
            theirs: fc.array(item, { maxLength: 12 }),
          }),
        ),
        ({ base, drop, add, theirs }) => {
          const ours = edit(base, drop, add);
          const change = arrayEdit(base, ours);
          fc.pre(change !== null && !jsonEqual(base, ours) && !jsonEqual(base, theirs));
          const { value, conflict } = rebase(base, ours, theirs);
          assert.equal(conflict, false);
          const result = value as Json[];
          for (const v of [...base, ...theirs, ...ours]) {
            const expected: number =
              Math.max(0, count(theirs, v) - count(change!.removed, v)) + count(change!.appended, v);
            assert.equal(count(result, v), expected, JSON.stringify(v));
          }
        },
      ),
      { numRuns: 500 },
    );
  });

  it('an array edit read back reproduces ours: kept elements in order, then the appends', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 4 }), { maxLength: 10 }),
        fc.array(fc.integer({ min: 0, max: 4 }), { maxLength: 10 }),
        (base, ours) => {
          const change = arrayEdit(base, ours);
          if (!change) return;
          assert.deepEqual(rebase(base, ours, base).value, ours);
          for (const v of change.appended) assert.equal(count(change.removed, v), 0);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('disjoint field changes of one object by two requests: both kept, no conflict', () => {
    const fields = fc.uniqueArray(fc.string({ minLength: 1, maxLength: 5 }), { minLength: 2, maxLength: 10 });
    fc.assert(
      fc.property(
        fields.chain((names) =>
          fc.record({
            names: fc.constant(names),
            values: fc.array(json(), { minLength: names.length, maxLength: names.length }),
            // 0: untouched, 1: ours changes it, 2: theirs changes it, 3: ours deletes it, 4: theirs deletes it
            who: fc.array(fc.integer({ min: 0, max: 4 }), {
              minLength: names.length,
              maxLength: names.length,
            }),
            fresh: fc.array(json(), { minLength: names.length, maxLength: names.length }),
          }),
        ),
        ({ names, values, who, fresh }) => {
          const base: Record<string, Json> = {};
          const ours: Record<string, Json> = {};
          const theirs: Record<string, Json> = {};
          const expected: Record<string, Json> = {};
          names.forEach((k, i) => {
            const v = values[i] as Json;
            const changed = { changed: fresh[i] as Json };
            Object.defineProperty(base, k, {
              value: v,
              enumerable: true,
              writable: true,
              configurable: true,
            });
            const put = (o: Record<string, Json>, x: Json) =>
              Object.defineProperty(o, k, { value: x, enumerable: true, writable: true, configurable: true });
            if (who[i] !== 3) put(ours, who[i] === 1 ? changed : v);
            if (who[i] !== 4) put(theirs, who[i] === 2 ? changed : v);
            if (who[i] !== 3 && who[i] !== 4) put(expected, who[i] === 1 || who[i] === 2 ? changed : v);
          });
          const { value, conflict } = rebase(base, ours, theirs);
          assert.equal(conflict, false);
          assert.ok(jsonEqual(value, expected), `${JSON.stringify(value)} vs ${JSON.stringify(expected)}`);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('the result is always JSON; scalars changed on both sides resolve to ours', () => {
    const scalar = fc.oneof(fc.integer(), fc.string(), fc.boolean(), fc.constant(null)) as fc.Arbitrary<Json>;
    fc.assert(
      fc.property(json(), json(), json(), (base, ours, theirs) => {
        const { value } = rebase(base, ours, theirs);
        assert.ok(value !== undefined);
        assert.ok(jsonEqual(JSON.parse(JSON.stringify(value)), value));
      }),
      { numRuns: 1000 },
    );
    fc.assert(
      fc.property(scalar, scalar, scalar, (base, ours, theirs) => {
        fc.pre(!jsonEqual(base, ours) && !jsonEqual(base, theirs));
        assert.deepEqual(rebase(base, ours, theirs), { value: ours, conflict: !jsonEqual(ours, theirs) });
      }),
    );
  });
});
