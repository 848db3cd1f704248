// JSONata transforms, compiled once per config load and bounded at run time: a time limit
// and a stack limit (jsonata's own guardrails) and a size limit on the result.
import jsonata from 'jsonata';

export interface TransformInput {
  body: unknown;
  headers: Record<string, string>;
  query: Record<string, string>;
  path: string;
  source: string;
  eventId: string;
  receivedAt: string;
}

export interface TransformOutput {
  body: Buffer;
  /** Headers to set or replace on the outbound request. */
  headers: Record<string, string>;
  contentType: string | undefined;
}

export interface TransformLimits {
  timeoutMs: number;
  maxResultBytes: number;
}

export const DEFAULT_TRANSFORM_LIMITS: TransformLimits = { timeoutMs: 200, maxResultBytes: 1024 * 1024 };

export class TransformError extends Error {
  override name = 'TransformError';
}

export type CompiledTransform = (input: TransformInput) => Promise<TransformOutput>;

/** Throws a message suitable for a config error when the expression does not parse. */
export function compileTransform(expression: string, limits: TransformLimits = DEFAULT_TRANSFORM_LIMITS): CompiledTransform {
  let expr: jsonata.Expression;
  try {
    expr = jsonata(expression, { timeout: limits.timeoutMs, stack: 500 } as unknown as undefined);
  } catch (err) {
    const e = err as { message?: string; position?: number };
    throw new TransformError(`not a valid JSONata expression: ${e.message ?? String(err)}${e.position !== undefined ? ` (at ${e.position})` : ''}`);
  }
  return async (input) => {
    let result: unknown;
    try {
      result = await expr.evaluate(input);
    } catch (err) {
      const e = err as { code?: string; message?: string };
      throw new TransformError(e.code === 'D1012' ? `transform exceeded ${limits.timeoutMs} ms` : `transform failed: ${e.code ? `${e.code} ` : ''}${e.message ?? String(err)}`);
    }
    let body: unknown = result;
    let headers: Record<string, string> = {};
    // { body, headers } changes headers too; anything else is the body.
    if (result !== null && typeof result === 'object' && !Array.isArray(result) && 'body' in result && Object.keys(result).every((k) => k === 'body' || k === 'headers')) {
      const r = result as { body: unknown; headers?: unknown };
      body = r.body;
      if (r.headers !== undefined) {
        if (r.headers === null || typeof r.headers !== 'object' || Array.isArray(r.headers)) throw new TransformError('transform result headers must be an object');
        headers = Object.fromEntries(Object.entries(r.headers as Record<string, unknown>).map(([k, v]) => [k.toLowerCase(), String(v)]));
      }
    }
    if (body === undefined) throw new TransformError('transform produced no body');
    const isText = typeof body === 'string';
    const bytes = Buffer.from(isText ? (body as string) : JSON.stringify(body), 'utf8');
    if (bytes.length > limits.maxResultBytes) throw new TransformError(`transform result is ${bytes.length} bytes, over the ${limits.maxResultBytes}-byte limit`);
    return { body: bytes, headers, contentType: isText ? undefined : 'application/json' };
  };
}
