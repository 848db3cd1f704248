#!/usr/bin/env bash
# ./hookyard test (and CI, through .ci/run): a fresh stack of its own, every test, the
# stack stopped and wiped at the end. With arguments, only those test files run
# (`./hookyard test test/e2e/pending.test.ts`), on the same kind of fresh stack.
# Expects the machine set up by scripts/bootstrap.sh (./hookyard does that first).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
echo "node $(node --version), npm $(npm --version)"

# Fresh data (a long-lived developer stack accumulates thousands of test partitions and
# gets slow) on ports no developer's stack uses; wiped at the end.
export HOOKYARD_KAFKA_PORT="${HOOKYARD_KAFKA_PORT:-29092}"
export HOOKYARD_REDIS_PORT="${HOOKYARD_REDIS_PORT:-26379}"
export HOOKYARD_REGISTRY_PORT="${HOOKYARD_REGISTRY_PORT:-28081}"
# The main suite fuzzes with fewer requests than the fault suite (npm run test:faults: 100,000).
export FUZZ_REQUESTS="${FUZZ_REQUESTS:-30000}"
export HOOKYARD_STACK_DIR="${HOOKYARD_STACK_DIR:-$(mktemp -d /tmp/hookyard-test-stack.XXXXXX)}"
trap 'node scripts/infra/cli.ts down --wipe || true' EXIT
eval "$(node scripts/infra/cli.ts up)"
node scripts/infra/cli.ts status

if [ $# -gt 0 ]; then
  node --test --test-concurrency=1 --test-timeout=300000 "$@"
else
  npm test
fi
