import { ServerResponse } from 'node:http';
import type { SessionManager } from '../../core/manager.js';
import type { Session } from '../../core/session.js';

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

/** The output methods a hold stands in front of. */
interface Outputs {
  writeHead: Output;
  write: Output;
  end: Output;
  flushHeaders: Output;
}

const METHODS = ['writeHead', 'write', 'end', 'flushHeaders'] as const;

/**
 * The hold of a response, while it is held: one symbol property on the response. Not a WeakMap
 * entry: the hold leads back to its response, and such entries cost the garbage collector more per
 * request than the property costs (docs/decisions.md has the figures).
 */
const HOLD = Symbol('baton-session.hold');
type HeldResponse = ServerResponse & { [HOLD]?: Hold<unknown> | undefined };

function holdOf(res: ServerResponse): Hold<unknown> | undefined {
  return (res as HeldResponse)[HOLD];
}

/**
 * Response prototypes (Express's `app.response`) whose output methods consult the hold: patched
 * once per prototype, so holding a response there writes one property to the response object, not
 * four methods. On Node 20 and 22 each property added to an Express response (one whose prototype
 * Express swapped) costs 3-5 µs; patching the prototype once saves three of them per request.
 * Mounted Express apps get their response prototype chained to the parent's, so they inherit the
 * patched methods.
 */
const patchedPrototypes = new WeakMap<object, Outputs>();

/**
 * How a response's output is held: through its prototype (Express), or by replacing the methods on
 * the response itself — for Node's own `ServerResponse` (its prototype is global, never patched)
 * and for a response whose methods another middleware already replaced on the object.
 */
function prototypeOutputs(res: ServerResponse): Outputs | undefined {
  const proto = Object.getPrototypeOf(res) as (ServerResponse & object) | null;
  if (proto === null || proto === ServerResponse.prototype) return undefined;
  for (const m of METHODS) if (Object.hasOwn(res, m)) return undefined;
  let outputs = patchedPrototypes.get(proto);
  if (!outputs) {
    outputs = patchPrototype(proto);
    patchedPrototypes.set(proto, outputs);
  }
  return outputs;
}

function patchPrototype(proto: ServerResponse): Outputs {
  const original: Outputs = {
    writeHead: proto.writeHead as Output,
    write: proto.write as Output,
    end: proto.end as Output,
    flushHeaders: proto.flushHeaders as Output,
  };
  const held: Outputs = {
    writeHead(...args) {
      const hold = holdOf(this);
      if (!hold?.viaPrototype) return original.writeHead.apply(this, args);
      hold.push('writeHead', args);
      return this;
    },
    write(...args) {
      const hold = holdOf(this);
      if (!hold?.viaPrototype) return original.write.apply(this, args);
      return hold.push('write', args);
    },
    end(...args) {
      const hold = holdOf(this);
      if (!hold?.viaPrototype) return original.end.apply(this, args);
      hold.push('end', args);
      return this;
    },
    flushHeaders(...args) {
      const hold = holdOf(this);
      if (!hold?.viaPrototype) return original.flushHeaders.apply(this, args);
      hold.start();
      return undefined;
    },
  };
  for (const m of METHODS) {
    Object.defineProperty(proto, m, {
      value: held[m],
      writable: true,
      configurable: true,
      enumerable: false,
    });
  }
  return original;
}

/** One held response. */
class Hold<T> implements Held {
  started = false;
  ended = false;
  /** Held through a patched prototype (no property on the response), else through own methods. */
  readonly viaPrototype: boolean;
  readonly #res: ServerResponse;
  readonly #hooks: HoldHooks<T>;
  readonly #out: Outputs;
  /** Calls made while the commit runs, replayed in order: method, then its arguments. */
  readonly #queue: Array<Method | unknown[]> = [];
  /** Body bytes held so far. */
  #bytes = 0;
  /** A held `write` returned false: the writer waits for 'drain'. */
  #needDrain = false;

