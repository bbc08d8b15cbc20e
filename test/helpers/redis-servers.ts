/**
 * Throwaway redis-server processes on free loopback ports, for tests that stop, restart or
 * cluster Redis (never the shared server on 6379). Each owns a temp directory, removed on stop.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

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

async function until(what: string, check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
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
