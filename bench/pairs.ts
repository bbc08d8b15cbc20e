/**
 * Paired comparisons of one route (read or write), for the ratio targets. The main tables compare medians of
 * runs made minutes apart, and on a shared 2-core machine the speed of everything drifts on that
 * scale (the engine's and the load generator's own CPU per request were seen to change 1.8×
 * between runs seconds apart). Here the two apps run side by side, each in its own process on the
 * same engine, and are loaded in turn in short slices, the order flipped every pair: both figures
 * of a pair come from the same few seconds of the machine. The ratio is the median of the
 * per-pair ratios.
 */
import { load } from './load.js';
import { type AppHandle, type Engines, round, seed, startApp } from './measure.js';
import { median } from './results.js';
import type { ScenarioSpec } from './scenarios.js';

export interface PairedComparison {
  /** The scenario measured against `b`. */
  a: string;
  b: string;
  engine: string;
  route: 'read' | 'write';
  sliceSeconds: number;
  /** Per pair: `a`'s req/s over `b`'s. */
  ratios: number[];
  /** The median of `ratios`. */
  ratio: number;
  /** Per pair: `a`'s app CPU per request over `b`'s (lower is cheaper). */
  cpuRatios: number[];
  /** The median of `cpuRatios`. */
  cpuRatio: number;
  aReqPerSec: number[];
  bReqPerSec: number[];
  aCpuUsPerRequest: number[];
  bCpuUsPerRequest: number[];
}

export async function comparePaired(o: {
  a: ScenarioSpec;
  b: ScenarioSpec;
  /** The route loaded in both apps; `read` unless given. */
  route?: 'read' | 'write';
  engines: Engines;
  pairs: number;
  sliceS: number;
  connections: number;
  sessions: number;
  log: (line: string) => void;
}): Promise<PairedComparison> {
  const tag = `pair-${Date.now().toString(36)}`;
  const route = o.route ?? 'read';
  // Nothing is counted here, so each app runs as a user runs it: no operation listener on baton's
  // store, no counting wrapper on a client, and on DynamoDB Local the apps talk to the JVM past
  // the counting proxy.
  const dynamo = o.engines.dynamo;
  const engines: Engines = dynamo?.directEndpoint
    ? { ...o.engines, dynamo: { ...dynamo, endpoint: dynamo.directEndpoint } }
    : o.engines;
  const apps: Array<{ spec: ScenarioSpec; app: AppHandle; cookies: string[] }> = [];
  try {
    for (const spec of [o.a, o.b]) {
      const names = { table: `bench-${spec.name}-${tag}`, prefix: `bench:${spec.name}:${tag}:` };
      const app = await startApp(spec, engines, names, [], false);
      apps.push({ spec, app, cookies: await seed(app.base, o.sessions, 200) });
    }
    const slice = async (i: number, durationS: number) => {
      const { app, cookies } = apps[i]!;
      await app.child.ask('begin');
      const r = await load({
        base: app.base,
        method: route === 'read' ? 'GET' : 'POST',
        path: `/${route}`,
        cookies,
        connections: o.connections,
        maxRequests: 200_000,
        durationS,
      });
      const end = await app.child.ask('end');
      if (r.failures > 0) throw new Error(`${apps[i]!.spec.name}: ${r.failures} failed requests`);
      return { reqPerSec: r.reqPerSec, cpuUs: (end.cpuUs as number) / Math.max(1, end.requests as number) };
    };
    // Warm both up (JIT, sockets, the engine's tables) before anything counts: a fresh app needs
    // about 3 s under load to settle.
    await slice(0, 5);
    await slice(1, 5);
    const out: PairedComparison = {
      a: o.a.name,
      b: o.b.name,
      engine: o.a.engine,
      route,
      sliceSeconds: o.sliceS,
      ratios: [],
      ratio: 0,
      cpuRatios: [],
      cpuRatio: 0,
      aReqPerSec: [],
      bReqPerSec: [],
      aCpuUsPerRequest: [],
      bCpuUsPerRequest: [],
    };
    for (let pair = 0; pair < o.pairs; pair++) {
      const first = pair % 2;
      const r1 = await slice(first, o.sliceS);
      const r2 = await slice(1 - first, o.sliceS);
      const [ra, rb] = first === 0 ? [r1, r2] : [r2, r1];
      out.aReqPerSec.push(round(ra.reqPerSec, 0));
      out.bReqPerSec.push(round(rb.reqPerSec, 0));
      out.aCpuUsPerRequest.push(round(ra.cpuUs, 0));
      out.bCpuUsPerRequest.push(round(rb.cpuUs, 0));
      out.ratios.push(round(ra.reqPerSec / rb.reqPerSec, 3));
      out.cpuRatios.push(round(ra.cpuUs / rb.cpuUs, 3));
    }
    out.ratio = round(median(out.ratios), 2);
    out.cpuRatio = round(median(out.cpuRatios), 2);
    o.log(
      `  ${o.a.name} / ${o.b.name} (${o.a.engine}, ${route}): ${out.ratio}× req/s, ${out.cpuRatio}× app CPU per request, medians of ${o.pairs} pairs (req/s ${out.ratios.map((r) => r.toFixed(2)).join(', ')}; CPU ${out.cpuRatios.map((r) => r.toFixed(2)).join(', ')})`,
    );
    return out;
  } finally {
    for (const { app } of apps) await app.child.stop();
  }
}
