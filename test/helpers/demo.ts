/**
 * Runs `baton demo` as a subprocess on a free port (from the TypeScript sources through tsx), and
 * stops it. Used by the demo's API and browser tests.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';

const STARTUP_LIMIT_MS = 60_000;
const STOP_LIMIT_MS = 15_000;

export interface DemoProcess {
  /** The page, e.g. `http://127.0.0.1:41234/`, without the trailing slash. */
  readonly base: string;
  readonly child: ChildProcess;
  /** Everything it printed so far. */
  output(): string;
  /** Process ids of its instance processes right now (not tsx's compiler service). */
  instancePids(): number[];
  /** SIGTERM, then waits for the exit (SIGKILL after a limit). Resolves with the exit code. Idempotent. */
  stop(): Promise<number | null>;
}

export interface Reply {
  status: number;
  body: any;
  text: string;
  headers: Headers;
}

/**
 * A browser-like client for one user that keeps every cookie by name (the sticky cluster sets two:
 * its session cookie and the balancer's routing cookie). Paths are not tracked: the demo's cookie
 * names differ per cluster.
 */
export class CookieJar {
  readonly cookies = new Map<string, string>();
  /** Sent as User-Agent with every request, when set. */
  userAgent: string | undefined;

  async request(base: string, path: string, init: { method?: string; json?: unknown } = {}): Promise<Reply> {
    const headers: Record<string, string> = {};
    if (this.userAgent !== undefined) headers['user-agent'] = this.userAgent;
    if (this.cookies.size > 0) {
      headers.cookie = [...this.cookies].map(([name, value]) => `${name}=${value}`).join('; ');
    }
    if (init.json !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(base + path, {
      method: init.method ?? (init.json === undefined ? 'GET' : 'POST'),
      headers,
      body: init.json === undefined ? undefined : JSON.stringify(init.json),
    });
    for (const line of res.headers.getSetCookie()) {
      const pair = line.split(';')[0] ?? '';
      const at = pair.indexOf('=');
      const name = pair.slice(0, at);
      const value = pair.slice(at + 1);
      if (value === '' || /max-age=0|expires=thu, 01 jan 1970/i.test(line)) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
    const text = await res.text();
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {}
    return { status: res.status, body, text, headers: res.headers };
  }
}

/** Children of `pid` per /proc (Linux), or an empty list where /proc is missing. */
export function childPids(pid: number): number[] {
  if (!existsSync('/proc')) return [];
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      // Field 4 is the parent pid; the command name in field 2 may hold spaces, so split after ')'.
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) out.push(Number(name));
    } catch {
      // The process ended while we looked.
    }
  }
  return out;
}

export function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  // A zombie still answers signals; it has ended for our purpose.
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return true;
  }
}

/** Polls `check` every 50 ms until it returns true, or throws after `limitMs`. */
export async function waitFor(what: string, check: () => boolean | Promise<boolean>, limitMs = 15_000) {
  const deadline = Date.now() + limitMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${limitMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

export async function startDemoProcess(args: readonly string[]): Promise<DemoProcess> {
  const env = { ...process.env };
  delete env.PORT;
  delete env.HOST;
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', 'src/cli/main.ts', 'demo', '--port', '0', ...args],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
      env,
    },
  );
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  let exited: Promise<number | null> | undefined;
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));

  const stop = () => {
    exited ??= (async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), STOP_LIMIT_MS);
        const code = await exit;
        clearTimeout(timer);
        return code;
      }
      return child.exitCode;
    })();
    return exited;
  };

  try {
    await waitFor(
      'the demo to print its URL',
      () => {
        if (child.exitCode !== null || child.signalCode !== null) {
          throw new Error(
            `the demo exited (${child.exitCode ?? child.signalCode}) before it was up:\n${output}`,
          );
        }
        return /cluster demo: http:\/\/\S+/.test(output);
      },
      STARTUP_LIMIT_MS,
    );
  } catch (err) {
    await stop();
    throw err;
  }
  const url = /cluster demo: (http:\/\/\S+?)\/?\s/.exec(output)?.[1] as string;
  return {
    base: url,
    child,
    output: () => output,
    instancePids: () =>
      (child.pid === undefined ? [] : childPids(child.pid)).filter((pid) => {
        try {
          return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('demo/instance.');
        } catch {
          return false;
        }
      }),
    stop,
  };
}
