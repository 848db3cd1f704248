// Dotted paths into a request (`body.data.object.customer`, `headers.x-id`, `query.id`)
// as used by orderingKey, dedupKey and eventType in the config.
export interface RequestView {
  body: unknown;
  headers: Record<string, string>;
  query: Record<string, string | string[]>;
  path: string;
}

export const PATH_ROOTS = ['body', 'headers', 'query', 'path'] as const;

// Paths come from the config: a handful per process, each read on every request.
const splitPaths = new Map<string, { root: string; rest: string[]; header: string }>();
function split(path: string): { root: string; rest: string[]; header: string } {
  let s = splitPaths.get(path);
  if (!s) {
    const [root = '', ...rest] = path.split('.');
    s = { root, rest, header: rest.join('.').toLowerCase() };
    if (splitPaths.size < 10_000) splitPaths.set(path, s);
  }
  return s;
}

export function valueAt(view: RequestView, path: string): unknown {
  const { root, rest, header } = split(path);
  let cur: unknown;
  switch (root) {
    case 'body': cur = view.body; break;
    case 'headers': return view.headers[header];
    case 'query': cur = view.query; break;
    case 'path': return view.path;
    default: return undefined;
  }
  for (const part of rest) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur;
}

/** A scalar as a string key, or undefined when the path is missing or not a scalar. */
export function keyAt(view: RequestView, path: string): string | undefined {
  const v = valueAt(view, path);
  if (typeof v === 'string') return v === '' ? undefined : v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return undefined;
}
