#!/usr/bin/env bash
# `npm test`: the whole suite, as CI runs it. Type-check, lint and format check (Biome, which
# also fails on import cycles), then the unit tests and the end-to-end tests against the real
# Docker Engine, registries and CNI plugins that scripts/test-fixtures.sh prepares.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
require_root
cd "$BERTH_ROOT"

bash scripts/ensure-deps.sh
bin="$BERTH_ROOT/node_modules/.bin"

log "type-checking"
"$bin/tsc" --noEmit
log "lint, format and import cycles"
"$bin/biome" ci --colors=off .

bash scripts/test-fixtures.sh

log "running tests"
# One file at a time: the end-to-end files share one Docker Engine, and one of them stops and
# restarts it.
export BERTH_ENTRY=dist/main.js
exec "$bin/node" --test --test-concurrency=1 --test-reporter=spec \
  'src/**/*.test.ts' 'test/**/*.test.ts'
