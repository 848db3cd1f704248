// What a verifier sees of a request, and what it answers. Reasons are for metrics and the
// ingress-rejections topic; the HTTP answer never carries them (no help for forgers).
export interface VerifyInput {
  body: Buffer;
  headers: Record<string, string>;
  method: string;
  /** The URL the provider called, as it saw it (for Twilio): scheme, host, path, query. */
  url: string;
  rawQuery: string;
  nowMs: number;
}

export type RejectReason =
  | 'missing_signature'
  | 'malformed_signature'
  | 'bad_signature'
  | 'timestamp_out_of_tolerance'
  | 'bad_credentials'
  | 'ip_not_allowed';

export type VerifyResult = { ok: true } | { ok: false; reason: RejectReason };

export type Verifier = (input: VerifyInput) => VerifyResult;

export const OK: VerifyResult = { ok: true };
export const fail = (reason: RejectReason): VerifyResult => ({ ok: false, reason });
