#!/usr/bin/env bash
# Stops the two test registries started by scripts/test-fixtures.sh.
#
#   sudo scripts/stop-fixtures.sh
#
# Only the processes recorded in their pid files are signalled (never "all
# docker-registry processes"). dockerd, the images, the certificates and
# /var/lib/berth-test/fixtures.json are left alone; the registries' storage is
# wiped by the next test-fixtures.sh run anyway.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/lib.sh"

require_root

BASE="/var/lib/berth-test"
for name in plain auth; do
  pidfile="$BASE/registry-$name/registry.pid"
  if [[ -f "$pidfile" ]]; then
    stop_pidfile "$pidfile" docker-registry
    log "registry $name stopped"
  else
    log "registry $name: not running (no pid file)"
  fi
done
