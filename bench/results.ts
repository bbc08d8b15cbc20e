/** The results file's shape, the medians across repetitions, and what machine and versions ran. */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { cpus, loadavg, platform, release, totalmem } from 'node:os';
import { type RouteMeasurement, round } from './measure.js';
import type { Engine, Route } from './scenarios.js';

/** `bench/results/latest.json`: exactly the shape the benchmark issue specifies. */
export interface Results {
  scenarios: Array<{
    name: string;
    engine: Engine;
    route: Route;
    reqPerSec: number;
    p50Ms: number;
    p99Ms: number;
    storeCallsPerRequest: number;
    writesPerRequest: number;
    capacityUnitsPerRequest: number | null;
    appCpuUsPerRequest: number;
  }>;
  lostUpdates: Array<{ name: string; engine: string; kept: number; of: number }>;
  /** Same key (issue 19): 50 concurrent adds to one basket, items kept (worst run); full runs only. */
  sameKeyAdds?: Array<{ name: string; engine: string; kept: number; of: number }>;
  /** Paired read comparisons (bench/pairs.ts): `a`'s req/s over `b`'s, the median of the pairs. */
  pairedRatios?: Array<{
    a: string;
    b: string;
    engine: string;
    route: 'read' | 'write';
    /** Median of the per-pair req/s ratios a / b. */
    ratio: number;
    /** Median of the per-pair app CPU per request ratios a / b (lower: a is cheaper). */
    cpuRatio: number;
    pairs: number;
  }>;
  machine: Record<string, unknown>;
  versions: Record<string, string>;
}

/** Medians of one scenario × engine × route across repetitions, with the extra figures. */
export interface Aggregate {
  name: string;
  engine: string;
  route: Route;
  repetitions: number;
  reqPerSec: number;
  /** Every repetition's req/s, in run order. */
  reqPerSecRuns: number[];
  p50Ms: number;
  p99Ms: number;
  storeCallsPerRequest: number;
  storeCallsByOperation: Record<string, number>;
  writesPerRequest: number;
  capacityUnitsPerRequest: number | null;
  readUnitsPerRequest: number | null;
  writeUnitsPerRequest: number | null;
  capacitySource: string;
  appCpuUsPerRequest: number;
  peakRssMb: number;
  serverCommandsPerRequest?: Record<string, number>;
  failures: number;
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  if (sorted.length === 0) return Number.NaN;
  return sorted.length % 2 === 1
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

function medianOrNull(values: Array<number | null>): number | null {
  const present = values.filter((v): v is number => v !== null);
  return present.length === 0 ? null : round(median(present), 3);
}

function medianMap(maps: Array<Record<string, number> | undefined>): Record<string, number> {
  const keys = new Set(maps.flatMap((m) => Object.keys(m ?? {})));
  const out: Record<string, number> = {};
  for (const k of keys) out[k] = round(median(maps.map((m) => m?.[k] ?? 0)), 3);
  return out;
}

export function aggregate(measurements: RouteMeasurement[]): Aggregate[] {
  const groups = new Map<string, RouteMeasurement[]>();
  for (const m of measurements) {
    const key = `${m.engine}|${m.name}|${m.route}`;
    groups.set(key, [...(groups.get(key) ?? []), m]);
  }
  const out: Aggregate[] = [];
  for (const list of groups.values()) {
    const first = list[0] as RouteMeasurement;
    const agg: Aggregate = {
      name: first.name,
      engine: first.engine,
      route: first.route,
      repetitions: list.length,
      reqPerSec: round(median(list.map((m) => m.reqPerSec)), 0),
      reqPerSecRuns: list.map((m) => m.reqPerSec),
      p50Ms: round(median(list.map((m) => m.p50Ms)), 2),
      p99Ms: round(median(list.map((m) => m.p99Ms)), 2),
      storeCallsPerRequest: round(median(list.map((m) => m.storeCallsPerRequest)), 3),
      storeCallsByOperation: medianMap(list.map((m) => m.storeCallsByOperation)),
      writesPerRequest: round(median(list.map((m) => m.writesPerRequest)), 3),
      capacityUnitsPerRequest: medianOrNull(list.map((m) => m.capacityUnitsPerRequest)),
      readUnitsPerRequest: medianOrNull(list.map((m) => m.readUnitsPerRequest)),
      writeUnitsPerRequest: medianOrNull(list.map((m) => m.writeUnitsPerRequest)),
      capacitySource: first.capacitySource,
      appCpuUsPerRequest: round(median(list.map((m) => m.appCpuUsPerRequest)), 0),
      peakRssMb: Math.max(...list.map((m) => m.peakRssMb)),
      failures: list.reduce((a, m) => a + m.failures, 0),
    };
    if (first.serverCommandsPerRequest) {
      agg.serverCommandsPerRequest = medianMap(list.map((m) => m.serverCommandsPerRequest));
    }
    out.push(agg);
  }
  return out;
}

export function machineInfo(): Record<string, unknown> & { loadAverage: number[] } {
  const cpu = cpus();
  return {
    cpuModel: cpu[0]?.model ?? 'unknown',
    cores: cpu.length,
    memoryGb: round(totalmem() / 2 ** 30, 1),
    os: `${platform()} ${release()}`,
    node: process.version,
    loadAverage: loadavg().map((l) => round(l, 2)),
  };
}

const require = createRequire(import.meta.url);

function version(pkg: string): string {
  try {
    const path = require.resolve(`${pkg}/package.json`);
    return (JSON.parse(readFileSync(path, 'utf8')) as { version: string }).version;
  } catch {
    // Packages whose exports map hides package.json: find it next to the entry point.
    try {
      let dir = require.resolve(pkg);
      for (let i = 0; i < 5; i++) {
        dir = dir.slice(0, dir.lastIndexOf('/'));
        try {
          const json = JSON.parse(readFileSync(`${dir}/package.json`, 'utf8')) as {
            name?: string;
            version: string;
          };
          if (json.name === pkg) return json.version;
        } catch {}
      }
    } catch {}
    return 'unknown';
  }
}

export function versions(redisServer?: string): Record<string, string> {
  const own = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  const out: Record<string, string> = { 'baton-session': own.version };
  for (const pkg of [
    'express',
    'express-session',
    'connect-dynamodb',
    'dynamodb-store',
    'aws-sdk',
    '@aws-sdk/client-dynamodb',
    '@aws-lite/client',
    'connect-redis',
    'redis',
    'dynalite',
    'autocannon',
  ]) {
    out[pkg] = version(pkg);
  }
  if (redisServer) out['redis-server'] = redisServer;
  return out;
}
