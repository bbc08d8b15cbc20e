#!/usr/bin/env node
/**
 * No file in src/ over 400 lines (DESIGN.md): lists every offender with its line count and exits 1
 * when there is one. `node scripts/check-size.mjs [folder ...]` checks only those folders.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';

const MAX_LINES = 400;
const root = new URL('..', import.meta.url).pathname;
const folders = process.argv.length > 2 ? process.argv.slice(2) : ['src'];

function* sourceFiles(dir) {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) yield* sourceFiles(path);
    else if (/\.(ts|mts|cts|js|mjs)$/.test(name)) yield path;
  }
}

const offenders = [];
let checked = 0;
for (const folder of folders) {
  for (const file of sourceFiles(resolve(root, folder))) {
    checked++;
    const text = readFileSync(file, 'utf8');
    const lines = text.length === 0 ? 0 : text.split('\n').length - (text.endsWith('\n') ? 1 : 0);
    if (lines > MAX_LINES) offenders.push({ file: relative(root, file), lines });
  }
}
if (offenders.length > 0) {
  offenders.sort((a, b) => b.lines - a.lines);
  process.stderr.write(
    `${offenders.length} file(s) over ${MAX_LINES} lines; split them by role (docs/architecture.md):\n`,
  );
  for (const { file, lines } of offenders) process.stderr.write(`  ${file}: ${lines} lines\n`);
  process.exit(1);
}
process.stdout.write(`file size: ${checked} files in ${folders.join(', ')}, none over ${MAX_LINES} lines\n`);
