/**
 * `npm run bench`: baton-session against its peers, side by side on the same engines in one run.
 *
 *   npm run bench                  full run: every scenario and route, 3 repetitions, lost updates,
 *                                  scale runs, CPU profiles of the read and write routes; writes bench/results/latest.json,
 *                                  bench/results/latest.details.json, docs/benchmarks.md and docs/benchmarks.svg;
 *                                  the DynamoDB scenarios on dynalite and on DynamoDB Local (Java 17+)
 *   npm run bench -- --quick       one repetition of read and write on dynalite plus the lost-update
 *                                  test; writes bench/results/quick.json. About a minute: 50-60 s on a
 *                                  2-core machine busy with other test suites
 *   options: --reps N  --duration S  --out FILE  --only NAME[,NAME]  --redis-url redis://127.0.0.1:6379
 *            --no-scale  --no-profile  --scale-items N (default 100000)  --docs-dir DIR
 *            --pairs N (paired read comparisons for the ratio targets, default 8; 0 skips them)
 *            --engine dynalite|dynamodb-local|both (the DynamoDB engines; default: both in a full run when
 *                                  DynamoDB Local can start (Java 17+), else dynalite with a notice;
 *                                  dynalite alone in a quick run)
 *            --pairs-only          skip the tables, lost updates, scale runs and profile: only the paired
 *                                  comparisons (with --only, those of the named scenarios)
 *
 * Each scenario's app runs in its own process; dynalite and redis-server run in their own
 * processes on loopback; autocannon runs in this process. Everything is bounded in time and count.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  type DynamoEngine,
  type DynamoEngineKind,
  type RedisEngine,
  redisServerAvailable,
  startDynamo,
  startRedis,
} from './engines.js';
import {
  type Engines,
  type LostUpdateRun,
  lostUpdates,
  type RouteMeasurement,
  runScenario,
  type Timing,
} from './measure.js';
import { comparePaired, type PairedComparison } from './pairs.js';
import { type ProfileSummary, profileRoute } from './profile.js';
import { writeDocs } from './report.js';
import { type Aggregate, aggregate, machineInfo, type Results, versions } from './results.js';
import { runScale, type ScaleResults } from './scale.js';
import {
  declaredEngine,
  type Engine,
  isDynamo,
  type Route,
  SCENARIOS,
  type ScenarioSpec,
  specFor,
} from './scenarios.js';
import { evaluateTargets, RATIO_TARGETS } from './targets.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

interface Args {
  quick: boolean;
  reps: number;
  durationS: number;
  out: string | undefined;
  only: string[] | undefined;
  redisUrl: string | undefined;
  /** The DynamoDB engines to run on; undefined: both in a full run (DynamoDB Local when it starts). */
  engine: DynamoEngineKind | 'both' | undefined;
  pairsOnly: boolean;
  scale: boolean;
  profile: boolean;
  scaleItems: number;
  docsDir: string | undefined;
  pairs: number;
}

function parseArgs(argv: string[]): Args {
  const args: Args = {
    quick: false,
    reps: 3,
    durationS: 5,
    out: undefined,
    only: undefined,
    redisUrl: undefined,
    engine: undefined,
    pairsOnly: false,
    scale: true,
    profile: true,
    scaleItems: 100_000,
    docsDir: undefined,
    pairs: 8,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === '--quick') args.quick = true;
    else if (a === '--reps') args.reps = positive('--reps', value());
    else if (a === '--duration') args.durationS = positive('--duration', value());
    else if (a === '--out') args.out = value();
    else if (a === '--only') args.only = value().split(',');
    else if (a === '--redis-url') args.redisUrl = value();
    else if (a === '--engine') {
      const engine = value();
      if (engine !== 'dynalite' && engine !== 'dynamodb-local' && engine !== 'both') {
        throw new Error(`--engine must be dynalite, dynamodb-local or both, got ${JSON.stringify(engine)}`);
      }
      args.engine = engine;
    } else if (a === '--pairs-only') args.pairsOnly = true;
    else if (a === '--no-scale') args.scale = false;
    else if (a === '--no-profile') args.profile = false;
    else if (a === '--scale-items') args.scaleItems = positive('--scale-items', value());
    else if (a === '--docs-dir') args.docsDir = value();
    else if (a === '--pairs') args.pairs = nonNegative('--pairs', value());
    else throw new Error(`unknown option ${a} (see the header of bench/run.ts)`);
  }
  if (args.redisUrl && !/^redis:\/\/(127\.0\.0\.1|localhost)[:/]/.test(args.redisUrl)) {
    throw new Error('--redis-url must point at loopback (127.0.0.1)');
  }
  return args;
}

