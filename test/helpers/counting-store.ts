import type { Store } from '../../src/stores/store.js';

/** Counts the calls a store receives, by operation, through its own `onOperation` reports. */
export function countCalls(store: Store): {
  counts: Record<string, number>;
  total: () => number;
  reset: () => void;
} {
  const counts: Record<string, number> = {};
  store.onOperation((info) => {
    counts[info.op] = (counts[info.op] ?? 0) + 1;
  });
  return {
    counts,
    total: () => Object.values(counts).reduce((a, b) => a + b, 0),
    reset: () => {
      for (const k of Object.keys(counts)) delete counts[k];
    },
  };
}
