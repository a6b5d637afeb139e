#!/usr/bin/env bash
# Installs berth's npm dependencies (Node 24 comes from the `node` package) when they are
# missing or older than the lock file, and generates the TypeScript code for the CRI proto.
# Runs with the system's npm; everything after it runs on node_modules/.bin/node.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$BERTH_ROOT"

stamp=node_modules/.berth-installed
if [[ ! -f "$stamp" || package-lock.json -nt "$stamp" || package.json -nt "$stamp" ]]; then
  if ! have_cmd npm; then
    apt_install npm
  fi
  log "installing npm dependencies"
  # `npm install` rather than `npm ci`: npm 11 writes lock files without the other platforms'
  # optional packages (biome, buf) and then refuses them in `npm ci`. It installs what the
  # lock file pins all the same.
  npm install --no-audit --no-fund --loglevel=error
  touch "$stamp"
fi

gen=src/gen/runtime/v1/api_pb.js
if [[ ! -f "$gen" || proto/runtime/v1/api.proto -nt "$gen" || buf.gen.yaml -nt "$gen" ]]; then
  log "generating CRI code from proto/"
  PATH="$BERTH_ROOT/node_modules/.bin:$PATH" buf generate
fi

# berth runs compiled: Node's TypeScript stripping would cost ~30 MiB of resident memory at
# run time. The tests and the benchmark run the same build.
built=dist/.built
if [[ ! -f "$built" ]] || [[ -n "$(find src proto tsconfig.json tsconfig.build.json -newer "$built" -print -quit)" ]]; then
  log "building dist/"
  rm -rf dist
  "$BERTH_ROOT/node_modules/.bin/tsc" -p tsconfig.build.json
  touch "$built"
fi
