/** A throwaway memcached process on a free loopback port, for tests that stop and restart it. */
import { type ChildProcess, spawn } from 'node:child_process';
import { reachable } from './services.js';

const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

export class MemcachedServer {
  readonly port: number;
  readonly #extra: string[];
  #child: ChildProcess | undefined;

  constructor(port: number, extra: string[] = []) {
    this.port = port;
    this.#extra = extra;
  }

  async start(): Promise<void> {
    const root = process.getuid?.() === 0 ? ['-u', 'root'] : [];
    const child = spawn(
      'memcached',
      ['-l', '127.0.0.1', '-p', String(this.port), '-U', '0', ...root, ...this.#extra],
      {
        stdio: 'ignore',
      },
    );
    running.add(child);
    child.once('exit', () => running.delete(child));
    this.#child = child;
    const deadline = Date.now() + 10_000;
    while (!(await reachable(this.port, '127.0.0.1', 200))) {
      if (Date.now() > deadline || child.exitCode !== null)
        throw new Error(`memcached did not start on ${this.port}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
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
}
