/**
 * The cluster demo (`baton demo`, `npm start`): the embedded DynamoDB engine, two clusters of three
 * instances each, and a load balancer serving the page and both APIs on one port.
 *
 * - shared: sessions in DynamoDB (dynalite, data under `dataDir`), round-robin over live instances.
 * - sticky: sessions in each instance's own memory, pinned by a cookie, for contrast.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError } from '../core/errors.js';
import { DynamoDBStore, type LocalDynamo, startLocalDynamo } from '../stores/dynamodb/index.js';
import { createBalancer } from './balancer.js';
import { localDynamoClient } from './dynamo-client.js';
import { Cluster } from './supervisor.js';

export const DEMO_TABLE = 'baton-demo-sessions';
/** The shared cluster's instances (sessions in DynamoDB). */
export const SHARED_NAMES = ['app-1', 'app-2', 'app-3'] as const;
/** The sticky cluster's instances (sessions in their own memory). */
export const STICKY_NAMES = ['sticky-1', 'sticky-2', 'sticky-3'] as const;
/** How often the parent deletes expired sessions: dynalite has no TTL deleter. */
const GC_EVERY_MS = 10 * 60_000;

export interface DemoOptions {
  /**
   * Port of the balancer (the page and both APIs); 0 picks a free one (see `url`).
   * @default 3000
   */
  port?: number;
  /**
   * Interface the balancer listens on. The instances and the engine stay on 127.0.0.1.
   * @default '127.0.0.1'
   */
  host?: string;
  /**
   * Directory for the engine's data and the session secret, created on first run and reused after.
   * @default '.baton/demo'
   */
  dataDir?: string;
  /**
   * Keep the engine's data in memory: nothing is written to disk, and nothing is kept.
   * @default false
   */
  memory?: boolean;
  /**
   * Seconds before a killed instance is started again.
   * @default 3
   */
  restartDelay?: number;
  /** Progress and events. @default console.log */
  log?: (line: string) => void;
}

export interface RunningDemo {
  /** The page, e.g. `http://127.0.0.1:3000/`. */
  readonly url: string;
  readonly shared: Cluster;
  readonly sticky: Cluster;
  /** Where the engine keeps its data, or null in memory. */
  readonly dataDir: string | null;
  /** Sessions already in the table at start (kept from the last run). */
  readonly sessionsAtStart: number;
  /** Stops the balancer, every instance (none is restarted) and the engine. Idempotent. */
  stop(): Promise<void>;
}

