#!/usr/bin/env bash
# `npm run bench`: the same setup as the tests (engine, pause and test images), then the
# benchmark. Flags after `npm run bench --` go to bench/run.ts.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
require_root
cd "$BERTH_ROOT"
bash scripts/ensure-deps.sh
bash scripts/test-fixtures.sh >/dev/null
BERTH_ENTRY=dist/main.js exec "$BERTH_ROOT/node_modules/.bin/node" bench/run.ts "$@"