function nonNegative(name: string, text: string): number {
  const n = Number(text);
  if (!(Number.isInteger(n) && n >= 0)) throw new Error(`${name} must be a whole number ≥ 0, got ${text}`);
  return n;
}

function positive(name: string, text: string): number {
  const n = Number(text);
  if (!(n > 0)) throw new Error(`${name} must be a positive number, got ${text}`);
  return n;
}

/** Seconds per slice of a paired comparison. */
const PAIR_SLICE_S = 2.5;

const log = (line: string) => process.stdout.write(`${line}\n`);

/**
 * The paired comparisons (pairs.ts): one per ratio target (targets.ts decides each on its pair),
 * plus the tracing pairs, which set no target. Each runs when both of its scenarios are in the run.
 */
const PAIRS: Array<{ a: string; b: string; engine: Engine; route: 'read' | 'write' }> = [
  ...new Map(RATIO_TARGETS.map((t) => [`${t.a}|${t.b}|${t.engine}|${t.route}`, t])).values(),
  // The write target's pair on dynalite too (no target there): the same apps on the other engine.
  { a: 'baton-sdk', b: 'dynamodb-store', engine: 'dynamodb', route: 'write' },
  // What tracing costs once subscribed (a no-op subscriber): an upper bound of its cost without
  // subscribers, where only a `hasSubscribers` check per channel runs.
  { a: 'baton-traced', b: 'baton', engine: 'dynamodb', route: 'read' },
  // The tracing call sites without subscribers against the same app with them made inert, as if
  // compiled out (bench/tracing-inert.ts): ≈ 1 when free.
  { a: 'baton', b: 'baton-untraced', engine: 'dynamodb', route: 'read' },
];

/**
 * Scenarios left out on DynamoDB Local (a slower engine, so a longer run): the tracing pair and the
 * SDK v3 floor are about the app, not the engine, and run on dynalite.
 */
