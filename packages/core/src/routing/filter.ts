// Hookdeck-compatible filters. A filter is a JSON object matched against the request's
// { body, headers, query, path }:
//   - a primitive means equality (strings, numbers, booleans, null); against an array input
//     it means "the array contains it";
//   - an object without operators matches recursively, key by key (all must match);
//   - an array filter against an array input: every filter element is matched by some
//     input element; against a scalar input: the input equals one of them;
//   - operators: $eq $neq $gt $gte $lt $lte $in $nin $startsWith $endsWith $exist
//     $and $or $not, and $ref: "body.a.b" (a path from the request root) usable wherever
//     a value is expected, e.g. { updated_at: { $gt: { $ref: "body.created_at" } } }.
export type FilterView = Record<'body' | 'headers' | 'query' | 'path', unknown>;

const OPERATORS = new Set(['$eq', '$neq', '$gt', '$gte', '$lt', '$lte', '$in', '$nin', '$startsWith', '$endsWith', '$exist', '$and', '$or', '$not', '$ref']);
const ROOTS = new Set(['body', 'headers', 'query', 'path']);

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);
const isOperatorObject = (v: unknown): v is Record<string, unknown> => isObject(v) && Object.keys(v).length > 0 && Object.keys(v).every((k) => k.startsWith('$'));

function resolveRef(root: FilterView, path: string): unknown {
  let cur: unknown = root;
  for (const part of path.split('.')) {
    if (Array.isArray(cur) && /^\d+$/.test(part)) cur = cur[Number(part)];
    else if (isObject(cur)) cur = cur[part];
    else return undefined;
  }
  return cur;
}

/** A filter operand: a literal, or { $ref } resolved against the request. */
function operand(v: unknown, root: FilterView): unknown {
  return isObject(v) && typeof v.$ref === 'string' && Object.keys(v).length === 1 ? resolveRef(root, v.$ref) : v;
}

function equal(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => equal(x, b[i]));
  if (isObject(a) && isObject(b)) {
    const ka = Object.keys(a);
    return ka.length === Object.keys(b).length && ka.every((k) => equal(a[k], b[k]));
  }
  return false;
}

function compare(input: unknown, value: unknown, op: (c: number) => boolean): boolean {
  if (typeof input === 'number' && typeof value === 'number') return op(input - value);
  if (typeof input === 'string' && typeof value === 'string') return op(input < value ? -1 : input > value ? 1 : 0);
  return false;
}

function contains(input: unknown, value: unknown): boolean {
  if (typeof input === 'string' && typeof value === 'string') return input.includes(value);
  if (Array.isArray(input)) return input.some((x) => equal(x, value));
  return false;
}

function applyOperator(op: string, arg: unknown, input: unknown, root: FilterView): boolean {
  const v = operand(arg, root);
  switch (op) {
    case '$eq': return Array.isArray(input) && !Array.isArray(v) ? contains(input, v) : equal(input, v);
    case '$neq': return !applyOperator('$eq', arg, input, root);
    case '$gt': return compare(input, v, (c) => c > 0);
    case '$gte': return compare(input, v, (c) => c >= 0);
    case '$lt': return compare(input, v, (c) => c < 0);
    case '$lte': return compare(input, v, (c) => c <= 0);
    // $in: the input is among the listed values, or (string/array input) contains the value.
    case '$in': return Array.isArray(v) ? v.some((x) => (Array.isArray(input) ? contains(input, x) : equal(input, x))) : contains(input, v);
    case '$nin': return !applyOperator('$in', arg, input, root);
    case '$startsWith': return typeof input === 'string' && typeof v === 'string' && input.startsWith(v);
    case '$endsWith': return typeof input === 'string' && typeof v === 'string' && input.endsWith(v);
    case '$exist': return (input !== undefined) === Boolean(v);
    case '$and': return (arg as unknown[]).every((f) => match(f, input, root));
    case '$or': return (arg as unknown[]).some((f) => match(f, input, root));
    case '$not': return !match(arg, input, root);
    case '$ref': return typeof arg === 'string' && equal(input, resolveRef(root, arg));
    default: return false;
  }
}

function match(filter: unknown, input: unknown, root: FilterView): boolean {
  if (isOperatorObject(filter)) return Object.entries(filter).every(([op, arg]) => applyOperator(op, arg, input, root));
  if (isObject(filter)) {
    if (Array.isArray(input)) return input.some((item) => match(filter, item, root));
    if (!isObject(input)) return false;
    return Object.entries(filter).every(([k, f]) => match(f, input[k], root));
  }
  if (Array.isArray(filter)) {
    if (Array.isArray(input)) return filter.every((f) => input.some((x) => match(f, x, root)));
    return filter.some((f) => match(f, input, root));
  }
  // A primitive: equality, or membership for an array input.
  if (Array.isArray(input)) return input.some((x) => equal(x, filter));
  return equal(input, filter);
}

export function matchesFilter(filter: Record<string, unknown>, view: FilterView): boolean {
  return match(filter, view, view);
}

/** Problems with a filter, each with its path inside the filter (for config errors). */
export function validateFilter(filter: unknown, at: (string | number)[] = []): { path: (string | number)[]; message: string }[] {
  const out: { path: (string | number)[]; message: string }[] = [];
  if (at.length === 0) {
    if (!isObject(filter)) return [{ path: at, message: 'must be an object' }];
    for (const k of Object.keys(filter)) {
      if (!ROOTS.has(k) && !k.startsWith('$')) out.push({ path: [k], message: `must match on body, headers, query or path (not "${k}")` });
    }
  }
  const walk = (node: unknown, path: (string | number)[]): void => {
    if (Array.isArray(node)) { node.forEach((n, i) => walk(n, [...path, i])); return; }
    if (!isObject(node)) return;
    for (const [k, v] of Object.entries(node)) {
      const p = [...path, k];
      if (!k.startsWith('$')) { walk(v, p); continue; }
      if (!OPERATORS.has(k)) { out.push({ path: p, message: `unknown operator "${k}"` }); continue; }
      if ((k === '$and' || k === '$or') && (!Array.isArray(v) || v.length === 0)) out.push({ path: p, message: `${k} takes a non-empty list` });
      else if ((k === '$in' || k === '$nin') && !Array.isArray(v) && typeof v !== 'string' && !isObject(v)) out.push({ path: p, message: `${k} takes a list or a string` });
      else if ((k === '$startsWith' || k === '$endsWith') && typeof v !== 'string' && !isObject(v)) out.push({ path: p, message: `${k} takes a string` });
      else if (['$gt', '$gte', '$lt', '$lte'].includes(k) && typeof v !== 'number' && typeof v !== 'string' && !isObject(v)) out.push({ path: p, message: `${k} takes a number or a string` });
      else if (k === '$exist' && typeof v !== 'boolean') out.push({ path: p, message: '$exist takes true or false' });
      else if (k === '$ref' && (typeof v !== 'string' || !ROOTS.has(v.split('.')[0] ?? ''))) out.push({ path: p, message: '$ref takes a path starting with body, headers, query or path' });
      else if (k === '$not' && !isObject(v)) out.push({ path: p, message: '$not takes a filter object' });
      walk(v, p);
    }
  };
  walk(filter, at);
  return out;
}
