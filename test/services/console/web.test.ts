// The web console in a real browser (Debian's chromium through playwright-core) against the
// real pipeline (Kafka, Redis, the registry, a SQLite index): log in, search, open a trace,
// retry a failed delivery, pause and resume a destination, a bulk redrive with its count
// first; a viewer's action, a POST without its CSRF token and a password guessed too often
// are refused. Every page is saved as a screenshot under docs/screenshots/.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, test } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import { Webhook } from 'standardwebhooks';
import { hashPassword } from '../../../packages/core/src/index.ts';
import { infra, uniquePrefix } from '../../support/infra.ts';
import { startPipeline } from '../../support/pipeline.ts';
import { startSink, type Sink } from '../../support/sink.ts';
import { testConfig } from '../../support/stack.ts';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const SHOTS = resolve(import.meta.dirname, '../../../docs/screenshots');
const OPERATOR = { name: 'ada', password: 'operator passphrase 1' };
const VIEWER = { name: 'vic', password: 'viewer passphrase 22' };
const dir = mkdtempSync(join(tmpdir(), 'hookyard-web-'));
const RECEIPTS_SECRET = `whsec_${Buffer.from('web-test-receipts-secret-0123456').toString('base64')}`;
const SIGNING_SECRET = `whsec_${Buffer.from('web-test-signing-secret-01234567').toString('base64')}`;
let sink: Sink;
/** A second destination whose breaker opens after two failures in a row. */
let flakySink: Sink;
let ingressUrl = '';
let consoleUrl = '';
let browser: Browser;
const closers: (() => Promise<unknown>)[] = [];
/** What the billing sink answers per event kind: "down" fails until told otherwise. */
const failing = new Set(['down']);

before(async () => {
  assert.ok(existsSync(CHROMIUM), `no browser at ${CHROMIUM}: scripts/bootstrap.sh installs Debian's chromium (or set CHROMIUM_PATH)`);
  mkdirSync(SHOTS, { recursive: true });
  const a = await infra();
  sink = await startSink();
  flakySink = await startSink();
  flakySink.respond = () => (failing.has('flaky') ? 500 : 200);
  sink.respond = (_n, r) => (failing.has((JSON.parse(r.body.toString()) as { kind: string }).kind) ? 500 : 200);
  const config = testConfig({
    kafka: { topicPrefix: uniquePrefix('web'), partitions: 2 },
    console: {
      apiTokens: [{ name: 'ops', token: 'web-test-token-0123456789' }],
      store: { type: 'sqlite', path: join(dir, 'index.db') },
      users: [
        { name: OPERATOR.name, role: 'operator', passwordHash: await hashPassword(OPERATOR.password) },
        { name: VIEWER.name, role: 'viewer', passwordHash: await hashPassword(VIEWER.password) },
      ],
    },
    sources: [{ name: 'shop', eventType: 'body.type', dedupKey: 'body.id', maxBodyBytes: 65_536 }],
    destinations: [
      { name: 'billing', url: sink.url, retry: { schedule: [0, 200], maxAttempts: 2 }, receipts: { secret: RECEIPTS_SECRET, slaSeconds: 600 }, signingSecret: SIGNING_SECRET, auth: { type: 'bearer', token: 'billing-bearer-token-123' } },
      { name: 'flaky', url: flakySink.url, retry: { schedule: [0], maxAttempts: 1 }, breaker: { consecutiveFailures: 2, cooldownMs: 600_000 } },
    ],
    connections: [{ source: 'shop', destination: 'billing' }, { source: 'shop', destination: 'flaky', filter: { body: { kind: 'flaky' } } }],
  });
  const pipeline = await startPipeline(a, config);
  ({ ingressUrl, consoleUrl } = pipeline);
  closers.push(() => pipeline.close(), () => sink.close(), () => flakySink.close());
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  closers.unshift(() => browser.close());
});

after(async () => {
  for (const c of closers) await c().catch(() => {});
  rmSync(dir, { recursive: true, force: true });
});

