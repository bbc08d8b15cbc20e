/**
 * The package as a user gets it: `npm pack` of this checkout, installed into a fresh `npm init -y`
 * app in a temporary directory, with other packages from the registry (or npm's cache). `npm pack`
 * runs with --ignore-scripts, so it packs the dist/ that `npm test` built first.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join, resolve } from 'node:path';

export const ROOT = resolve(import.meta.dirname, '../..');

/** The environment for npm, npx and node children: this Node first on PATH, no test-runner context. */
export function childEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const { NODE_TEST_CONTEXT: _, NODE_OPTIONS: __, ...env } = process.env;
  return {
    ...env,
    PATH: `${dirname(process.execPath)}${delimiter}${env.PATH ?? ''}`,
    npm_config_audit: 'false',
    npm_config_fund: 'false',
    npm_config_update_notifier: 'false',
    npm_config_prefer_offline: 'true',
    ...extra,
  };
}

export function run(
  command: string,
  args: readonly string[],
  cwd: string,
  options: { env?: Record<string, string>; timeoutMs?: number } = {},
): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(command, args, {
    cwd,
    env: childEnv(options.env),
    encoding: 'utf8',
    timeout: options.timeoutMs ?? 240_000,
  });
  if (result.error) throw result.error;
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

function mustRun(command: string, args: readonly string[], cwd: string, timeoutMs?: number): string {
  const result = run(command, args, cwd, timeoutMs === undefined ? {} : { timeoutMs });
  if (result.status !== 0) {
    throw new Error(
      `${command} ${args.join(' ')} failed (${result.status}):\n${result.stderr}${result.stdout}`,
    );
  }
  return result.stdout;
}

export interface Packed {
  /** Absolute path of the .tgz. */
  tarball: string;
  /** The temporary directory holding it and any apps made with `appDir`; removed by `cleanup()`. */
  dir: string;
  /** npm's report of the pack: files, sizes. */
  info: { size: number; unpackedSize: number; entryCount: number; files: { path: string; size: number }[] };
  cleanup(): void;
}

export function pack(): Packed {
  if (!existsSync(join(ROOT, 'dist/index.js'))) {
    throw new Error('dist/ is not built: run `npm run build` first (npm test does)');
  }
  const dir = mkdtempSync(join(tmpdir(), 'baton-packed-'));
  const out = mustRun(
    'npm',
    ['pack', '--ignore-scripts', '--json', '--pack-destination', dir],
    ROOT,
    120_000,
  );
  const info = (JSON.parse(out) as (Packed['info'] & { filename: string })[])[0];
  if (!info) throw new Error(`npm pack printed no report: ${out}`);
  return {
    tarball: join(dir, info.filename),
    dir,
    info,
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** A fresh `npm init -y` app under `packed.dir` with the tarball and `packages` installed. */
export function installApp(packed: Packed, name: string, packages: readonly string[]): string {
  const app = join(packed.dir, name);
  mkdirSync(app);
  mustRun('npm', ['init', '-y'], app);
  mustRun('npm', ['install', packed.tarball, ...packages], app);
  return app;
}

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const { port } = server.address() as { port: number };
  await new Promise<void>((ok) => server.close(() => ok()));
  return port;
}

/** Polls until something accepts connections on the port (bounded). */
export async function waitForPort(port: number, limitMs = 30_000): Promise<void> {
  const deadline = Date.now() + limitMs;
  for (;;) {
    const open = await new Promise<boolean>((ok) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        ok(true);
      });
      socket.once('error', () => ok(false));
    });
    if (open) return;
    if (Date.now() > deadline) throw new Error(`nothing listened on port ${port} within ${limitMs} ms`);
    await new Promise((ok) => setTimeout(ok, 100));
  }
}

export type Background = ChildProcess & { output: () => string };

/**
 * A long-running child (an engine, an app instance) in its own process group, so that `stop` ends
 * what it started too (`npx` runs the command as its child).
 */
export function background(
  command: string,
  args: readonly string[],
  cwd: string,
  env: Record<string, string> = {},
): Background {
  const child = spawn(command, args, {
    cwd,
    env: childEnv(env),
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let output = '';
  child.stdout?.on('data', (chunk) => {
    output += chunk;
  });
  child.stderr?.on('data', (chunk) => {
    output += chunk;
  });
  return Object.assign(child, { output: () => output });
}

/** Ends a `background` child and its process group; resolves once it has exited. */
export async function stop(child: Background | undefined): Promise<void> {
  if (!child || child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((ok) => child.once('exit', ok));
  try {
    process.kill(-child.pid, 'SIGTERM');
  } catch {
    return;
  }
  const timer = setTimeout(() => {
    try {
      process.kill(-(child.pid as number), 'SIGKILL');
    } catch {}
  }, 5_000);
  await exited;
  clearTimeout(timer);
}
