/**
 * One DynamoDB JSON 1.0 exchange: a signed POST on a kept-alive connection, the reply read whole.
 * Failures of the exchange itself (reset, refused, timed out) reject with a Node-style error whose
 * `code` (`ECONNRESET`...) or name (`TimeoutError`) is what the SDK's HTTP handler reports, so the
 * retry rules and error mapping see one vocabulary whichever exchange carried the request.
 *
 * Two exchanges:
 * - `PoolExchange` (undici's `Pool`): used when the client's handler has a plain Node agent (the
 *   SDK's default, or one the user made only to set keep-alive and socket counts) or none. About
 *   half the CPU per request of `node:http`'s client, measured on the same reply.
 * - `AgentExchange` (`node:http(s)` on the client's agent): used when that agent carries anything
 *   else — a proxy agent, TLS options (CA, client certificate), a subclass — so every request
 *   still goes the way the user's agent sends it.
 */
import { Agent as HttpAgent, request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { type Dispatcher, Pool } from 'undici';

/** Where requests go: the SDK's resolved endpoint. */
export interface Endpoint {
  protocol: 'http:' | 'https:';
  hostname: string;
  port: number | undefined;
  path: string;
  /** The `host` header: hostname, with the port when it is not the protocol's default. */
  host: string;
}

export interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

export interface Exchange {
  /** `pool` (undici) or `agent` (node:http on the client's agent). */
  readonly kind: 'pool' | 'agent';
  post(headers: Record<string, string>, body: string): Promise<Reply>;
  /** Closes connections the exchange opened itself (never a user's agent). */
  close(): void;
}

/** Sockets per endpoint when the client's agent does not say (the SDK's own default is 50). */
const DEFAULT_SOCKETS = 50;

/**
 * Agent options that only shape pooling: an agent with nothing else set sends requests as undici
 * does. Anything outside this list (TLS material, `lookup`, proxies, a custom `createConnection`)
 * keeps the agent.
 */
const POOLING_OPTIONS = new Set([
  'keepAlive',
  'keepAliveMsecs',
  'maxSockets',
  'maxTotalSockets',
  'maxFreeSockets',
  'scheduling',
  'timeout',
  'noDelay',
  'path',
  // Node fills these in itself (https agents on Node 22 and later: `defaultPort`, `protocol`).
  'maxCachedSessions',
  'defaultPort',
  'protocol',
]);

/**
 * The exchange for `endpoint`: undici's pool unless `agent` (the client's, if any) needs node:http.
 * `timeoutMs` is the handler's `requestTimeout` (0: none), as a socket idle limit per request.
 */
export function exchangeFor(endpoint: Endpoint, agent: HttpAgent | undefined, timeoutMs: number): Exchange {
  if (agent === undefined || plainAgent(agent)) {
    const sockets = agent?.maxSockets;
    return new PoolExchange(
      endpoint,
      typeof sockets === 'number' && Number.isFinite(sockets) && sockets > 0 ? sockets : DEFAULT_SOCKETS,
      timeoutMs,
    );
  }
  return new AgentExchange(endpoint, agent, timeoutMs);
}

/** A Node agent of the built-in class with only pooling options set (see `POOLING_OPTIONS`). */
function plainAgent(agent: HttpAgent): boolean {
  if (agent.constructor !== HttpAgent && agent.constructor !== HttpsAgent) return false;
  // Node 24's NODE_USE_ENV_PROXY makes agents honour HTTP(S)_PROXY: keep the agent then.
  if (process.env.NODE_USE_ENV_PROXY) return false;
  const options = (agent as { options?: Record<string, unknown> }).options ?? {};
  for (const [name, value] of Object.entries(options)) {
    if (value !== undefined && value !== null && !POOLING_OPTIONS.has(name)) return false;
  }
  return true;
}

/** undici's connection pool for the endpoint's origin. */
export class PoolExchange implements Exchange {
  readonly kind = 'pool';
  readonly #pool: Pool;
  readonly #path: string;
  readonly #timeoutMs: number;

  constructor(endpoint: Endpoint, connections: number, timeoutMs: number) {
    this.#pool = new Pool(`${endpoint.protocol}//${endpoint.host}`, { connections });
    this.#path = endpoint.path;
    this.#timeoutMs = timeoutMs;
  }

  post(headers: Record<string, string>, body: string): Promise<Reply> {
    return new Promise((resolve, reject) => {
      const timeout = this.#timeoutMs;
      this.#pool.dispatch(
        {
          path: this.#path,
          method: 'POST',
          headers,
          body,
          // 0 turns undici's limits off, as no `requestTimeout` leaves node:http without one.
          headersTimeout: timeout,
          bodyTimeout: timeout,
        },
        new ReplyHandler(resolve, reject, timeout),
      );
    });
  }

  close(): void {
    void this.#pool.close().catch(() => {});
  }
}

