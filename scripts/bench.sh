#!/usr/bin/env bash
# `npm run bench`: the same setup as the tests (engine, pause and test images), then the
# benchmark. Flags after `npm run bench --` go to bench/run.ts (see bench/README.md).
# The Go client (bench/kubelet-client, on the kubelet's k8s.io/cri-client) is built here when
# Go 1.26 and Debian's golang-k8s-cri-client-dev sources are present; `--client go` needs it.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
require_root
cd "$BERTH_ROOT"
bash scripts/ensure-deps.sh
bash scripts/test-fixtures.sh >/dev/null

# Go from Debian's golang-1.26 (installed, or unpacked with dpkg -x under BERTH_BENCH_GO_ROOT),
# and the Go sources of Debian's golang-*-dev packages (GOPATH layout, as Debian builds Go).
go_root() {
  local candidate
  for candidate in "${BERTH_BENCH_GOROOT:-}" /usr/lib/go-1.26 /root/build/go126/usr/lib/go-1.26; do
    if [[ -n "$candidate" && -x "$candidate/bin/go" ]]; then
      echo "$candidate"
      return
    fi
  done
}
gocode() {
  local candidate
  for candidate in "${BERTH_BENCH_GOPATH:-}" /usr/share/gocode /var/lib/berth-test/gocode/usr/share/gocode; do
    if [[ -n "$candidate" && -d "$candidate/src/k8s.io/cri-client" ]]; then
      echo "$candidate"
      return
    fi
  done
}
build_kubelet_client() {
  local goroot gopath out=bench/kubelet-client/bin/kubelet-client
  goroot=$(go_root)
  gopath=$(gocode)
  if [[ -z "$goroot" || -z "$gopath" ]]; then
    log "bench: no Go 1.26 or no k8s.io/cri-client sources: the Go client is not built (--client js only)"
    return
  fi
  if [[ -x "$out" && -z "$(find bench/kubelet-client -name '*.go' -newer "$out")" ]]; then
    return
  fi
  log "bench: building the Go client (k8s.io/cri-client from $gopath)"
  (
    cd bench/kubelet-client
    # GOPATH mode: Debian's Go library packages are sources under /usr/share/gocode, no modules.
    GOROOT=$goroot GO111MODULE=off GOPATH=$gopath GOFLAGS= GOPROXY=off GOTOOLCHAIN=local \
      GOCACHE=${BERTH_BENCH_GOCACHE:-/var/lib/berth-test/bench-gocache} \
      "$goroot/bin/go" build -o bin/kubelet-client .
  )
}
build_kubelet_client
BERTH_ENTRY=dist/main.js exec "$BERTH_ROOT/node_modules/.bin/node" bench/run.ts "$@"
