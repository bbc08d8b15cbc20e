#!/usr/bin/env node
/**
 * The `baton` command. Usage: `baton --help`.
 */
import { Command } from 'commander';
import { demo } from './commands/demo.js';

const program = new Command('baton')
  .description('Set up and look after a baton-session store')
  .showHelpAfterError()
  .exitOverride((err) => {
    process.exit(err.exitCode === 0 ? 0 : 2);
  });

demo(program);

program.parse();