const browserErrors: string[] = [];
let n = 0;
async function send(kind: string, note = ''): Promise<string> {
  const res = await fetch(`${ingressUrl}/webhooks/shop`, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ id: `evt_${kind}_${++n}`, type: kind === 'ok' ? 'invoice.paid' : `order.${kind}`, kind, customer: `cus_${n}`, note }),
  });
  assert.equal(res.status, 202);
  return ((await res.json()) as { id: string }).id;
}

async function login(user: { name: string; password: string }): Promise<Page> {
  const page = await (await browser.newContext({ viewport: { width: 1360, height: 900 } })).newPage();
  page.on('dialog', (d) => void d.accept());
  page.on('pageerror', (e) => browserErrors.push(`${page.url()}: ${e.message}`));
  // A blocked script or style (the CSP), a failed resource: all show as console errors.
  page.on('console', (m) => { if (m.type() === 'error' && !/status of 40[1349]/.test(m.text())) browserErrors.push(`${page.url()}: ${m.text()}`); });
  await page.goto(`${consoleUrl}/events`);
  assert.match(page.url(), /\/login\?next=%2Fevents$/, 'not logged in: sent to the login page');
  await page.fill('input[name=name]', user.name);
  await page.fill('input[name=password]', user.password);
  await Promise.all([page.waitForURL(`${consoleUrl}/events`), page.click('button[type=submit]')]);
  // The session cookie: out of scripts' reach, not sent by other sites' forms (Secure
  // only with console.secureCookies, behind TLS: this console is plain HTTP).
  const cookie = (await page.context().cookies()).find((c) => c.name === 'hookyard_session');
  assert.ok(cookie, 'a session cookie');
  assert.equal(cookie.httpOnly, true);
  assert.equal(cookie.sameSite, 'Lax');
  assert.equal(cookie.secure, false);
  return page;
}

/** Reloads until the check holds (the index follows Kafka a moment behind). */
async function until(page: Page, check: () => Promise<boolean>, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(`${what}: not within ${timeoutMs} ms (at ${page.url()})`);
    await new Promise((r) => setTimeout(r, 400));
    await page.reload();
  }
}

/** A state badge's text, or null while the page does not show it (no waiting). */
async function stateOf(page: Page, destination: string): Promise<string | null> {
  const badge = page.locator(`li.delivery[data-destination=${destination}] [data-state]`);
  return (await badge.count()) === 0 ? null : badge.first().textContent();
}

const shot = (page: Page, name: string) => page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });

