/**
 * Runs the `baton` command as a user would: a separate Node process, arguments and environment in,
 * exit code and output back. `startLocal()` runs `baton local --memory` on a free loopback port.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const SOURCE = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));
const BUILT = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(path) : statSync(path).mtimeMs);
  }
  return newest;
}

/**
 * The built CLI (`npm run build`) when it is newer than every source file, as a user runs it;
 * otherwise the sources through tsx, so a stale build is never what is tested.
 */
const COMMAND: string[] = (() => {
  try {
    if (statSync(BUILT).mtimeMs > newestMtime(join(ROOT, 'src'))) return [BUILT];
  } catch {
    // not built
  }
  return ['--import', 'tsx', SOURCE];
})();

export interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** `baton ...args` in a child process; BATON_STORE is unset unless `env` sets it. */
export function baton(args: string[], env: Record<string, string | undefined> = {}): Promise<Result> {
  const childEnv: Record<string, string | undefined> = { ...process.env, BATON_STORE: undefined, ...env };
  for (const [k, v] of Object.entries(childEnv)) if (v === undefined) delete childEnv[k];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...COMMAND, ...args], {
      cwd: ROOT,
      env: childEnv as NodeJS.ProcessEnv,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** `baton ...args` as a running child process (stdout and stderr piped), for long-running commands. */
export function spawnBaton(args: string[]): ChildProcess {
  return spawn(process.execPath, [...COMMAND, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Parses stdout as JSON, with the output in the message when it is not. */
export function json<T = any>(result: Result): T {
  try {
    return JSON.parse(result.stdout) as T;
  } catch {
    throw new Error(`stdout is not JSON (exit ${result.code}):\n${result.stdout}\nstderr:\n${result.stderr}`);
  }
}

export interface LocalEngine {
  endpoint: string;
  /** A `dynamodb://` URL for `table` on this engine. */
  store(table: string): string;
  /** The `baton local` process (undefined for an engine this test did not start). */
  child: ChildProcess | undefined;
  /** Sends `signal` (SIGINT by default) and resolves with how the process ended. */
  stop(signal?: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/**
 * `baton local --port 0 --json` plus `storage` (`--memory` unless told otherwise, e.g.
 * `['--path', dir]`), resolved when it prints its endpoint. `engine` picks `--engine`; DynamoDB
 * Local (a JVM) may take much longer to answer than dynalite on a busy machine.
 */
export function startLocal(
  storage: string[] = ['--memory'],
  engine: 'dynalite' | 'dynamodb-local' = 'dynalite',
): Promise<LocalEngine> {
  const waitMs = engine === 'dynalite' ? 30_000 : 150_000;
  const args = ['local', '--engine', engine, '--port', '0', '--json', ...storage];
  const child = spawn(process.execPath, [...COMMAND, ...args], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });
  child.stderr.setEncoding('utf8').on('data', (d: string) => {
    stderr += d;
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`baton local printed no endpoint within ${waitMs / 1000} s; stderr:\n${stderr}`));
    }, waitMs);
    void exited.then(({ code }) => {
      clearTimeout(timer);
      reject(new Error(`baton local exited with ${code} before printing its endpoint; stderr:\n${stderr}`));
    });
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
      const line = stdout.split('\n')[0];
      if (!stdout.includes('\n') || line === undefined) return;
      clearTimeout(timer);
      const info = JSON.parse(line) as { endpoint: string };
      resolve({
        endpoint: info.endpoint,
        store: (table) => `dynamodb://${table}?endpoint=${info.endpoint}&region=us-east-1`,
        child,
        async stop(signal: NodeJS.Signals = 'SIGINT') {
          child.kill(signal);
          return exited;
        },
      });
    });
  });
}
