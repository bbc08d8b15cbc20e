/** Tracing helpers of the manager (channels in src/core/tracing.ts). */
import type { SessionState } from '../session.js';
import { type CommitContext, changedSize } from '../tracing.js';
import type { ManagerCore } from './context.js';

/** The fields every load and commit context carries. */
export function traceBase(
  m: ManagerCore,
  adapter: string | undefined,
): {
  adapter: string | undefined;
  store: string;
  concurrency: string;
} {
  return { adapter, store: m.store.name, concurrency: m.options.concurrency };
}

/** Fills a commit context from the session's state before and after the commit. */
export function describeCommit(trace: CommitContext, before: SessionState, after: SessionState): void {
  if (before.committed || before.destroyed) return;
  if (after.destroyed) trace.write = 'gone';
  else if (before.isNew && !after.isNew) trace.write = 'create';
  else if (after.key !== before.key && trace.retries === 0) trace.write = 'renew';
  else if (after.snapshot !== before.snapshot) trace.write = 'patch';
  else if (after.expiresAt !== before.expiresAt) trace.write = 'touch';
  if (trace.write === 'create' || trace.write === 'patch' || trace.write === 'renew') {
    const size = changedSize(before.isNew ? new Map() : before.snapshot, after.snapshot);
    trace.keys = size.keys;
    trace.bytes = size.bytes;
  }
  trace.written = trace.write !== 'none' && trace.write !== 'gone';
}
