#!/usr/bin/env bash
# `npm start`: prepares this machine (npm dependencies, Docker Engine, CNI plugins, pause image)
# and runs berth in the foreground. Flags after `npm start --` go to berth.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
require_root
cd "$BERTH_ROOT"

# The pause image the setup makes sure of is the one berth will be told to use.
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
  case "${args[i]}" in
    --pod-infra-container-image=*) export BERTH_PAUSE_IMAGE="${args[i]#*=}" ;;
    --pod-infra-container-image) export BERTH_PAUSE_IMAGE="${args[i + 1]:-}" ;;
  esac
done

bash scripts/ensure-deps.sh
bash scripts/setup-host.sh
# As berth.service: two malloc arenas instead of one per thread (less resident memory).
export MALLOC_ARENA_MAX="${MALLOC_ARENA_MAX:-2}"
# A small young generation: berth's allocations are short-lived and small; the default
# semi-spaces only inflate resident memory.
exec "$BERTH_ROOT/node_modules/.bin/node" --max-semi-space-size=2 dist/main.js "$@"
