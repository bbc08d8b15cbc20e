/** The benchmark targets, each reported as a ratio or a count, met or missed. */
import type { LostUpdateRun } from './measure.js';
import { round } from './measure.js';
import type { PairedComparison } from './pairs.js';
import type { Aggregate } from './results.js';
import { declaredEngine, SCENARIOS } from './scenarios.js';

export interface TargetResult {
  target: string;
  value: string;
  /** null when a figure the target needs was not measured in this run. */
  met: boolean | null;
  ratio?: number;
}

/** How an engine is named in a target. */
export const ENGINE_NAMES: Record<string, string> = {
  dynamodb: 'dynalite',
  'dynamodb-local': 'DynamoDB Local',
  redis: 'Redis',
  memory: 'memory',
};

type Route = 'read' | 'write' | 'new';

function find(aggs: Aggregate[], name: string, engine: string, route: Route): Aggregate | undefined {
  return aggs.find((a) => a.name === name && a.engine === engine && a.route === route);
}

export function bestPeer(aggs: Aggregate[], engine: string, route: string): Aggregate | undefined {
  const peers = SCENARIOS.filter((s) => s.peer && s.engine === declaredEngine(engine)).map((s) => s.name);
  return aggs
    .filter((a) => a.engine === engine && a.route === route && peers.includes(a.name))
    .sort((a, b) => b.reqPerSec - a.reqPerSec)[0];
}

/**
 * A ratio of `a` over `b` on one engine and route: requests per second (at least `bound`) or app
 * CPU per request (at most `bound`). run.ts measures each as a paired comparison.
 */
export interface RatioTarget {
  target: string;
  a: string;
  b: string;
  engine: 'dynamodb' | 'dynamodb-local' | 'redis';
  route: 'read' | 'write';
  metric: 'reqPerSec' | 'cpu';
  bound: number;
}

const sdkReads = (engine: 'dynamodb' | 'dynamodb-local'): RatioTarget[] => [
  {
    target: `read on ${ENGINE_NAMES[engine]}: baton with an SDK v3 client ≥ 1.5× dynamodb-store`,
    a: 'baton-sdk',
    b: 'dynamodb-store',
    engine,
    route: 'read',
    metric: 'reqPerSec',
    bound: 1.5,
  },
  {
    target: `app CPU per unchanged read on ${ENGINE_NAMES[engine]}: baton with an SDK v3 client ≤ 1.15× floor-lite (one GetItem through aws-lite)`,
    a: 'baton-sdk',
    b: 'floor-lite',
    engine,
    route: 'read',
    metric: 'cpu',
    bound: 1.15,
  },
];

/** The ratio targets (issue 17, and the earlier read targets), in report order. */
export const RATIO_TARGETS: RatioTarget[] = [
  ...sdkReads('dynamodb'),
  ...sdkReads('dynamodb-local'),
  {
    target: 'write on DynamoDB Local: baton with an SDK v3 client ≥ 1.2× dynamodb-store',
    a: 'baton-sdk',
    b: 'dynamodb-store',
    engine: 'dynamodb-local',
    route: 'write',
    metric: 'reqPerSec',
    bound: 1.2,
  },
  {
    target: 'app CPU per write on DynamoDB Local: baton with an SDK v3 client ≤ 0.6× dynamodb-store',
    a: 'baton-sdk',
    b: 'dynamodb-store',
    engine: 'dynamodb-local',
    route: 'write',
    metric: 'cpu',
    bound: 0.6,
  },
  {
    target: 'read on dynalite: baton with aws-lite ≥ 1.5× dynamodb-store (the best DynamoDB peer)',
    a: 'baton',
    b: 'dynamodb-store',
    engine: 'dynamodb',
    route: 'read',
    metric: 'reqPerSec',
    bound: 1.5,
  },
  {
    target: 'app CPU per unchanged read on Redis: baton ≤ 1.05× the floor (one GET)',
    a: 'baton',
    b: 'floor',
    engine: 'redis',
    route: 'read',
    metric: 'cpu',
    bound: 1.05,
  },
  ...(['read', 'write'] as const).map(
    (route): RatioTarget => ({
      target: `${route} on Redis: the express-session drop-in (ExpressSessionStore) ≥ 1.2× connect-redis`,
      a: 'baton-express-session',
      b: 'connect-redis',
      engine: 'redis',
      route,
      metric: 'reqPerSec',
      bound: 1.2,
    }),
  ),
  {
    target: 'read on Redis: baton ≥ 1.3× connect-redis',
    a: 'baton',
    b: 'connect-redis',
    engine: 'redis',
    route: 'read',
    metric: 'reqPerSec',
    bound: 1.3,
  },
];

