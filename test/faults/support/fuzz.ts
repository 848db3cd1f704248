// Malformed and forged HTTP requests over raw sockets, from a seeded generator so a
// failing run can be repeated (FUZZ_SEED). None of them is a valid webhook: a 2xx to any
// of them is a defect.
import { connect } from 'node:net';
import { randomBytes } from 'node:crypto';

/** mulberry32: small, seedable, good enough to pick cases. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface FuzzCase {
  kind: string;
  /** Bytes to write, in order; `gapMs` between chunks makes a slow sender. */
  chunks: Buffer[];
  gapMs: number;
  /** Half-close after writing (the body is cut short) instead of waiting for the answer. */
  truncate: boolean;
}

const METHODS = ['GET', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD', 'TRACE', 'CONNECT', 'FOO', 'P0ST', 'post'];
const TYPES = ['application/json', 'application/x-www-form-urlencoded', 'text/xml', 'text/plain; charset=utf-8', 'application/octet-stream', 'multipart/form-data; boundary=x', '', 'application/json; charset=latin1'];

export function fuzzCase(r: () => number, verifiedSource: string, openSource: string): FuzzCase {
  const pick = <T>(xs: T[]): T => xs[Math.floor(r() * xs.length)]!;
  const n = Math.floor(r() * 100);
  const rand = (len: number) => randomBytes(len);
  const invalidUtf8 = () => Buffer.concat([Buffer.from('{"id":"'), Buffer.from([0xc3, 0x28, 0xa0, 0xa1, 0xe2, 0x28, 0xa1, 0xf0, 0x28, 0x8c, 0xbc, 0xff]), rand(Math.floor(r() * 64)), Buffer.from('"}')]);
  const req = (method: string, path: string, headers: Record<string, string>, body: Buffer, extra = '') =>
    Buffer.concat([Buffer.from(`${method} ${path} HTTP/1.1\r\nhost: x\r\n${Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('')}${extra}connection: close\r\n\r\n`), body]);
  const plain = (chunks: Buffer[], kind: string): FuzzCase => ({ kind, chunks, gapMs: 0, truncate: false });
  const swh = () => ({ 'webhook-id': `msg_${rand(6).toString('hex')}`, 'webhook-timestamp': String(Math.floor(Date.now() / 1000) - Math.floor(r() * 2) * 3600), 'webhook-signature': `v1,${rand(32).toString('base64').slice(0, Math.floor(r() * 44))}` });

  if (n < 25) {
    // Forged or replayed Standard Webhooks signature, any body and content type.
    const body = r() < 0.5 ? Buffer.from(JSON.stringify({ type: 'invoice.paid', n: Math.floor(r() * 1e9) })) : rand(Math.floor(r() * 2048));
    return plain([req('POST', `/webhooks/${verifiedSource}`, { 'content-type': pick(TYPES), 'content-length': String(body.length), ...swh() }, body)], 'forged-signature');
  }
  if (n < 35) {
    const body = invalidUtf8();
    return plain([req('POST', `/webhooks/${verifiedSource}`, { 'content-type': 'application/json', 'content-length': String(body.length), ...swh() }, body)], 'invalid-utf8');
  }
  if (n < 45) {
    const body = rand(Math.floor(r() * 512));
    return plain([req('POST', `/webhooks/${verifiedSource}`, { 'content-type': 'application/json', 'content-encoding': pick(['gzip', 'deflate', 'br', 'x-nope']), 'content-length': String(body.length), ...swh() }, body)], 'bad-encoding');
  }
  if (n < 55) {
    const source = pick([verifiedSource, openSource, 'nope', '..%2f..%2fetc', '%00', 'a'.repeat(300)]);
    const method = pick(METHODS);
    return plain([req(method, `/webhooks/${source}${pick(['', '?x=1', '/extra', '#f'])}`, { 'content-length': '0' }, Buffer.alloc(0))], 'random-method');
  }
  if (n < 62) {
    // Oversized: the announced length alone must be refused (413) before the body is read.
    return plain([req('POST', `/webhooks/${pick([verifiedSource, openSource])}`, { 'content-type': 'application/json', 'content-length': String(11 * 1024 * 1024 + Math.floor(r() * 1e6)) }, Buffer.from('{"a":'))], 'oversized');
  }
  if (n < 70) {
    // Huge headers: past Node's header limit (431) or just under it with junk.
    const size = pick([8_000, 20_000, 70_000]);
    return plain([req('POST', `/webhooks/${verifiedSource}`, { 'content-type': 'application/json', 'content-length': '2', 'x-junk': 'h'.repeat(size), ...swh() }, Buffer.from('{}'))], 'huge-headers');
  }
  if (n < 82) {
    // Truncated body: announced longer than sent, then the sender half-closes.
    const body = Buffer.from(JSON.stringify({ n: Math.floor(r() * 1e9), pad: 'p'.repeat(200) }));
    const cut = Math.floor(r() * body.length);
    const source = pick([openSource, verifiedSource]);
    const head = req('POST', `/webhooks/${source}`, { 'content-type': 'application/json', 'content-length': String(body.length + 1 + Math.floor(r() * 1000)), ...(source === verifiedSource ? swh() : {}) }, body.subarray(0, cut));
    return { kind: 'truncated-body', chunks: [head], gapMs: 0, truncate: true };
  }
  if (n < 92) {
    // Broken framing: garbage request lines, bad chunked encoding, conflicting lengths.
    const cases = [
      () => rand(64 + Math.floor(r() * 256)),
      () => Buffer.from(`POST /webhooks/${openSource} HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n{"a":1}\r\n0\r\n\r\n`),
      () => Buffer.from(`POST /webhooks/${openSource} HTTP/1.1\r\nhost: x\r\ncontent-length: 5\r\ncontent-length: 9\r\n\r\n{"a":1}`),
      () => Buffer.from(`POST /webhooks/${openSource} HTTP/1.1\r\nhost: x\r\ncontent-length: 7\r\ntransfer-encoding: chunked\r\n\r\n{"a":1}`),
      () => Buffer.from(`POST /webhooks/${openSource} HTTP/9.9\r\nhost: x\r\n\r\n`),
      () => Buffer.from(`POST /webhooks/${openSource}\r\n\r\n{"a":1}`),
      () => Buffer.concat([Buffer.from(`POST /webhooks/${openSource} HTTP/1.1\r\nhost: x\r\nx-bad: `), Buffer.from([0x00, 0x7f, 0x0a]), Buffer.from('\r\ncontent-length: 2\r\n\r\n{}')]),
      () => Buffer.from(`POST /webhooks/${openSource} HTTP/1.1\r\nhost: x\r\ncontent-length: -1\r\n\r\n{}`),
    ];
    return { kind: 'broken-framing', chunks: [pick(cases)()], gapMs: 0, truncate: true };
  }
  // Slow sender: a forged request dribbled out in small pieces.
  const body = Buffer.from(JSON.stringify({ slow: true, n }));
  const whole = req('POST', `/webhooks/${verifiedSource}`, { 'content-type': 'application/json', 'content-length': String(body.length), ...swh() }, body);
  const chunks: Buffer[] = [];
  for (let i = 0; i < whole.length; i += 16) chunks.push(whole.subarray(i, i + 16));
  return { kind: 'slow-sender', chunks, gapMs: 5, truncate: false };
}

/** Sends one case; resolves with the status answered (0: connection closed without one). */
export function sendCase(port: number, c: FuzzCase, timeoutMs = 5000): Promise<number> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    let head = '';
    let done = false;
    const finish = (status: number) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      s.destroy();
      resolve(status);
    };
    const timer = setTimeout(() => finish(head ? Number(/^HTTP\/1\.\d (\d{3})/.exec(head)?.[1] ?? 0) : 0), timeoutMs);
    s.on('error', () => finish(0));
    s.on('data', (b: Buffer) => {
      head += b.toString('latin1');
      const m = /^HTTP\/1\.\d (\d{3})/.exec(head);
      if (m) finish(Number(m[1]));
    });
    s.on('close', () => finish(Number(/^HTTP\/1\.\d (\d{3})/.exec(head)?.[1] ?? 0)));
    s.on('connect', async () => {
      for (const chunk of c.chunks) {
        if (s.destroyed) return;
        s.write(chunk);
        if (c.gapMs) await new Promise((r) => setTimeout(r, c.gapMs));
      }
      if (c.truncate && !s.destroyed) {
        s.end();
        // The server may wait for the rest of a body that never comes: do not wait long.
        setTimeout(() => finish(Number(/^HTTP\/1\.\d (\d{3})/.exec(head)?.[1] ?? 0)), 300).unref();
      }
    });
  });
}
