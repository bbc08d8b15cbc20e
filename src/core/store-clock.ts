import type { StoreClock } from './store.js';

/** Now, by the store's clock (the local one for stores without a clock of their own). */
export function clockNow(clock: StoreClock | undefined): number {
  return clock ? clock.now() : Date.now();
}

/**
 * The clock warm-up: while the first reading of the store's clock is pending, a promise to await
 * (bounded by the clock); undefined afterwards, so the request path awaits nothing.
 */
export function clockWarming(clock: StoreClock | undefined): Promise<void> | undefined {
  return clock?.ready();
}