/**
 * A ratio target of `a` over `b` on one engine and route: requests per second (at least `bound`)
 * or app CPU per request (at most `bound`). A paired comparison of the two (pairs.ts) decides when
 * there is one: its figures come from the same seconds of the machine. The ratio of the table's
 * medians is shown beside it, and decides alone when no pair was measured.
 */
function ratioTarget(
  o: RatioTarget & { aggs: Aggregate[]; pairs: PairedComparison[] },
): TargetResult | undefined {
  const a = find(o.aggs, o.a, o.engine, o.route);
  const b = find(o.aggs, o.b, o.engine, o.route);
  const paired = o.pairs.find(
    (p) => p.a === o.a && p.b === o.b && p.engine === o.engine && p.route === o.route,
  );
  if (!paired && (!a || !b)) return undefined;
  const cpu = o.metric === 'cpu';
  const ok = (ratio: number) => (cpu ? ratio <= o.bound : ratio >= o.bound);
  const unit = cpu ? 'app CPU µs / req' : 'req/s';
  const figure = (x: Aggregate) => (cpu ? x.appCpuUsPerRequest : x.reqPerSec);
  const tableRatio = a && b && figure(b) > 0 ? round(figure(a) / figure(b), 2) : undefined;
  const table =
    tableRatio === undefined
      ? undefined
      : `table medians ${tableRatio}× (${o.a} ${figure(a!)} vs ${o.b} ${figure(b!)} ${unit})`;
  if (paired) {
    const ratios = cpu ? paired.cpuRatios : paired.ratios;
    const ratio = cpu ? paired.cpuRatio : paired.ratio;
    return {
      target: o.target,
      value: `${ratio}× paired (median of ${ratios.length} pairs: ${ratios.map((r) => r.toFixed(2)).join(', ')})${table ? `; ${table}` : ''}`,
      met: ok(ratio),
      ratio,
    };
  }
  if (tableRatio === undefined) return { target: o.target, value: 'not measured in this run', met: null };
  return { target: o.target, value: table!, met: ok(tableRatio), ratio: tableRatio };
}

export function evaluateTargets(
  aggs: Aggregate[],
  lost: LostUpdateRun[],
  pairs: PairedComparison[] = [],
): TargetResult[] {
  const out: TargetResult[] = [];
  for (const spec of RATIO_TARGETS) {
    const t = ratioTarget({ ...spec, aggs, pairs });
    if (t) out.push(t);
  }
  for (const engine of ['dynamodb', 'dynamodb-local', 'redis']) {
    for (const name of engine === 'redis' ? ['baton'] : ['baton', 'baton-sdk']) {
      const calls = (['read', 'write', 'new'] as const).map(
        (r) => find(aggs, name, engine, r)?.storeCallsPerRequest,
      );
      if (calls.every((c) => c === undefined)) continue;
      const expected = [1, 2, 0];
      out.push({
        target: `store calls per request, ${name} on ${ENGINE_NAMES[engine]}: 1 (read) / 2 (write) / 0 (new)`,
        value: calls.map((c) => (c === undefined ? '—' : String(c))).join(' / '),
        met: calls.every((c, i) => c === undefined || c === expected[i]),
      });
      const reads = find(aggs, name, engine, 'read');
      if (reads) {
        out.push({
          target: `writes per read request, ${name} on ${ENGINE_NAMES[engine]}: 0`,
          value: String(reads.writesPerRequest),
          met: reads.writesPerRequest === 0,
        });
        if (engine !== 'redis' && reads.capacityUnitsPerRequest !== null) {
          out.push({
            target: `capacity units per read request ≤ 1 for a ≤ 4 KB session, ${name} on ${ENGINE_NAMES[engine]}`,
            value: `${reads.capacityUnitsPerRequest} (${reads.capacitySource})`,
            met: reads.capacityUnitsPerRequest <= 1,
          });
        }
      }
    }
  }
  for (const run of lost.filter((l) => l.name === 'baton' || l.name === 'baton-sdk')) {
    const on = ENGINE_NAMES[run.engine] ?? run.engine;
    out.push({
      target:
        run.scenario === 'keys'
          ? `lost updates, ${run.name} on ${on}: 50 of 50 kept`
          : `same key: 50 concurrent basket adds, ${run.name} on ${on}: 50 of 50 kept`,
      value: `${Math.min(...run.kept)} of ${run.of} (runs: ${run.kept.join(', ')})`,
      met: run.kept.every((k) => k === run.of),
    });
  }
  return out;
}
