// Runs the hookyard CLI in-process against the test stack, capturing its output.
import { runCli, type CliDeps } from '../../services/replayer/src/cli.ts';
import { createContext } from '../../services/replayer/src/context.ts';
import type { Config } from '@hookyard/core';
import type { StackAddresses } from '../../scripts/infra/local-stack.ts';
import { runtimeFor } from './stack.ts';

export interface CliRun {
  code: number;
  lines: string[];
  notes: string[];
}

export async function cli(a: StackAddresses, config: Config, argv: string[], deps: Pick<CliDeps, 'console'> = {}): Promise<CliRun> {
  const lines: string[] = [];
  const notes: string[] = [];
  const out = { line: (t: string) => lines.push(t), note: (t: string) => notes.push(t) };
  const code = await runCli(argv, { out, config, context: (c) => createContext(c, runtimeFor(a), out), ...deps });
  return { code, lines, notes };
}
