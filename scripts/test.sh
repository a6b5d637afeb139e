#!/usr/bin/env bash
# `npm test`: the whole suite, as CI runs it. Type-check, lint and format check (Biome, which
# also fails on import cycles), then the unit tests and the end-to-end tests against the real
# Docker Engine, registries and CNI plugins that scripts/test-fixtures.sh prepares, once on
# each engine:
#   system   the engine setup-host.sh uses ($DOCKER_HOST, else the local dockerd: Debian 12's
#            Docker 20.10, API 1.41); the unit tests run in this pass;
#   docker28 Debian unstable's Docker 28.5 (API 1.51) on unix:///var/run/docker28.sock,
#            set up by scripts/setup-docker28.sh beside the first.
# BERTH_TEST_ENGINES picks the passes (default "system docker28"), e.g. BERTH_TEST_ENGINES=docker28.
# Each pass is headed "==== test pass N/M: Docker Engine VERSION (API X) on SOCKET ====" and
# ends with node's own summary lines. The run fails when any pass fails.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
require_root
cd "$BERTH_ROOT"

read -ra engines <<<"${BERTH_TEST_ENGINES:-system docker28}"
[[ ${#engines[@]} -gt 0 ]] || die "BERTH_TEST_ENGINES names no engine (known: system docker28)"
for engine in "${engines[@]}"; do
  [[ "$engine" == system || "$engine" == docker28 ]] ||
    die "BERTH_TEST_ENGINES: unknown engine '$engine' (known: system docker28)"
done

# with_engine ENGINE CMD...: runs CMD against that engine (DOCKER_HOST for docker28).
with_engine() {
  local engine="$1"
  shift
  if [[ "$engine" == docker28 ]]; then
    DOCKER_HOST="unix://$BERTH_DOCKER28_SOCK" "$@"
  else
    "$@"
  fi
}

bash scripts/ensure-deps.sh
bin="$BERTH_ROOT/node_modules/.bin"

log "type-checking"
"$bin/tsc" --noEmit
log "lint, format and import cycles"
"$bin/biome" ci --colors=off .

export BERTH_ENTRY=dist/main.js
# What earlier passes came to: said in the next pass's heading and, if any failed, at the very
# end, so that a run that passed ends with node's own summary lines.
results=()
status=0
total=${#engines[@]}
n=0
unit=('src/**/*.test.ts' 'bench/**/*.test.ts')
for engine in "${engines[@]}"; do
  n=$((n + 1))
  if ! with_engine "$engine" bash scripts/test-fixtures.sh; then
    results+=("pass $n/$total on the $engine engine: FAILED to set up (see above)")
    status=1
    continue
  fi
  label="Docker Engine $(with_engine "$engine" docker version --format '{{.Server.Version}} (API {{.Server.APIVersion}})' 2>/dev/null || echo '(version unknown)')"
  label+=" on $(with_engine "$engine" printenv DOCKER_HOST || echo "unix://$BERTH_DOCKER_SOCK")"
  printf '\n==== test pass %d/%d: %s ====\n' "$n" "$total" "$label"
  for line in "${results[@]}"; do
    printf '==== (%s) ====\n' "$line"
  done
  printf '\n'

  # One file at a time: the end-to-end files share one Docker Engine, and two of them stop
  # and restart it. The unit tests do not depend on the engine: they run in the first pass.
  rc=0
  with_engine "$engine" "$bin/node" --test --test-concurrency=1 --test-reporter=spec \
    "${unit[@]}" 'test/**/*.test.ts' || rc=$?
  unit=()
  if [[ $rc -eq 0 ]]; then
    results+=("pass $n/$total, $label: passed")
  else
    results+=("pass $n/$total, $label: FAILED (exit $rc)")
    status=1
  fi
done

if [[ $status -ne 0 ]]; then
  printf '\n'
  for line in "${results[@]}"; do
    printf '[test] %s\n' "$line"
  done
fi
exit "$status"
