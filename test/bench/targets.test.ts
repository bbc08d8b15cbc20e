/** The ratio targets: a paired comparison, where there is one, decides; the table's ratio is shown beside it. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { PairedComparison } from '../../bench/pairs.js';
import type { Aggregate } from '../../bench/results.js';
import { evaluateTargets } from '../../bench/targets.js';

function read(name: string, engine: string, reqPerSec: number): Aggregate {
  return {
    name,
    engine,
    route: 'read',
    repetitions: 3,
    reqPerSec,
    reqPerSecRuns: [reqPerSec],
    p50Ms: 1,
    p99Ms: 2,
    storeCallsPerRequest: 1,
    storeCallsByOperation: {},
    writesPerRequest: 0,
    capacityUnitsPerRequest: 1,
    readUnitsPerRequest: 1,
    writeUnitsPerRequest: 0,
    capacitySource: 'measured',
    appCpuUsPerRequest: 300,
    peakRssMb: 100,
    failures: 0,
  };
}

function pair(a: string, b: string, ratios: number[], ratio: number): PairedComparison {
  return {
    a,
    b,
    engine: 'dynamodb',
    route: 'read',
    sliceSeconds: 2.5,
    ratios,
    ratio,
    aReqPerSec: [],
    bReqPerSec: [],
    aCpuUsPerRequest: [],
    bCpuUsPerRequest: [],
  };
}

const FLOOR = 'read on dynalite: baton (aws-lite) within 15 % of floor-lite';
const aggregates = [read('baton', 'dynamodb', 1000), read('floor-lite', 'dynamodb', 1600)];

describe('bench targets', () => {
  it("judge a ratio on the table's medians when no pair was measured", () => {
    const t = evaluateTargets(aggregates, []).find((x) => x.target === FLOOR);
    assert.equal(t?.met, false);
    assert.equal(t?.ratio, 0.63);
  });

  it('judge it on the paired median when there is one, and show both', () => {
    const pairs = [pair('baton', 'floor-lite', [0.84, 0.9, 0.88], 0.88)];
    const t = evaluateTargets(aggregates, [], pairs).find((x) => x.target === FLOOR);
    assert.equal(t?.met, true);
    assert.equal(t?.ratio, 0.88);
    assert.match(
      t?.value ?? '',
      /0\.88× paired \(median of 3 pairs: 0\.84, 0\.90, 0\.88\); table medians 0\.63×/,
    );
  });

  it('use a pair only for its own two scenarios and engine', () => {
    const other = [pair('baton-sdk', 'floor', [1, 1, 1], 1)];
    assert.equal(evaluateTargets(aggregates, [], other).find((x) => x.target === FLOOR)?.met, false);
  });
});
