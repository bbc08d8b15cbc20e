/**
 * The engines the scenarios run on, each in its own process on loopback: dynalite (in memory) or
 * Amazon's DynamoDB Local (`--engine dynamodb-local`), and a private redis-server (or an existing Redis given with `--redis-url`).
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { createClient } from 'redis';
import { Child } from './child.js';

export interface DynamoEngine {
  endpoint: string;
  /**
   * DynamoDB Local: the JVM itself, past the counting proxy, for loads that count nothing (the
   * paired comparisons). Undefined on dynalite, which counts in its own process.
   */
  directEndpoint?: string;
  /** Calls per DynamoDB operation since the engine started, counted at the engine. */
  counts(): Promise<Record<string, number>>;
  /**
   * How long an app on this engine may take to start (its `ensureTable()` included): longer on
   * DynamoDB Local, whose table calls are slower on a loaded machine; undefined: the default.
   */
  appReadyTimeoutMs?: number;
  /** DynamoDB Local: ms to a first answer from the JVM, and ms of the warm-up after it. */
  startup?: { startMs: number; warmupMs: number };
  stop(): Promise<void>;
}

/** `dynalite` (default) or `dynamodb-local` (Amazon's, Java 17+, behind a counting proxy). */
export type DynamoEngineKind = 'dynalite' | 'dynamodb-local';

export async function startDynamo(kind: DynamoEngineKind = 'dynalite'): Promise<DynamoEngine> {
  const script = kind === 'dynalite' ? './dynalite-engine.ts' : './dynamodb-local-engine.ts';
  const file = fileURLToPath(new URL(script, import.meta.url));
  // A JVM start takes 5-7 s, 10-30 s on a busy machine, plus the engine's warm-up (≤ 30 s).
  const readyTimeoutMs = kind === 'dynalite' ? undefined : 240_000;
  const { child, ready } = await Child.start(file, {
    name: kind,
    ...(readyTimeoutMs ? { readyTimeoutMs } : {}),
  });
  return {
    endpoint: `http://127.0.0.1:${ready.port as number}`,
    counts: async () => (await child.ask('counts')).counts as Record<string, number>,
    stop: () => child.stop(),
    ...(kind === 'dynamodb-local'
      ? {
          // Apps started in 3-15 s on a warm engine with the machine's load average at 15.
          appReadyTimeoutMs: 120_000,
          directEndpoint: `http://127.0.0.1:${ready.directPort as number}`,
          startup: { startMs: ready.startMs as number, warmupMs: ready.warmupMs as number },
        }
      : {}),
  };
}

export interface RedisEngine {
  url: string;
  version: string;
  /** Whether the server is ours alone (commandstats deltas then count only our calls). */
  private: boolean;
  /** `INFO commandstats`: calls per command (lower case), since the server started. */
  commandStats(): Promise<Record<string, number>>;
  /** Deletes every key under `prefix` (for a shared server). */
  clear(prefix: string): Promise<void>;
  stop(): Promise<void>;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export function redisServerAvailable(): boolean {
  return spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status === 0;
}

/** A private redis-server on a free loopback port (no persistence), or the server at `url`. */
export async function startRedis(url?: string): Promise<RedisEngine> {
  let proc: ChildProcess | undefined;
  let target = url;
  if (!target) {
    const port = await freePort();
    proc = spawn(
      'redis-server',
      [
        '--port',
        String(port),
        '--bind',
        '127.0.0.1',
        '--save',
        '',
        '--appendonly',
        'no',
        '--loglevel',
        'warning',
      ],
      { stdio: 'ignore' },
    );
    target = `redis://127.0.0.1:${port}`;
    // The runner going away (even on an error or a signal) takes its private server with it.
    const child = proc;
    process.once('exit', () => child.kill('SIGKILL'));
  }
  const client = createClient({ url: target, socket: { reconnectStrategy: false, connectTimeout: 1_000 } });
  client.on('error', () => {});
  // Wait for the server by polling, never a fixed sleep.
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      await client.connect();
      break;
    } catch (err) {
      if (Date.now() > deadline) {
        proc?.kill('SIGKILL');
        throw new Error(`Redis did not answer on ${target}: ${(err as Error).message}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  const info = await client.info('server');
  const version = /redis_version:(\S+)/.exec(info)?.[1] ?? 'unknown';
  return {
    url: target,
    version,
    private: proc !== undefined,
    async commandStats() {
      const text = await client.info('commandstats');
      const out: Record<string, number> = {};
      for (const m of text.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) out[m[1] as string] = Number(m[2]);
      return out;
    },
    async clear(prefix) {
      for await (const keys of client.scanIterator({ MATCH: `${prefix}*`, COUNT: 1000 })) {
        if (keys.length > 0) await client.del(keys);
      }
    },
    async stop() {
      await client.quit().catch(() => {});
      if (proc && proc.exitCode === null) {
        const exited = new Promise((r) => proc.once('exit', r));
        proc.kill('SIGTERM');
        await exited;
      }
    },
  };
}
