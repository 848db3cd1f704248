// Sends a known set of events to ingress the way providers do: each ordering key is a
// lane that sends its events one after another, and re-sends an event (same body, same
// provider id, fresh signature) until ingress answers 2xx. Every answer is recorded.
import { Agent, request } from 'undici';
import { Webhook } from 'standardwebhooks';

export type AnswerClass = '2xx' | '503' | 'other' | 'error';

export interface Answer { at: number; cls: AnswerClass; status: number }

export interface Accepted {
  n: number;
  key: string;
  source: string;
  /** The event id ingress answered with (the original's for an edge-dedup duplicate). */
  id: string;
  /** Answered 200 duplicate (an earlier attempt was captured). */
  duplicate: boolean;
  at: number;
}

export interface LoadOptions {
  ingressUrl: () => string;
  /** Sources to alternate between; a source with a secret is signed with Standard Webhooks. */
  sources: { name: string; standardWebhooksSecret?: string }[];
  events: number;
  lanes: number;
  /** Target events per second over all lanes. */
  rate: number;
  run: string;
  /** Events of lane `l` are sent to these sources only (default: all, alternating). */
  sourcesForLane?: (lane: number) => string[];
}

export interface Load {
  answers: Answer[];
  accepted: Accepted[];
  /** Resolves when every event has been answered 2xx (or `stop()` was called). */
  done: Promise<void>;
  stop(): void;
  sent(): number;
}

const PAD = 'x'.repeat(200);

export function startLoad(o: LoadOptions): Load {
  const agent = new Agent({ connections: o.lanes, headersTimeout: 15_000, bodyTimeout: 15_000, keepAliveTimeout: 4_000 });
  const answers: Answer[] = [];
  const accepted: Accepted[] = [];
  const signers = new Map(o.sources.filter((s) => s.standardWebhooksSecret).map((s) => [s.name, new Webhook(s.standardWebhooksSecret!)]));
  let stopped = false;
  let attempts = 0;
  const perLane = Math.ceil(o.events / o.lanes);
  const periodMs = (1000 * o.lanes) / o.rate;

  const lane = async (l: number) => {
    const key = `k${l}`;
    const names = o.sourcesForLane?.(l) ?? o.sources.map((s) => s.name);
    const start = Date.now();
    for (let i = 0; i < perLane && !stopped; i++) {
      const n = i * o.lanes + l;
      if (n >= o.events) break;
      const due = start + i * periodMs;
      if (due > Date.now()) await new Promise((r) => setTimeout(r, due - Date.now()));
      const source = names[n % names.length]!;
      const body = JSON.stringify({ uid: `${o.run}-${n}`, n, key, source, pad: PAD });
      for (let tries = 0; !stopped; tries++) {
        const headers: Record<string, string> = { 'content-type': 'application/json' };
        const signer = signers.get(source);
        if (signer) {
          const now = new Date();
          headers['webhook-id'] = `msg_${o.run}_${n}`;
          headers['webhook-timestamp'] = String(Math.floor(now.getTime() / 1000));
          headers['webhook-signature'] = signer.sign(`msg_${o.run}_${n}`, now, body);
        }
        attempts++;
        try {
          const res = await request(`${o.ingressUrl()}/webhooks/${source}`, { method: 'POST', headers, body, dispatcher: agent });
          const text = await res.body.text();
          const at = Date.now();
          if (res.statusCode >= 200 && res.statusCode < 300) {
            answers.push({ at, cls: '2xx', status: res.statusCode });
            const parsed = JSON.parse(text) as { id: string; duplicate?: boolean };
            accepted.push({ n, key, source, id: parsed.id, duplicate: parsed.duplicate === true, at });
            break;
          }
          answers.push({ at, cls: res.statusCode === 503 ? '503' : 'other', status: res.statusCode });
          // A provider gives up on a 4xx; ingress must never send a valid request one.
          if (res.statusCode < 500) break;
        } catch {
          answers.push({ at: Date.now(), cls: 'error', status: 0 });
        }
        // A provider backs off before it re-sends.
        await new Promise((r) => setTimeout(r, Math.min(2000, 100 * 2 ** Math.min(tries, 4))));
      }
    }
  };
  const done = Promise.all(Array.from({ length: o.lanes }, (_, l) => lane(l))).then(() => agent.close());
  return { answers, accepted, done, stop: () => { stopped = true; }, sent: () => attempts };
}
