#!/usr/bin/env bash
# `npm run soak` (by hand, not CI): the tests' setup (engine, pause and test images), then an
# hour — or `-- --minutes N` — of kubelet-shaped churn against the engine in DOCKER_HOST, with a
# summary of failed calls and berth's memory and descriptors. Flags go to bench/soak.ts.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
require_root
cd "$BERTH_ROOT"
bash scripts/ensure-deps.sh
bash scripts/test-fixtures.sh >/dev/null
BERTH_ENTRY=dist/main.js exec "$BERTH_ROOT/node_modules/.bin/node" bench/soak.ts "$@"
