// One outbound attempt with undici: keep-alive pool per origin, no redirects followed,
// response body read capped.
import { Agent, request } from 'undici';
import { redactHeaders, type DestinationConfig, type Delivery } from '@hookyard/core';
import { signStandardWebhook } from './signature.ts';

export interface AttemptResult {
  status: number | undefined;
  ok: boolean;
  error: string | undefined;
  latencyMs: number;
  responseSnippet: string;
  retryAfter: string | undefined;
  /** The headers as sent, secrets included: stored only through recordedHeaders. */
  headers: Record<string, string>;
}

const SNIPPET_BYTES = 4096;

export function webhookId(d: Pick<Delivery, 'eventId' | 'destination'>): string {
  return `${d.eventId}.${d.destination}`;
}

const NO_EXTRA: readonly string[] = [];

/**
 * The sent headers an attempt record keeps: core's redaction (authorization, the signature
 * and anything named like a credential), plus a header-type auth's own header, whose name
 * is the operator's choice and may look like nothing secret.
 */
export function recordedHeaders(dest: DestinationConfig, sent: Record<string, string>): Record<string, string> {
  return redactHeaders(sent, dest.auth?.type === 'header' ? [dest.auth.name.toLowerCase()] : NO_EXTRA);
}

export class HttpSender {
  private readonly agent = new Agent({ keepAliveTimeout: 30_000, connections: 64 });

  headersFor(dest: DestinationConfig, d: Delivery, nowSec: number): Record<string, string> {
    const id = webhookId(d);
    const headers: Record<string, string> = {
      ...d.headers,
      'webhook-id': id,
      'webhook-timestamp': String(nowSec),
      'x-hookyard-source': d.source,
      'x-hookyard-event-id': d.eventId,
      'user-agent': 'hookyard/0.1',
    };
    if (dest.signingSecret !== undefined) {
      const secrets = Array.isArray(dest.signingSecret) ? dest.signingSecret : [dest.signingSecret];
      headers['webhook-signature'] = signStandardWebhook(secrets, id, nowSec, d.body);
    }
    if (dest.auth?.type === 'bearer') headers.authorization = `Bearer ${dest.auth.token}`;
    else if (dest.auth?.type === 'basic') headers.authorization = `Basic ${Buffer.from(`${dest.auth.username}:${dest.auth.password}`).toString('base64')}`;
    else if (dest.auth?.type === 'header') headers[dest.auth.name.toLowerCase()] = dest.auth.value;
    return headers;
  }

  async send(dest: DestinationConfig, d: Delivery, signal?: AbortSignal): Promise<AttemptResult> {
    const t0 = performance.now();
    const headers = this.headersFor(dest, d, Math.floor(Date.now() / 1000));
    try {
      const res = await request(dest.url, {
        method: 'POST',
        body: d.body,
        headers,
        dispatcher: this.agent,
        headersTimeout: dest.timeoutMs,
        bodyTimeout: dest.timeoutMs,
        signal: signal ? AbortSignal.any([signal, AbortSignal.timeout(dest.timeoutMs)]) : AbortSignal.timeout(dest.timeoutMs),
      });
      let snippet = '';
      for await (const chunk of res.body) {
        if (snippet.length < SNIPPET_BYTES) snippet += (chunk as Buffer).toString('utf8');
        else break;
      }
      res.body.destroy();
      const ra = res.headers['retry-after'];
      return { status: res.statusCode, ok: res.statusCode >= 200 && res.statusCode < 300, error: undefined, latencyMs: performance.now() - t0, responseSnippet: snippet.slice(0, SNIPPET_BYTES), retryAfter: Array.isArray(ra) ? ra[0] : ra, headers };
    } catch (err) {
      return { status: undefined, ok: false, error: (err as Error).message || String(err), latencyMs: performance.now() - t0, responseSnippet: '', retryAfter: undefined, headers };
    }
  }

  private ended = false;

  close(): Promise<void> {
    if (this.ended) return Promise.resolve();
    this.ended = true;
    return this.agent.close();
  }

  /** Aborts requests still in flight (shutdown past its deadline). */
  destroy(): Promise<void> {
    if (this.ended) return Promise.resolve();
    this.ended = true;
    return this.agent.destroy();
  }
}
