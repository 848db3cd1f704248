// An autocannon run whose events come from a fixed set of ordering keys, round robin:
// autocannon's own `-I` gives every request a fresh id, so a per-key destination would
// never hold an event behind its key's previous one. Used by the e2e stage of bench/run.ts.
// Prints autocannon's JSON result on stdout.
//   node bench/keyed-load.ts <url> <seconds> <connections> <rate/s> <keys> <body with cus_[key]>
import autocannon from 'autocannon';

const [url, seconds, connections, rate, keys, template] = process.argv.slice(2);
if (!url || !template) {
  console.error('usage: node bench/keyed-load.ts <url> <seconds> <connections> <rate> <keys> <body template with [key]>');
  process.exit(2);
}
let n = 0;
const result = await autocannon({
  url, method: 'POST', duration: Number(seconds), connections: Number(connections),
  ...(Number(rate) > 0 ? { overallRate: Number(rate) } : {}),
  headers: { 'content-type': 'application/json' },
  requests: [{ setupRequest: (req) => ({ ...req, body: template.replace('[key]', String(n++ % Number(keys))) }) }],
});
process.stdout.write(JSON.stringify(result));