const DYNALITE_ONLY = new Set(['baton-traced', 'baton-untraced', 'floor']);

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const started = Date.now();
  const mode = args.quick ? 'quick' : 'full';
  const timing: Timing = args.quick
    ? { warmupS: 0.3, durationS: 0.8, connections: 16, maxRequests: 20_000, sessions: 16 }
    : {
        warmupS: 2,
        firstWarmupS: 5,
        durationS: args.durationS,
        connections: 16,
        maxRequests: 200_000,
        sessions: 100,
      };
  const reps = args.quick ? 1 : args.reps;
  const lostReps = 5;
  const dynamoKinds: DynamoEngineKind[] =
    args.engine === 'dynalite' || (args.quick && args.engine === undefined)
      ? ['dynalite']
      : args.engine === 'dynamodb-local'
        ? ['dynamodb-local']
        : ['dynalite', 'dynamodb-local'];
  const engineList: Engine[] = [
    ...dynamoKinds.map((k): Engine => (k === 'dynalite' ? 'dynamodb' : 'dynamodb-local')),
    ...(args.quick ? [] : (['redis', 'memory'] as const)),
  ];
  // Quick mode: read and write everywhere, plus `new` for baton (its 0-call target).
  const routesFor = (spec: ScenarioSpec): Route[] =>
    args.quick && spec.name !== 'baton' ? spec.routes.filter((r) => r !== 'new') : spec.routes;
  const loadStart = machineInfo().loadAverage;
  const skipped: Array<{ name: string; engine: string; reason: string }> = [];
  const engineNotes: string[] = [];

  /** The tables' rows for one engine: every scenario and route, then the lost-update tests. */
  async function measureTables(o: {
    engine: Engine;
    specs: ScenarioSpec[];
    engines: Engines;
    dynamo: DynamoEngine | undefined;
  }): Promise<void> {
    const { engine, specs, engines, dynamo } = o;
    // A fresh engine process is slow until its JIT warms up: an unrecorded floor run first, so the
    // scenario that happens to come first is not measured against a cold engine.
    const floor = specs.find((s) => s.floor);
    if (!args.quick && floor) {
      log(`\n== ${engine}: warming the engine up (${floor.name}, not recorded)`);
      await runScenario({
        spec: floor,
        engines,
        routes: ['read'],
        rep: -1,
        timing: { ...timing, durationS: timing.warmupS },
        sessionBytes: 200,
        log: () => {},
      }).catch((err: unknown) => log(`  engine warm-up failed: ${firstLine(err)}`));
    }
    for (let rep = 0; rep < reps; rep++) {
      // Back to back on one engine, the order reversed every other repetition.
      const order = rep % 2 === 0 ? specs : [...specs].reverse();
      log(`\n== ${engine}, repetition ${rep + 1}/${reps}: ${order.map((s) => s.name).join(' → ')}`);
      for (const spec of order) {
        try {
          measurements.push(
            ...(await runScenario({
              spec,
              engines,
              routes: routesFor(spec),
              rep,
              timing,
              sessionBytes: 200,
              itemBytes: (table) => itemBytes(dynamo!, table),
              log,
            })),
          );
        } catch (err) {
          log(`  ${spec.name}@${spec.engine} FAILED: ${(err as Error).message}`);
          skipped.push({ name: spec.name, engine: spec.engine, reason: firstLine(err) });
        }
      }
    }
    // Quick mode: baton and the peers (baton-sdk and baton-express-session share baton's store writes).
    const shared = specs.filter((s) => s.shared && (!args.quick || s.peer || s.name === 'baton'));
    if (shared.length > 0)
      log(`\n== ${engine}: lost updates (50 concurrent writers over two instances, ${lostReps} runs)`);
    for (const spec of shared) {
      try {
        const run = await lostUpdates(spec, engines, lostReps);
        lost.push(run);
        log(`  ${spec.name}@${spec.engine}: kept ${run.kept.join(', ')} of ${run.of}`);
      } catch (err) {
        log(`  ${spec.name}@${spec.engine} lost-update FAILED: ${(err as Error).message}`);
      }
    }
    // Same key (issue 19): 50 concurrent adds to one basket. Quick mode: baton only.
    const basket = shared.filter((s) => !args.quick || s.name === 'baton');
    if (basket.length > 0)
      log(`\n== ${engine}: same key: 50 concurrent basket adds over two instances, ${lostReps} runs`);
    for (const spec of basket) {
      try {
        const run = await lostUpdates(spec, engines, lostReps, 50, 'basket');
        lost.push(run);
        log(`  ${spec.name}@${spec.engine}: kept ${run.kept.join(', ')} of ${run.of}`);
      } catch (err) {
        log(`  ${spec.name}@${spec.engine} same-key FAILED: ${(err as Error).message}`);
      }
    }
  }

  /**
   * CPU profiles (`--cpu-prof`) of the read and write routes with the SDK v3 client users pass,
   * beside the aws-lite floor (read) and dynamodb-store (write) on dynalite: where the CPU goes.
   */
  async function profileEngine(engine: 'dynamodb' | 'dynamodb-local', engines: Engines): Promise<void> {
    const runs: Array<[string, 'read' | 'write']> =
      engine === 'dynamodb'
        ? [
            ['baton-sdk', 'read'],
            ['floor-lite', 'read'],
            ['baton-sdk', 'write'],
            ['dynamodb-store', 'write'],
          ]
        : [
            ['baton-sdk', 'read'],
            ['baton-sdk', 'write'],
          ];
    for (const [name, route] of runs) {
      log(`\n== CPU profile of ${name} ${route} (${engine})`);
      try {
        const p = await profileRoute({
          name,
          route,
          engine,
          engines,
          outDir: resolve(ROOT, `bench/results/profile/${engine}-${name}-${route}`),
          log,
        });
        if (p) profiles.push(p);
      } catch (err) {
        log(`  profile FAILED: ${firstLine(err)}`);
      }
    }
  }

  let dynalite: DynamoEngine | undefined;
  let dynamoLocal: DynamoEngine | undefined;
  let redis: RedisEngine | undefined;
  const measurements: RouteMeasurement[] = [];
  const lost: LostUpdateRun[] = [];
  let scale: ScaleResults | undefined;
  const profiles: ProfileSummary[] = [];
  const pairs: PairedComparison[] = [];
  try {
    if (dynamoKinds.includes('dynalite')) {
      dynalite = await startDynamo('dynalite');
      log(`dynalite (own process) on ${dynalite.endpoint}`);
    }
    if (engineList.includes('redis')) {
      if (args.redisUrl || redisServerAvailable()) {
        redis = await startRedis(args.redisUrl);
        log(
          `redis ${redis.version} on ${redis.url}${redis.private ? ' (private server, own process)' : ' (shared)'}`,
        );
      } else {
        skipped.push({
          name: '*',
          engine: 'redis',
          reason: 'redis-server is not installed and no --redis-url given',
        });
      }
    }

    for (const engine of engineList) {
      if (engine === 'redis' && !redis) continue;
      if (engine === 'dynamodb-local') {
        // Started for its own section only: an idle JVM would hold memory through the others.
        try {
          dynamoLocal = await startDynamo('dynamodb-local');
          const note = `DynamoDB Local (JVM behind a counting proxy, own process) answered after ${dynamoLocal.startup?.startMs} ms, warmed up in ${dynamoLocal.startup?.warmupMs} ms`;
          engineNotes.push(note);
          log(`\n${note}; on ${dynamoLocal.endpoint}`);
        } catch (err) {
          log(`\nDynamoDB Local could not start, its rows are skipped: ${firstLine(err)}`);
          skipped.push({ name: '*', engine, reason: `DynamoDB Local could not start: ${firstLine(err)}` });
          continue;
        }
      }
      const engines: Engines =
        engine === 'dynamodb'
          ? { dynamo: dynalite }
          : engine === 'dynamodb-local'
            ? { dynamo: dynamoLocal }
            : {};
      if (redis) engines.redis = redis;
      const dynamo = engines.dynamo;
      let specs = SCENARIOS.filter(
        (s) =>
          s.engine === declaredEngine(engine) &&
          !(engine === 'dynamodb-local' && DYNALITE_ONLY.has(s.name)) &&
          (!args.only || args.only.includes(s.name)),
      ).map((s) => specFor(s.name, engine) as ScenarioSpec);
      // Scenarios whose code is not in this tree are recorded as skipped, with the reason.
      specs = specs.filter((spec) => {
        const reason = unavailable(spec);
        if (reason) skipped.push({ name: spec.name, engine: spec.engine, reason });
        return !reason;
      });
      if (!args.pairsOnly) {
        await measureTables({ engine, specs, engines, dynamo });
      }
      if (!args.quick && args.pairs > 0) {
        const todo = PAIRS.filter(
          (p) =>
            p.engine === engine && specs.some((s) => s.name === p.a) && specs.some((s) => s.name === p.b),
        );
        if (todo.length > 0)
          log(`\n== ${engine}: paired comparisons (${args.pairs} pairs of ${PAIR_SLICE_S} s slices each)`);
        for (const p of todo) {
          try {
            pairs.push(
              await comparePaired({
                a: specFor(p.a, engine) as ScenarioSpec,
                b: specFor(p.b, engine) as ScenarioSpec,
                route: p.route,
                engines,
                pairs: args.pairs,
                sliceS: PAIR_SLICE_S,
                connections: timing.connections,
                sessions: timing.sessions,
                log,
              }),
            );
          } catch (err) {
            log(`  ${p.a} / ${p.b} (${engine}, ${p.route}) FAILED: ${firstLine(err)}`);
          }
        }
      }
      if (isDynamo(engine) && !args.quick && args.profile && !args.only && !args.pairsOnly) {
        await profileEngine(engine as 'dynamodb' | 'dynamodb-local', engines);
      }
      if (engine === 'dynamodb-local') {
        await dynamoLocal?.stop();
        dynamoLocal = undefined;
      }
    }
    const dynamo = dynalite;
    const engines: Engines = { ...(dynalite ? { dynamo: dynalite } : {}), ...(redis ? { redis } : {}) };

    if (!args.quick && args.scale && !args.only && !args.pairsOnly && dynamo) {
      log('\n== scale runs');
      scale = await runScale({ dynamo, engines, log, items: args.scaleItems });
    }
  } finally {
    await dynamoLocal?.stop();
    await dynalite?.stop();
    await redis?.stop();
  }

  const aggregates: Aggregate[] = aggregate(measurements);
  const results: Results = {
    scenarios: aggregates.map((a) => ({
      name: a.name,
      engine: a.engine as Engine,
      route: a.route,
      reqPerSec: a.reqPerSec,
      p50Ms: a.p50Ms,
      p99Ms: a.p99Ms,
      storeCallsPerRequest: a.storeCallsPerRequest,
      writesPerRequest: a.writesPerRequest,
      capacityUnitsPerRequest: a.capacityUnitsPerRequest,
      appCpuUsPerRequest: a.appCpuUsPerRequest,
    })),
    lostUpdates: lost
      .filter((l) => l.scenario === 'keys')
      .map((l) => ({ name: l.name, engine: l.engine, kept: Math.min(...l.kept), of: l.of })),
    // Only in full runs, like the paired ratios: the quick run keeps the documented shape exactly.
    ...(!args.quick
      ? {
          sameKeyAdds: lost
            .filter((l) => l.scenario === 'basket')
            .map((l) => ({ name: l.name, engine: l.engine, kept: Math.min(...l.kept), of: l.of })),
        }
      : {}),
    // Only when measured (full runs): the quick run keeps the documented shape exactly.
    ...(pairs.length > 0
      ? {
          pairedRatios: pairs.map((p) => ({
            a: p.a,
            b: p.b,
            engine: p.engine,
            route: p.route,
            ratio: p.ratio,
            cpuRatio: p.cpuRatio,
            pairs: p.ratios.length,
          })),
        }
      : {}),
    machine: {
      ...machineInfo(),
      loadAverageAtStart: loadStart,
      mode,
      repetitions: reps,
      redis: redis?.version,
    },
    versions: versions(redis?.version),
  };
  const targets = evaluateTargets(aggregates, lost, pairs);
  const details = {
    mode,
    startedAt: new Date(started).toISOString(),
    seconds: Math.round((Date.now() - started) / 1000),
    timing,
    repetitions: reps,
    skipped,
    aggregates,
    measurements,
    lostUpdates: lost,
    pairs,
    targets,
    engineNotes,
    scale,
    profiles,
  };

  // A run on DynamoDB Local alone goes to its own files and leaves docs/benchmarks.md alone (unless
  // --docs-dir asks otherwise); so does a run of the pairs alone.
  const suffix = `${args.engine === 'dynamodb-local' ? '-dynamodb-local' : ''}${args.pairsOnly ? '-pairs' : ''}`;
  const outFile = args.out
    ? resolve(args.out)
    : resolve(ROOT, `bench/results/${args.quick ? 'quick' : 'latest'}${suffix}.json`);
  mkdirSync(dirname(outFile), { recursive: true });
  writeFileSync(outFile, `${JSON.stringify(results, null, 2)}\n`);
  const detailsFile = `${outFile.replace(/\.json$/, '')}.details.json`;
  writeFileSync(detailsFile, `${JSON.stringify(details, null, 2)}\n`);
  log(`\nwrote ${outFile} and ${detailsFile}`);
  const fullRun = !args.quick && !args.only && !args.pairsOnly && args.engine !== 'dynamodb-local';
  if (args.docsDir || (fullRun && !args.out)) {
    const docs = args.docsDir ? resolve(args.docsDir) : resolve(ROOT, 'docs');
    writeDocs(docs, results, details);
    log(`wrote ${docs}/benchmarks.md and benchmarks.svg`);
  }
  log(`\ntargets:`);
  for (const t of targets) log(`  ${t.met === null ? '—' : t.met ? 'met ' : 'MISS'} ${t.target}: ${t.value}`);
  if (skipped.length > 0) for (const s of skipped) log(`  skipped ${s.name}@${s.engine}: ${s.reason}`);
  log(`done in ${Math.round((Date.now() - started) / 1000)} s`);
}

