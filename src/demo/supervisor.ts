/**
 * The demo's process management: each instance is a forked child process. A child that dies (or is
 * killed from the page) is started again after `restartDelayMs`; `stop()` ends every child and
 * restarts none. Children also exit by themselves when the IPC channel to this process closes.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import {
  type ClusterKind,
  type InstanceConfig,
  type InstanceStoreConfig,
  isInstanceReady,
} from './messages.js';

/** How long a child gets to exit after SIGTERM before it is killed. */
const STOP_GRACE_MS = 3_000;

// Under tsx (tests, development) this file is instance.ts's sibling `.ts`; in the build, `.js`.
const INSTANCE_SCRIPT = fileURLToPath(
  new URL(`./instance${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`, import.meta.url),
);

export interface ClusterOptions {
  kind: ClusterKind;
  /** Instance names, e.g. `app-1`. */
  names: readonly string[];
  store: InstanceStoreConfig;
  secret: string;
  cookie: { name: string; path: string };
  /** Interface the instances listen on. */
  host: string;
  /** Pause before a dead instance is started again. */
  restartDelayMs: number;
  log: (line: string) => void;
}

/**
 * Where an instance is in its life, the one vocabulary the page shows for both clusters:
 * `up` serves requests; `down` has died and waits for its restart (`restartAt`); `starting` has a
 * new process that does not serve yet.
 */
export type InstancePhase = 'up' | 'down' | 'starting';

export interface InstanceStatus {
  name: string;
  alive: boolean;
  phase: InstancePhase;
  /** Times the instance was started again after it died. */
  restarts: number;
  /** When it comes back, for a dead instance (ms since epoch). */
  restartAt: number | null;
  /** Its process id, while it runs. */
  pid: number | null;
}

/** One instance: a child process, started again whenever it dies, until `stop()`. */
export class DemoInstance {
  readonly name: string;
  #port: number | undefined;
  #child: ChildProcess | undefined;
  #restarts = 0;
  #restartAt: number | null = null;
  #restartTimer: NodeJS.Timeout | undefined;
  #stopped = false;
  readonly #config: InstanceConfig;
  readonly #options: ClusterOptions;

  constructor(name: string, options: ClusterOptions) {
    this.name = name;
    this.#options = options;
    this.#config = {
      type: 'config',
      name,
      cluster: options.kind,
      store: options.store,
      secret: options.secret,
      cookie: options.cookie,
      host: options.host,
    };
  }

  /** The port it serves on, while alive. */
  get port(): number | undefined {
    return this.#port;
  }

  get alive(): boolean {
    return this.#port !== undefined;
  }

  status(): InstanceStatus {
    return {
      name: this.name,
      alive: this.alive,
      phase: this.#phase(),
      restarts: this.#restarts,
      restartAt: this.#restartAt,
      pid: this.alive ? (this.#child?.pid ?? null) : null,
    };
  }

  #phase(): InstancePhase {
    if (this.alive) return 'up';
    // A process without a pending restart is one started and not serving yet.
    return !this.#stopped && this.#restartAt === null && this.#child ? 'starting' : 'down';
  }

  /** Forks the child; resolves once it serves, rejects if it dies first. */
  start(): Promise<void> {
    this.#restartAt = null;
    const child = fork(INSTANCE_SCRIPT, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    this.#child = child;
    return new Promise<void>((resolve, reject) => {
      child.on('message', (message: unknown) => {
        if (!isInstanceReady(message)) return;
        this.#port = message.port;
        resolve();
      });
      child.once('error', (err) => {
        this.#options.log(`${this.name}: ${err.message}`);
      });
      child.once('exit', (code, signal) => {
        this.#port = undefined;
        if (this.#child === child) this.#child = undefined;
        reject(new Error(`instance ${this.name} exited before it was ready (${signal ?? `code ${code}`})`));
        if (this.#stopped) return;
        this.#options.log(
          `${this.name} is down (${signal ?? `exit code ${code}`}); it restarts in ${this.#options.restartDelayMs / 1000} s`,
        );
        this.#scheduleRestart();
      });
      child.send(this.#config);
    });
  }

  #scheduleRestart(): void {
    this.#restartAt = Date.now() + this.#options.restartDelayMs;
    this.#restartTimer = setTimeout(() => {
      this.#restartTimer = undefined;
      if (this.#stopped) return;
      this.#restarts++;
      this.start().then(
        () => this.#options.log(`${this.name} is back`),
        () => {
          // The exit handler has already scheduled the next attempt.
        },
      );
    }, this.#options.restartDelayMs);
  }

  /** Kills the process at once, as a crash would. False when it is not running. */
  kill(): boolean {
    if (!this.#child || !this.alive) return false;
    // Out of rotation now, and reported down with its restart time, before the exit event arrives.
    this.#port = undefined;
    this.#restartAt = Date.now() + this.#options.restartDelayMs;
    this.#child.kill('SIGKILL');
    return true;
  }

  /** Ends the process (SIGTERM, then SIGKILL after a grace period) and cancels any restart. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#restartTimer);
    this.#restartAt = null;
    const child = this.#child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
    await exited;
    clearTimeout(timer);
  }
}

/** A set of instances behind the balancer, picked round-robin among the live ones. */
export class Cluster {
  readonly kind: ClusterKind;
  readonly instances: readonly DemoInstance[];
  #next = 0;

  constructor(options: ClusterOptions) {
    this.kind = options.kind;
    this.instances = options.names.map((name) => new DemoInstance(name, options));
  }

  get(name: string | undefined): DemoInstance | undefined {
    return this.instances.find((i) => i.name === name);
  }

  /** The next live instance in turn, skipping the ones in `exclude` (already tried for this request). */
  pick(exclude: ReadonlySet<string> = new Set()): DemoInstance | undefined {
    const n = this.instances.length;
    for (let i = 0; i < n; i++) {
      const candidate = this.instances[(this.#next + i) % n];
      if (candidate?.alive && !exclude.has(candidate.name)) {
        this.#next = (this.#next + i + 1) % n;
        return candidate;
      }
    }
    return undefined;
  }

  status(): InstanceStatus[] {
    return this.instances.map((i) => i.status());
  }

  /** Starts every instance; rejects (after stopping them) if one fails to come up. */
  async start(): Promise<void> {
    try {
      await Promise.all(this.instances.map((i) => i.start()));
    } catch (err) {
      await this.stop();
      throw err;
    }
  }

  async stop(): Promise<void> {
    await Promise.all(this.instances.map((i) => i.stop()));
  }
}
