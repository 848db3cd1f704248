// Standard Webhooks outbound signature: v1,<base64 HMAC-SHA256 over "id.timestamp.body">,
// one per secret during rotation, space-separated. whsec_ secrets are base64 after the prefix.
import { createHmac } from 'node:crypto';

export function secretBytes(secret: string): Buffer {
  return secret.startsWith('whsec_') ? Buffer.from(secret.slice(6), 'base64') : Buffer.from(secret, 'utf8');
}

export function signStandardWebhook(secrets: readonly string[], id: string, timestampSec: number, body: Buffer): string {
  return secrets
    .map((s) => {
      const mac = createHmac('sha256', secretBytes(s));
      mac.update(`${id}.${timestampSec}.`);
      mac.update(body);
      return `v1,${mac.digest('base64')}`;
    })
    .join(' ');
}
