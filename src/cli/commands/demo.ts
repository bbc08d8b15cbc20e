/**
 * `baton demo`: the cluster demo that `npm start` runs. Three instances share sessions through the
 * embedded DynamoDB engine behind a load balancer; three more keep them in memory behind sticky
 * routing, for contrast. Ctrl-C stops everything.
 *
 *   baton demo [--port 3000] [--host 127.0.0.1] [--data .baton/demo] [--memory] [--restart-delay 3]
 *
 * Needs the dev dependencies of a checkout (express, httpxy, dynalite, the AWS SDK).
 */
import { Command, InvalidArgumentError } from 'commander';
import type { RunningDemo } from '../../demo/run.js';

const CHECKOUT =
  'git clone https://github.com/baton-session/baton-session && cd baton-session && npm install && npm start';

function portNumber(value: string): number {
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new InvalidArgumentError('must be a TCP port (0-65535; 0 picks a free one)');
  }
  return port;
}

function seconds(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0) throw new InvalidArgumentError('must be a number of seconds >= 0');
  return n;
}

interface DemoFlags {
  port?: number;
  host: string;
  data: string;
  memory?: boolean;
  restartDelay: number;
}

/** Registers `baton demo` on the program (the CLI's one-call-per-command convention). */
export function demo(program: Command): void {
  program.addCommand(demoCommand());
}

export function demoCommand(): Command {
  return new Command('demo')
    .description('Run the cluster demo: shared sessions on DynamoDB vs sticky sessions in memory')
    .option(
      '-p, --port <port>',
      'port of the page and the balancer (default: env PORT, else 3000)',
      portNumber,
    )
    .option('--host <host>', 'interface to listen on (env HOST)', process.env.HOST ?? '127.0.0.1')
    .option(
      '--data <dir>',
      'where the embedded DynamoDB engine keeps its data (env BATON_DEMO_DATA)',
      process.env.BATON_DEMO_DATA ?? '.baton/demo',
    )
    .option('--memory', 'keep the engine data in memory only (nothing written, nothing kept)')
    .option('--restart-delay <seconds>', 'pause before a killed instance comes back', seconds, 3)
    .action(async (flags: DemoFlags) => {
      // Loaded here so that other commands work without the demo's dev dependencies. The published
      // package leaves the demo out: it runs from a checkout.
      let startDemo: typeof import('../../demo/run.js').startDemo;
      try {
        ({ startDemo } = await import('../../demo/run.js'));
      } catch (err) {
        const code = (err as { code?: unknown }).code;
        if (code !== 'ERR_MODULE_NOT_FOUND' && code !== 'MODULE_NOT_FOUND') throw err;
        console.error(`baton demo runs from a checkout: ${CHECKOUT}`);
        process.exitCode = 1;
        return;
      }
      let demo: Awaited<ReturnType<typeof startDemo>>;
      try {
        demo = await startDemo({
          port: flags.port ?? envPort(),
          host: flags.host,
          dataDir: flags.data,
          memory: flags.memory ?? false,
          restartDelay: flags.restartDelay,
        });
      } catch (err) {
        // Until here a Ctrl-C ends this process; the instances started so far follow (IPC closes).
        console.error(`The demo could not start: ${(err as Error).message}`);
        process.exitCode = 1;
        return;
      }
      printBanner(demo);

      // The command runs until Ctrl-C or SIGTERM; a second one exits at once.
      const signal = await new Promise<string>((resolve) => {
        const once = (name: NodeJS.Signals) => {
          process.off('SIGINT', once);
          process.off('SIGTERM', once);
          process.once('SIGINT', () => process.exit(130));
          process.once('SIGTERM', () => process.exit(143));
          resolve(name);
        };
        process.on('SIGINT', once);
        process.on('SIGTERM', once);
      });
      console.log(`\n${signal}: stopping the demo...`);
      await demo.stop();
      console.log('Stopped: every instance and the engine are down.');
    });
}

function printBanner(demo: RunningDemo): void {
  const kept =
    demo.dataDir === null ? 'in memory (gone on exit)' : `in ${demo.dataDir}/ (kept for next time)`;
  console.log(
    [
      '',
      `  baton-session cluster demo: ${demo.url}`,
      '',
      `  shared  ${demo.shared.instances.map((i) => i.name).join(', ')}  sessions in DynamoDB (embedded engine), data ${kept}`,
      `  sticky  ${demo.sticky.instances.map((i) => i.name).join(', ')}  sessions in each instance's memory, sticky cookie`,
      demo.sessionsAtStart > 0
        ? `  ${demo.sessionsAtStart} session${demo.sessionsAtStart === 1 ? '' : 's'} kept from the last run`
        : '',
      '',
      '  Try: add items to both baskets, then kill the instance that served them.',
      '  The shared basket survives on the other instances; the sticky one is gone.',
      `  API: curl -c jar -b jar ${demo.url}api/state   (JSON; docs/demo.md lists it all)`,
      '',
      '  Ctrl-C stops everything.',
      '',
    ]
      .filter((line, i, all) => line !== '' || all[i - 1] !== '')
      .join('\n'),
  );
}

function envPort(): number {
  const raw = process.env.PORT;
  if (raw === undefined || raw === '') return 3000;
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    console.error(`error: PORT=${raw} is not a TCP port (0-65535)`);
    process.exit(2);
  }
  return port;
}
