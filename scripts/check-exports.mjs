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
// typesVersions serves TypeScript's classic `moduleResolution: node`, which ignores exports: it must
// map every subpath to the same types.
const classic = pkg.typesVersions?.['*'] ?? {};
for (const [subpath, target] of Object.entries(pkg.exports)) {
  if (subpath === '.' || typeof target === 'string') continue;
  const mapped = classic[subpath.slice(2)]?.[0];
  if (mapped !== target.types)
    missing.push(`typesVersions ${subpath.slice(2)} → ${mapped} (exports say ${target.types})`);
}
if (missing.length > 0) {
  console.error(
    `exports map points at files the build did not make (run npm run build), or typesVersions disagrees:\n  ${missing.join('\n  ')}`,
  );
  process.exit(1);
}
console.log(`exports map: ${Object.keys(pkg.exports).length} subpaths, all built`);
