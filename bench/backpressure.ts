/**
 * The backpressure row of `npm run bench:reliability`: peak RSS of a process serving one streamed
 * response of 300 MB, with the session middleware (the route changes the session) and without
 * (bench/backpressure-app.ts, a fresh process per run).
 */
import { fileURLToPath } from 'node:url';
import { Child } from './child.js';
import { round } from './measure.js';

const BACKPRESSURE_APP = fileURLToPath(new URL('./backpressure-app.ts', import.meta.url));

/** Peak RSS of a process serving one streamed response of `megabytes`, with and without the middleware. */
export async function backpressure(
  megabytes: number,
  log: (line: string) => void,
): Promise<{
  megabytes: number;
  runs: Array<{ mode: string; peakRssMb: number; bytes: number; ms: number }>;
  ratio: number;
  pass: { within1_2x: boolean };
}> {
  const runs: Array<{ mode: string; peakRssMb: number; bytes: number; ms: number }> = [];
  for (const mode of ['plain', 'session', 'plain', 'session']) {
    const { child, ready } = await Child.start(BACKPRESSURE_APP, {
      name: `backpressure-${mode}`,
      env: { BP_MODE: mode, BP_MEGABYTES: String(megabytes) },
    });
    try {
      const started = performance.now();
      const res = await fetch(`http://127.0.0.1:${ready.port as number}/download`, { method: 'POST' });
      let bytes = 0;
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) bytes += chunk.byteLength;
      const ms = Math.round(performance.now() - started);
      const peak = (await child.ask('peak')).maxRssKb as number;
      runs.push({ mode, peakRssMb: round(peak / 1024, 1), bytes, ms });
      log(`  ${mode.padEnd(7)} peak RSS ${round(peak / 1024, 1)} MB, ${bytes} bytes in ${ms} ms`);
    } finally {
      await child.stop();
    }
  }
  const best = (mode: string) => Math.min(...runs.filter((r) => r.mode === mode).map((r) => r.peakRssMb));
  const ratio = round(best('session') / best('plain'), 2);
  log(`  session / plain peak RSS: ×${ratio} (target ≤ 1.2)`);
  return { megabytes, runs, ratio, pass: { within1_2x: ratio <= 1.2 } };
}
