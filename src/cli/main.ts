#!/usr/bin/env node
/**
 * The `baton` command: sets up and looks after a baton-session store. Usage: `baton --help`,
 * `baton <command> --help`. Each command lives in `commands/<name>.ts` and exports a
 * `(program: Command) => void` that adds it; add a command with one line in `COMMANDS` below
 * (e.g. `demo` from `commands/demo.ts`).
 *
 * Exit codes: 0 success, 1 failure, 2 bad usage (one line on stderr says why).
 */
import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { createTable } from './commands/create-table.js';
import { demo } from './commands/demo.js';
import { doctor } from './commands/doctor.js';
import { gc } from './commands/gc.js';
import { iamPolicy } from './commands/iam-policy.js';
import { local } from './commands/local.js';
import { ls } from './commands/ls.js';
import { migrate } from './commands/migrate.js';
import { revoke } from './commands/revoke.js';
import { show } from './commands/show.js';
import { stats } from './commands/stats.js';
import {
  EXIT_OK,
  EXIT_USAGE,
  exitCodeOf,
  messageOf,
  type RegisterCommand,
  ReportedFailure,
} from './common.js';

/** Every command, in the order `baton --help` lists them. */
const COMMANDS: RegisterCommand[] = [
  demo,
  local,
  createTable,
  iamPolicy,
  doctor,
  ls,
  show,
  revoke,
  gc,
  migrate,
  stats,
];

function version(): string {
  // src/cli/main.ts and dist/cli/main.js both sit two levels under the package root.
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  return pkg.version;
}

/**
 * Store keys and session ids are base64url, so one in 64 starts with `-` and reads as an option:
 * say how to pass it.
 */
function dashHint(text: string): string {
  const option = /unknown option '(-[A-Za-z0-9_.-]{20,})'/.exec(text)?.[1];
  return option
    ? `; a key or id that starts with '-' goes after \`--\`: baton show [options] -- ${option}`
    : '';
}

function buildProgram(): Command {
  const program = new Command('baton')
    .description(
      'Set up and look after a baton-session store: tables, IAM policies, a local engine, inspection, gc, migration',
    )
    .version(version(), '-V, --version')
    .configureOutput({
      // Parser errors become one line on stderr: `baton: unknown command 'x' (see `baton --help`)`.
      outputError: (text, write) =>
        write(`baton: ${oneLine(text)}${dashHint(text)} (see \`baton --help\`)\n`),
    })
    .exitOverride()
    .showSuggestionAfterError(true)
    .addHelpText(
      'after',
      `
Store URLs (--store, or the BATON_STORE environment variable):
  dynamodb://TABLE?region=REGION[&endpoint=http://127.0.0.1:8000]
  redis://HOST:6379/0?prefix=sess:   rediss://… for TLS
  postgres://USER@HOST:5432/DB?table=sessions
  mysql://USER@HOST:3306/DB?table=sessions
  memcached://HOST:11211
  file:///path/to/dir
  memory:

Exit codes: 0 success, 1 failure, 2 bad usage.

Examples:
  $ baton demo                                    # the cluster demo (what npm start runs)
  $ baton local                                   # a DynamoDB-compatible engine on 127.0.0.1:8000
  $ export BATON_STORE='dynamodb://sessions?endpoint=http://127.0.0.1:8000&region=us-east-1'
  $ baton create-table && baton doctor
  $ baton iam-policy --table sessions --region eu-west-1 --account 123456789012`,
    );
  for (const register of COMMANDS) register(program);
  // Commands added with `addCommand()` get the same error output and exit codes as the rest.
  for (const command of program.commands) command.copyInheritedSettings(program);
  return program;
}

function oneLine(text: string): string {
  return text
    .replace(/^error:\s*/, '')
    .replace(/\s*\n\s*/g, ' ')
    .trim();
}

async function run(argv: string[]): Promise<number> {
  const program = buildProgram();
  // Stores unref their timers (a backoff sleep must not hold an app open); a command waiting on one
  // must not be cut short by an empty event loop (exit 13, "unsettled top-level await").
  const keepAlive = setInterval(() => {}, 60_000);
  try {
    await program.parseAsync(argv);
    return process.exitCode === undefined ? EXIT_OK : Number(process.exitCode);
  } catch (err) {
    if (err instanceof CommanderError) {
      // Help and version exit 0; every parser complaint is bad usage.
      return err.exitCode === 0 ? EXIT_OK : EXIT_USAGE;
    }
    if (!(err instanceof ReportedFailure)) process.stderr.write(`baton: ${messageOf(err)}\n`);
    if (process.env.BATON_DEBUG === '1') console.error(err);
    return exitCodeOf(err);
  } finally {
    clearInterval(keepAlive);
  }
}

// The AWS SDK's notice about future Node versions is not the operator's concern here and would
// break the one-line error output.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
const code = await run(process.argv);
process.exitCode = code;
// A client that keeps a socket open must not keep a finished command alive.
setTimeout(() => process.exit(code), 200).unref();
