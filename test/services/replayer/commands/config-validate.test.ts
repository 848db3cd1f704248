// What `hookyard config apply` checks before it stores a version, without Kafka: the start-up
// validation by path; ${VAR}s this shell lacks listed, not failed (the services resolve
// them); defaults kept; secrets written literally found.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError } from '@hookyard/core';
import { literalSecrets, validateText } from '../../../../services/replayer/src/commands/config.ts';

const text = (secret: string, url = 'http://127.0.0.1:9/x') => `sources:
  - { name: shop, verify: { type: github, secret: "${secret}" } }
destinations: [{ name: billing, url: "${url}", signingSecret: "\${SIGNING:-whsec_dGVzdA==}" }]
connections: [{ source: shop, destination: billing }]
`;

test('a reference this shell lacks is listed, a default is kept, and the rest is validated by path', () => {
  const ok = validateText(text('${GH_SECRET_ONLY_IN_SERVICES}'), 'v.yaml', {});
  assert.deepEqual(ok.unresolved, ['GH_SECRET_ONLY_IN_SERVICES']);
  assert.equal(ok.config.destinations[0]!.signingSecret, 'whsec_dGVzdA==');
  assert.deepEqual(validateText(text('${GH}'), 'v.yaml', { GH: 'set-here' }).unresolved, []);
  assert.throws(() => validateText(text('${GH}', 'ftp://nowhere'), 'v.yaml', {}), (err: unknown) => err instanceof ConfigError && err.problems.some((p) => /^destinations\[0\]\.url: must be an http\(s\) URL/.test(p)));
});

test('secrets written literally are named by path; references are not', () => {
  assert.deepEqual(literalSecrets(text('a-literal-secret')), ['sources[0].verify.secret']);
  assert.deepEqual(literalSecrets(text('${GH}')), []);
});
