import type { ServerResponse } from 'node:http';

export interface HoldHooks<T> {
  /** Runs once, before any header or body byte leaves. */
  commit: () => Promise<T>;
  /** Adds headers from the commit's result (headers are still unsent). */
  apply: (result: T) => void;
  /** The commit failed: the held output is dropped, and this produces the error response. */
  fail: (err: unknown) => void;
}

/** What `holdResponse` tells its caller. */
export interface Held {
  /** True once output began and the commit started: from then on the commit decides the response. */
  readonly started: boolean;
  /** True once `end()` was called: the held response is complete and goes out after the commit. */
  readonly ended: boolean;
}

type Method = 'writeHead' | 'write' | 'end';
type Output = (this: ServerResponse, ...args: unknown[]) => unknown;
type HeldResponse = ServerResponse;

/**
 * Held responses. The replacement methods are shared functions that find their hold here: holding
 * a response allocates one object and a queue, not a set of closures, and adds no property to the
 * response beyond the methods it replaces (on Express, each property added to a response
 * object costs microseconds, and this runs on every request).
 */
const holds = new WeakMap<ServerResponse, Hold<unknown>>();

/** One held response. */
class Hold<T> implements Held {
  started = false;
  ended = false;
  readonly #res: HeldResponse;
  readonly #hooks: HoldHooks<T>;
  readonly #writeHead: Output;
  readonly #write: Output;
  readonly #end: Output;
  readonly #flushHeaders: Output;
  /** Calls made while the commit runs, replayed in order: method, then its arguments. */
  readonly #queue: Array<Method | unknown[]> = [];

  constructor(res: HeldResponse, hooks: HoldHooks<T>) {
    this.#res = res;
    this.#hooks = hooks;
    this.#writeHead = res.writeHead as Output;
    this.#write = res.write as Output;
    this.#end = res.end as Output;
    this.#flushHeaders = res.flushHeaders as Output;
    holds.set(res, this as Hold<unknown>);
    res.writeHead = heldWriteHead as ServerResponse['writeHead'];
    res.write = heldWrite as ServerResponse['write'];
    res.end = heldEnd as ServerResponse['end'];
    res.flushHeaders = heldFlushHeaders;
  }

  push(method: Method, args: unknown[]): void {
    this.#queue.push(method, args);
    if (method === 'end') this.ended = true;
    this.start();
  }

  start(): void {
    if (this.started) return;
    this.started = true;
    this.#hooks.commit().then(
      (result) => this.#replay(result),
      (err: unknown) => this.#fail(err),
    );
  }

  #restore(): void {
    const res = this.#res;
    res.writeHead = this.#writeHead as ServerResponse['writeHead'];
    res.write = this.#write as ServerResponse['write'];
    res.end = this.#end as ServerResponse['end'];
    res.flushHeaders = this.#flushHeaders as ServerResponse['flushHeaders'];
    holds.delete(res);
  }

  #replay(result: T): void {
    this.#restore();
    const res = this.#res;
    if (res.destroyed) return;
    this.#hooks.apply(result);
    const queue = this.#queue;
    for (let i = 0; i < queue.length; i += 2) {
      const method = queue[i] as Method;
      const output = method === 'end' ? this.#end : method === 'write' ? this.#write : this.#writeHead;
      output.apply(res, queue[i + 1] as unknown[]);
    }
  }

  #fail(err: unknown): void {
    this.#restore();
    this.#queue.length = 0;
    if (this.#res.destroyed) return;
    this.#hooks.fail(err);
  }
}

// A replaced method called after the hold ended (a reference kept from before) goes straight to
// the method now in place.

function heldWriteHead(this: HeldResponse, ...args: unknown[]): ServerResponse {
  const hold = holds.get(this);
  if (!hold) return (this.writeHead as Output).apply(this, args) as ServerResponse;
  hold.push('writeHead', args);
  return this;
}

function heldWrite(this: HeldResponse, ...args: unknown[]): boolean {
  const hold = holds.get(this);
  if (!hold) return (this.write as Output).apply(this, args) as boolean;
  hold.push('write', args);
  // "Keep writing": the held chunks are small and flushed as soon as the commit lands.
  return true;
}

function heldEnd(this: HeldResponse, ...args: unknown[]): ServerResponse {
  const hold = holds.get(this);
  if (!hold) return (this.end as Output).apply(this, args) as ServerResponse;
  hold.push('end', args);
  return this;
}

function heldFlushHeaders(this: HeldResponse): void {
  const hold = holds.get(this);
  if (!hold) this.flushHeaders();
  else hold.start();
}

/**
 * Holds a Node response's output until the session is committed, so the cookie is set and the
 * write is durable before the client (or the next request on another instance) can see anything.
 * The first `writeHead`, `write`, `end` or `flushHeaders` starts the commit; calls made meanwhile
 * are queued and replayed in order once it succeeds.
 */
export function holdResponse<T>(res: ServerResponse, hooks: HoldHooks<T>): Held {
  return new Hold(res as HeldResponse, hooks);
}
