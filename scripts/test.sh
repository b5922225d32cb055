#!/usr/bin/env bash
# The whole check, as CI runs it: set up what is missing, lint, typecheck, build the client,
# then every test (unit, integration with a real worker and WebRTC peers, end to end in
# Chromium). Where the machine allows it (root), tests run in a private network namespace
# that has no link to the outside, so no test traffic can leave the machine.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
T0=$(date +%s)
bash scripts/setup.sh --test
echo "[test] lint";      npx eslint .
echo "[test] typecheck"; npx tsc --noEmit -p tsconfig.json
echo "[test] build";     npm run --silent build >/dev/null
FILES=(test/unit/*.test.ts test/integration/*.test.ts test/e2e/*.test.ts)
RUN=(node --import tsx --test --test-concurrency=1 --test-timeout=180000 "${FILES[@]}")
# Loopback, plus a default route into a veth pair that ends inside the namespace: Chromium
# without camera/mic permission only gathers ICE candidates on the default route's
# interface, and a real machine always has one. 192.0.2.1 is a documentation address.
NETNS_SETUP='ip link set lo up && ip link add noom0 type veth peer name noom1 &&
  ip addr add 192.0.2.1/32 dev noom0 && ip link set noom1 up && ip link set noom0 up &&
  ip route add default dev noom0'
if [ "${NOOM_TEST_NETNS:-1}" = 1 ] && [ "$(id -u)" = 0 ] && unshare -n -- bash -c "$NETNS_SETUP" 2>/dev/null; then
  echo "[test] ${#FILES[@]} files, private network namespace"
  unshare -n -- bash -c "$NETNS_SETUP"' && exec "$@"' _ "${RUN[@]}"
else
  echo "[test] ${#FILES[@]} files"
  "${RUN[@]}"
fi
echo "[test] done in $(( $(date +%s) - T0 )) s"
