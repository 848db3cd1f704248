// node bench/profile-summary.ts <file.cpuprofile> [top=25]: self time by function and by
// package, from a V8 CPU profile (node --cpu-prof; npm run bench -- --profile=<service>).
import { readFileSync } from 'node:fs';

if (!process.argv[2] || process.argv.includes('--help')) {
  console.log('Usage: node bench/profile-summary.ts <file.cpuprofile> [top=25]');
  process.exit(process.argv[2] ? 0 : 2);
}
interface Node { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; }
const prof = JSON.parse(readFileSync(process.argv[2], 'utf8')) as { nodes: Node[]; samples: number[]; timeDeltas: number[] };
const top = Number(process.argv[3] ?? 25);
const byId = new Map(prof.nodes.map((n) => [n.id, n]));
const selfUs = new Map<number, number>();
prof.samples.forEach((id, i) => selfUs.set(id, (selfUs.get(id) ?? 0) + (prof.timeDeltas[i] ?? 0)));
const total = [...selfUs.values()].reduce((a, b) => a + b, 0);
const where = (url: string) => {
  const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (m) return m[1]!;
  if (url.startsWith('node:')) return 'node:internal';
  if (url === '') return '(native/vm)';
  return url.includes('/packages/') || url.includes('/services/') ? 'hookyard' : url;
};
const fns = new Map<string, number>();
const pkgs = new Map<string, number>();
for (const [id, us] of selfUs) {
  const n = byId.get(id)!;
  const f = `${n.callFrame.functionName || '(anonymous)'} ${n.callFrame.url.replace(/^.*node_modules\//, '').replace(/^file:\/\/.*?\/(packages|services)\//, '$1/')}:${n.callFrame.lineNumber + 1}`;
  fns.set(f, (fns.get(f) ?? 0) + us);
  const p = where(n.callFrame.url);
  pkgs.set(p, (pkgs.get(p) ?? 0) + us);
}
const pct = (us: number) => `${((100 * us) / total).toFixed(1).padStart(5)} %`;
console.log(`total ${(total / 1e6).toFixed(1)} s of samples\n\nby package:`);
for (const [p, us] of [...pkgs].sort((a, b) => b[1] - a[1]).slice(0, 15)) console.log(`${pct(us)}  ${p}`);
console.log('\nby function (self time):');
for (const [f, us] of [...fns].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${pct(us)}  ${f}`);
