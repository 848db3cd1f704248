#!/usr/bin/env node
// The hookyard CLI (replay, rewind, dlq, events): see cli.ts.
import { runCli } from './cli.ts';

process.exitCode = await runCli(process.argv.slice(2));
