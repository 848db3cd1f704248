// HMAC-based provider schemes, each as its provider documents it.
import { createHmac } from 'node:crypto';
import { anyEqual } from './safe-equal.ts';
import { OK, fail, type VerifyInput, type VerifyResult } from './types.ts';

type Algo = 'sha1' | 'sha256' | 'sha512';
const hmac = (algo: Algo, key: Buffer | string, ...parts: (Buffer | string)[]): Buffer => {
  const m = createHmac(algo, key);
  for (const p of parts) m.update(p);
  return m.digest();
};
const list = (s: string | string[]): string[] => (Array.isArray(s) ? s : [s]);

function withinTolerance(tsSeconds: number, nowMs: number, toleranceSeconds: number): boolean {
  return Number.isFinite(tsSeconds) && Math.abs(nowMs / 1000 - tsSeconds) <= toleranceSeconds;
}

/** Stripe: `Stripe-Signature: t=<ts>,v1=<hex>[,v1=<hex>…]` over `<ts>.<body>`; the whsec_ secret is used as-is. */
export function stripe(cfg: { secret: string | string[]; toleranceSeconds: number }) {
  const secrets = list(cfg.secret);
  return (req: VerifyInput): VerifyResult => {
    const header = req.headers['stripe-signature'];
    if (!header) return fail('missing_signature');
    let t: string | undefined;
    const v1: string[] = [];
    for (const part of header.split(',')) {
      const i = part.indexOf('=');
      if (i < 0) continue;
      const k = part.slice(0, i).trim();
      const v = part.slice(i + 1).trim();
      if (k === 't') t = v;
      else if (k === 'v1') v1.push(v);
    }
    if (!t || !/^\d+$/.test(t) || v1.length === 0) return fail('malformed_signature');
    const expected = secrets.map((s) => hmac('sha256', s, `${t}.`, req.body).toString('hex'));
    if (!anyEqual(v1, expected)) return fail('bad_signature');
    if (!withinTolerance(Number(t), req.nowMs, cfg.toleranceSeconds)) return fail('timestamp_out_of_tolerance');
    return OK;
  };
}

/** GitHub: `X-Hub-Signature-256: sha256=<hex>` over the body. */
export function github(cfg: { secret: string | string[] }) {
  const secrets = list(cfg.secret);
  return (req: VerifyInput): VerifyResult => {
    const header = req.headers['x-hub-signature-256'];
    if (!header) return fail('missing_signature');
    if (!header.startsWith('sha256=')) return fail('malformed_signature');
    const expected = secrets.map((s) => `sha256=${hmac('sha256', s, req.body).toString('hex')}`);
    return anyEqual([header], expected) ? OK : fail('bad_signature');
  };
}

/** Shopify: `X-Shopify-Hmac-Sha256: <base64>` over the body. */
export function shopify(cfg: { secret: string | string[] }) {
  const secrets = list(cfg.secret);
  return (req: VerifyInput): VerifyResult => {
    const header = req.headers['x-shopify-hmac-sha256'];
    if (!header) return fail('missing_signature');
    const expected = secrets.map((s) => hmac('sha256', s, req.body).toString('base64'));
    return anyEqual([header], expected) ? OK : fail('bad_signature');
  };
}

/** Slack: `X-Slack-Signature: v0=<hex>` over `v0:<X-Slack-Request-Timestamp>:<body>`. */
export function slack(cfg: { secret: string | string[]; toleranceSeconds: number }) {
  const secrets = list(cfg.secret);
  return (req: VerifyInput): VerifyResult => {
    const sig = req.headers['x-slack-signature'];
    const ts = req.headers['x-slack-request-timestamp'];
    if (!sig || !ts) return fail('missing_signature');
    if (!sig.startsWith('v0=') || !/^\d+$/.test(ts)) return fail('malformed_signature');
    const expected = secrets.map((s) => `v0=${hmac('sha256', s, `v0:${ts}:`, req.body).toString('hex')}`);
    if (!anyEqual([sig], expected)) return fail('bad_signature');
    if (!withinTolerance(Number(ts), req.nowMs, cfg.toleranceSeconds)) return fail('timestamp_out_of_tolerance');
    return OK;
  };
}

