// The CLI's way into the event history: the console's /api/v1, with a token from
// HOOKYARD_API_TOKEN or the config's first console.apiTokens entry.
import type { Config } from '@hookyard/core';

export class ConsoleUnavailable extends Error {}

export interface ConsoleClient {
  readonly url: string;
  get(path: string, params?: URLSearchParams): Promise<{ status: number; body: unknown }>;
  delete(path: string): Promise<{ status: number; body: unknown }>;
  post(path: string): Promise<{ status: number; body: unknown }>;
}

export function consoleClient(config: Config, env: NodeJS.ProcessEnv = process.env): ConsoleClient {
  const url = (env.HOOKYARD_CONSOLE_URL ?? 'http://127.0.0.1:8090').replace(/\/+$/, '');
  const token = env.HOOKYARD_API_TOKEN ?? config.console.apiTokens[0]?.token;
  const call = async (method: string, path: string, params?: URLSearchParams) => {
    if (token === undefined) throw new ConsoleUnavailable('no API token: set HOOKYARD_API_TOKEN or console.apiTokens in the config');
    let res: Response;
    try {
      res = await fetch(`${url}${path}${params && params.size > 0 ? `?${params}` : ''}`, { method, headers: { authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(30_000) });
    } catch (err) {
      throw new ConsoleUnavailable(`the console at ${url} is not reachable (${(err as Error).cause instanceof Error ? ((err as Error).cause as Error).message : (err as Error).message}); HOOKYARD_CONSOLE_URL points elsewhere`);
    }
    const text = await res.text();
    let body: unknown = text;
    try { body = JSON.parse(text); } catch { /* not JSON */ }
    if (res.status === 401) throw new ConsoleUnavailable(`the console at ${url} refused the API token`);
    return { status: res.status, body };
  };
  return { url, get: (p, q) => call('GET', p, q), delete: (p) => call('DELETE', p), post: (p) => call('POST', p) };
}
