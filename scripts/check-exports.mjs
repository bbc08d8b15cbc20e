#!/usr/bin/env node
// Checks that every subpath in package.json's exports map points at a built file and its types.
import { existsSync, readFileSync } from 'node:fs';

const pkg = JSON.parse(readFileSync('package.json', 'utf8'));
const missing = [];
for (const [subpath, target] of Object.entries(pkg.exports)) {
  const files = typeof target === 'string' ? [target] : Object.values(target);
  for (const file of files) if (!existsSync(file)) missing.push(`${subpath} → ${file}`);
}
for (const bin of Object.values(pkg.bin ?? {})) if (!existsSync(bin)) missing.push(`bin → ${bin}`);
if (missing.length > 0) {
  console.error(
    `exports map points at files the build did not make (run npm run build):\n  ${missing.join('\n  ')}`,
  );
  process.exit(1);
}
console.log(`exports map: ${Object.keys(pkg.exports).length} subpaths, all built`);
