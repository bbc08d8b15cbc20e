/**
 * The layer rule of DESIGN.md, checked by `npm run check` (and so by `npm test`):
 * adapters → core ← stores; legacy beside the stores; cli, demo and the package entry on top.
 * Type-only imports count: the core may not even name a store's or an adapter's types.
 * See docs/architecture.md, "How the layers are checked".
 */
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'core-imports-nothing-outward',
      comment:
        'src/core is the framework-free engine and owns the Store contract: it imports nothing from stores, adapters, legacy, otel, cli, demo or the package entry.',
      severity: 'error',
      from: { path: '^src/core/' },
      to: { path: '^src/(stores|adapters|legacy|otel|cli|demo|testing)/|^src/index\\.ts$' },
    },
    {
      name: 'stores-do-engine-io-only',
      comment:
        'A store imports the core contract and the kit, never an adapter, the CLI, the demo, legacy readers, or the session manager (src/core/manager*).',
      severity: 'error',
      from: { path: '^src/stores/' },
      to: {
        path: '^src/(adapters|legacy|otel|cli|demo)/|^src/core/manager(\\.ts$|/)|^src/index\\.ts$',
      },
    },
    {
      name: 'adapters-on-the-core-only',
      comment:
        'An adapter maps its framework onto the core: it imports no store (the user passes one), no legacy reader, no CLI or demo.',
      severity: 'error',
      from: { path: '^src/adapters/' },
      to: { path: '^src/(stores|legacy|otel|cli|demo)/|^src/index\\.ts$' },
    },
    {
      name: 'legacy-beside-the-stores',
      comment:
        "The readers of express-session peers' records (src/legacy) use the core and the stores' engine clients, never adapters, the CLI or the demo.",
      severity: 'error',
      from: { path: '^src/legacy/' },
      to: { path: '^src/(adapters|otel|cli|demo)/|^src/core/manager(\\.ts$|/)' },
    },
    {
      name: 'otel-on-the-core-only',
      comment: 'baton-session/otel subscribes to the core tracing channels; it imports nothing else.',
      severity: 'error',
      from: { path: '^src/otel/' },
      to: { path: '^src/(stores|adapters|legacy|cli|demo)/' },
    },
    {
      name: 'no-circular',
      comment: 'No import circles, type-only ones included.',
      severity: 'error',
      from: { path: '^src/' },
      to: { circular: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    includeOnly: '^src/',
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      extensions: ['.ts', '.js', '.mjs', '.cjs', '.d.ts'],
    },
  },
};
