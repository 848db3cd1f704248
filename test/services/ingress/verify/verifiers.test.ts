// Every verifier against its provider's own SDK or published vector, and tampered variants.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createHmac } from 'node:crypto';
import Stripe from 'stripe';
import { sign as githubSign } from '@octokit/webhooks-methods';
import { Webhook as StandardWebhook } from 'standardwebhooks';
import { Webhook as SvixWebhook } from 'svix';
import twilioSdk from 'twilio';
import { parseConfig } from '@hookyard/core';
import { buildVerifier, type VerifyInput, type VerifyResult } from '../../../../services/ingress/src/verify/index.ts';
import { anyEqual, safeEqual } from '../../../../services/ingress/src/verify/safe-equal.ts';

// The SDKs' own checks use the real clock, so the tests do too.
const NOW = Date.now();
const nowSec = Math.floor(NOW / 1000);

function verifierFor(verify: Record<string, unknown>) {
  const cfg = parseConfig(JSON.stringify({ sources: [{ name: 's', verify }] }), {});
  return buildVerifier(cfg.sources[0]!.verify);
}

function input(body: string | Buffer, headers: Record<string, string>, extra: Partial<VerifyInput> = {}): VerifyInput {
  const lower = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
  return { body: Buffer.isBuffer(body) ? body : Buffer.from(body), headers: lower, method: 'POST', url: 'https://hooks.example.com/webhooks/s', rawQuery: '', nowMs: NOW, ...extra };
}

const reason = (r: VerifyResult) => (r.ok ? 'ok' : r.reason);
const flipByte = (s: string) => s.slice(0, 5) + (s[5] === 'a' ? 'b' : 'a') + s.slice(6);
const stripeSdk = new Stripe('sk_test_unused');
const payload = JSON.stringify({ id: 'evt_1', type: 'invoice.paid', data: { object: { customer: 'cus_1' } } });

describe('stripe', () => {
  const secret = 'whsec_test_secret_used_literally';
  const v = verifierFor({ type: 'stripe', secret });
  const header = (p = payload, ts = nowSec, s = secret) => stripeSdk.webhooks.generateTestHeaderString({ payload: p, secret: s, timestamp: ts });

  test('accepts the SDK signature; Stripe SDK agrees it is valid', () => {
    const h = header();
    assert.equal(reason(v(input(payload, { 'Stripe-Signature': h }))), 'ok');
    // whsec_ is used as the literal key: the SDK's own check passes with the same string.
    assert.ok(stripeSdk.webhooks.constructEvent(payload, h, secret, 300));
  });
  test('several v1 signatures (secret rotation) and a second configured secret', () => {
    const old = header(payload, nowSec, 'whsec_old');
    const both = `${header()},v1=${old.split('v1=')[1]}`;
    assert.equal(reason(v(input(payload, { 'stripe-signature': both }))), 'ok');
    const rotating = verifierFor({ type: 'stripe', secret: ['whsec_new', 'whsec_old'] });
    assert.equal(reason(rotating(input(payload, { 'stripe-signature': old }))), 'ok');
  });
  test('tampered variants are refused', () => {
    assert.equal(reason(v(input(flipByte(payload), { 'stripe-signature': header() }))), 'bad_signature');
    assert.equal(reason(v(input(payload, { 'stripe-signature': header(payload, nowSec, 'whsec_wrong') }))), 'bad_signature');
    assert.equal(reason(v(input(payload, {}))), 'missing_signature');
    assert.equal(reason(v(input(payload, { 'stripe-signature': header().slice(0, -4) }))), 'bad_signature');
    assert.equal(reason(v(input(payload, { 'stripe-signature': header(payload, nowSec - 301) }))), 'timestamp_out_of_tolerance');
    assert.equal(reason(v(input(payload, { 'stripe-signature': header(payload, nowSec + 301) }))), 'timestamp_out_of_tolerance');
    assert.equal(reason(v(input(payload, { 'stripe-signature': 'garbage' }))), 'malformed_signature');
  });
});

