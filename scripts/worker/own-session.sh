#!/bin/sh
# Runs the mediasoup worker in a session (and process group) of its own. mediasoup starts
# this instead of the worker binary (Noom's WorkerPool passes it as `workerBin`), with the
# worker's arguments and its channel pipes on fds 3 and 4, which exec keeps. Out of Noom's
# process group, a terminal's Ctrl-C or a `kill -- -<pgid>` no longer reaches the worker,
# which would otherwise close itself and end its calls before Noom drains them. setsid does
# not fork here (this shell is never a group leader), so the worker keeps the pid mediasoup
# knows it by; it still exits when Noom closes it or when Noom dies and its channel closes.
if command -v setsid >/dev/null 2>&1; then
  exec setsid "$NOOM_MEDIASOUP_WORKER" "$@"
fi
exec "$NOOM_MEDIASOUP_WORKER" "$@"
