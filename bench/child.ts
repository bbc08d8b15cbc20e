/**
 * A benchmark process (engine or app) started by the runner: TypeScript through tsx, talking
 * over IPC. `ask` sends a message and waits for the reply with the same `type`.
 */
import { type ChildProcess, fork } from 'node:child_process';

export interface Message {
  type: string;
  [field: string]: unknown;
}

const READY_TIMEOUT_MS = 30_000;
const ASK_TIMEOUT_MS = 120_000;

export class Child {
  readonly #proc: ChildProcess;
  readonly #waiting = new Map<string, Array<(m: Message) => void>>();
  #exited = false;
  /** The end of the process's stderr, for error messages. */
  stderr = '';
  readonly exited: Promise<number | null>;

  private constructor(proc: ChildProcess) {
    this.#proc = proc;
    proc.on('message', (m: Message) => {
      const list = this.#waiting.get(m.type);
      const next = list?.shift();
      if (next) next(m);
    });
    this.exited = new Promise((resolve) => {
      proc.once('exit', (code) => {
        this.#exited = true;
        resolve(code);
      });
    });
  }

  get pid(): number | undefined {
    return this.#proc.pid;
  }

  /** Starts `file` and waits for its `ready` message. */
  static async start(
    file: string,
    options: {
      args?: string[];
      env?: Record<string, string>;
      execArgv?: string[];
      name: string;
      readyTimeoutMs?: number;
    },
  ): Promise<{ child: Child; ready: Message }> {
    const proc = fork(file, options.args ?? [], {
      execArgv: [...(options.execArgv ?? []), '--import', 'tsx'],
      env: { ...process.env, ...options.env },
      stdio: ['ignore', 'inherit', 'pipe', 'ipc'],
    });
    const child = new Child(proc);
    proc.stderr?.on('data', (chunk: Buffer) => {
      child.stderr += chunk.toString();
      if (child.stderr.length > 20_000) child.stderr = child.stderr.slice(-10_000);
    });
    const ready = await Promise.race([
      child.next('ready', options.readyTimeoutMs ?? READY_TIMEOUT_MS),
      child.exited.then((code) => {
        throw new Error(`${options.name} exited (code ${code}) before it was ready:\n${child.stderr.trim()}`);
      }),
    ]);
    return { child, ready };
  }

  next(type: string, timeoutMs = ASK_TIMEOUT_MS): Promise<Message> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`no '${type}' message within ${timeoutMs} ms`)),
        timeoutMs,
      );
      const list = this.#waiting.get(type) ?? [];
      list.push((m) => {
        clearTimeout(timer);
        resolve(m);
      });
      this.#waiting.set(type, list);
    });
  }

  /** Sends `{ type, ...fields }` and resolves with the child's reply of the same type. */
  ask(type: string, fields: Record<string, unknown> = {}): Promise<Message> {
    const reply = this.next(type);
    this.#proc.send({ type, ...fields });
    return reply;
  }

  /** Stops the process (SIGTERM, then SIGKILL after 3 s) and waits for it to exit. */
  async stop(): Promise<void> {
    if (this.#exited) return;
    this.#proc.kill('SIGTERM');
    const timer = setTimeout(() => this.#proc.kill('SIGKILL'), 3_000);
    await this.exited;
    clearTimeout(timer);
  }
}
