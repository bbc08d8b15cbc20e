/**
 * Whether a test's engine is reachable. A missing engine skips the file with a visible notice,
 * unless BATON_REQUIRE_SERVICES=1, where the tests run and fail.
 */
import { connect } from 'node:net';

export function reachable(host: string, port: number, timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/** `false` when the service is up (or required), else the skip message. */
export async function skipUnless(name: string, host: string, port: number): Promise<string | false> {
  if (await reachable(host, port)) return false;
  if (process.env.BATON_REQUIRE_SERVICES === '1') return false;
  return `${name} not reachable on ${host}:${port}`;
}

/** host:port from an environment variable, or the default. */
export function endpoint(envName: string, fallback: string): { host: string; port: number } {
  const value = process.env[envName] ?? fallback;
  const [host, port] = value.replace(/^[a-z]+:\/\//, '').split(':');
  return { host: host || '127.0.0.1', port: Number(port) };
}
