/** TypeScript fixtures run as child processes (for SIGKILL faults): start, wait for a line, kill. */
import { type ChildProcess, spawn } from 'node:child_process';

const children = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of children) child.kill('SIGKILL');
});

export interface Child {
  process: ChildProcess;
  /** Resolves with the first stdout line matching `pattern` (polls the stream, no fixed sleeps). */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<RegExpExecArray>;
  /** SIGKILL; resolves once the process is gone. */
  kill(): Promise<void>;
}

/** `wrapper`: a command the fixture runs under, e.g. `['faketime', '-f', '-12s']` for a skewed clock. */
export function startFixture(file: string, env: Record<string, string>, wrapper: string[] = []): Child {
  const argv = [...wrapper, process.execPath, '--import', 'tsx', file];
  const child = spawn(argv[0] as string, argv.slice(1), {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  child.once('exit', () => children.delete(child));
  let out = '';
  let err = '';
  const waiters: (() => void)[] = [];
  child.stdout?.on('data', (c) => {
    out += c;
    for (const w of waiters.splice(0)) w();
  });
  child.stderr?.on('data', (c) => {
    err += c;
  });
  return {
    process: child,
    waitFor(pattern, timeoutMs = 20_000) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`${file}: no ${pattern} within ${timeoutMs} ms; stderr: ${err}`)),
          timeoutMs,
        );
        const check = () => {
          const m = pattern.exec(out);
          if (m) {
            clearTimeout(timer);
            resolve(m);
          } else if (child.exitCode !== null) {
            clearTimeout(timer);
            reject(new Error(`${file} exited (${child.exitCode}); stderr: ${err}`));
          } else waiters.push(check);
        };
        check();
      });
    },
    async kill() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const gone = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      await gone;
    },
  };
}
