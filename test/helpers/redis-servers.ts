/**
 * Throwaway redis-server processes on free loopback ports, for tests that stop, restart or
 * cluster Redis (never the shared server on 6379). Each owns a temp directory, removed on stop.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { TcpProxy } from './tcp-proxy.js';

const run = promisify(execFile);
const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

export async function hasBinary(name: string): Promise<boolean> {
  try {
    await run(name, ['--version']);
    return true;
  } catch {
    return false;
  }
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** A free port whose cluster bus port (port + 10000) is free too. */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = 20_000 + Math.floor(Math.random() * 30_000);
    if ((await portFree(port)) && (await portFree(port + 10_000))) return port;
  }
  throw new Error('no free port pair found');
}

/** Sends one inline command and resolves with the raw reply text (or '' on error). */
export function rawCommand(port: number, command: string, timeoutMs = 500): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    let text = '';
    const done = () => {
      socket.destroy();
      resolve(text);
    };
    socket.setTimeout(timeoutMs, done);
    socket.once('error', done);
    socket.once('connect', () => socket.write(`${command}\r\n`));
    socket.on('data', (chunk) => {
      text += chunk.toString();
      if (!text.startsWith('$')) {
        if (text.endsWith('\r\n')) done();
        return;
      }
      // A bulk string: `$<length>\r\n<bytes>\r\n`.
      const header = text.indexOf('\r\n');
      if (header > 0 && Buffer.byteLength(text) >= header + 2 + Number(text.slice(1, header)) + 2) done();
    });
  });
}

