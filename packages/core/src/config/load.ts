// Reads hookyard.yaml, replaces ${ENV}, validates, and reports every problem by path.
import { readFileSync } from 'node:fs';
import { parseDocument } from 'yaml';
import type { z } from 'zod';
import { ConfigError } from '../errors.ts';
import { configSchema, crossCheck, type Config } from './options.ts';

const ENV_REF = /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

/** `${NAME}` and `${NAME:-default}`; a missing variable is a problem reported by path. */
function interpolate(node: unknown, env: NodeJS.ProcessEnv, at: (string | number)[], problems: string[]): unknown {
  if (typeof node === 'string') {
    return node.replace(ENV_REF, (_m, key: string, fallback: string | undefined) => {
      const v = env[key];
      if (v !== undefined) return v;
      if (fallback !== undefined) return fallback;
      problems.push(`${formatPath(at)}: environment variable ${key} is not set`);
      return '';
    });
  }
  if (Array.isArray(node)) return node.map((v, i) => interpolate(v, env, [...at, i], problems));
  if (node !== null && typeof node === 'object') {
    return Object.fromEntries(Object.entries(node).map(([k, v]) => [k, interpolate(v, env, [...at, k], problems)]));
  }
  return node;
}

export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : out === '' ? String(p) : `.${String(p)}`;
  return out === '' ? '(root)' : out;
}

function describe(issue: z.core.$ZodIssue): string {
  if (issue.code === 'unrecognized_keys') return `unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `"${k}"`).join(', ')}`;
  if (issue.code === 'invalid_type') return `${issue.message.replace(/^Invalid input: /, '')}`;
  if (issue.code === 'invalid_union' && 'note' in issue && issue.note === 'No matching discriminator') return 'has an unknown "type"';
  return issue.message;
}

export function parseConfig(text: string, env: NodeJS.ProcessEnv = process.env, file = 'config'): Config {
  const doc = parseDocument(text, { prettyErrors: true });
  if (doc.errors.length > 0) throw new ConfigError(file, doc.errors.map((e) => `YAML: ${e.message.split('\n')[0]}`));
  const problems: string[] = [];
  const raw = interpolate(doc.toJS() ?? {}, env, [], problems);
  const result = configSchema.safeParse(raw);
  if (!result.success) for (const issue of result.error.issues) problems.push(`${formatPath(issue.path)}: ${describe(issue)}`);
  for (const p of crossCheck(raw)) problems.push(`${formatPath(p.path)}: ${p.message}`);
  if (problems.length > 0) throw new ConfigError(file, problems);
  return result.data as Config;
}

export function loadConfig(file = process.env.HOOKYARD_CONFIG ?? './hookyard.yaml', env: NodeJS.ProcessEnv = process.env): Config {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(file, [`cannot read file: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`]);
  }
  return parseConfig(text, env, file);
}
