// Reads hookyard.yaml, replaces ${ENV}, validates, and reports every problem by path.
import { withAlerts } from '../alerts.ts';
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

const TYPE_LABEL: Record<string, string> = {
  string: 'a string', number: 'a number', int: 'a whole number', boolean: 'true or false', array: 'a list',
  object: 'a mapping (key: value)', record: 'a mapping (key: value)', null: 'null',
};

function valueAt(raw: unknown, path: readonly PropertyKey[]): unknown {
  let v = raw;
  for (const p of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<PropertyKey, unknown>)[p];
  }
  return v;
}

function kindOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  if (typeof v === 'string') return `the string ${JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v)}`;
  if (typeof v === 'boolean') return String(v);
  if (typeof v === 'number') return `the number ${v}`;
  return typeof v;
}

/** A missing field inside a `type`-tagged block says which type needs it. */
function required(raw: unknown, path: readonly PropertyKey[]): string {
  const type = (valueAt(raw, path.slice(0, -1)) as { type?: unknown } | undefined)?.type;
  return typeof type === 'string' && path.at(-1) !== 'type' ? `required for type ${type}` : 'required';
}

function alternative(i: z.core.$ZodIssue): string {
  if (i.code === 'invalid_type') return TYPE_LABEL[i.expected] ?? i.expected;
  if (i.code === 'invalid_value') return i.values.map((v) => JSON.stringify(v)).join(' or ');
  return i.message;
}

function orList(items: string[]): string {
  const unique = [...new Set(items)];
  return unique.length <= 1 ? (unique[0] ?? '') : `${unique.slice(0, -1).join(', ')} or ${unique.at(-1)}`;
}

/**
 * One issue as problems an operator can act on, each with its full path: a missing field
 * says it is required (and for which type), a wrong type says what was expected and what
 * was found, a union names its alternatives — or, when the value had the right shape,
 * what was wrong inside it. zod's bare "Invalid input" never reaches the operator.
 */
function explain(issue: z.core.$ZodIssue, raw: unknown, base: readonly PropertyKey[] = []): { path: PropertyKey[]; message: string }[] {
  const path = [...base, ...issue.path];
  const value = valueAt(raw, path);
  const one = (message: string) => [{ path, message }];
  switch (issue.code) {
    case 'invalid_type':
      return one(value === undefined ? required(raw, path) : `must be ${TYPE_LABEL[issue.expected] ?? issue.expected}, not ${kindOf(value)}`);
    case 'invalid_union': {
      if ('note' in issue && issue.note === 'No matching discriminator') {
        const options = ((issue as { options?: unknown[] }).options ?? []).map(String).join(', ');
        return one(value === undefined ? `required: one of ${options}` : `unknown type ${JSON.stringify(value)}; expected one of ${options}`);
      }
      if (value === undefined) return one(required(raw, path));
      // A branch the value matched in shape, but not in detail, explains it best.
      const shaped = issue.errors.filter((b) => b.some((i) => !(i.path.length === 0 && (i.code === 'invalid_type' || i.code === 'invalid_value'))));
      const best = shaped.sort((x, y) => x.length - y.length)[0];
      if (best) return best.flatMap((i) => explain(i, raw, path));
      return one(`must be ${orList(issue.errors.map((b) => (b[0] ? alternative(b[0]) : 'something else')))}, not ${kindOf(value)}`);
    }
    case 'invalid_value':
      return one(`must be ${orList(issue.values.map((v) => JSON.stringify(v)))}, not ${kindOf(value)}`);
    case 'unrecognized_keys':
      return one(`unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `"${k}"`).join(', ')}`);
    case 'too_small':
    case 'too_big': {
      if (!/^Too (small|big)/.test(issue.message)) return one(issue.message);
      const n = Number(issue.code === 'too_small' ? issue.minimum : issue.maximum);
      const small = issue.code === 'too_small';
      if (issue.origin === 'array') return one(small ? `must list at least ${n}` : `must list at most ${n}`);
      if (issue.origin === 'string') return one(small ? (n === 1 ? 'must not be empty' : `must be at least ${n} characters`) : `must be at most ${n} characters`);
      const inclusive = issue.inclusive !== false;
      return one(small ? (inclusive ? `must be at least ${n}` : `must be greater than ${n}`) : (inclusive ? `must be at most ${n}` : `must be less than ${n}`));
    }
    case 'invalid_format':
      if (!/^Invalid/.test(issue.message)) return one(issue.message); // the schema's own words
      return one(issue.format === 'url' ? 'must be a URL such as https://hooks.example.com' : `must be a valid ${issue.format}`);
    default:
      return one(/^Invalid input/.test(issue.message) ? `is not valid here (found ${kindOf(value)})` : issue.message);
  }
}

/** The text each parsed config came from (its hash names the file version a process runs). */
const texts = new WeakMap<Config, string>();
export function configTextOf(config: Config): string | undefined {
  return texts.get(config);
}

export function parseConfig(text: string, env: NodeJS.ProcessEnv = process.env, file = 'config'): Config {
  const doc = parseDocument(text, { prettyErrors: true });
  if (doc.errors.length > 0) throw new ConfigError(file, doc.errors.map((e) => `YAML: ${e.message.split('\n')[0]}`));
  const problems: string[] = [];
  const raw = interpolate(doc.toJS() ?? {}, env, [], problems);
  const result = configSchema.safeParse(raw);
  if (!result.success) for (const issue of result.error.issues) for (const p of explain(issue, raw)) problems.push(`${formatPath(p.path)}: ${p.message}`);
  for (const p of crossCheck(raw)) problems.push(`${formatPath(p.path)}: ${p.message}`);
  if (problems.length > 0) throw new ConfigError(file, problems);
  const config = withAlerts(result.data as Config);
  texts.set(config, text);
  return config;
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
