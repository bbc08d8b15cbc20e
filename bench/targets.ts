/** The benchmark targets, each reported as a ratio or a count, met or missed. */
import type { LostUpdateRun } from './measure.js';
import { round } from './measure.js';
import type { PairedComparison } from './pairs.js';
import type { Aggregate } from './results.js';
import { SCENARIOS } from './scenarios.js';

export interface TargetResult {
  target: string;
  value: string;
  /** null when a figure the target needs was not measured in this run. */
  met: boolean | null;
  ratio?: number;
}

function find(aggs: Aggregate[], name: string, engine: string, route: string): Aggregate | undefined {
  return aggs.find((a) => a.name === name && a.engine === engine && a.route === route);
}

export function bestPeer(aggs: Aggregate[], engine: string, route: string): Aggregate | undefined {
  const peers = SCENARIOS.filter((s) => s.peer && s.engine === engine).map((s) => s.name);
  return aggs
    .filter((a) => a.engine === engine && a.route === route && peers.includes(a.name))
    .sort((a, b) => b.reqPerSec - a.reqPerSec)[0];
}

/**
 * A req/s ratio target. With a paired comparison of the two (pairs.ts), that ratio decides: its
 * figures come from the same seconds of the machine. The ratio of the table's medians is shown
 * beside it.
 */
function ratioTarget(
  target: string,
  a: Aggregate | undefined,
  b: Aggregate | undefined,
  min: number,
  pairs: PairedComparison[] = [],
): TargetResult {
  if (!a || !b || b.reqPerSec === 0) return { target, value: 'not measured in this run', met: null };
  const paired = pairs.find((p) => p.a === a.name && p.b === b.name && p.engine === a.engine);
  const tableRatio = round(a.reqPerSec / b.reqPerSec, 2);
  const table = `${a.name} ${a.reqPerSec} req/s vs ${b.name} ${b.reqPerSec} req/s`;
  if (paired) {
    return {
      target,
      value: `${paired.ratio}× paired (median of ${paired.ratios.length} pairs: ${paired.ratios.map((r) => r.toFixed(2)).join(', ')}); table medians ${tableRatio}× (${table})`,
      met: paired.ratio >= min,
      ratio: paired.ratio,
    };
  }
  return { target, value: `${tableRatio}× (${table})`, met: tableRatio >= min, ratio: tableRatio };
}

export function evaluateTargets(
  aggs: Aggregate[],
  lost: LostUpdateRun[],
  pairs: PairedComparison[] = [],
): TargetResult[] {
  const out: TargetResult[] = [];
  const dynamoPeer = bestPeer(aggs, 'dynamodb', 'read');
  out.push(
    ratioTarget(
      'read on dynalite: baton ≥ 1.5× best DynamoDB peer',
      find(aggs, 'baton', 'dynamodb', 'read'),
      dynamoPeer,
      1.5,
      pairs,
    ),
  );
  out.push(
    ratioTarget(
      'read on dynalite: baton (aws-lite) within 15 % of floor-lite',
      find(aggs, 'baton', 'dynamodb', 'read'),
      find(aggs, 'floor-lite', 'dynamodb', 'read'),
      0.85,
      pairs,
    ),
  );
  out.push(
    ratioTarget(
      'read on dynalite: baton-sdk (SDK v3) within 15 % of floor (SDK v3)',
      find(aggs, 'baton-sdk', 'dynamodb', 'read'),
      find(aggs, 'floor', 'dynamodb', 'read'),
      0.85,
      pairs,
    ),
  );
  out.push(
    ratioTarget(
      'read on Redis: baton ≥ 1.3× connect-redis',
      find(aggs, 'baton', 'redis', 'read'),
      find(aggs, 'connect-redis', 'redis', 'read'),
      1.3,
      pairs,
    ),
  );
  for (const engine of ['dynamodb', 'redis']) {
    const calls = (['read', 'write', 'new'] as const).map(
      (r) => find(aggs, 'baton', engine, r)?.storeCallsPerRequest,
    );
    const measured = calls.filter((c) => c !== undefined).length;
    if (measured === 0) continue;
    const expected = [1, 2, 0];
    out.push({
      target: `store calls per request, baton on ${engine}: 1 (read) / 2 (write) / 0 (new)`,
      value: calls.map((c) => (c === undefined ? '—' : String(c))).join(' / '),
      met: calls.every((c, i) => c === undefined || c === expected[i]),
    });
    const reads = find(aggs, 'baton', engine, 'read');
    if (reads) {
      out.push({
        target: `writes per read request, baton on ${engine}: 0`,
        value: String(reads.writesPerRequest),
        met: reads.writesPerRequest === 0,
      });
    }
  }
  for (const run of lost.filter((l) => l.name === 'baton')) {
    out.push({
      target:
        run.scenario === 'keys'
          ? `lost updates, baton on ${run.engine}: 50 of 50 kept`
          : `same key: 50 concurrent basket adds, baton on ${run.engine}: 50 of 50 kept`,
      value: `${Math.min(...run.kept)} of ${run.of} (runs: ${run.kept.join(', ')})`,
      met: run.kept.every((k) => k === run.of),
    });
  }
  const read = find(aggs, 'baton', 'dynamodb', 'read');
  if (read?.capacityUnitsPerRequest !== null && read?.capacityUnitsPerRequest !== undefined) {
    out.push({
      target: 'capacity units per read request ≤ 1 for a ≤ 4 KB session (baton, DynamoDB)',
      value: `${read.capacityUnitsPerRequest} (${read.capacitySource})`,
      met: read.capacityUnitsPerRequest <= 1,
    });
  }
  return out;
}
