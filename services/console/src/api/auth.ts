// API tokens from the config, compared in constant time: both sides are hashed to the
// same length first, and every token is compared (no early exit that times which matched).
import { createHash, timingSafeEqual } from 'node:crypto';

export interface TokenCheck {
  /** The token's name when `authorization` holds a valid bearer token, else undefined. */
  (authorization: string | undefined): string | undefined;
}

const digest = (s: string) => createHash('sha256').update(s).digest();

export function tokenCheck(tokens: readonly { name: string; token: string }[]): TokenCheck {
  const known = tokens.map((t) => ({ name: t.name, hash: digest(t.token) }));
  return (authorization) => {
    const m = /^Bearer ([\x21-\x7e]{1,512})$/.exec(authorization ?? '');
    if (!m) return undefined;
    const given = digest(m[1]!);
    let found: string | undefined;
    for (const k of known) if (timingSafeEqual(k.hash, given) && found === undefined) found = k.name;
    return found;
  };
}
