/**
 * `baton local`: runs the embedded DynamoDB-compatible engine (dynalite) on 127.0.0.1 for
 * development, until Ctrl-C (SIGINT) or SIGTERM.
 *
 * Usage:
 *   baton local [--port 8000] [--path .baton/dynamodb] [--memory] [--table sessions] [--json]
 *
 * Examples:
 *   baton local                       # data kept under .baton/dynamodb, reused on the next start
 *   baton local --memory --port 0     # throwaway data on a free port (printed)
 *   baton local --json                # {"endpoint": …, "store": …} on one line, for scripts
 *
 * It prints the endpoint and the `--store` URL to use with the other commands. The engine checks no
 * credentials, so it listens on loopback only.
 */
import { type Command, InvalidArgumentError } from 'commander';
import { startLocalDynamo } from '../../stores/dynamodb/local.js';

interface LocalOptions {
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
    .description('run the embedded DynamoDB-compatible engine (dynalite) on 127.0.0.1 until Ctrl-C')
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
  $ baton local --path /tmp/baton-data --table my-sessions`,
    )
    .action(async (options: LocalOptions) => {
      const engine = await startLocalDynamo({
        port: options.port,
        path: options.path,
        memory: options.memory === true,
      });
      // The SDK signs requests even for a local engine; the region is required, any value works.
      const store = `dynamodb://${options.table}?endpoint=${engine.endpoint}&region=us-east-1`;
      const where = options.memory === true ? 'in memory' : `in ${options.path}`;
      if (options.json === true) {
        process.stdout.write(
          `${JSON.stringify({ endpoint: engine.endpoint, port: engine.port, store, path: options.memory === true ? null : options.path })}\n`,
        );
      } else {
        process.stdout.write(
          [
            `DynamoDB-compatible engine (dynalite) listening on ${engine.endpoint}, data ${where}`,
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
