/**
 * Engines the tests need. When one is unreachable its tests skip with a visible notice; with
 * BATON_REQUIRE_SERVICES=1 (set by CI) a missing engine fails the run instead.
 */
import { connect } from 'node:net';

export function reachable(port: number, host = '127.0.0.1', timeoutMs = 1_000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ port, host });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/**
 * `false` when the engine answers on host:port; otherwise the skip reason (and a notice on stderr),
 * or a thrown error when BATON_REQUIRE_SERVICES=1.
 */
export async function needService(name: string, port: number, host = '127.0.0.1'): Promise<string | false> {
  if (await reachable(port, host)) return false;
  const reason = `${name} is not reachable on ${host}:${port}`;
  if (process.env.BATON_REQUIRE_SERVICES === '1') {
    throw new Error(`${reason}, and BATON_REQUIRE_SERVICES=1 requires it (start it, or unset the variable)`);
  }
  process.stderr.write(`\n  NOTICE: skipping ${name} tests: ${reason}\n\n`);
  return `${reason} (skipped)`;
}
