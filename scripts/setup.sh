#!/usr/bin/env bash
# Installs what Noom needs on this machine, skipping whatever is already there:
#   npm packages (when package-lock.json changed), the mediasoup worker (scripts/worker),
#   Debian's ffmpeg for recordings,
#   with --test the test tools from Debian (chromium, ffmpeg, iproute2, util-linux, openssl,
#   nftables, redis-server, coturn), with --cluster Debian's redis-server for `npm run
#   cluster`, and with --turn Debian's coturn for `npm run turn`.
# Idempotent: a second run takes a few seconds.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
WANT_TEST=0
WANT_REDIS=0
WANT_TURN=0
for arg in "$@"; do
  case "$arg" in
    --test) WANT_TEST=1; WANT_REDIS=1 ;;
    --cluster) WANT_REDIS=1 ;;
    --turn) WANT_TURN=1 ;;
    *) printf '[setup] unknown option: %s (use --test, --cluster and/or --turn)\n' "$arg" >&2; exit 2 ;;
  esac
done
say() { printf '[setup] %s\n' "$*"; }
die() { printf '[setup] ERROR: %s\n' "$*" >&2; exit 1; }
. scripts/apt.sh

node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>20||(a===20&&b>=19)?0:1)' \
  || die "Node >= 20.19 is required (found $(node -v 2>/dev/null || echo none))"

lock_hash=$(sha256sum package-lock.json | cut -c1-16)
if [ "$(cat node_modules/.noom-lock 2>/dev/null)" != "$lock_hash" ]; then
  say "npm ci"
  npm ci --no-audit --no-fund --loglevel=error
  echo "$lock_hash" > node_modules/.noom-lock
fi

bash scripts/worker/provision.sh

# ffmpeg: moderators' recordings (README "Recording"). Without it (and no root to install
# it) the server still runs; `recording:start` then answers that the recorder cannot start.
if ! command -v ffmpeg >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then apt_install ffmpeg; else say "ffmpeg is missing: recordings will fail (apt-get install ffmpeg)"; fi
fi

if [ "$WANT_TEST" = 1 ]; then
  # chromium: end-to-end tests; ffmpeg: encodes the synthetic peers' clip; iproute2 and
  # util-linux: the private network namespace the tests run in; openssl: test certificates;
  # nftables: the UDP blackouts made inside that namespace.
  apt_install chromium ffmpeg iproute2 util-linux openssl nftables
  # coturn: the tests start private TURN servers (loopback, a free port, REST-API secrets);
  # the machine-wide one the package would start is not wanted.
  install_stopped coturn coturn
fi
if [ "$WANT_REDIS" = 1 ]; then
  # The tests and `npm run cluster` start private redis-server instances of their own; the
  # system service Debian's package would start on 6379 is not wanted.
  install_stopped redis-server redis-server
fi
if [ "$WANT_TURN" = 1 ]; then
  # `npm run turn` starts a private coturn of its own, as the tests do.
  install_stopped coturn coturn
fi
say "ready"
