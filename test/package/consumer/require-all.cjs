// require() of every entry point in the installed package's exports map (Node 20.19+, 22.12+),
// with express and express-session (whose Store class the drop-in extends) and @opentelemetry/api
// (the one thing baton-session/otel is for) but no store driver.
const pkg = require('baton-session/package.json');
const loaded = {};
for (const subpath of Object.keys(pkg.exports)) {
  if (subpath === './package.json') continue;
  const name = subpath === '.' ? 'baton-session' : `baton-session/${subpath.slice(2)}`;
  const mod = require(name);
  const names = Object.keys(mod);
  if (names.length === 0) throw new Error(`${name} exports nothing`);
  loaded[name] = names.length;
}
console.log(JSON.stringify(loaded));
