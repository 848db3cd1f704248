// The structured view of a request body that config paths (body.x.y) and filters read:
// JSON (also when no content type is given) or form-encoded; undefined otherwise.
export function parseStructuredBody(bytes: Uint8Array, contentType: string | undefined): unknown {
  const ct = (contentType ?? '').toLowerCase();
  // A view, not a copy (Buffer.from(buffer) would copy the body).
  const text = () => (Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)).toString('utf8');
  try {
    if (ct.includes('json') || ct === '') return JSON.parse(text());
    if (ct.startsWith('application/x-www-form-urlencoded')) return Object.fromEntries(new URLSearchParams(text()));
  } catch {
    return undefined;
  }
  return undefined;
}