describe('github', () => {
  test("GitHub's documented vector", () => {
    const v = verifierFor({ type: 'github', secret: "It's a Secret to Everybody" });
    const sig = 'sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17';
    assert.equal(reason(v(input('Hello, World!', { 'x-hub-signature-256': sig }))), 'ok');
    assert.equal(reason(v(input('Hello, World?', { 'x-hub-signature-256': sig }))), 'bad_signature');
  });
  test('@octokit/webhooks-methods signatures; tampered variants', async () => {
    const v = verifierFor({ type: 'github', secret: 'gh-secret' });
    const sig = await githubSign('gh-secret', payload);
    assert.equal(reason(v(input(payload, { 'x-hub-signature-256': sig }))), 'ok');
    assert.equal(reason(v(input(flipByte(payload), { 'x-hub-signature-256': sig }))), 'bad_signature');
    assert.equal(reason(v(input(payload, { 'x-hub-signature-256': await githubSign('other', payload) }))), 'bad_signature');
    assert.equal(reason(v(input(payload, { 'x-hub-signature-256': sig.slice(0, -2) }))), 'bad_signature');
    assert.equal(reason(v(input(payload, {}))), 'missing_signature');
    assert.equal(reason(v(input(payload, { 'x-hub-signature-256': sig.replace('sha256=', 'sha1=') }))), 'malformed_signature');
  });
});

describe('slack', () => {
  // docs.slack.dev "Verifying requests from Slack" worked example.
  const DOC_BODY = 'token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c';
  const DOC_SIG = 'v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503';
  const v = verifierFor({ type: 'slack', secret: '8f742231b10e8888abcd99yyyzzz85a5' });
  const at = 1531420618 * 1000 + 60_000;
  test("Slack's documented vector", () => {
    assert.equal(reason(v(input(DOC_BODY, { 'x-slack-signature': DOC_SIG, 'x-slack-request-timestamp': '1531420618' }, { nowMs: at }))), 'ok');
  });
  test('tampered variants', () => {
    const h = { 'x-slack-signature': DOC_SIG, 'x-slack-request-timestamp': '1531420618' };
    assert.equal(reason(v(input(DOC_BODY.replace('foobar', 'foobaz'), h, { nowMs: at }))), 'bad_signature');
    assert.equal(reason(v(input(DOC_BODY, h))), 'timestamp_out_of_tolerance');
    assert.equal(reason(v(input(DOC_BODY, { ...h, 'x-slack-signature': DOC_SIG.slice(0, 40) }, { nowMs: at }))), 'bad_signature');
    assert.equal(reason(v(input(DOC_BODY, { 'x-slack-request-timestamp': '1531420618' }, { nowMs: at }))), 'missing_signature');
    assert.equal(reason(verifierFor({ type: 'slack', secret: 'wrong' })(input(DOC_BODY, h, { nowMs: at }))), 'bad_signature');
  });
});

describe('shopify', () => {
  // Shopify documents base64(HMAC-SHA256(secret, raw body)) in X-Shopify-Hmac-Sha256 and publishes
  // no vector; this one is computed here with node:crypto, independently of the verifier.
  const v = verifierFor({ type: 'shopify', secret: 'shop-secret' });
  const sig = createHmac('sha256', 'shop-secret').update(payload).digest('base64');
  test('valid and tampered', () => {
    assert.equal(reason(v(input(payload, { 'X-Shopify-Hmac-Sha256': sig }))), 'ok');
    assert.equal(reason(v(input(flipByte(payload), { 'x-shopify-hmac-sha256': sig }))), 'bad_signature');
    assert.equal(reason(v(input(payload, { 'x-shopify-hmac-sha256': sig.slice(0, -3) }))), 'bad_signature');
    assert.equal(reason(v(input(payload, {}))), 'missing_signature');
    assert.equal(reason(verifierFor({ type: 'shopify', secret: 'x' })(input(payload, { 'x-shopify-hmac-sha256': sig }))), 'bad_signature');
  });
});

