#!/usr/bin/env bash
# The suite's second engine: Debian unstable's Docker Engine 28.5 (API 1.51) with containerd
# 2.1, beside Debian 12's Docker 20.10 and never installed over it. Idempotent.
#
#   sudo scripts/setup-docker28.sh      # then: DOCKER_HOST=unix:///var/run/docker28.sock
#
# 1. Fetches exactly docker.io 28.5.x, containerd 2.1.x, tini-static and docker-cli from the
#    unstable suite with apt, using an apt configuration of its own (sources, lists and cache
#    under $BERTH_DOCKER28_DIR/apt): the system's sources, pins and candidates are untouched,
#    so `apt-get upgrade` can never pull anything from unstable.
# 2. Unpacks them with `dpkg -x` into $BERTH_DOCKER28_DIR/root (nothing registered with dpkg).
# 3. Starts that dockerd on its own socket, data root, exec root and pid file, with Debian 12's
#    runc (unstable's needs a newer glibc). It runs beside 20.10, so it leaves iptables alone
#    (--iptables=false: berth's pods are networked by CNI) and has a bridge of its own: a
#    dockerd started with --bridge=none deletes the host's docker0, which 20.10's containers
#    need.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/lib.sh"

require_root

# The versions the suite is meant to run on (Debian unstable moves on: a newer upload is not
# taken silently).
DOCKER_VERSION_RE='^28\.5\.'
CONTAINERD_VERSION_RE='^2\.1\.'
PACKAGES=(docker.io containerd tini-static docker-cli)

APT_DIR="$BERTH_DOCKER28_DIR/apt"
ROOT="$BERTH_DOCKER28_DIR/root"
STAMP="$ROOT/.berth-packages"
DATA_ROOT="/var/lib/docker28"
EXEC_ROOT="/var/run/docker28"
CONFIG="$BERTH_DOCKER28_DIR/daemon.json"
LOG_FILE="/var/log/berth-dockerd28.log"

apt_private() {
  local tool="$1"
  shift
  DEBIAN_FRONTEND=noninteractive "$tool" \
    -o "Dir::Etc::SourceList=$APT_DIR/unstable.sources" \
    -o "Dir::Etc::SourceParts=$APT_DIR/sources.list.d" \
    -o "Dir::Etc::Preferences=$APT_DIR/preferences" \
    -o "Dir::Etc::PreferencesParts=$APT_DIR/preferences.d" \
    -o "Dir::State::Lists=$APT_DIR/lists" \
    -o "Dir::Cache=$APT_DIR/cache" \
    "$@"
}

# The Debian mirror this machine already uses for bookworm (no host is named here).
# (The suite as apt's sources name it, not the Release file's Codename: that needs lists.)
debian_mirror() {
  apt-get indextargets --format '$(RELEASE) $(CREATED_BY) $(REPO_URI)' 2>/dev/null |
    awk '$1 == "bookworm" && $2 == "Packages" { print $3; exit }'
}

write_apt_config() {
  local mirror
  mirror="$(debian_mirror)"
  [[ -n "$mirror" ]] || die "no Debian bookworm source in apt's configuration to take the mirror from"
  mkdir -p "$APT_DIR/sources.list.d" "$APT_DIR/preferences.d" "$APT_DIR/lists/partial" \
    "$APT_DIR/cache/archives/partial" "$APT_DIR/debs"
  : >"$APT_DIR/preferences"
  cat >"$APT_DIR/unstable.sources" <<EOF
# Written by berth scripts/setup-docker28.sh; read only by its own apt calls (-o Dir::...).
Types: deb
URIs: $mirror
Suites: unstable
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
  # apt downloads as _apt when it can write the target directory.
  if id _apt >/dev/null 2>&1; then
    chown -R _apt "$APT_DIR/lists/partial" "$APT_DIR/cache/archives/partial" "$APT_DIR/debs"
  fi
}

# newest_version PACKAGE REGEX: the newest version of PACKAGE in unstable matching REGEX.
newest_version() {
  apt_private apt-cache madison "$1" | awk -F'|' '{ gsub(/ /, "", $2); print $2 }' |
    grep -E "$2" | sort -V | tail -n1 || true
}

installed() {
  [[ -x "$ROOT/usr/sbin/dockerd" && -x "$ROOT/usr/bin/containerd" && -f "$STAMP" ]]
}

