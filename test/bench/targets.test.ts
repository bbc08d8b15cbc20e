/** The ratio targets: a paired comparison, where there is one, decides; the table's ratio is shown beside it. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { PairedComparison } from '../../bench/pairs.js';
import type { Aggregate } from '../../bench/results.js';
import { evaluateTargets } from '../../bench/targets.js';

function read(name: string, engine: string, reqPerSec: number, appCpuUsPerRequest = 300): Aggregate {
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
    appCpuUsPerRequest,
    peakRssMb: 100,
    failures: 0,
  };
}

function pair(
  a: string,
  b: string,
  ratios: number[],
  ratio: number,
  cpu: { ratios: number[]; ratio: number } = { ratios: [1], ratio: 1 },
  engine = 'dynamodb',
): PairedComparison {
  return {
    a,
    b,
    engine,
    route: 'read',
    sliceSeconds: 2.5,
    ratios,
    ratio,
    cpuRatios: cpu.ratios,
    cpuRatio: cpu.ratio,
    aReqPerSec: [],
    bReqPerSec: [],
    aCpuUsPerRequest: [],
    bCpuUsPerRequest: [],
  };
}

const READ = 'read on dynalite: baton with an SDK v3 client ≥ 1.5× dynamodb-store';
const CPU =
  'app CPU per unchanged read on dynalite: baton with an SDK v3 client ≤ 1.15× floor-lite (one GetItem through aws-lite)';
const aggregates = [
  read('baton-sdk', 'dynamodb', 1000, 500),
  read('dynamodb-store', 'dynamodb', 1600),
  read('floor-lite', 'dynamodb', 2000, 400),
];

describe('bench targets', () => {
  it("judge a ratio on the table's medians when no pair was measured", () => {
    const t = evaluateTargets(aggregates, []).find((x) => x.target === READ);
    assert.equal(t?.met, false);
    assert.equal(t?.ratio, 0.63);
  });

  it('judge it on the paired median when there is one, and show both', () => {
    const pairs = [pair('baton-sdk', 'dynamodb-store', [1.52, 1.6, 1.55], 1.55)];
    const t = evaluateTargets(aggregates, [], pairs).find((x) => x.target === READ);
    assert.equal(t?.met, true);
    assert.equal(t?.ratio, 1.55);
    assert.match(
      t?.value ?? '',
      /1\.55× paired \(median of 3 pairs: 1\.52, 1\.60, 1\.55\); table medians 0\.63×/,
    );
  });

  it('use a pair only for its own two scenarios, engine and route', () => {
    const other = [
      pair('baton', 'dynamodb-store', [2, 2, 2], 2),
      pair('baton-sdk', 'dynamodb-store', [2, 2, 2], 2, undefined, 'dynamodb-local'),
      { ...pair('baton-sdk', 'dynamodb-store', [2, 2, 2], 2), route: 'write' as const },
    ];
    assert.equal(evaluateTargets(aggregates, [], other).find((x) => x.target === READ)?.met, false);
  });

  it('hold a CPU target to at most its bound: lower is cheaper', () => {
    // Table medians: 500 / 400 µs = 1.25×, over the 1.15× bound.
    const table = evaluateTargets(aggregates, []).find((x) => x.target === CPU);
    assert.equal(table?.ratio, 1.25);
    assert.equal(table?.met, false);
    const cheap = [
      pair('baton-sdk', 'floor-lite', [0.9, 0.8, 1.3], 0.9, { ratios: [1.1, 1.05, 1.2], ratio: 1.1 }),
    ];
    const paired = evaluateTargets(aggregates, [], cheap).find((x) => x.target === CPU);
    assert.equal(paired?.ratio, 1.1);
    assert.equal(paired?.met, true);
    const dear = [pair('baton-sdk', 'floor-lite', [1, 1, 1], 1, { ratios: [1.2, 1.3, 1.16], ratio: 1.2 })];
    assert.equal(evaluateTargets(aggregates, [], dear).find((x) => x.target === CPU)?.met, false);
  });

  it('leave out a target whose scenarios were not in the run', () => {
    const t = evaluateTargets(aggregates, []);
    assert.equal(
      t.some((x) => x.target.includes('DynamoDB Local')),
      false,
    );
  });
});