describe('twilio', () => {
  const token = '12345';
  const v = verifierFor({ type: 'twilio', authToken: token });
  const url = 'https://mycompany.com/myapp.php?foo=1&bar=2';
  const params = { CallSid: 'CA1234567890ABCDE', Caller: '+12349013030', Digits: '1234', From: '+12349013030', To: '+18005551212' };
  const form = new URLSearchParams(params).toString();
  test("the official SDK's signature (form post), which the SDK itself validates", () => {
    const sig = twilioSdk.getExpectedTwilioSignature(token, url, params);
    assert.ok(twilioSdk.validateRequest(token, sig, url, params));
    assert.equal(reason(v(input(form, { 'x-twilio-signature': sig, 'content-type': 'application/x-www-form-urlencoded' }, { url }))), 'ok');
  });
  test('JSON body with bodySHA256', () => {
    const body = '{"a":1}';
    const jsonUrl = `https://mycompany.com/hook?bodySHA256=${createHash('sha256').update(body).digest('hex')}`;
    const sig = twilioSdk.getExpectedTwilioSignature(token, jsonUrl, {});
    assert.ok(twilioSdk.validateRequestWithBody(token, sig, jsonUrl, body));
    assert.equal(reason(v(input(body, { 'x-twilio-signature': sig, 'content-type': 'application/json' }, { url: jsonUrl }))), 'ok');
    assert.equal(reason(v(input('{"a":2}', { 'x-twilio-signature': sig, 'content-type': 'application/json' }, { url: jsonUrl }))), 'bad_signature');
  });
  test('tampered variants', () => {
    const sig = twilioSdk.getExpectedTwilioSignature(token, url, params);
    const ct = { 'content-type': 'application/x-www-form-urlencoded' };
    assert.equal(reason(v(input(form.replace('1234&', '1235&'), { ...ct, 'x-twilio-signature': sig }, { url }))), 'bad_signature');
    assert.equal(reason(v(input(form, { ...ct, 'x-twilio-signature': sig }, { url: url.replace('foo=1', 'foo=2') }))), 'bad_signature');
    assert.equal(reason(v(input(form, ct, { url }))), 'missing_signature');
    assert.equal(reason(verifierFor({ type: 'twilio', authToken: 'other' })(input(form, { ...ct, 'x-twilio-signature': sig }, { url }))), 'bad_signature');
  });
});

describe('standard-webhooks (and Svix)', () => {
  const secret = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
  const v = verifierFor({ type: 'standard-webhooks', secret });
  const headersFor = (s: string, id = 'msg_p5jXN8AQM9LWM0D4loKWxJek', ts = nowSec) => ({
    'webhook-id': id, 'webhook-timestamp': String(ts), 'webhook-signature': new StandardWebhook(s).sign(id, new Date(ts * 1000), payload),
  });
  test('standardwebhooks SDK signature; SDK verifies the same headers', () => {
    const h = headersFor(secret);
    assert.equal(reason(v(input(payload, h))), 'ok');
    assert.deepEqual(new StandardWebhook(secret).verify(payload, h), JSON.parse(payload));
  });
  test('svix SDK with svix-* headers', () => {
    const id = 'msg_svix';
    const sig = new SvixWebhook(secret).sign(id, new Date(nowSec * 1000), payload);
    assert.equal(reason(v(input(payload, { 'svix-id': id, 'svix-timestamp': String(nowSec), 'svix-signature': sig }))), 'ok');
  });
  test('space-separated signature list and rotated secrets', () => {
    const other = 'whsec_' + Buffer.from('another-secret-of-32-bytes-long!').toString('base64');
    const h = headersFor(other);
    const both = { ...h, 'webhook-signature': `v1,bm90LWEtc2lnbmF0dXJl ${h['webhook-signature']}` };
    assert.equal(reason(v(input(payload, both))), 'bad_signature');
    assert.equal(reason(verifierFor({ type: 'standard-webhooks', secret: [secret, other] })(input(payload, both))), 'ok');
  });
  test('tampered variants', () => {
    const h = headersFor(secret);
    assert.equal(reason(v(input(flipByte(payload), h))), 'bad_signature');
    assert.equal(reason(v(input(payload, { ...h, 'webhook-id': 'msg_other' }))), 'bad_signature');
    assert.equal(reason(v(input(payload, headersFor(secret, 'msg_x', nowSec - 400)))), 'timestamp_out_of_tolerance');
    assert.equal(reason(v(input(payload, { ...h, 'webhook-signature': h['webhook-signature'].slice(0, -6) }))), 'bad_signature');
    assert.equal(reason(v(input(payload, { 'webhook-id': 'x', 'webhook-timestamp': String(nowSec) }))), 'missing_signature');
    // The whsec_ key is base64-decoded: using the literal string as the key must fail.
    const literal = createHmac('sha256', secret).update(`${h['webhook-id']}.${nowSec}.${payload}`).digest('base64');
    assert.equal(reason(v(input(payload, { ...h, 'webhook-signature': `v1,${literal}` }))), 'bad_signature');
  });
});