/** The session secret: kept in the data directory so cookies stay valid across restarts. */
function loadSecret(dataDir: string | null): string {
  if (process.env.SESSION_SECRET) return process.env.SESSION_SECRET;
  if (dataDir === null) return randomBytes(32).toString('base64url');
  const file = join(dataDir, 'secret');
  try {
    return readFileSync(file, 'utf8').trim();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const secret = randomBytes(32).toString('base64url');
  writeFileSync(file, `${secret}\n`, { mode: 0o600, flag: 'wx' });
  return secret;
}

/**
 * One demo per data directory: the engine's LevelDB files take one process. A lock file naming our
 * pid says so up front instead of the engine failing later; a stale one (its process gone) is taken.
 */
function lockDataDir(dataDir: string): () => Promise<void> {
  const file = join(dataDir, 'demo.pid');
  try {
    writeFileSync(file, `${process.pid}\n`, { flag: 'wx' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    const pid = Number(readFileSync(file, 'utf8').trim());
    if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && isAlive(pid)) {
      throw new ConfigError(
        'dataDir',
        `another demo (pid ${pid}) is using ${dataDir}: stop it, or pass another --data directory or --memory`,
      );
    }
    writeFileSync(file, `${process.pid}\n`);
  }
  return async () => rmSync(file, { force: true });
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function listen(server: Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => {
      reject(
        err.code === 'EADDRINUSE'
          ? new Error(`port ${port} on ${host} is in use: set PORT (or --port) to another one`)
          : err,
      );
    };
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

export async function startDemo(options: DemoOptions = {}): Promise<RunningDemo> {
  const port = options.port ?? 3000;
  const host = options.host ?? '127.0.0.1';
  const memory = options.memory ?? false;
  const restartDelay = options.restartDelay ?? 3;
  const log = options.log ?? ((line: string) => console.log(line));
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new ConfigError('port', `must be a TCP port (0-65535; 0 picks a free one), got ${String(port)}`);
  }
  if (typeof restartDelay !== 'number' || !Number.isFinite(restartDelay) || restartDelay < 0) {
    throw new ConfigError('restartDelay', `must be a number of seconds >= 0, got ${String(restartDelay)}`);
  }
  const dataDir = memory ? null : (options.dataDir ?? '.baton/demo');
  if (dataDir !== null) mkdirSync(dataDir, { recursive: true });

  // Everything started so far, stopped in reverse on failure or on `stop()`.
  const cleanups: (() => Promise<void>)[] = [];
  const stopAll = async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => {});
  };

  try {
    if (dataDir !== null) cleanups.push(lockDataDir(dataDir));
    const secret = loadSecret(dataDir);
    const engine: LocalDynamo = await startLocalDynamo(
      dataDir === null ? { port: 0, memory: true } : { port: 0, path: join(dataDir, 'dynamodb') },
    );
    cleanups.push(() => engine.close());

    const store = new DynamoDBStore({
      tableName: DEMO_TABLE,
      client: await localDynamoClient(engine.endpoint),
      // dynalite has no TTL deleter; the gc below does the deleting, so the warning is no news here.
      onWarning: () => {},
    });
    cleanups.push(() => store.close());
    await store.ensureTable();
    const gc = () => {
      store.gc().then(
        ({ deleted }) => {
          if (deleted > 0) log(`gc: deleted ${deleted} expired sessions`);
        },
        (err: unknown) => log(`gc failed: ${(err as Error).message}`),
      );
    };
    let sessionsAtStart = 0;
    for await (const _ of store.scan()) sessionsAtStart++;
    gc();
    const gcTimer = setInterval(gc, GC_EVERY_MS).unref();
    cleanups.push(async () => clearInterval(gcTimer));

    const common = { secret, host: '127.0.0.1', restartDelayMs: restartDelay * 1000, log };
    const shared = new Cluster({
      ...common,
      kind: 'shared',
      names: SHARED_NAMES,
      store: { kind: 'dynamodb', endpoint: engine.endpoint, tableName: DEMO_TABLE },
      cookie: { name: 'sid', path: '/' },
    });
    const sticky = new Cluster({
      ...common,
      kind: 'sticky',
      names: STICKY_NAMES,
      store: { kind: 'memory' },
      // Its own cookie name and path, so the two clusters' sessions never meet.
      cookie: { name: 'sticky_sid', path: '/sticky' },
    });
    cleanups.push(
      () => shared.stop(),
      () => sticky.stop(),
    );
    await Promise.all([shared.start(), sticky.start()]);

    const balancer = createBalancer({
      shared,
      sticky,
      publicDir: fileURLToPath(new URL('./public/', import.meta.url)),
      restartDelayMs: restartDelay * 1000,
      log,
    });
    const bound = await listen(balancer, port, host);
    cleanups.push(
      () =>
        new Promise<void>((resolve) => {
          balancer.closeAllConnections();
          balancer.close(() => resolve());
        }),
    );

    const urlHost = host.includes(':') ? `[${host}]` : host;
    let stopping: Promise<void> | undefined;
    return {
      url: `http://${urlHost}:${bound}/`,
      shared,
      sticky,
      dataDir,
      sessionsAtStart,
      stop() {
        // The instances first, so that none of them is reported as restarting: a signal to the whole
        // process group (a terminal, a supervisor) reaches them as soon as it reaches us.
        stopping ??= Promise.all([shared.stop(), sticky.stop()]).then(stopAll);
        return stopping;
      },
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}
