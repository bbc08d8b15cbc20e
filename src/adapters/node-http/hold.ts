import type { ServerResponse } from 'node:http';

export interface HoldHooks<T> {
  /** Runs once, before any header or body byte leaves. */
  commit: () => Promise<T>;
  /** Adds headers from the commit's result (headers are still unsent). */
  apply: (result: T) => void;
  /** The commit failed: the held output is dropped, and this produces the error response. */
  fail: (err: unknown) => void;
}

type Call = { method: 'writeHead' | 'write' | 'end'; args: unknown[] };

/** What `holdResponse` tells its caller. */
export interface Held {
  /** True once output began and the commit started: from then on the commit decides the response. */
  readonly started: boolean;
  /** True once `end()` was called: the held response is complete and goes out after the commit. */
  readonly ended: boolean;
}

/**
 * Holds a Node response's output until the session is committed, so the cookie is set and the
 * write is durable before the client (or the next request on another instance) can see anything.
 * The first `writeHead`, `write`, `end` or `flushHeaders` starts the commit; calls made meanwhile
 * are queued and replayed in order once it succeeds.
 */
export function holdResponse<T>(res: ServerResponse, hooks: HoldHooks<T>): Held {
  const original = {
    writeHead: res.writeHead,
    write: res.write,
    end: res.end,
    flushHeaders: res.flushHeaders,
  };
  const queue: Call[] = [];
  let started = false;
  let ended = false;

  const restore = () => {
    res.writeHead = original.writeHead;
    res.write = original.write;
    res.end = original.end;
    res.flushHeaders = original.flushHeaders;
  };

  const start = () => {
    if (started) return;
    started = true;
    hooks.commit().then(
      (result) => {
        restore();
        if (res.destroyed) return;
        hooks.apply(result);
        for (const call of queue)
          (original[call.method] as (...a: unknown[]) => unknown).apply(res, call.args);
      },
      (err) => {
        restore();
        queue.length = 0;
        if (res.destroyed) return;
        hooks.fail(err);
      },
    );
  };

  const hold =
    (method: Call['method']) =>
    (...args: unknown[]) => {
      queue.push({ method, args });
      if (method === 'end') ended = true;
      start();
      // write() reports "keep writing": the held chunks are small and flushed as soon as the commit lands.
      return method === 'write' ? true : res;
    };

  res.writeHead = hold('writeHead') as ServerResponse['writeHead'];
  res.write = hold('write') as ServerResponse['write'];
  res.end = hold('end') as ServerResponse['end'];
  res.flushHeaders = () => start();
  return {
    get started() {
      return started;
    },
    get ended() {
      return ended;
    },
  };
}
