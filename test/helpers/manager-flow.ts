/** Drives a SessionManager the way an adapter does, without HTTP: one call = one request. */
import type { SessionManager } from '../../src/core/manager.js';
import type { Session } from '../../src/core/session.js';

export interface FlowReply {
  /** The `name=value` pair to send next time ('' when the cookie was cleared, unchanged when none was set). */
  cookie: string | undefined;
  setCookie: string[];
  session: Session;
}

/** Loads the session for `cookie`, runs `handler`, commits, and returns the cookie the browser would keep. */
export async function request(
  manager: SessionManager,
  cookie: string | undefined,
  handler: (session: Session) => unknown | Promise<unknown> = () => {},
): Promise<FlowReply> {
  const session = await manager.load({ cookie });
  try {
    await handler(session);
  } catch (err) {
    await manager.abandon(session);
    throw err;
  }
  const result = await manager.commit(session);
  let next = cookie;
  for (const c of result.setCookie) {
    const pair = c.split(';')[0] ?? '';
    next = /max-age=0/i.test(c) || pair.endsWith('=') ? undefined : pair;
  }
  return { cookie: next, setCookie: result.setCookie, session };
}

/** The unsigned id inside a `sid=<id>.<mac>` pair. */
export function idOf(cookie: string | undefined): string {
  const value = (cookie ?? '').split('=')[1] ?? '';
  return value.split('.')[0] ?? '';
}
