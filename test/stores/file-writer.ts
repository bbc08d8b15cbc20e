/**
 * A separate process patching one session of a FileStore: `node --import tsx file-writer.ts
 * <dir> <key> <prefix> <count>`. Used by file.test.ts to show two processes lose nothing.
 */
import { FileStore } from '../../src/stores/file/index.js';

const [dir, key, prefix, count] = process.argv.slice(2);
if (!dir || !key || !prefix || !count) throw new Error('usage: file-writer <dir> <key> <prefix> <count>');
const store = new FileStore({ dir });
// Barrier: say ready, then start writing when the parent says go, so both processes overlap.
process.stdout.write('ready\n');
await new Promise((resolve) => process.stdin.once('data', resolve));
process.stdin.pause();
const results = await Promise.all(
  Array.from({ length: Number(count) }, (_, i) =>
    store.patch(key, { set: { [`${prefix}${i}`]: String(i) }, unset: [], expiresAt: Date.now() + 60_000 }),
  ),
);
process.stdout.write(JSON.stringify(results.map((r) => r?.version ?? null)));
await store.close();
