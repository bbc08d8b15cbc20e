/** The scenarios: what runs, on which engine. The apps themselves are built in `app.ts`. */

/** The session secret every benchmark app signs with (a benchmark value, not a real secret). */
export const BENCH_SECRET = 'bench-secret-0123456789-abcdefghijklmnopqrstuvwxyz';

/**
 * Where a scenario's rows were measured. The DynamoDB scenarios are declared once (`dynamodb`) and
 * run on dynalite under that name, and again on Amazon's DynamoDB Local as `dynamodb-local`.
 */
export type Engine = 'dynamodb' | 'dynamodb-local' | 'redis' | 'memory';

/** Whether rows of `engine` come from a DynamoDB engine (dynalite or DynamoDB Local). */
export const isDynamo = (engine: string): boolean => engine === 'dynamodb' || engine === 'dynamodb-local';

/** The engine a scenario is declared under (DynamoDB Local rows use the `dynamodb` declarations). */
export const declaredEngine = (engine: string): string => (engine === 'dynamodb-local' ? 'dynamodb' : engine);

/** The scenario named `name` as measured on `engine`, or undefined. */
export function specFor(name: string, engine: string): ScenarioSpec | undefined {
  const spec = SCENARIOS.find((s) => s.name === name && s.engine === declaredEngine(engine));
  return spec && { ...spec, engine: engine as Engine };
}
export type Route = 'read' | 'write' | 'new';

export interface ScenarioSpec {
  /** Name in the results (`name` + `engine` identify a row). */
  name: string;
  engine: Engine;
  /** What the app is, for the docs. */
  description: string;
  /** Routes measured. The floors only read. */
  routes: Route[];
  /** Keeps sessions across instances (lost-update test applies). */
  shared: boolean;
  /** A peer library (the "best peer" ratios compare against these). */
  peer: boolean;
  /** A floor (one store read, no session layer). */
  floor: boolean;
  /** The DynamoDB client underneath, where there is one. */
  client?: 'aws-lite' | 'aws-sdk-v3' | 'aws-sdk-v2';
}

const ALL: Route[] = ['read', 'write', 'new'];

export const SCENARIOS: ScenarioSpec[] = [
  {
    name: 'baton',
    engine: 'dynamodb',
    description: 'baton-session Express middleware, DynamoDBStore over @aws-lite/client',
    routes: ALL,
    shared: true,
    peer: false,
    floor: false,
    client: 'aws-lite',
  },
  {
    name: 'baton-sdk',
    engine: 'dynamodb',
    description:
      "baton-session Express middleware, DynamoDBStore given an AWS SDK v3 client (the default lean transport: its settings, baton's HTTP path)",
    routes: ALL,
    shared: true,
    peer: false,
    floor: false,
    client: 'aws-sdk-v3',
  },
  {
    name: 'baton-sdk-send',
    engine: 'dynamodb',
    description:
      "as `baton-sdk`, with `transport: 'sdk'`: every call through the client's `send()` and middleware stack",
    routes: ['read', 'write'],
    shared: true,
    peer: false,
    floor: false,
    client: 'aws-sdk-v3',
  },
  {
    name: 'baton-traced',
    engine: 'dynamodb',
    description:
      'as `baton`, with a no-op subscriber on the three baton-session tracing channels (paired with `baton` for the cost of tracing)',
    routes: ['read'],
    shared: true,
    peer: false,
    floor: false,
    client: 'aws-lite',
  },
  {
    name: 'baton-untraced',
    engine: 'dynamodb',
    description:
      "as `baton`, with the tracing channels' `hasSubscribers` replaced by a constant `false` (bench/tracing-inert.ts): the call sites as if compiled out; paired with `baton` for the cost of tracing without subscribers",
    routes: ['read'],
    shared: true,
    peer: false,
    floor: false,
    client: 'aws-lite',
  },
  {
    name: 'baton-express-session',
    engine: 'dynamodb',
    description: 'express-session with ExpressSessionStore over DynamoDBStore (@aws-lite/client)',
    routes: ALL,
    shared: true,
    peer: false,
    floor: false,
    client: 'aws-lite',
  },
  {
    name: 'connect-dynamodb',
    engine: 'dynamodb',
    description: 'express-session + connect-dynamodb (AWS SDK v3 client, keep-alive)',
    routes: ALL,
    shared: true,
    peer: true,
    floor: false,
    client: 'aws-sdk-v3',
  },
  {
    name: 'dynamodb-store',
    engine: 'dynamodb',
    description: 'express-session + dynamodb-store (AWS SDK v2, keep-alive agent)',
    routes: ALL,
    shared: true,
    peer: true,
    floor: false,
    client: 'aws-sdk-v2',
  },
  {
    name: 'floor',
    engine: 'dynamodb',
    description: 'bare Express, one GetItem per request through AWS SDK v3',
    routes: ['read'],
    shared: false,
    peer: false,
    floor: true,
    client: 'aws-sdk-v3',
  },
  {
    name: 'floor-lite',
    engine: 'dynamodb',
    description: 'bare Express, one GetItem per request through @aws-lite/client',
    routes: ['read'],
    shared: false,
    peer: false,
    floor: true,
    client: 'aws-lite',
  },
  {
    name: 'baton',
    engine: 'redis',
    description: 'baton-session Express middleware, RedisStore over node-redis',
    routes: ALL,
    shared: true,
    peer: false,
    floor: false,
  },
  {
    name: 'baton-express-session',
    engine: 'redis',
    description: 'express-session with ExpressSessionStore over RedisStore (node-redis)',
    routes: ALL,
    shared: true,
    peer: false,
    floor: false,
  },
  {
    name: 'connect-redis',
    engine: 'redis',
    description: 'express-session + connect-redis 9 over node-redis',
    routes: ALL,
    shared: true,
    peer: true,
    floor: false,
  },
  {
    name: 'floor',
    engine: 'redis',
    description: 'bare Express, one Redis GET per request (node-redis)',
    routes: ['read'],
    shared: false,
    peer: false,
    floor: true,
  },
  {
    name: 'express-session-memory',
    engine: 'memory',
    description: 'express-session with its MemoryStore: the framework ceiling, nothing shared',
    routes: ALL,
    shared: false,
    peer: false,
    floor: false,
  },
];

export function scenarioId(s: { name: string; engine: string }): string {
  return `${s.name}@${s.engine}`;
}
