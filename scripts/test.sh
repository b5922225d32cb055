#!/usr/bin/env bash
# The whole check, as CI runs it: set up what is missing, lint, typecheck, build the client,
# then every test (unit, integration with a real worker and WebRTC peers, end to end in
# Chromium). Tests run in a private network namespace with only loopback where the machine
# allows it (root), so no test traffic can leave the machine.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
T0=$(date +%s)
bash scripts/setup.sh --test
echo "[test] lint";      npx eslint .
echo "[test] typecheck"; npx tsc --noEmit -p tsconfig.json
echo "[test] build";     npm run --silent build >/dev/null
FILES=(test/unit/*.test.ts test/integration/*.test.ts test/e2e/*.test.ts)
RUN=(node --import tsx --test --test-concurrency=1 --test-timeout=180000 "${FILES[@]}")
if [ "${NOOM_TEST_NETNS:-1}" = 1 ] && [ "$(id -u)" = 0 ] && unshare -n true 2>/dev/null; then
  echo "[test] ${#FILES[@]} files, loopback-only network namespace"
  unshare -n -- bash -c 'ip link set lo up && exec "$@"' _ "${RUN[@]}"
else
  echo "[test] ${#FILES[@]} files"
  "${RUN[@]}"
fi
echo "[test] done in $(( $(date +%s) - T0 )) s"