ensure_unpacked() {
  if installed; then
    log "docker28: $(tr '\n' ' ' <"$STAMP")in $ROOT"
    return 0
  fi
  write_apt_config
  log "docker28: apt-get update of the unstable suite (own lists in $APT_DIR)"
  apt_private apt-get update -qq >&2
  local docker containerd
  docker="$(newest_version docker.io "$DOCKER_VERSION_RE")"
  containerd="$(newest_version containerd "$CONTAINERD_VERSION_RE")"
  [[ -n "$docker" ]] || die "unstable has no docker.io matching $DOCKER_VERSION_RE"
  [[ -n "$containerd" ]] || die "unstable has no containerd matching $CONTAINERD_VERSION_RE"
  log "docker28: downloading docker.io $docker, containerd $containerd, tini-static, docker-cli"
  rm -f "$APT_DIR/debs/"*.deb
  (cd "$APT_DIR/debs" &&
    apt_private apt-get download -qq "docker.io=$docker" "containerd=$containerd" \
      tini-static "docker-cli=$docker" >&2)
  rm -rf "$ROOT.new"
  mkdir -p "$ROOT.new"
  local deb
  for deb in "$APT_DIR/debs/"*.deb; do
    dpkg -x "$deb" "$ROOT.new"
    dpkg-deb --showformat='${Package}=${Version}\n' -W "$deb" >>"$ROOT.new/.berth-packages"
  done
  # Unstable's runc needs glibc 2.38; it is not fetched, so Debian 12's runc is found on PATH.
  rm -rf "$ROOT"
  mv "$ROOT.new" "$ROOT"
  rm -f "$APT_DIR/debs/"*.deb
  log "docker28: unpacked into $ROOT: $(tr '\n' ' ' <"$STAMP")"
}

# Running the unpacked dockerd: its directory first on PATH (containerd 2.1, the shim,
# docker-proxy, docker-init), then the system's (Debian 12's runc).
engine_path() {
  echo "$ROOT/usr/sbin:$ROOT/usr/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
}

running_pid() {
  local pid
  pid="$(cat "$BERTH_DOCKER28_PIDFILE" 2>/dev/null || true)"
  if pid_alive "$pid" && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q "$ROOT/usr/sbin/dockerd"; then
    echo "$pid"
  fi
}

ping28() {
  [[ -S "$BERTH_DOCKER28_SOCK" ]] &&
    curl -sf --max-time 3 --unix-socket "$BERTH_DOCKER28_SOCK" http://d/_ping >/dev/null 2>&1
}

# Docker 28's default bridge, made here: dockerd only takes an existing interface by name.
BRIDGE28="docker28"
BRIDGE28_ADDRESS="172.30.28.1/24"

ensure_bridge() {
  if ! ip link show "$BRIDGE28" >/dev/null 2>&1; then
    ip link add "$BRIDGE28" type bridge
  fi
  if ! ip -4 addr show dev "$BRIDGE28" | grep -q " ${BRIDGE28_ADDRESS%/*}/"; then
    ip addr add "$BRIDGE28_ADDRESS" dev "$BRIDGE28"
  fi
  ip link set "$BRIDGE28" up
}

ensure_running() {
  if ping28; then
    log "docker28: unix://$BERTH_DOCKER28_SOCK answers _ping"
    return 0
  fi
  local pid
  pid="$(running_pid)"
  if [[ -n "$pid" ]]; then
    log "docker28: dockerd pid $pid is running but not answering yet; waiting"
  else
    # Its own daemon.json: whatever /etc/docker/daemon.json says is for the system's engine.
    # Registries on 127.0.0.0/8 are insecure by default, and /etc/docker/certs.d (shared with
    # 20.10) holds the TLS registry's CA.
    mkdir -p "$DATA_ROOT" "$EXEC_ROOT"
    printf '{}\n' >"$CONFIG"
    ensure_bridge
    log "docker28: starting dockerd on unix://$BERTH_DOCKER28_SOCK (log: $LOG_FILE)"
    printf '\n===== %s berth setup-docker28.sh starting dockerd =====\n' "$(date -Is)" >>"$LOG_FILE"
    # setsid/nohup as for the system's engine (setup-host.sh): it outlives the caller.
    PATH="$(engine_path)" setsid nohup "$ROOT/usr/sbin/dockerd" \
      --config-file "$CONFIG" \
      --host "unix://$BERTH_DOCKER28_SOCK" \
      --data-root "$DATA_ROOT" \
      --exec-root "$EXEC_ROOT" \
      --pidfile "$BERTH_DOCKER28_PIDFILE" \
      --bridge "$BRIDGE28" \
      --iptables=false \
      --ip6tables=false \
      >>"$LOG_FILE" 2>&1 </dev/null &
    pid=$!
  fi
  local t deadline
  t="$(now_ms)"
  deadline=$(( $(date +%s) + 60 ))
  while ! ping28; do
    if ! pid_alive "$pid"; then
      tail -n 30 "$LOG_FILE" >&2 || true
      die "docker28: dockerd (pid $pid) exited (log: $LOG_FILE)"
    fi
    if (( $(date +%s) >= deadline )); then
      tail -n 30 "$LOG_FILE" >&2 || true
      die "docker28: dockerd did not answer _ping within 60s (log: $LOG_FILE)"
    fi
    sleep 0.2
  done
  log "docker28: dockerd answered _ping after $(( $(now_ms) - t )) ms"
}

ensure_unpacked
ensure_running
