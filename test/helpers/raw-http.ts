/**
 * Raw HTTP/1.1 over a loopback socket, for headers `fetch` refuses to send (control characters,
 * bytes that are not UTF-8, duplicated headers, oversized values).
 */
import { connect } from 'node:net';

export interface RawReply {
  status: number;
  /** Header lines as sent, lower-case names. */
  headers: [string, string][];
  setCookie: string[];
  body: string;
}

/** Sends `GET path` with the given extra header lines (raw bytes) and reads the whole reply. */
export function rawGet(
  port: number,
  path: string,
  headerLines: Buffer[],
  timeoutMs = 5_000,
): Promise<RawReply> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host: '127.0.0.1' });
    const chunks: Buffer[] = [];
    socket.setTimeout(timeoutMs, () => {
      socket.destroy();
      reject(new Error(`no reply within ${timeoutMs} ms`));
    });
    socket.on('data', (c) => chunks.push(c));
    socket.on('error', reject);
    socket.on('close', () => {
      const text = Buffer.concat(chunks).toString('latin1');
      const end = text.indexOf('\r\n\r\n');
      const head = (end < 0 ? text : text.slice(0, end)).split('\r\n');
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(head[0] ?? '')?.[1] ?? 0);
      const headers: [string, string][] = head.slice(1).map((line) => {
        const i = line.indexOf(':');
        return [line.slice(0, i).toLowerCase(), line.slice(i + 1).trim()];
      });
      resolve({
        status,
        headers,
        setCookie: headers.filter(([n]) => n === 'set-cookie').map(([, v]) => v),
        body: end < 0 ? '' : text.slice(end + 4),
      });
    });
    const request = Buffer.concat([
      Buffer.from(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n`),
      ...headerLines.flatMap((line) => [line, Buffer.from('\r\n')]),
      Buffer.from('\r\n'),
    ]);
    socket.end(request);
  });
}

/** `Cookie: <bytes>` as one raw header line. */
export function cookieLine(value: Buffer | string): Buffer {
  return Buffer.concat([
    Buffer.from('Cookie: '),
    typeof value === 'string' ? Buffer.from(value, 'latin1') : value,
  ]);
}
