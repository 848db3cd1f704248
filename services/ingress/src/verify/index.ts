// Builds a source's verifier from its config. Every scheme of SPEC.md is here.
import type { SourceConfig } from '@hookyard/core';
import { apiKey, basic, bearer } from './credentials.ts';
import { genericHmac, github, shopify, slack, standardWebhooks, stripe } from './hmac-schemes.ts';
import { twilio } from './twilio.ts';
import { OK, type Verifier } from './types.ts';

export function buildVerifier(v: SourceConfig['verify']): Verifier {
  switch (v.type) {
    case 'none': return () => OK;
    case 'stripe': return stripe(v);
    case 'github': return github(v);
    case 'shopify': return shopify(v);
    case 'slack': return slack(v);
    case 'twilio': return twilio(v);
    case 'standard-webhooks': return standardWebhooks(v);
    case 'hmac': return genericHmac(v);
    case 'basic': return basic(v);
    case 'bearer': return bearer(v);
    case 'api-key': return apiKey(v);
  }
}

export type { VerifyInput, VerifyResult, Verifier, RejectReason } from './types.ts';
