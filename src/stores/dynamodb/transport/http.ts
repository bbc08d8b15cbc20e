/**
 * One DynamoDB JSON 1.0 exchange over node:http(s): a signed POST on a keep-alive agent, the reply
 * read whole. Failures of the exchange itself (reset, refused, timed out) reject with the Node
 * error, its `code` kept (`ECONNRESET`...), as the SDK's HTTP handler reports them.
 */
import { type Agent, request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';

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

export function post(
  endpoint: Endpoint,
  headers: Record<string, string>,
  body: string,
  agent: Agent,
  timeoutMs: number,
): Promise<Reply> {
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
        agent,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', reject);
        res.on('end', () => {
          const text =
            chunks.length === 1
              ? (chunks[0] as Buffer).toString('utf8')
              : Buffer.concat(chunks).toString('utf8');
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text });
        });
        // A connection cut mid-reply: `aborted` then `close` without `end`.
        res.on('aborted', () => reject(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' })));
      },
    );
    req.on('error', reject);
    if (timeoutMs > 0) {
      req.setTimeout(timeoutMs, () => {
        const err = new Error(`no reply within ${timeoutMs} ms (timeoutMs)`);
        err.name = 'TimeoutError';
        req.destroy(err);
      });
    }
    req.end(body);
  });
}
