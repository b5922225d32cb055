#!/usr/bin/env bash
# Development: the Node server with --watch on PORT (default 3000) and Vite's dev server
# (default http://127.0.0.1:5173) proxying /socket.io, /api and /healthz to it.
# Ctrl-C stops both.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

export PORT="${PORT:-3000}"
export NOOM_SERVER_PORT="$PORT"
# A reload after an edit restarts the server at once instead of draining its calls.
export DRAIN_TIMEOUT="${DRAIN_TIMEOUT:-0}"
VITE_PORT="${NOOM_VITE_PORT:-5173}"

# Job control puts each background job in its own process group, so that stopping a group
# also stops the processes it started (node --watch's child, npx's vite).
set -m
node --import tsx --watch server/src/main.ts &
server_pid=$!
npx vite --config client/vite.config.ts --port "$VITE_PORT" &
vite_pid=$!

stop() {
  trap - EXIT INT TERM
  kill -TERM -- "-$server_pid" "-$vite_pid" 2>/dev/null || true
  wait 2>/dev/null || true
}
trap stop EXIT INT TERM

echo "noom dev: open http://127.0.0.1:${VITE_PORT} (server on :${PORT})"
# Whichever exits first ends the session.
wait -n "$server_pid" "$vite_pid"