/** Polls `check` every 50 ms until it holds; fails after `timeoutMs`. */
export async function until(what: string, check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

export class RedisServer {
  readonly port: number;
  readonly dir: string;
  readonly #extra: string[];
  #child: ChildProcess | undefined;

  constructor(port: number, extra: string[] = []) {
    this.port = port;
    this.dir = mkdtempSync(join(tmpdir(), 'baton-redis-'));
    this.#extra = extra;
  }

  async start(): Promise<void> {
    const child = spawn(
      'redis-server',
      [
        '--port',
        String(this.port),
        '--bind',
        '127.0.0.1',
        '--dir',
        this.dir,
        '--save',
        '',
        '--appendonly',
        'no',
        '--daemonize',
        'no',
        ...this.#extra,
      ],
      { stdio: 'ignore' },
    );
    running.add(child);
    child.once('exit', () => running.delete(child));
    this.#child = child;
    await until(
      `redis-server on ${this.port}`,
      async () => (await rawCommand(this.port, 'PING')) === '+PONG\r\n',
      10_000,
    );
  }

  /** SIGKILL, as a crash would; resolves once the process is gone. */
  async kill(): Promise<void> {
    const child = this.#child;
    this.#child = undefined;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
  }

  async stop(): Promise<void> {
    await this.kill();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** A three-master Redis Cluster on free loopback ports, made with `redis-cli --cluster create`. */
export class RedisCluster {
  readonly servers: RedisServer[] = [];

  async start(): Promise<void> {
    for (let i = 0; i < 3; i++) {
      const port = await freePort();
      const server = new RedisServer(port, [
        '--cluster-enabled',
        'yes',
        '--cluster-config-file',
        `nodes-${port}.conf`,
      ]);
      this.servers.push(server);
      await server.start();
    }
    await run(
      'redis-cli',
      [
        '--cluster',
        'create',
        ...this.servers.map((s) => `127.0.0.1:${s.port}`),
        '--cluster-replicas',
        '0',
        '--cluster-yes',
      ],
      { timeout: 30_000 },
    );
    await until(
      'cluster_state:ok on every node',
      async () => {
        const infos = await Promise.all(this.servers.map((s) => rawCommand(s.port, 'CLUSTER INFO')));
        return infos.every((info) => info.includes('cluster_state:ok'));
      },
      20_000,
    );
  }

  get ports(): number[] {
    return this.servers.map((s) => s.port);
  }

  async stop(): Promise<void> {
    await Promise.all(this.servers.map((s) => s.stop()));
  }
}

export interface SentinelMonitor {
  /** The master's name that clients ask Sentinel for. */
  name: string;
  /** Port of the primary on 127.0.0.1 at start. */
  port: number;
  /** How long the primary must be unreachable before Sentinel calls it down. @default 500 */
  downAfterMs?: number;
  /** @default 5000 */
  failoverTimeoutMs?: number;
}

/**
 * One Redis Sentinel (quorum 1) on a free loopback port, from a config file in its own temp
 * directory (Sentinel rewrites that file as it learns the topology).
 */
export class SentinelServer {
  readonly port: number;
  readonly dir: string;
  readonly #monitor: SentinelMonitor;
  #child: ChildProcess | undefined;

  constructor(port: number, monitor: SentinelMonitor) {
    this.port = port;
    this.dir = mkdtempSync(join(tmpdir(), 'baton-sentinel-'));
    this.#monitor = monitor;
  }

  async start(): Promise<void> {
    const m = this.#monitor;
    const config = join(this.dir, 'sentinel.conf');
    writeFileSync(
      config,
      [
        `port ${this.port}`,
        'bind 127.0.0.1',
        'daemonize no',
        `dir ${this.dir}`,
        `sentinel monitor ${m.name} 127.0.0.1 ${m.port} 1`,
        `sentinel down-after-milliseconds ${m.name} ${m.downAfterMs ?? 500}`,
        `sentinel failover-timeout ${m.name} ${m.failoverTimeoutMs ?? 5000}`,
        `sentinel parallel-syncs ${m.name} 2`,
        '',
      ].join('\n'),
    );
    const child = spawn('redis-server', [config, '--sentinel'], { stdio: 'ignore' });
    running.add(child);
    child.once('exit', () => running.delete(child));
    this.#child = child;
    await until(
      `redis-sentinel on ${this.port}`,
      async () => (await rawCommand(this.port, 'PING')) === '+PONG\r\n',
      10_000,
    );
  }

  /** The port Sentinel currently names as the primary's (`SENTINEL get-master-addr-by-name`). */
  async primaryPort(): Promise<number | undefined> {
    const reply = await rawCommand(this.port, `SENTINEL get-master-addr-by-name ${this.#monitor.name}`);
    const port = reply.split('\r\n')[4];
    return port ? Number(port) : undefined;
  }

  /** How many replicas Sentinel knows that it considers up. */
  async replicasUp(): Promise<number> {
    const reply = await rawCommand(this.port, `SENTINEL replicas ${this.#monitor.name}`);
    const lines = reply.split('\r\n');
    let up = 0;
    for (let i = 0; i < lines.length; i++) {
      if (lines[i] === 'flags' && lines[i + 2] === 'slave') up++;
    }
    return up;
  }

  async stop(): Promise<void> {
    const child = this.#child;
    this.#child = undefined;
    if (child && child.exitCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      await exited;
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export interface ReplicaSetOptions {
  /** @default 1 */
  replicas?: number;
  /**
   * Replicas follow the primary through a loopback proxy that delays every chunk by this much
   * (a replica a few ms behind, as across zones). Bytes still held in the delay when the primary
   * dies are dropped with the link. @default 0 (replicas connect directly)
   */
  replicationDelayMs?: number;
  /** Replicas follow through the proxy even without a delay (to stall it in a test). */
  replicationProxy?: boolean;
  /** Sentinel's `down-after-milliseconds`. @default 500 */
  downAfterMs?: number;
  /**
   * Sentinel's `failover-timeout`. It is also how long Sentinel leaves a replica that follows
   * another address than the primary's (here: the delaying proxy) before it points it back at
   * the primary itself, so it must outlast the test. @default 60000
   */
  failoverTimeoutMs?: number;
}

/**
 * A primary, its replicas and one Sentinel watching them as `mymaster`, on free loopback
 * ports. `start()` returns once every replica is in sync and Sentinel knows them all.
 */
export class RedisReplicaSet {
  readonly name = 'mymaster';
  primary!: RedisServer;
  readonly replicas: RedisServer[] = [];
  sentinel!: SentinelServer;
  readonly #options: ReplicaSetOptions;
  #link: TcpProxy | undefined;

  constructor(options: ReplicaSetOptions = {}) {
    this.#options = options;
  }

  /** The replication link (when `replicationDelayMs` is set), to stall or cut in tests. */
  get link(): TcpProxy | undefined {
    return this.#link;
  }

  async start(): Promise<void> {
    // Full syncs start at once instead of after the default 5 s diskless-sync delay.
    const fast = ['--repl-diskless-sync-delay', '0'];
    this.primary = new RedisServer(await freePort(), fast);
    await this.primary.start();
    let upstream = this.primary.port;
    if (this.#options.replicationDelayMs || this.#options.replicationProxy) {
      this.#link = new TcpProxy({ targetPort: this.primary.port });
      upstream = await this.#link.start();
      this.#link.latency(this.#options.replicationDelayMs ?? 0);
    }
    for (let i = 0; i < (this.#options.replicas ?? 1); i++) {
      const replica = new RedisServer(await freePort(), [
        ...fast,
        '--replicaof',
        '127.0.0.1',
        String(upstream),
      ]);
      this.replicas.push(replica);
      await replica.start();
    }
    const count = this.replicas.length;
    await until(
      `${count} replicas online`,
      async () =>
        (await rawCommand(this.primary.port, 'INFO replication')).split('state=online').length === count + 1,
      15_000,
    );
    this.sentinel = new SentinelServer(await freePort(), {
      name: this.name,
      port: this.primary.port,
      downAfterMs: this.#options.downAfterMs ?? 500,
      failoverTimeoutMs: this.#options.failoverTimeoutMs ?? 60_000,
    });
    await this.sentinel.start();
    await until(
      'Sentinel knows every replica',
      async () => (await this.sentinel.replicasUp()) === count,
      15_000,
    );
  }

  /** Kills every process and closes the link; safe to call on a half-started set. */
  async stop(): Promise<void> {
    await this.sentinel?.stop();
    await this.#link?.close();
    await Promise.all(this.replicas.map((r) => r.stop()));
    await this.primary?.stop();
  }
}