test('an operator searches, reads a trace, retries a failed delivery, pauses a destination, redrives in bulk; every action audited', { timeout: 240_000 }, async () => {
  const ok = await send('ok', 'marker-alpha');
  const down = await send('down', 'marker-bravo');
  const page = await login(OPERATOR);

  // Search by full text, then by filter; the live tail brings a new event without a reload.
  await page.goto(`${consoleUrl}/events?q=marker-alpha`);
  await until(page, async () => (await page.locator('table.events tbody tr').count()) === 1, 'full-text search finds the event');
  assert.equal(await page.locator(`a[href="/events/${ok}"]`).count(), 1);
  await page.goto(`${consoleUrl}/events?destination=billing&state=dead`);
  await until(page, async () => (await page.locator(`a[href="/events/${down}"]`).count()) === 1, 'the failed delivery is found by state');
  await page.goto(`${consoleUrl}/events`);
  const live = await send('ok', 'marker-live');
  await page.locator(`a[href="/events/${live}"]`).waitFor({ timeout: 20_000 });
  await shot(page, 'events');

  // The receiving application confirms the first event: its trace says applied.
  const received = await sink.waitFor(1);
  const hookId = String(received.find((r) => String(r.headers['webhook-id']).startsWith(ok))!.headers['webhook-id']);
  const body = JSON.stringify({ webhookId: hookId, status: 'applied', detail: 'booked' });
  const at = new Date();
  const receipt = await fetch(`${ingressUrl}/receipts/billing`, { method: 'POST', body, headers: { 'content-type': 'application/json', 'webhook-id': 'rcpt_web_1', 'webhook-timestamp': String(Math.floor(at.getTime() / 1000)), 'webhook-signature': new Webhook(RECEIPTS_SECRET).sign('rcpt_web_1', at, body) } });
  assert.equal(receipt.status, 202);
  await page.goto(`${consoleUrl}/events/${ok}`);
  await until(page, async () => (await page.locator('li.delivery[data-destination=billing] [data-receipt=applied]').count()) === 1, 'the receipt shows as applied');
  await page.goto(`${consoleUrl}/events?receipt=applied`);
  await until(page, async () => (await page.locator(`a[href="/events/${ok}"]`).count()) === 1, 'the receipt filter finds it');

  // The trace: two failed attempts, dead; then retried from the page, delivered.
  await page.goto(`${consoleUrl}/events/${down}`);
  const billing = page.locator('li.delivery[data-destination=billing]');
  await until(page, async () => (await stateOf(page, 'billing')) === 'dead', 'the delivery is dead');
  assert.equal(await billing.locator('tr.attempt').count(), 2);
  // Under each attempt, collapsed: the headers it sent, credentials and signature redacted.
  const sent = billing.locator('details.sent-headers').first();
  assert.equal(await sent.getAttribute('open'), null, 'collapsed');
  assert.match(await sent.locator('summary').textContent() ?? '', /^Headers sent \(\d+\)/);
  assert.equal(await sent.locator('tr[data-header="webhook-id"] td').textContent(), `${down}.billing`);
  assert.equal(await sent.locator('tr[data-header="webhook-signature"] td').textContent(), '[redacted]');
  assert.equal(await sent.locator('tr[data-header="authorization"] td').textContent(), '[redacted]');
  assert.ok(!(await page.content()).includes('billing-bearer-token-123'), 'the bearer token is nowhere on the page');
  await shot(page, 'event');
  failing.delete('down');
  await Promise.all([page.waitForURL(/done=/), billing.locator('button', { hasText: 'Retry delivery to billing' }).click()]);
  assert.match(await page.locator('p.notice').textContent() ?? '', /Sent again to billing/);
  await until(page, async () => (await stateOf(page, 'billing')) === 'delivered' && (await billing.locator('tr.attempt').count()) === 3, 'the retry is a third attempt, delivered');

  // Pause: nothing is delivered while paused; the page says so; resume delivers it.
  await page.goto(`${consoleUrl}/destinations`);
  const card = page.locator('section.destination[data-destination=billing]');
  await card.locator('input[name=reason]').fill('maintenance window');
  await Promise.all([page.waitForURL(/done=/), card.locator('button', { hasText: 'Pause' }).click()]);
  assert.equal(await card.locator('[data-status]').textContent(), 'paused');
  assert.match(await card.textContent() ?? "", /by operator.*maintenance window \(ada\)/s);
  const before = sink.received.length;
  const heldId = await send('ok', 'marker-held');
  await page.goto(`${consoleUrl}/events/${heldId}`);
  await until(page, async () => (await stateOf(page, 'billing')) === 'held', 'a delivery to a paused destination is held');
  assert.equal(sink.received.length, before, 'nothing delivered while paused');
  await page.goto(`${consoleUrl}/destinations`);
  await shot(page, 'destinations');
  await Promise.all([page.waitForURL(/done=/), card.locator('button', { hasText: 'Resume' }).click()]);
  assert.equal(await card.locator('[data-status]').textContent(), 'active');
  await sink.waitFor(before + 1, 30_000);

  // Bulk redrive: the count first, then confirmed, then progress to done.
  failing.add('bulk');
  const dead = [await send('bulk'), await send('bulk'), await send('bulk')];
  await page.goto(`${consoleUrl}/events?destination=billing&state=dead&q=bulk`);
  await until(page, async () => (await page.locator('table.events tbody tr').count()) === 3, 'three dead deliveries indexed');
  // The failures are one issue; its page offers to retry its dead deliveries, with the count.
  await page.goto(`${consoleUrl}/issues`);
  const row = page.locator('table.issues tr', { hasText: 'billing: HTTP 500' });
  await until(page, async () => (await row.count()) === 1, 'the delivery issue is listed');
  assert.equal(await row.locator('[data-state]').textContent(), 'open');
  await shot(page, 'issues');
  await Promise.all([page.waitForURL(/\/issues\/[0-9a-f]{20}$/), row.locator('a').click()]);
  await until(page, async () => (await page.locator('button[data-retry-count="3"]').count()) === 1, 'resolve-and-retry offers the 3 dead deliveries');
  await shot(page, 'issue');
  failing.delete('bulk');
  const got = sink.received.length;
  await page.goto(`${consoleUrl}/bulk`);
  const redrive = page.locator('form[action="/bulk/redrive"]');
  await redrive.locator('select[name=destination]').selectOption('billing');
  await redrive.locator('input[name=from]').fill('10m');
  await Promise.all([page.waitForURL(`${consoleUrl}/bulk/redrive`), redrive.locator('button').click()]);
  // The down event was dead-lettered too (before its retry): 4 dead letters in the window.
  assert.match(await page.locator('.preview .count').textContent() ?? '', /^4 dead letters will be re-sent to billing/);
  assert.equal(sink.received.length, got, 'a dry run sends nothing');
  await shot(page, 'bulk');
  await Promise.all([page.waitForURL(/\/bulk\/jobs\//), page.locator('.preview button', { hasText: 'Confirm' }).click()]);
  await page.locator('.job[data-state=done]').waitFor({ timeout: 60_000 });
  assert.equal(await page.locator('.job td[data-key=redriven]').textContent(), '4');
  await shot(page, 'bulk-job');
  // Three arrive: the fourth (the event retried above) is already delivered, and the
  // deliverer's dedup does not send it twice.
  await sink.waitFor(got + 3, 30_000);
  for (const id of dead) {
    await page.goto(`${consoleUrl}/events/${id}`);
    await until(page, async () => (await stateOf(page, 'billing')) === 'delivered', `redriven ${id} delivered`);
  }

  // Every action is on the audit page, with who did it.
  await page.goto(`${consoleUrl}/audit`);
  const audit = await page.locator('table.audit tbody').textContent() ?? '';
  for (const a of ['delivery.retry', 'destination.pause', 'destination.resume', 'bulk.redrive.start', 'bulk.redrive']) assert.ok(audit.includes(a), `${a} in the audit log`);
  assert.ok(audit.includes(OPERATOR.name));
  await shot(page, 'audit');
  for (const [path, name] of [['/', 'overview'], ['/sources', 'sources']] as const) {
    await page.goto(`${consoleUrl}${path}`);
    await page.locator('.u-wrap').first().waitFor();
    await shot(page, name);
  }
  await page.context().close();
});

test('a search narrows a bulk retry and redrive; an event replayed through today\'s routes; a breaker reset; an issue resolved with a retry; refusals on the sources page; a failed action audited', { timeout: 240_000 }, async () => {
  const page = await login(OPERATOR);
  // Two dead deliveries to billing; the events page's search (words and type) is carried to
  // the bulk page, whose dry runs count only what that search finds.
  failing.add('again');
  const again = [await send('again', 'marker-narrow'), await send('again', 'marker-other')];
  await page.goto(`${consoleUrl}/events?destination=billing&state=dead&q=marker-narrow&eventType=order.*`);
  await until(page, async () => (await page.locator('table.events tbody tr').count()) === 1, 'the search finds one dead delivery');
  await Promise.all([page.waitForURL(/\/bulk\?/), page.locator('a.bulk-link').click()]);
  assert.match(await page.locator('[data-narrowing]').textContent() ?? '', /q=marker-narrow; eventType=order\.\*/);
  const sent = sink.requests.length;
  const retry = page.locator('form[action="/bulk/retry"]');
  assert.equal(await retry.locator('input[name=q]').inputValue(), 'marker-narrow');
  await Promise.all([page.waitForURL(`${consoleUrl}/bulk/retry`), retry.locator('button').click()]);
  assert.match(await page.locator('.preview .count').textContent() ?? '', /^1 delivery will be re-sent to billing/);
  await page.goto(`${consoleUrl}/bulk?destination=billing&q=marker-narrow`);
  const redrive = page.locator('form[action="/bulk/redrive"]');
  await redrive.locator('input[name=from]').fill('10m');
  await Promise.all([page.waitForURL(`${consoleUrl}/bulk/redrive`), redrive.locator('button').click()]);
  assert.match(await page.locator('.preview .count').textContent() ?? '', /^1 dead letter will be re-sent to billing/);
  // Without the words: both.
  await page.goto(`${consoleUrl}/bulk`);
  await redrive.locator('select[name=destination]').selectOption('billing');
  await redrive.locator('input[name=from]').fill('10m');
  await redrive.locator('input[name=q]').fill('marker-other marker-narrow');
  await Promise.all([page.waitForURL(`${consoleUrl}/bulk/redrive`), redrive.locator('button').click()]);
  assert.match(await page.locator('.preview .count').textContent() ?? '', /^0 dead letters/, 'every word must occur, as in the search');
  assert.equal(sink.requests.length, sent, 'dry runs send nothing');

  // The delivery issue offers its two dead deliveries; resolving it with the retry sends them.
  await page.goto(`${consoleUrl}/issues?state=all`);
  const row = page.locator('table.issues tr', { hasText: 'billing: HTTP 500' });
  await until(page, async () => (await row.count()) === 1, 'the delivery issue is listed');
  await Promise.all([page.waitForURL(/\/issues\/[0-9a-f]{20}$/), row.locator('a').click()]);
  await until(page, async () => (await page.locator('button[data-retry-count="2"]').count()) === 1, 'resolve-and-retry offers the 2 dead deliveries');
  failing.delete('again');
  const got = sink.received.length;
  await Promise.all([page.waitForURL(/\/bulk\/jobs\//), page.locator('button[data-retry-count="2"]').click()]);
  await page.locator('.job[data-state=done]').waitFor({ timeout: 60_000 });
  await sink.waitFor(got + 2, 30_000);
  for (const id of again) {
    await page.goto(`${consoleUrl}/events/${id}`);
    await until(page, async () => (await stateOf(page, 'billing')) === 'delivered', `retried ${id} delivered`);
  }

  // Replay one event through today's routes: billing gets it again, the trace shows the replay.
  const replayed = again[0]!;
  await page.goto(`${consoleUrl}/events/${replayed}`);
  const before = sink.received.length;
  await Promise.all([page.waitForURL(/done=/), page.locator('form.replay button').click()]);
  assert.match(await page.locator('p.notice').textContent() ?? '', /Replayed through today's routes: 1 deliveries/);
  await sink.waitFor(before + 1, 30_000);
  assert.equal(String(sink.received.at(-1)!.headers['x-hookyard-event-id']), replayed);

  // Two failures in a row open flaky's breaker; the page says so; Reset breaker closes it.
  failing.add('flaky');
  await send('flaky');
  await send('flaky');
  await page.goto(`${consoleUrl}/destinations`);
  const card = page.locator('section.destination[data-destination=flaky]');
  await until(page, async () => (await card.locator('[data-breaker]').textContent()) === 'breaker open', 'the breaker opens');
  assert.match(await card.textContent() ?? '', /2 failures in a row/);
  failing.delete('flaky');
  await Promise.all([page.waitForURL(/done=/), card.locator('button', { hasText: 'Reset breaker' }).click()]);
  assert.equal(await card.locator('[data-breaker]').textContent(), 'breaker closed');
  const flakyBefore = flakySink.received.length;
  await send('flaky');
  await flakySink.waitFor(flakyBefore + 1, 30_000);

  // A refused request (too large for the source) shows on the sources page, with its reason.
  const big = await fetch(`${ingressUrl}/webhooks/shop`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ id: 'evt_big', type: 'order.big', pad: 'x'.repeat(70_000) }) });
  assert.equal(big.status, 413);
  await page.goto(`${consoleUrl}/sources`);
  await until(page, async () => (await page.locator("table.refusals", { hasText: "body_too_large" }).count()) > 0, 'the refusal is listed');

  // "Delivered, not applied (yet)": a delivered event without a receipt, not the applied one.
  await page.goto(`${consoleUrl}/events?destination=billing&receipt=none&q=marker-other`);
  await until(page, async () => (await page.locator(`a[href="/events/${again[1]}"]`).count()) === 1, 'the receipt filter "none" finds a delivered, unconfirmed event');

  // An action that fails is audited too (with why), not only those that succeed.
  const csrf = JSON.parse((await page.getAttribute('body', 'hx-headers'))!)['x-csrf-token'] as string;
  const bad = await page.request.post(`${consoleUrl}/bulk/retry`, { headers: { 'x-csrf-token': csrf }, form: { status: '999' }, maxRedirects: 0 });
  assert.equal(bad.status(), 400);
  // A confirmed redrive whose search finds nothing sends nothing (not every dead letter).
  const beforeNone = sink.requests.length;
  const none = await page.request.post(`${consoleUrl}/bulk/redrive`, { headers: { 'x-csrf-token': csrf }, form: { destination: 'billing', from: '1h', q: 'no-such-words-anywhere', confirm: 'yes' }, maxRedirects: 0 });
  assert.equal(none.status(), 409);
  assert.equal(sink.requests.length, beforeNone);
  await page.goto(`${consoleUrl}/audit`);
  const audit = await page.locator('table.audit tbody').textContent() ?? '';
  for (const a of ['event.replay', 'destination.reset-breaker', 'issue.resolve', 'bulk.retry.start', 'bulk.retry failed']) assert.ok(audit.includes(a), `${a} in the audit log`);
  await page.context().close();
});

test('a viewer sees but cannot act; an action without its CSRF token is refused; password guessing is rate-limited', { timeout: 120_000 }, async () => {
  const id = await send('ok', 'marker-viewer');
  const viewer = await login(VIEWER);
  await viewer.goto(`${consoleUrl}/events/${id}`);
  await until(viewer, async () => (await stateOf(viewer, 'billing')) !== null, 'the trace is shown to a viewer');
  assert.equal(await viewer.locator('button', { hasText: 'Retry' }).count(), 0, 'no action buttons for a viewer');
  await viewer.goto(`${consoleUrl}/destinations`);
  assert.equal(await viewer.locator('button', { hasText: 'Pause' }).count(), 0);
  // The request a button would send, with a valid CSRF token: refused for the role.
  const token = (page: Page) => page.getAttribute('body', 'hx-headers').then((h) => (JSON.parse(h!) as Record<string, string>)['x-csrf-token']!);
  const post = (page: Page, headers: Record<string, string>) => page.request.post(`${consoleUrl}/destinations/billing/pause`, { headers, form: { reason: 'x' }, maxRedirects: 0 });
  const r = await post(viewer, { 'x-csrf-token': await token(viewer) });
  const asViewer = { status: r.status(), text: await r.text() };
  assert.equal(asViewer.status, 403);
  assert.match(asViewer.text, /may look but not act/);
  await viewer.context().close();

  const operator = await login(OPERATOR);
  await operator.goto(`${consoleUrl}/destinations`);
  const noToken = (await post(operator, {})).status();
  const wrongToken = (await post(operator, { 'x-csrf-token': `${await token(operator)}x` })).status();
  assert.equal(wrongToken, 403, 'a wrong CSRF token: refused');
  assert.equal(noToken, 403, 'no CSRF token: refused');
  await operator.goto(`${consoleUrl}/destinations`);
  assert.equal(await operator.locator('section.destination[data-destination=billing] [data-status]').textContent(), 'active', 'nothing changed');
  await operator.context().close();

  // Five attempts per address and user name in a minute are answered (every attempt counts,
  // so a name of its own here); the sixth is refused before it is checked.
  const guesser = await (await browser.newContext()).newPage();
  const statuses: number[] = [];
  for (let i = 0; i < 6; i++) {
    await guesser.goto(`${consoleUrl}/login`);
    await guesser.fill('input[name=name]', 'eve');
    await guesser.fill('input[name=password]', `guess number ${i}`);
    const [res] = await Promise.all([guesser.waitForResponse((r) => r.url().endsWith('/login') && r.request().method() === 'POST'), guesser.click('button[type=submit]')]);
    statuses.push(res.status());
  }
  assert.deepEqual(statuses, [401, 401, 401, 401, 401, 429]);
  assert.match(await guesser.locator('p.error').textContent() ?? '', /Too many login attempts/);
  await shot(guesser, 'login-rate-limited');
  await guesser.goto(`${consoleUrl}/login`);
  await shot(guesser, 'login');
  await guesser.context().close();
  assert.deepEqual(browserErrors, [], 'no script error, blocked resource or CSP violation on any page');
});
