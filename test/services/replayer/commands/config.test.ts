// hookyard config test against real Kafka and the registry: a draft run over the events
// planted in raw-events reports exactly what would change, honours the window, --source
// and --fail-on-change, compares with the newest applied version, and writes nothing.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { stringify } from 'yaml';
import type { Config, RawEvent } from '@hookyard/core';
import type { ConfigTestReport } from '../../../../services/replayer/src/commands/config-test.ts';
import { cli } from '../../../support/cli.ts';
import { infra, uniquePrefix } from '../../../support/infra.ts';
import { rawEvent, writeRawEvents } from '../../../support/raw-events.ts';
import { testConfig } from '../../../support/stack.ts';

let a: Awaited<ReturnType<typeof infra>>;
let config: Config;
let prefix: string;
const dir = mkdtempSync(join(tmpdir(), 'hookyard-config-test-'));
const T0 = Date.now() - 30 * 60_000; // half an hour ago
const events: RawEvent[] = [];

function base(): Record<string, unknown> {
  return {
    kafka: { topicPrefix: prefix, partitions: 2 },
    sources: [{ name: 'shop' }, { name: 'crm-in' }],
    destinations: [{ name: 'billing', url: 'http://127.0.0.1:9/billing' }, { name: 'audit', url: 'http://127.0.0.1:9/audit' }, { name: 'crm', url: 'http://127.0.0.1:9/crm' }],
    connections: [
      { source: 'shop', destination: 'billing', filter: { body: { type: 'invoice.paid' } } },
      { source: 'shop', destination: 'audit', transform: '{ "body": { "id": body.id } }' },
      { source: 'crm-in', destination: 'crm' },
    ],
  };
}

function draftFile(name: string, mutate: (d: Record<string, any>) => void): string {
  const d = base() as Record<string, any>;
  mutate(d);
  const file = join(dir, name);
  writeFileSync(file, stringify(d));
  return file;
}