  constructor(res: ServerResponse, hooks: HoldHooks<T>) {
    this.#res = res;
    this.#hooks = hooks;
    const viaPrototype = prototypeOutputs(res);
    this.viaPrototype = viaPrototype !== undefined;
    (res as HeldResponse)[HOLD] = this as Hold<unknown>;
    if (viaPrototype) {
      this.#out = viaPrototype;
    } else {
      this.#out = {
        writeHead: res.writeHead as Output,
        write: res.write as Output,
        end: res.end as Output,
        flushHeaders: res.flushHeaders as Output,
      };
      res.writeHead = ownWriteHead as ServerResponse['writeHead'];
      res.write = ownWrite as ServerResponse['write'];
      res.end = ownEnd as ServerResponse['end'];
      res.flushHeaders = ownFlushHeaders;
    }
  }

  /**
   * Holds one call. For `write`, returns what a response's `write` returns: false once the held
   * body reaches the response's high-water mark, so a writer that honours backpressure (`pipe`,
   * `pipeline`, a loop awaiting 'drain') waits for the commit instead of piling its whole body up
   * in memory; 'drain' follows once the held output is out.
   */
  push(method: Method, args: unknown[]): boolean {
    this.#queue.push(method, args);
    if (method === 'end') this.ended = true;
    this.start();
    if (method !== 'write') return true;
    this.#bytes += chunkBytes(args[0], args[1]);
    if (this.#bytes < this.#res.writableHighWaterMark) return true;
    this.#needDrain = true;
    return false;
  }

  start(): void {
    if (this.started) return;
    this.started = true;
    this.#hooks.commit().then(
      (result) => this.#replay(result),
      (err: unknown) => this.#fail(err),
    );
  }

  #release(): void {
    const res = this.#res;
    (res as HeldResponse)[HOLD] = undefined;
    if (this.viaPrototype) return;
    const out = this.#out;
    res.writeHead = out.writeHead as ServerResponse['writeHead'];
    res.write = out.write as ServerResponse['write'];
    res.end = out.end as ServerResponse['end'];
    res.flushHeaders = out.flushHeaders as ServerResponse['flushHeaders'];
  }

  #replay(result: T): void {
    this.#release();
    const res = this.#res;
    if (res.destroyed) return;
    this.#hooks.apply(result);
    const queue = this.#queue;
    const out = this.#out;
    for (let i = 0; i < queue.length; i += 2) {
      const method = queue[i] as Method;
      const output = method === 'end' ? out.end : method === 'write' ? out.write : out.writeHead;
      output.apply(res, queue[i + 1] as unknown[]);
    }
    queue.length = 0;
    // A writer told to wait is woken here, unless the socket is itself full (its own 'drain' comes later).
    if (this.#needDrain && !this.ended && !res.writableNeedDrain && !res.destroyed) res.emit('drain');
  }

  #fail(err: unknown): void {
    this.#release();
    this.#queue.length = 0;
    if (this.#res.destroyed) return;
    this.#hooks.fail(err);
  }
}

// Held through the response's own methods. A method called after the hold ended (a reference kept
// from before) goes straight to the method now in place.

function ownWriteHead(this: ServerResponse, ...args: unknown[]): ServerResponse {
  const hold = holdOf(this);
  if (!hold) return (this.writeHead as Output).apply(this, args) as ServerResponse;
  hold.push('writeHead', args);
  return this;
}

function ownWrite(this: ServerResponse, ...args: unknown[]): boolean {
  const hold = holdOf(this);
  if (!hold) return (this.write as Output).apply(this, args) as boolean;
  return hold.push('write', args);
}

/** The bytes of a chunk passed to `write` (a string in `encoding`, a Buffer or another typed array). */
function chunkBytes(chunk: unknown, encoding: unknown): number {
  if (typeof chunk === 'string') {
    return Buffer.byteLength(chunk, typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8');
  }
  if (ArrayBuffer.isView(chunk)) return chunk.byteLength;
  return 0;
}

function ownEnd(this: ServerResponse, ...args: unknown[]): ServerResponse {
  const hold = holdOf(this);
  if (!hold) return (this.end as Output).apply(this, args) as ServerResponse;
  hold.push('end', args);
  return this;
}

function ownFlushHeaders(this: ServerResponse): void {
  const hold = holdOf(this);
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
  return new Hold(res, hooks);
}

/**
 * In `'lock'` mode, gives the session's lock up as soon as the client goes away before its
 * response is complete (a handler that never answers holds nobody up until `lockTtl`). Nothing is
 * listened to in the other modes.
 */
export function releaseOnClose(manager: SessionManager, session: Session, res: ServerResponse): void {
  if (manager.options.concurrency !== 'lock') return;
  res.once('close', () => {
    if (!res.writableFinished) void manager.clientGone(session);
  });
}