/** Collects one reply for `PoolExchange` (undici's handler interface). */
class ReplyHandler implements Dispatcher.DispatchHandler {
  #status = 0;
  #headers: IncomingHttpHeaders = {};
  readonly #chunks: Buffer[] = [];
  readonly #resolve: (reply: Reply) => void;
  readonly #reject: (err: Error) => void;
  readonly #timeoutMs: number;

  constructor(resolve: (reply: Reply) => void, reject: (err: Error) => void, timeoutMs: number) {
    this.#resolve = resolve;
    this.#reject = reject;
    this.#timeoutMs = timeoutMs;
  }

  onRequestStart() {}

  onResponseStart(_controller: Dispatcher.DispatchController, status: number, headers: IncomingHttpHeaders) {
    this.#status = status;
    this.#headers = headers;
  }

  onResponseData(_controller: Dispatcher.DispatchController, chunk: Buffer) {
    this.#chunks.push(chunk);
  }

  onResponseEnd() {
    // The caller hears of the reply once the connection can take its next request: undici frees
    // it an event-loop turn after the reply (an immediate it schedules after this call), and a
    // request dispatched before that would open a second connection (a second TLS handshake on
    // a Lambda's warm path). The next turn's immediate runs after undici's.
    const reply: Reply = { status: this.#status, headers: this.#headers, body: text(this.#chunks) };
    setImmediate(afterTurn, this.#resolve, reply);
  }

  onResponseError(_controller: Dispatcher.DispatchController, error: Error) {
    this.#reject(nodeStyle(error, this.#timeoutMs));
  }
}

/** A reply body's chunks as text (most replies come in one chunk: no copy then). */
function text(chunks: Buffer[]): string {
  if (chunks.length === 1) return (chunks[0] as Buffer).toString('utf8');
  return chunks.length === 0 ? '' : Buffer.concat(chunks).toString('utf8');
}

function afterTurn(resolve: (reply: Reply) => void, reply: Reply): void {
  setImmediate(resolve, reply);
}

/** undici's errors in the vocabulary of node:http (and so of the SDK's handler). */
function nodeStyle(error: Error, timeoutMs: number): Error {
  const code = (error as { code?: unknown }).code;
  if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT')
    return timedOut(timeoutMs, error);
  if (code === 'UND_ERR_SOCKET' || code === 'UND_ERR_CLOSED') {
    // The connection closed or reset under the request: what node:http calls a hang-up.
    const cause = (error as { cause?: { code?: unknown } }).cause;
    const causeCode = typeof cause?.code === 'string' ? cause.code : undefined;
    return Object.assign(new Error(error.message || 'socket hang up', { cause: error }), {
      code: causeCode === 'EPIPE' || causeCode === 'ETIMEDOUT' ? causeCode : 'ECONNRESET',
    });
  }
  return error;
}

function timedOut(timeoutMs: number, cause?: Error): Error {
  const err = new Error(`no reply within ${timeoutMs} ms (timeoutMs)`, cause ? { cause } : undefined);
  err.name = 'TimeoutError';
  return err;
}

/** node:http(s) on the client's own agent. */
export class AgentExchange implements Exchange {
  readonly kind = 'agent';
  readonly #endpoint: Endpoint;
  readonly #agent: HttpAgent;
  readonly #timeoutMs: number;

  constructor(endpoint: Endpoint, agent: HttpAgent, timeoutMs: number) {
    this.#endpoint = endpoint;
    this.#agent = agent;
    this.#timeoutMs = timeoutMs;
  }

  post(headers: Record<string, string>, body: string): Promise<Reply> {
    const endpoint = this.#endpoint;
    const timeoutMs = this.#timeoutMs;
    return new Promise((resolve, reject) => {
      const send = endpoint.protocol === 'https:' ? httpsRequest : httpRequest;
      const req = send(
        {
          protocol: endpoint.protocol,
          hostname: endpoint.hostname,
          port: endpoint.port,
          path: endpoint.path,
          method: 'POST',
          headers,
          agent: this.#agent,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('error', reject);
          res.on('end', () =>
            resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text(chunks) }),
          );
          // A connection cut mid-reply: `aborted` then `close` without `end`.
          res.on('aborted', () => reject(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' })));
        },
      );
      req.on('error', reject);
      if (timeoutMs > 0) req.setTimeout(timeoutMs, () => req.destroy(timedOut(timeoutMs)));
      req.end(body);
    });
  }

  /** The agent is the user's (or the SDK client's): it stays open. */
  close(): void {}
}
