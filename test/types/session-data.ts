/**
 * Type test (checked by `tsc`, never run): an application's `SessionData` declaration types
 * `req.session` in the adapters.
 */
import type { RequestSession } from '../../src/adapters/express/index.js';

declare module '../../src/index.js' {
  interface SessionData {
    basket: string[];
  }
}

export function basketOf(session: RequestSession): string[] | undefined {
  // Fails to compile if the declaration above did not merge (the value would be `unknown`).
  const basket: string[] | undefined = session.basket;
  return basket;
}
