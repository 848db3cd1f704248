// Twilio: `X-Twilio-Signature` = base64 HMAC-SHA1 of the full URL followed, for form posts,
// by every POST parameter name and value sorted by name. JSON posts carry `bodySHA256`
// in the query and sign the URL alone.
import { createHash, createHmac } from 'node:crypto';
import { safeEqual } from './safe-equal.ts';
import { OK, fail, type VerifyInput, type VerifyResult } from './types.ts';

export function twilio(cfg: { authToken: string }) {
  return (req: VerifyInput): VerifyResult => {
    const sig = req.headers['x-twilio-signature'];
    if (!sig) return fail('missing_signature');
    const ct = (req.headers['content-type'] ?? '').toLowerCase();
    let data = req.url;
    if (ct.startsWith('application/x-www-form-urlencoded')) {
      const params = [...new URLSearchParams(req.body.toString('utf8'))];
      params.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
      for (const [k, v] of params) data += k + v;
    } else {
      const bodySha = new URL(req.url).searchParams.get('bodySHA256');
      if (!bodySha) return fail('missing_signature');
      if (!safeEqual(bodySha, createHash('sha256').update(req.body).digest('hex'))) return fail('bad_signature');
    }
    const expected = createHmac('sha1', cfg.authToken).update(data, 'utf8').digest('base64');
    return safeEqual(sig, expected) ? OK : fail('bad_signature');
  };
}
