// import() of every entry point in the installed package's exports map.
import { createRequire } from 'node:module';

const pkg = createRequire(import.meta.url)('baton-session/package.json');
const loaded = {};
for (const subpath of Object.keys(pkg.exports)) {
  if (subpath === './package.json') continue;
  const name = subpath === '.' ? 'baton-session' : `baton-session/${subpath.slice(2)}`;
  loaded[name] = Object.keys(await import(name)).length;
}
console.log(JSON.stringify(loaded));
