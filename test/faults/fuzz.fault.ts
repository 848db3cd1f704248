// Scenario 8: at least 100,000 malformed or forged requests (random methods, headers and
// encodings, invalid UTF-8, huge headers, truncated bodies, broken framing, slow senders,
// forged signatures) beside valid traffic. Ingress does not crash, its memory stays
// bounded, nothing is produced for an invalid request, and every valid one is accepted.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { infra } from '../support/infra.ts';
import { endOffsets } from '../support/raw-events.ts';
import { topicNames } from '@hookyard/core';
import { fuzzCase, prng, sendCase } from './support/fuzz.ts';
import { Pipeline, report } from './support/pipeline.ts';

const TOTAL = Number(process.env.FUZZ_REQUESTS ?? 100_000);
const WORKERS = 64;

function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : 0;
}

test(`fuzz: ${TOTAL} malformed requests beside valid traffic: no crash, bounded memory, nothing produced for them`, { timeout: 900_000 }, async () => {
  const a = await infra();
  const seed = Number(process.env.FUZZ_SEED ?? Date.now() % 1e9);
  const p = new Pipeline({ scenario: 'fuzz', addrs: await infra() });
  try {
    await p.setUp();
    const ingress = p.services.get('ingress')!.child!;
    const rss: number[] = [];
    const sampler = setInterval(() => { try { rss.push(rssMiB(ingress.pid!)); } catch { /* exited */ } }, 1000);
    const load = p.startLoad({ events: 3_000, rate: 50, lanes: 10 });
    const r = prng(seed);
    const byKind = new Map<string, Map<number, number>>();
    let next = 0;
    let fuzz2xx = 0;
    const t0 = Date.now();
    await Promise.all(Array.from({ length: WORKERS }, async () => {
      while (next < TOTAL) {
        next++;
        const c = fuzzCase(r, 'beta', 'alpha');
        const status = await sendCase(p.ingressPort, c);
        if (status >= 200 && status < 300) fuzz2xx++;
        const m = byKind.get(c.kind) ?? new Map<number, number>();
        m.set(status, (m.get(status) ?? 0) + 1);
        byKind.set(c.kind, m);
      }
    }));
    const fuzzSeconds = (Date.now() - t0) / 1000;
    await load.done;
    const complete = await p.waitDelivered(120_000);
    clearInterval(sampler);
    const produced = await endOffsets(a, topicNames((p.raw.kafka as { topicPrefix: string }).topicPrefix).rawEvents);
    const res = p.result();
    const kinds = [...byKind].map(([k, m]) => `${k} ${[...m].sort((x, y) => x[0] - y[0]).map(([s, c]) => `${s || 'closed'}×${c}`).join(' ')}`).join('; ');
    const maxRss = Math.round(Math.max(...rss));
    report({ ...res, notes: `seed ${seed}; ${TOTAL} fuzz requests in ${fuzzSeconds.toFixed(0)} s, 2xx to them: ${fuzz2xx}; raw-events records ${produced} for ${load.accepted.length} valid requests; ingress RSS max ${maxRss} MiB (first ${Math.round(rss[0] ?? 0)}, last ${Math.round(rss[rss.length - 1] ?? 0)}); answers by kind: ${kinds}` });
    assert.equal(ingress.exitCode, null, 'ingress still running');
    assert.equal(fuzz2xx, 0, 'no malformed or forged request is accepted');
    assert.equal(produced, load.accepted.length, 'exactly the valid requests were produced');
    assert.equal(res.answers.other + res.answers['503'] + res.answers.error, 0, 'valid traffic alongside was answered 2xx');
    assert.ok(complete && res.lost === 0, `valid events delivered (lost ${res.lost})`);
    assert.ok(maxRss < 512, `ingress RSS stayed bounded (${maxRss} MiB)`);
  } finally {
    await p.tearDown();
  }
});
