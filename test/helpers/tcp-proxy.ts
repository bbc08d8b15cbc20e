/**
 * A loopback TCP proxy for fault tests, in front of a real engine: it can add latency (with
 * jitter) to every chunk, stall (hold data forever, like Toxiproxy's `timeout 0`), cut every open
 * connection and refuse new ones (an outage without stopping the shared engine), heal, and reset
 * a connection right after it sent a request (Toxiproxy's `reset_peer`: an ambiguous write).
 */
import { connect, createServer, type Server, type Socket } from 'node:net';

export interface ProxyOptions {
  /** Where the engine listens. */
  targetPort: number;
  targetHost?: string;
}

/**
 * `'before-reply'`: the request reaches the engine, which runs it; its reply is dropped and both
 * sides are reset (the write applied, the caller never told). `'after-send'`: the request is
 * handed to the engine's socket and both sides are reset at once (the engine may or may not have
 * read it).
 */
export type ResetMode = 'before-reply' | 'after-send';

export class TcpProxy {
  readonly #target: { port: number; host: string };
  readonly #pairs = new Set<[Socket, Socket]>();
  #server: Server | undefined;
  #port = 0;
  #down = false;
  /** Resolved while data flows; a pending promise while stalled. */
  #gate: Promise<void> = Promise.resolve();
  #release: (() => void) | undefined;
  #latency = { ms: 0, jitterMs: 0 };
  #resetArmed: ResetMode | undefined;
  #onReset: (() => void) | undefined;

  constructor(options: ProxyOptions) {
    this.#target = { port: options.targetPort, host: options.targetHost ?? '127.0.0.1' };
  }

  get port(): number {
    return this.#port;
  }

  async start(): Promise<number> {
    const server = createServer((client) => this.#accept(client));
    this.#server = server;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    this.#port = (server.address() as { port: number }).port;
    return this.#port;
  }

  /** Every chunk waits `ms` ± `jitterMs` before it is passed on (order kept per direction). */
  latency(ms: number, jitterMs = 0): void {
    this.#latency = { ms, jitterMs };
  }

  /**
   * Data is accepted and held, never passed on, until `heal()` releases it in order (a network
   * stall with TCP keeping the bytes; nothing is dropped mid-stream, which TCP never does).
   */
  stall(): void {
    if (this.#release) return;
    this.#gate = new Promise<void>((resolve) => {
      this.#release = resolve;
    });
  }

  /** Resets every open connection and refuses new ones, until `heal()`. */
  cut(): void {
    this.#down = true;
    for (const [a, b] of this.#pairs) {
      a.resetAndDestroy();
      b.resetAndDestroy();
    }
    this.#pairs.clear();
  }

  /**
   * The next chunk any client sends is passed on, then its connection is reset (both sides) as
   * `mode` says. Once: later chunks flow as usual. Resolves when the reset happened.
   */
  resetAfterSend(mode: ResetMode = 'before-reply'): Promise<void> {
    this.#resetArmed = mode;
    return new Promise<void>((resolve) => {
      this.#onReset = resolve;
    });
  }

  heal(): void {
    this.#down = false;
    this.#release?.();
    this.#release = undefined;
    this.#gate = Promise.resolve();
    this.#latency = { ms: 0, jitterMs: 0 };
  }

  async close(): Promise<void> {
    this.cut();
    await new Promise<void>((resolve) => (this.#server ? this.#server.close(() => resolve()) : resolve()));
  }

  #accept(client: Socket): void {
    if (this.#down) {
      client.resetAndDestroy();
      return;
    }
    const upstream = connect(this.#target);
    const pair: [Socket, Socket] = [client, upstream];
    this.#pairs.add(pair);
    const end = () => {
      this.#pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
    // Set when a request was passed on under `resetAfterSend('before-reply')`: its reply is dropped.
    const dropReply = { armed: false };
    const reset = () => {
      this.#pairs.delete(pair);
      client.resetAndDestroy();
      upstream.resetAndDestroy();
      const done = this.#onReset;
      this.#onReset = undefined;
      done?.();
    };
    this.#pipe(client, upstream, (chunk) => {
      const mode = this.#resetArmed;
      if (!mode) return false;
      this.#resetArmed = undefined;
      if (mode === 'before-reply') {
        dropReply.armed = true;
        upstream.write(chunk);
      } else upstream.write(chunk, reset);
      return true;
    });
    this.#pipe(upstream, client, () => {
      if (!dropReply.armed) return false;
      reset();
      return true;
    });
  }

  /** `intercept` may take a chunk over (returns true) instead of it being passed on. */
  #pipe(from: Socket, to: Socket, intercept: (chunk: Buffer) => boolean = () => false): void {
    // Chunks leave in order: each waits for its own delay, and for the one before it.
    let last = Promise.resolve();
    from.on('data', (chunk) => {
      const { ms, jitterMs } = this.#latency;
      const delay = Math.max(0, ms + (Math.random() * 2 - 1) * jitterMs);
      const due =
        delay === 0 ? Promise.resolve() : new Promise<void>((resolve) => setTimeout(resolve, delay).unref());
      last = Promise.all([last, due])
        .then(() => this.#gate)
        .then(() => {
          if (!to.destroyed && !intercept(chunk)) to.write(chunk);
        });
    });
  }
}