/** Standard Webhooks secrets: `whsec_` + base64 key bytes (a bare base64 key is accepted too). */
export function standardSecretBytes(secret: string): Buffer {
  return Buffer.from(secret.startsWith('whsec_') ? secret.slice(6) : secret, 'base64');
}

/**
 * Standard Webhooks (Svix, Clerk, Resend…): `webhook-id`, `webhook-timestamp`,
 * `webhook-signature: v1,<base64> [v1,<base64>…]` over `<id>.<ts>.<body>`. Svix's
 * `svix-*` header names are accepted as the same scheme.
 */
export function standardWebhooks(cfg: { secret: string | string[]; toleranceSeconds: number }) {
  const keys = list(cfg.secret).map(standardSecretBytes);
  return (req: VerifyInput): VerifyResult => {
    const h = req.headers;
    const id = h['webhook-id'] ?? h['svix-id'];
    const ts = h['webhook-timestamp'] ?? h['svix-timestamp'];
    const sigs = h['webhook-signature'] ?? h['svix-signature'];
    if (!id || !ts || !sigs) return fail('missing_signature');
    if (!/^\d+$/.test(ts)) return fail('malformed_signature');
    const v1 = sigs.split(' ').filter((s) => s.startsWith('v1,')).map((s) => s.slice(3));
    if (v1.length === 0) return fail('malformed_signature');
    const expected = keys.map((k) => hmac('sha256', k, `${id}.${ts}.`, req.body).toString('base64'));
    if (!anyEqual(v1, expected)) return fail('bad_signature');
    if (!withinTolerance(Number(ts), req.nowMs, cfg.toleranceSeconds)) return fail('timestamp_out_of_tolerance');
    return OK;
  };
}

export interface GenericHmacConfig {
  secret: string | string[];
  algorithm: Algo;
  header: string;
  encoding: 'hex' | 'base64';
  prefix: string;
  /** What is signed: `{body}`, `{timestamp}`, `{id}` and literal text, e.g. `{timestamp}.{body}`. */
  signed: string;
  timestampHeader?: string | undefined;
  idHeader?: string | undefined;
  toleranceSeconds: number;
}

/** Generic HMAC: one signature in a named header, optionally prefixed; signed template. */
export function genericHmac(cfg: GenericHmacConfig) {
  const secrets = list(cfg.secret);
  const headerName = cfg.header.toLowerCase();
  const parts = cfg.signed.split(/(\{body\}|\{timestamp\}|\{id\})/).filter((p) => p !== '');
  return (req: VerifyInput): VerifyResult => {
    const header = req.headers[headerName];
    if (!header) return fail('missing_signature');
    if (!header.startsWith(cfg.prefix)) return fail('malformed_signature');
    const ts = cfg.timestampHeader ? req.headers[cfg.timestampHeader.toLowerCase()] : undefined;
    const id = cfg.idHeader ? req.headers[cfg.idHeader.toLowerCase()] : undefined;
    if ((cfg.signed.includes('{timestamp}') && !ts) || (cfg.signed.includes('{id}') && !id)) return fail('missing_signature');
    const signed = parts.map((p) => (p === '{body}' ? req.body : p === '{timestamp}' ? ts! : p === '{id}' ? id! : p));
    const given = header.slice(cfg.prefix.length).trim();
    const expected = secrets.map((s) => hmac(cfg.algorithm, s, ...signed).toString(cfg.encoding));
    // hex is case-insensitive on the wire; base64 is not.
    if (!anyEqual([cfg.encoding === 'hex' ? given.toLowerCase() : given], expected)) return fail('bad_signature');
    if (ts !== undefined && !withinTolerance(Number(ts), req.nowMs, cfg.toleranceSeconds)) return fail('timestamp_out_of_tolerance');
    return OK;
  };
}
