/**
 * Bench-only: baton's three tracing channels with their call sites made inert, as if compiled out.
 * Production code checks `channel.hasSubscribers` (a getter over the channel's five sub-channels)
 * before it builds anything; here that getter is replaced, once at startup, by a constant `false`
 * on each channel object, so a call site costs one property load of a constant. Comparing an app
 * with this against the same app without it (no subscribers either way) measures what the tracing
 * call sites cost when nobody subscribes. Nothing here is part of the package.
 */

/** The channel objects of one copy of baton (the package's or the sources'). */
interface TracingModule {
  loadChannel: object;
  commitChannel: object;
  storeChannel: object;
}

/** Replaces `hasSubscribers` on each channel by a constant `false`; call before any request. */
export function makeTracingInert(tracing: TracingModule): void {
  for (const channel of [tracing.loadChannel, tracing.commitChannel, tracing.storeChannel]) {
    Object.defineProperty(channel, 'hasSubscribers', { value: false, configurable: true });
  }
}