describe('generic hmac', () => {
  test('sha1/sha256/sha512, hex/base64, prefix, and a timestamp template', () => {
    for (const algorithm of ['sha1', 'sha256', 'sha512'] as const) {
      for (const encoding of ['hex', 'base64'] as const) {
        const v = verifierFor({ type: 'hmac', secret: 'k', algorithm, encoding, header: 'X-Sig', prefix: `${algorithm}=` });
        const sig = `${algorithm}=${createHmac(algorithm, 'k').update(payload).digest(encoding)}`;
        assert.equal(reason(v(input(payload, { 'x-sig': sig }))), 'ok', `${algorithm}/${encoding}`);
        assert.equal(reason(v(input(flipByte(payload), { 'x-sig': sig }))), 'bad_signature');
        assert.equal(reason(v(input(payload, { 'x-sig': sig.slice(0, -2) }))), 'bad_signature');
        assert.equal(reason(v(input(payload, { 'x-sig': sig.slice(algorithm.length + 1) }))), 'malformed_signature');
      }
    }
    const v = verifierFor({ type: 'hmac', secret: 'k', header: 'x-sig', signed: '{id}:{timestamp}:{body}', timestampHeader: 'x-ts', idHeader: 'x-id' });
    const sig = createHmac('sha256', 'k').update(`e1:${nowSec}:${payload}`).digest('hex');
    assert.equal(reason(v(input(payload, { 'x-sig': sig, 'x-ts': String(nowSec), 'x-id': 'e1' }))), 'ok');
    assert.equal(reason(v(input(payload, { 'x-sig': sig, 'x-ts': String(nowSec), 'x-id': 'e2' }))), 'bad_signature');
    assert.equal(reason(v(input(payload, { 'x-sig': sig, 'x-id': 'e1' }))), 'missing_signature');
    const old = createHmac('sha256', 'k').update(`e1:${nowSec - 1000}:${payload}`).digest('hex');
    assert.equal(reason(v(input(payload, { 'x-sig': old, 'x-ts': String(nowSec - 1000), 'x-id': 'e1' }))), 'timestamp_out_of_tolerance');
  });
});

describe('credentials', () => {
  test('basic, bearer, api-key in a header or the query', () => {
    const b = verifierFor({ type: 'basic', username: 'u', password: 'p' });
    assert.equal(reason(b(input('', { authorization: `Basic ${Buffer.from('u:p').toString('base64')}` }))), 'ok');
    assert.equal(reason(b(input('', { authorization: `Basic ${Buffer.from('u:q').toString('base64')}` }))), 'bad_credentials');
    assert.equal(reason(b(input('', {}))), 'missing_signature');
    const t = verifierFor({ type: 'bearer', token: 'tok' });
    assert.equal(reason(t(input('', { authorization: 'Bearer tok' }))), 'ok');
    assert.equal(reason(t(input('', { authorization: 'Bearer to' }))), 'bad_credentials');
    const h = verifierFor({ type: 'api-key', key: 'k1', header: 'X-Key' });
    assert.equal(reason(h(input('', { 'x-key': 'k1' }))), 'ok');
    assert.equal(reason(h(input('', { 'x-key': 'k2' }))), 'bad_credentials');
    const q = verifierFor({ type: 'api-key', key: 'k1', query: 'key' });
    assert.equal(reason(q(input('', {}, { rawQuery: 'a=1&key=k1' }))), 'ok');
    assert.equal(reason(q(input('', {}, { rawQuery: 'key=nope' }))), 'bad_credentials');
    assert.equal(reason(verifierFor({ type: 'none' })(input('', {}))), 'ok');
  });
});

test('safeEqual compares by content whatever the lengths', () => {
  assert.equal(safeEqual('abc', 'abc'), true);
  assert.equal(safeEqual('abc', 'abd'), false);
  assert.equal(safeEqual('abc', 'abcd'), false);
  assert.equal(anyEqual(['x', 'y'], ['z', 'y']), true);
  assert.equal(anyEqual(['x'], []), false);
});