/** Every topic's end offsets under this test's prefix: what any write would move. */
async function snapshot(): Promise<string> {
  const kafka = new Kafka({ brokers: a.KAFKA_BROKERS.split(','), logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  try {
    const topics = (await admin.listTopics()).filter((t) => t.startsWith(prefix)).sort();
    const ends = await Promise.all(topics.map(async (t) => `${t}:${(await admin.fetchTopicOffsets(t)).map((p) => `${p.partition}=${p.high}`).join(',')}`));
    return ends.join(' ');
  } finally {
    await admin.disconnect();
  }
}

before(async () => {
  a = await infra();
  prefix = uniquePrefix('cfgtest');
  config = testConfig(base());
  // 10 shop events: 4 invoice.paid, 6 invoice.created; 3 crm-in events; 2 shop events outside the window.
  for (let i = 0; i < 10; i++) events.push(rawEvent('shop', T0 + i * 1000, { id: `evt_${i}`, type: i < 4 ? 'invoice.paid' : 'invoice.created', amount: i * 100 }));
  for (let i = 0; i < 3; i++) events.push(rawEvent('crm-in', T0 + 20_000 + i * 1000, { contact: i }));
  events.push(rawEvent('shop', T0 - 10 * 60_000, { id: 'evt_early', type: 'invoice.created' }), rawEvent('shop', T0 + 10 * 60_000, { id: 'evt_late', type: 'invoice.created' }));
  await writeRawEvents(a, config, events);
});

after(() => rmSync(dir, { recursive: true, force: true }));

const window = ['--from', new Date(T0 - 1000).toISOString(), '--to', new Date(T0 + 60_000).toISOString()];
const byConnection = (r: ConfigTestReport) => Object.fromEntries(r.connections.map((c) => [c.connection, c]));

test('config test reports exactly the planted changes and writes nothing to Kafka', async () => {
  const before = await snapshot();
  const draft = draftFile('draft.yaml', (d) => {
    d.connections[0].filter = { body: { type: 'invoice.created' } }; // 4 no longer, 6 newly matched
    d.connections[1].transform = 'body.amount >= 700 ? $error("too big") : { "body": { "id": body.id, "cents": body.amount } }';
    d.connections.push({ source: 'shop', destination: 'crm', filter: { body: { amount: { $gte: 500 } } } }); // added: 5 events
    d.connections.splice(2, 1); // crm-in → crm removed: 3 no longer matched
  });
  const r = await cli(a, config, ['config', 'test', draft, ...window, '--json']);
  assert.equal(r.code, 0, r.notes.join('\n'));
  const report = JSON.parse(r.lines[0]!) as ConfigTestReport;
  assert.equal(report.events, 13);
  assert.deepEqual(report.bySource, { shop: 10, 'crm-in': 3 });
  assert.equal(report.changed, true);
  const c = byConnection(report);
  assert.deepEqual([c['shop→billing']!.newlyMatched, c['shop→billing']!.noLongerMatched, c['shop→billing']!.outputChanged], [6, 4, 0]);
  // The example is the first such event read (partitions are read side by side).
  assert.ok(events.slice(0, 4).some((e) => e.id === c['shop→billing']!.examples.noLongerMatched));
  assert.deepEqual([c['shop→audit']!.outputChanged, c['shop→audit']!.transformErrors, c['shop→audit']!.noLongerMatched], [7, 3, 3]);
  const example = c['shop→audit']!.examples.outputChanged!;
  const amount = (JSON.parse(events.find((e) => e.id === example.eventId)!.body.toString()) as { amount: number }).amount;
  assert.match(example.diff, new RegExp(`\\+\\s+"cents": ${amount}\\n`));
  assert.equal(c['shop→audit']!.examples.transformError!.error.includes('too big'), true);
  assert.deepEqual([c['shop→crm']!.status, c['shop→crm']!.newlyMatched], ['added', 5]);
  assert.deepEqual([c['crm-in→crm']!.status, c['crm-in→crm']!.noLongerMatched], ['removed', 3]);

  // --source narrows; --fail-on-change makes a change exit 1 (a config repository's CI).
  const only = await cli(a, config, ['config', 'test', draft, ...window, '--source', 'crm-in', '--json', '--fail-on-change']);
  assert.equal(only.code, 1);
  assert.equal((JSON.parse(only.lines[0]!) as ConfigTestReport).events, 3);
  const text = await cli(a, config, ['config', 'test', draft, ...window]);
  assert.ok(text.lines.some((l) => /shop→billing\s+changed\s+6 newly matched, 4 no longer matched/.test(l)), text.lines.join('\n'));
  assert.equal(await snapshot(), before, 'no topic moved');
});

test('an unchanged draft passes --fail-on-change; a bad one is refused by path', async () => {
  const same = await cli(a, config, ['config', 'test', draftFile('same.yaml', () => {}), ...window, '--fail-on-change']);
  assert.equal(same.code, 0, same.notes.join('\n'));
  assert.equal(same.lines.at(-1), 'no change');
  const bad = await cli(a, config, ['config', 'test', draftFile('bad.yaml', (d) => { d.connections[0].filter = { body: { type: { $gt: true } } }; }), ...window]);
  assert.equal(bad.code, 2);
  assert.match(bad.notes.join('\n'), /connections\[0\]\.filter/);
  const noWindow = await cli(a, config, ['config', 'test', draftFile('same2.yaml', () => {})]);
  assert.equal(noWindow.code, 2);
  assert.match(noWindow.notes.join('\n'), /--from/);
});

test('the live side is the newest applied version, not the file', async () => {
  const applied = draftFile('applied.yaml', (d) => { d.connections[0].filter = { body: { type: 'invoice.created' } }; });
  const r = await cli(a, config, ['config', 'apply', applied, '--by', 'test']);
  assert.equal(r.code, 0, r.notes.join('\n'));
  // The draft equals what is applied: nothing would change, though it differs from the file.
  const t = await cli(a, config, ['config', 'test', applied, ...window, '--json', '--fail-on-change']);
  assert.equal(t.code, 0, t.notes.join('\n'));
  assert.equal((JSON.parse(t.lines[0]!) as ConfigTestReport).changed, false);
  assert.match(t.notes.join('\n'), /live config: v1/);
});
