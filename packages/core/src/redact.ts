// Header values that are credentials or signatures: never stored where people read events
// (ingress-rejections, the event history) — the request itself stays byte-exact in Kafka.
const SECRET_HEADER = /authorization|cookie|signature|token|secret|api-key|apikey|hmac|password/i;

export const REDACTED = '[redacted]';

export function redactHeaders(headers: Record<string, string>, extra: readonly string[] = []): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers)) out[k] = SECRET_HEADER.test(k) || extra.includes(k) ? REDACTED : v;
  return out;
}
