#!/usr/bin/env bash
# A containerd 2.1 CRI to compare berth with (`npm run bench -- --compare unix://SOCKET`):
# containerd from the unpacked Docker 28 tree (scripts/setup-docker28.sh), with a root, state,
# socket and CNI config dir of its own, never the machine's containerd. Its pod network is
# berth's default network (same plugins, its own bridge and subnet), so pod start compares like
# with like; the pause and app images are imported from the engine, since no registry serves
# them here. restrict_oom_score_adj: this machine lacks CAP_SYS_RESOURCE, so the pause
# container's -998 would fail its start (test-environment.md).
#
#   bash bench/peer-containerd.sh start     # prints the endpoint
#   bash bench/peer-containerd.sh stop      # stops it, removes its pods and state
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
TREE=${BERTH_DOCKER28_ROOT:-/var/lib/berth-test/docker28/root}
BASE=${BERTH_BENCH_CONTAINERD:-/var/lib/berth-bench-containerd}
STATE=/run/berth-bench-containerd
SOCKET=$STATE/containerd.sock
NODE=node_modules/.bin/node
export PATH="$TREE/usr/bin:$TREE/usr/sbin:$PATH"

start() {
  mkdir -p "$BASE/root" "$BASE/cni" "$STATE"
  "$NODE" -e '
    import("./src/network/default-network.ts").then((m) =>
      process.stdout.write(m.defaultNetworkJson("10.199.0.0/16", { name: "berth-bench-containerd", bridge: "benchctrd0" })));
  ' >"$BASE/cni/10-bench.conflist"
  containerd config default |
    sed -e "s|^root = .*|root = '$BASE/root'|" \
      -e "s|^state = .*|state = '$STATE'|" \
      -e "s|^  address = '/run/containerd/containerd.sock'|  address = '$SOCKET'|" \
      -e "s|conf_dir = '/etc/cni/net.d'|conf_dir = '$BASE/cni'|" \
      -e "s|restrict_oom_score_adj = false|restrict_oom_score_adj = true|" >"$BASE/config.toml"
  containerd --config "$BASE/config.toml" >"$BASE/containerd.log" 2>&1 &
  echo $! >"$BASE/containerd.pid"
  for _ in $(seq 100); do
    ctr --address "$SOCKET" version >/dev/null 2>&1 && break
    sleep 0.2
  done
  local pause app
  pause=$(jq -r .pauseImage /var/lib/berth-test/fixtures.json)
  app=$(jq -r .images.busybox /var/lib/berth-test/fixtures.json)
  docker save "$pause" "$app" | ctr --address "$SOCKET" -n k8s.io images import - >/dev/null
  echo "unix://$SOCKET"
}

stop() {
  if [[ -S "$SOCKET" ]]; then
    # Its pods first: their shims and network namespaces outlive containerd otherwise.
    local ids
    ids=$(ctr --address "$SOCKET" -n k8s.io tasks list -q 2>/dev/null || true)
    for id in $ids; do ctr --address "$SOCKET" -n k8s.io tasks kill -s KILL "$id" >/dev/null 2>&1 || true; done
  fi
  if [[ -f "$BASE/containerd.pid" ]]; then
    kill "$(cat "$BASE/containerd.pid")" 2>/dev/null || true
    rm -f "$BASE/containerd.pid"
  fi
  sleep 2
  umount -R "$STATE" 2>/dev/null || true
  find "$BASE/root" -depth -type d -path '*/snapshots/*/fs' -exec umount {} \; 2>/dev/null || true
  rm -rf "$STATE" "$BASE"
  ip link delete benchctrd0 2>/dev/null || true
}

case "${1:-}" in
start) start ;;
stop) stop ;;
*) echo "usage: $0 start|stop" >&2 && exit 2 ;;
esac
