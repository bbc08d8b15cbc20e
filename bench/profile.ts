/**
 * A CPU profile (`--cpu-prof`) of one app serving one route on a DynamoDB engine, summarised by
 * self time: the top functions, and the share of each layer (our core, the Express adapter, the
 * store and its transport, the DynamoDB client libraries, Express, Node's HTTP and the rest).
 */
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { load } from './load.js';
import { type Engines, round, seed, startApp } from './measure.js';
import { type ScenarioSpec, specFor } from './scenarios.js';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}

interface CpuProfile {
  startTime: number;
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileSummary {
  name: string;
  /** `dynamodb` (dynalite) or `dynamodb-local`; absent in summaries written before it was recorded. */
  engine?: string;
  route?: 'read' | 'write';
  file: string;
  requests: number;
  /** Busy (non-idle) CPU time per request, from the samples. */
  sampledUsPerRequest: number;
  layers: Array<{ layer: string; percent: number; usPerRequest: number }>;
  top: Array<{ function: string; where: string; percent: number; usPerRequest: number }>;
}

const LAYERS: Array<[string, RegExp]> = [
  ['baton core (core)', /\/(src|dist)\/core\//],
  ['baton Express adapter + response hold (adapters)', /\/(src|dist)\/adapters\//],
  ['baton store and transport (stores)', /\/(src|dist)\/stores\//],
  ['@aws-lite/client, aws4 (signing in the lean transport)', /node_modules\/(@aws-lite|aws4)\//],
  [
    "undici (the lean transport's connection pool and its WebAssembly HTTP parser)",
    /node_modules\/undici\/|^wasm:/,
  ],
  ['AWS SDK v3 (client, middleware, signer, credentials)', /node_modules\/(@aws-sdk|@smithy|@aws-crypto)\//],
  ['AWS SDK v2 (dynamodb-store)', /node_modules\/(aws-sdk|dynamodb-store)\//],
  ['node-redis client', /node_modules\/(@redis|redis)\//],
  [
    'express-session + its store (connect-redis, connect-dynamodb)',
    /node_modules\/(express-session|connect-redis|connect-dynamodb|uid-safe|random-bytes|on-headers|cookie-signature)\//,
  ],
  [
    'Express + router + body/cookie helpers',
    /node_modules\/(express|router|cookie|send|finalhandler|body-parser|qs|on-finished|content-type|type-is|mime|accepts|negotiator|statuses|depd|debug|encodeurl|escape-html|etag|fresh|parseurl|path-to-regexp|range-parser|safe-buffer|vary|proxy-addr)\//,
  ],
  ['Node HTTP, streams, crypto (node: internals)', /^node:/],
  ['garbage collector', /^\(garbage collector\)$/],
];

function layerOf(node: ProfileNode): string {
  const { url, functionName } = node.callFrame;
  for (const [name, pattern] of LAYERS) if (pattern.test(url) || pattern.test(functionName)) return name;
  if (functionName === '(program)') return 'V8 / native (program)';
  if (url === '') return 'native builtins';
  return 'other JavaScript';
}

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** Where a function lives, relative to node_modules or the repository (no machine paths). */
function shortUrl(url: string): string {
  const i = url.lastIndexOf('/node_modules/');
  if (i >= 0) return url.slice(i + 14);
  const path = url.replace(/^file:\/\//, '');
  return path.startsWith(ROOT) ? relative(ROOT, path) : path;
}

/** Self time per function over the samples taken between `fromUs` and `toUs` (monotonic clock, µs). */
export function summarise(
  profile: CpuProfile,
  requests: number,
  file: string,
  fromUs = Number.NEGATIVE_INFINITY,
  toUs = Number.POSITIVE_INFINITY,
): ProfileSummary {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  let t = profile.startTime;
  profile.samples.forEach((id, i) => {
    const delta = profile.timeDeltas[i] ?? 0;
    t += delta;
    if (t >= fromUs && t <= toUs) self.set(id, (self.get(id) ?? 0) + delta);
  });
  let busy = 0;
  const layers = new Map<string, number>();
  const fns = new Map<string, { fn: string; where: string; us: number }>();
  for (const [id, us] of self) {
    const node = byId.get(id);
    if (!node || node.callFrame.functionName === '(idle)') continue;
    busy += us;
    const layer = layerOf(node);
    layers.set(layer, (layers.get(layer) ?? 0) + us);
    const where = `${shortUrl(node.callFrame.url)}:${node.callFrame.lineNumber + 1}`;
    const key = `${node.callFrame.functionName}@${where}`;
    const entry = fns.get(key) ?? { fn: node.callFrame.functionName || '(anonymous)', where, us: 0 };
    entry.us += us;
    fns.set(key, entry);
  }
  const per = (us: number) => round(us / Math.max(1, requests), 1);
  const pct = (us: number) => round((100 * us) / Math.max(1, busy), 1);
  return {
    name: '',
    file,
    requests,
    sampledUsPerRequest: per(busy),
    layers: [...layers]
      .sort((a, b) => b[1] - a[1])
      .map(([layer, us]) => ({ layer, percent: pct(us), usPerRequest: per(us) })),
    top: [...fns.values()]
      .sort((a, b) => b.us - a.us)
      .slice(0, 25)
      .map((f) => ({ function: f.fn, where: f.where, percent: pct(f.us), usPerRequest: per(f.us) })),
  };
}

/** Profiles one route of `name` on the engine in `engines` (labelled `engine`). */
export async function profileRoute(o: {
  name: string;
  route: 'read' | 'write';
  engine: 'dynamodb' | 'dynamodb-local' | 'redis';
  engines: Engines;
  outDir: string;
  log: (line: string) => void;
  durationS?: number;
}): Promise<ProfileSummary | undefined> {
  rmSync(o.outDir, { recursive: true, force: true });
  mkdirSync(o.outDir, { recursive: true });
  const spec = specFor(o.name, o.engine) as ScenarioSpec;
  const app = await startApp(
    spec,
    o.engines,
    { table: `bench-profile-${Date.now()}`, prefix: 'bench:profile:' },
    ['--cpu-prof', '--cpu-prof-dir', o.outDir],
  );
  let requests = 0;
  let fromUs = 0;
  let toUs = 0;
  try {
    const cookies = await seed(app.base, 100, 200);
    const options = {
      base: app.base,
      method: o.route === 'read' ? ('GET' as const) : ('POST' as const),
      path: `/${o.route}`,
      cookies,
      connections: 16,
      maxRequests: 200_000,
    };
    await load({ ...options, durationS: 2 });
    fromUs = (await app.child.ask('begin')).monoUs as number;
    await load({ ...options, durationS: o.durationS ?? 5 });
    const end = await app.child.ask('end');
    requests = end.requests as number;
    toUs = end.monoUs as number;
  } finally {
    await app.child.stop();
  }
  const files = readdirSync(o.outDir)
    .filter((f) => f.endsWith('.cpuprofile'))
    .map((f) => join(o.outDir, f))
    // The main thread's profile is the big one (the module-loader thread writes a small second one).
    .sort((a, b) => statSync(b).size - statSync(a).size);
  const file = files[0];
  if (!file) {
    o.log('  no profile was written');
    return undefined;
  }
  // Only the samples of the measured window count (not start-up, seeding or warm-up).
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const summary = summarise(profile, requests, relative(ROOT, file), fromUs, toUs);
  summary.name = o.name;
  summary.engine = o.engine;
  summary.route = o.route;
  o.log(`  ${requests} requests, ${summary.sampledUsPerRequest} µs sampled CPU per request`);
  for (const l of summary.layers) o.log(`  ${String(l.percent).padStart(5)} %  ${l.layer}`);
  return summary;
}
