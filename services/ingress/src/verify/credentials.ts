// Shared-credential schemes: Basic, Bearer, an API key in a header or query parameter.
import { safeEqual } from './safe-equal.ts';
import { OK, fail, type VerifyInput, type VerifyResult } from './types.ts';

export function basic(cfg: { username: string; password: string }) {
  const expected = `Basic ${Buffer.from(`${cfg.username}:${cfg.password}`).toString('base64')}`;
  return (req: VerifyInput): VerifyResult => {
    const h = req.headers.authorization;
    if (!h) return fail('missing_signature');
    return safeEqual(h, expected) ? OK : fail('bad_credentials');
  };
}

export function bearer(cfg: { token: string }) {
  const expected = `Bearer ${cfg.token}`;
  return (req: VerifyInput): VerifyResult => {
    const h = req.headers.authorization;
    if (!h) return fail('missing_signature');
    return safeEqual(h, expected) ? OK : fail('bad_credentials');
  };
}

export function apiKey(cfg: { key: string; header?: string | undefined; query?: string | undefined }) {
  const header = cfg.header?.toLowerCase() ?? (cfg.query ? undefined : 'x-api-key');
  return (req: VerifyInput): VerifyResult => {
    const given = header ? req.headers[header] : new URLSearchParams(req.rawQuery).get(cfg.query!) ?? undefined;
    if (!given) return fail('missing_signature');
    return safeEqual(given, cfg.key) ? OK : fail('bad_credentials');
  };
}