function firstLine(err: unknown): string {
  return String((err as Error)?.message ?? err).split('\n')[0] ?? '';
}

/** Why a scenario cannot run in this tree (its module is missing), or undefined. */
function unavailable(spec: ScenarioSpec): string | undefined {
  const needs: Record<string, string> = {
    'baton-express-session': 'src/adapters/express-session/index.ts',
  };
  const path = needs[spec.name];
  if (!path) return undefined;
  return existsSync(resolve(ROOT, path)) ? undefined : `${path} is not in this tree yet`;
}

/** Bytes of one item in `table` as DynamoDB counts them (for the computed capacity of peers). */
async function itemBytes(dynamo: DynamoEngine, table: string): Promise<number> {
  const { DynamoDBClient, ScanCommand } = await import('@aws-sdk/client-dynamodb');
  const { itemSize } = await import('../src/stores/dynamodb/codec.js');
  const client = new DynamoDBClient({
    region: 'us-east-1',
    endpoint: dynamo.endpoint,
    credentials: { accessKeyId: 'bench', secretAccessKey: 'bench' },
  });
  try {
    const out = await client.send(new ScanCommand({ TableName: table, Limit: 1 }));
    const item = out.Items?.[0];
    return item ? itemSize(item as never) : 0;
  } finally {
    client.destroy();
  }
}

// On Ctrl-C or a kill, exit through `process.exit` so the engines' exit hooks stop them.
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => process.exit(130));

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
