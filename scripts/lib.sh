# shellcheck shell=bash
# Shared helpers for berth's host scripts. Source it, do not execute it:
#   . "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
#
# Callers are expected to run with `set -euo pipefail`; every helper here is
# written so that a "false" result is a return code, never an aborted script.

# Guard against double sourcing within one shell (the variable is not
# exported, so child scripts such as setup-host.sh source it afresh).
if [[ -n "${BERTH_LIB_SOURCED:-}" ]]; then
  return 0
fi
BERTH_LIB_SOURCED=1

# Repository root, resolved from this file's own location so that scripts work
# from any current directory (npm runs them from the repo root, humans from
# anywhere).
BERTH_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
export BERTH_ROOT

# Where the Docker engine's unix socket lives. DOCKER_HOST may point elsewhere
# (see docker_uses_local_socket).
BERTH_DOCKER_SOCK="/var/run/docker.sock"

# The suite's second engine, Docker 28 (scripts/setup-docker28.sh): unpacked under its own
# directory, on its own socket and pid file, selected with
# DOCKER_HOST=unix:///var/run/docker28.sock. test/support/engine.ts knows the same paths.
BERTH_DOCKER28_DIR="/var/lib/berth-test/docker28"
BERTH_DOCKER28_SOCK="/var/run/docker28.sock"
BERTH_DOCKER28_PIDFILE="/var/run/docker28.pid"

# ---------------------------------------------------------------------------
# Logging. Everything goes to stderr so that functions can still "return"
# values on stdout.
# ---------------------------------------------------------------------------
log() {
  printf '[setup] %s\n' "$*" >&2
}

warn() {
  printf '[setup] WARNING: %s\n' "$*" >&2
}

die() {
  printf '[setup] ERROR: %s\n' "$*" >&2
  exit 1
}

# Milliseconds since the epoch, for simple step timings.
now_ms() {
  date +%s%3N
}

require_root() {
  if [[ "$(id -u)" -ne 0 ]]; then
    die "must run as root (installs packages, starts dockerd, writes /etc/docker)"
  fi
}

# ---------------------------------------------------------------------------
# Packages. Collect everything that is missing first and then run a single
# `apt-get update` + `apt-get install`, because `apt-get update` is the slow
# part and must not run at all on a prepared machine.
# ---------------------------------------------------------------------------
BERTH_APT_UPDATED=""

# apt_install PKG... : install the given Debian packages (no-op for none).
apt_install() {
  if [[ $# -eq 0 ]]; then
    return 0
  fi
  if [[ -z "$BERTH_APT_UPDATED" ]]; then
    log "apt-get update (needed for: $*)"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
    BERTH_APT_UPDATED=1
  fi
  log "apt-get install -y $*"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >&2
}

have_cmd() {
  command -v "$1" >/dev/null 2>&1
}

# ---------------------------------------------------------------------------
# Docker engine reachability.
# ---------------------------------------------------------------------------

# True when DOCKER_HOST is unset/empty or names the default unix socket, i.e.
# when we are allowed to manage a local dockerd ourselves.
docker_uses_local_socket() {
  local h="${DOCKER_HOST:-}"
  [[ -z "$h" || "$h" == "unix://$BERTH_DOCKER_SOCK" || "$h" == "unix:///run/docker.sock" ]]
}

# True when DOCKER_HOST names the Docker 28 engine that berth's scripts start themselves.
docker_uses_docker28() {
  local h="${DOCKER_HOST:-}"
  [[ "$h" == "unix://$BERTH_DOCKER28_SOCK" || "$h" == "unix:///run/docker28.sock" ]]
}

# docker_ping: succeeds when the engine answers GET /_ping.
# For the local sockets we use curl directly (fast, no CLI start-up, and it
# works even if the CLI is broken); for a foreign DOCKER_HOST we ask the CLI,
# which knows about tcp://, ssh:// and TLS settings.
docker_ping() {
  if docker_uses_local_socket; then
    [[ -S "$BERTH_DOCKER_SOCK" ]] || return 1
    curl -sf --max-time 3 --unix-socket "$BERTH_DOCKER_SOCK" http://d/_ping >/dev/null 2>&1
  elif docker_uses_docker28; then
    [[ -S "$BERTH_DOCKER28_SOCK" ]] || return 1
    curl -sf --max-time 3 --unix-socket "$BERTH_DOCKER28_SOCK" http://d/_ping >/dev/null 2>&1
  else
    timeout 10 docker version --format '{{.Server.Version}}' >/dev/null 2>&1
  fi
}

# ---------------------------------------------------------------------------
# Wait loops. All take a timeout in seconds and poll every 0.2 s.
# ---------------------------------------------------------------------------

# wait_for TIMEOUT_S DESCRIPTION CMD [ARGS...]
#   Re-runs CMD until it succeeds; returns 1 (after a log line) on timeout.
wait_for() {
  local timeout="$1" desc="$2"
  shift 2
  local deadline=$(( $(date +%s) + timeout ))
  while true; do
    if "$@"; then
      return 0
    fi
    if (( $(date +%s) >= deadline )); then
      warn "timed out after ${timeout}s waiting for ${desc}"
      return 1
    fi
    sleep 0.2
  done
}

# True when something listens on TCP HOST:PORT.
port_listening() {
  local host="$1" port="$2"
  # bash's /dev/tcp avoids a dependency on nc; the subshell closes the fd.
  (exec 3<>"/dev/tcp/${host}/${port}") 2>/dev/null
}

port_free() {
  ! port_listening "$@"
}

wait_for_port() {
  local timeout="$1" host="$2" port="$3"
  wait_for "$timeout" "${host}:${port} to listen" port_listening "$host" "$port"
}

wait_for_port_free() {
  local timeout="$1" host="$2" port="$3"
  wait_for "$timeout" "${host}:${port} to be released" port_free "$host" "$port"
}

# True when the pid exists and is not a zombie (a child we started in the
# background and that already exited stays a zombie until reaped, and kill -0
# still succeeds on it).
pid_alive() {
  local pid="${1:-}" state
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  # Field 3 of /proc/PID/stat, after the "(comm)" field which may hold spaces.
  state="$(sed -E 's/^.*\) ([A-Za-z]).*$/\1/' "/proc/$pid/stat" 2>/dev/null || true)"
  [[ "$state" != "Z" ]]
}

pid_dead() {
  ! pid_alive "$1"
}

# stop_pidfile PIDFILE [NAME]
#   Stops the process recorded in PIDFILE (TERM, then KILL after 10 s) and
#   removes the file. Only ever signals that one recorded pid, and only if its
#   command line still matches NAME (guards against a recycled pid).
stop_pidfile() {
  local pidfile="$1" name="${2:-}" pid
  [[ -f "$pidfile" ]] || return 0
  pid="$(cat "$pidfile" 2>/dev/null || true)"
  if pid_alive "$pid"; then
    if [[ -n "$name" ]] && ! tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- "$name"; then
      warn "pid $pid from $pidfile is not '$name' any more; not signalling it"
    else
      log "stopping pid $pid (${name:-$pidfile})"
      kill -TERM "$pid" 2>/dev/null || true
      if ! wait_for 10 "pid $pid to exit" pid_dead "$pid"; then
        kill -KILL "$pid" 2>/dev/null || true
        wait_for 5 "pid $pid to die" pid_dead "$pid" || true
      fi
    fi
  fi
  rm -f "$pidfile"
}
