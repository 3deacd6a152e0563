#!/usr/bin/env bash
# Runs a command while the machine is busy: N CPU-bound busy loops (default 6) at the same
# priority as the command, stopped when it ends. CI runs the whole test suite this way, so a
# test that holds only on a quiet machine fails where it is written, not on a colleague's.
#   scripts/under-load.sh [-n N] command [args...]
set -euo pipefail
loops=6
if [ "${1:-}" = "-n" ]; then loops=$2; shift 2; fi
[ $# -gt 0 ] || { echo "usage: scripts/under-load.sh [-n N] command [args...]" >&2; exit 2; }
pids=()
stop() { [ ${#pids[@]} -eq 0 ] || kill "${pids[@]}" 2>/dev/null || true; }
trap stop EXIT INT TERM
for _ in $(seq "$loops"); do
  bash -c 'while :; do :; done' &
  pids+=($!)
done
echo "under-load: $loops busy loops running beside: $*" >&2
"$@"
