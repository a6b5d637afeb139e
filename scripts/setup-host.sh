#!/usr/bin/env bash
# Idempotent host preparation for berth (used by `npm start` and `npm test`).
#
#   sudo scripts/setup-host.sh          # from any directory
#
# What it guarantees when it exits 0:
#   1. dockerd, the CNI plugins, gcc (+ static libc), iproute2, iptables and
#      curl are installed (apt-get only runs when something is missing);
#   2. a Docker engine answers GET /_ping (we start dockerd ourselves: there is
#      no systemd as PID 1 on these machines);
#   3. fs.inotify.max_user_instances is at least what berth's package sets
#      (packaging/sysctl/30-berth.conf), raised for this boot only when lower;
#   4. the pod sandbox ("pause") image exists locally. The machine has no
#      registry access, so unless a pull works we build berth's own pause
#      program (pause/pause.c) into a FROM-scratch image under the upstream
#      name, so berth's default config needs no change.
#
# Environment:
#   BERTH_PAUSE_IMAGE   pause image reference (default registry.k8s.io/pause:3.10)
#   BERTH_PAUSE_PULL=0  do not even try `docker pull` for the pause image
#   BERTH_PAUSE_REBUILD=1  rebuild the local pause image even if present
#   DOCKER_HOST         unix:///var/run/docker28.sock: the suite's Docker 28, set up
#                       and started by scripts/setup-docker28.sh; anything else but
#                       the local unix socket must already be running (dockerd is not
#                       started).
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/lib.sh"

T0="$(now_ms)"
PAUSE_IMAGE="${BERTH_PAUSE_IMAGE:-registry.k8s.io/pause:3.10}"
PAUSE_SRC="$BERTH_ROOT/pause/pause.c"
DOCKERD_LOG="/var/log/berth-dockerd.log"
# Label on locally built pause images: lets a later run notice that
# pause/pause.c changed and rebuild, while leaving a pulled upstream image
# (which has no such label) alone.
PAUSE_LABEL="io.berth.pause.source-sha256"

require_root

# ---------------------------------------------------------------------------
# 1. Packages
# ---------------------------------------------------------------------------
ensure_packages() {
  local missing=()
  # docker.io brings dockerd, the docker CLI (/usr/bin/docker; this machine
  # also has a newer CLI in /usr/local/bin), containerd and runc.
  have_cmd dockerd || missing+=(docker.io)
  have_cmd docker || [[ " ${missing[*]:-} " == *" docker.io "* ]] || missing+=(docker.io)
  # Debian puts CNI plugins in /usr/lib/cni; upstream tarballs in /opt/cni/bin.
  if [[ ! -x /usr/lib/cni/bridge && ! -x /opt/cni/bin/bridge ]]; then
    missing+=(containernetworking-plugins)
  fi
  # gcc alone is not enough for `gcc -static`: libc.a comes from libc6-dev
  # (only a Recommends of gcc, which --no-install-recommends would skip).
  have_cmd gcc || missing+=(gcc)
  if ! compgen -G '/usr/lib/*-linux-gnu/libc.a' >/dev/null && [[ ! -e /usr/lib/libc.a ]]; then
    missing+=(libc6-dev)
  fi
  have_cmd ip || missing+=(iproute2)
  have_cmd iptables || missing+=(iptables)
  have_cmd curl || missing+=(curl)
  # tar and timeout are in essential packages (tar, coreutils) on Debian.

  if [[ ${#missing[@]} -eq 0 ]]; then
    log "packages: all present (dockerd, CNI plugins, gcc, libc6-dev, iproute2, iptables, curl)"
  else
    apt_install "${missing[@]}"
  fi
}

# ---------------------------------------------------------------------------
# 2. Docker engine
# ---------------------------------------------------------------------------
# pid of a dockerd that is already running (from its own pid file), if any.
running_dockerd_pid() {
  local pid
  pid="$(cat /var/run/docker.pid 2>/dev/null || true)"
  if pid_alive "$pid" && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q dockerd; then
    echo "$pid"
  fi
}

# Waits for _ping while also noticing when dockerd died (no point waiting 60 s
# for a process that already failed).
wait_for_dockerd() {
  local pid="$1" timeout="$2"
  local deadline=$(( $(date +%s) + timeout ))
  while ! docker_ping; do
    if [[ -n "$pid" ]] && ! pid_alive "$pid"; then
      warn "dockerd (pid $pid) exited; last lines of $DOCKERD_LOG:"
      tail -n 30 "$DOCKERD_LOG" >&2 || true
      return 1
    fi
    if (( $(date +%s) >= deadline )); then
      warn "dockerd did not answer _ping within ${timeout}s; last lines of $DOCKERD_LOG:"
      tail -n 30 "$DOCKERD_LOG" >&2 || true
      return 1
    fi
    sleep 0.2
  done
}

ensure_engine() {
  if docker_uses_docker28; then
    # The suite's second engine: fetched, unpacked and started by its own script.
    bash "$BERTH_ROOT/scripts/setup-docker28.sh"
    return 0
  fi
  if ! docker_uses_local_socket; then
    # Someone else's engine: we must not start (or fight with) a local one.
    if docker_ping; then
      log "engine: DOCKER_HOST=$DOCKER_HOST answers"
      return 0
    fi
    die "DOCKER_HOST=$DOCKER_HOST does not answer; not starting a local dockerd for a foreign DOCKER_HOST"
  fi

  if docker_ping; then
    log "engine: $BERTH_DOCKER_SOCK answers _ping"
    return 0
  fi

  local pid
  pid="$(running_dockerd_pid)"
  if [[ -n "$pid" ]]; then
    # A dockerd is running but not answering yet (e.g. still starting, or a
    # parallel invocation just launched it): wait instead of starting a second.
    log "engine: dockerd pid $pid is running but not answering yet; waiting"
  else
    log "engine: starting dockerd (log: $DOCKERD_LOG)"
    mkdir -p "$(dirname "$DOCKERD_LOG")"
    printf '\n===== %s berth setup-host.sh starting dockerd =====\n' "$(date -Is)" >>"$DOCKERD_LOG"
    # setsid: own session, so the daemon survives the npm/terminal that ran
    # us and does not get its SIGINT/SIGHUP. nohup for the same reason on
    # shells that send SIGHUP to jobs. stdin from /dev/null so it never holds
    # our terminal.
    setsid nohup dockerd >>"$DOCKERD_LOG" 2>&1 </dev/null &
    pid=$!
  fi
  local t
  t="$(now_ms)"
  wait_for_dockerd "$pid" 60 || die "Docker engine is not available"
  log "engine: dockerd answered _ping after $(( $(now_ms) - t )) ms"
}

# ---------------------------------------------------------------------------
# 3. Pause image
# ---------------------------------------------------------------------------
image_id() {
  docker image inspect --format '{{.Id}}' "$1" 2>/dev/null
}

# Runs the image detached and stops it: proves the entrypoint exists, is a
# static binary that starts as 65535 and honours SIGTERM promptly (a pause
# that ignored SIGTERM would make every StopPodSandbox wait for the timeout).
verify_pause_image() {
  local cid t ms state
  # No network: an engine may run without a default bridge (the Docker 28 one does).
  cid="$(docker run -d --rm --network none "$PAUSE_IMAGE")" || return 1
  # Give it a moment: a broken entrypoint exits immediately.
  sleep 0.3
  state="$(docker inspect --format '{{.State.Status}} user={{.Config.User}}' "$cid" 2>/dev/null || echo gone)"
  if [[ "$state" != running* ]]; then
    warn "pause container $cid is not running ($state)"
    docker logs "$cid" >&2 2>&1 || true
    docker rm -f "$cid" >/dev/null 2>&1 || true
    return 1
  fi
  t="$(now_ms)"
  docker stop -t 10 "$cid" >/dev/null
  ms=$(( $(now_ms) - t ))
  # --rm removes it asynchronously; make sure it is gone either way.
  docker rm -f "$cid" >/dev/null 2>&1 || true
  log "pause: test container ran ($state) and stopped in ${ms} ms"
  if (( ms > 5000 )); then
    warn "pause did not exit promptly on SIGTERM (${ms} ms)"
    return 1
  fi
}

build_pause_image() {
  local src_sha="$1" tmp old_id new_id
  old_id="$(image_id "$PAUSE_IMAGE" || true)"
  tmp="$(mktemp -d /tmp/berth-pause.XXXXXX)"
  # shellcheck disable=SC2064  # expand $tmp now, the variable is local
  trap "rm -rf '$tmp'" EXIT
  mkdir -p "$tmp/rootfs"
  log "pause: compiling $PAUSE_SRC (gcc -static -O2)"
  gcc -static -O2 -o "$tmp/rootfs/pause" "$PAUSE_SRC"
  chmod 0755 "$tmp/rootfs/pause"

  # docker import instead of docker build: no Dockerfile, no builder.
  # (/usr/local/bin/docker is a Docker 28 CLI without the buildx plugin; with
  # this 20.10 engine `docker build` falls back to the deprecated legacy
  # builder and prints a deprecation notice. import just streams a tar and
  # behaves the same with any CLI/engine pair.)
  # --numeric-owner/--owner=0: the layer must not carry the build host's names.
  log "pause: importing FROM-scratch image $PAUSE_IMAGE"
  tar --numeric-owner --owner=0 --group=0 -C "$tmp/rootfs" -c . |
    docker import \
      --message "berth pause (built locally from pause/pause.c)" \
      --change 'ENTRYPOINT ["/pause"]' \
      --change 'USER 65535:65535' \
      --change 'WORKDIR /' \
      --change "LABEL $PAUSE_LABEL=$src_sha" \
      - "$PAUSE_IMAGE" >/dev/null

  rm -rf "$tmp"
  trap - EXIT

  new_id="$(image_id "$PAUSE_IMAGE")"
  # A rebuild leaves the previous image untagged: drop it (fails harmlessly
  # if a container still uses it).
  if [[ -n "$old_id" && "$old_id" != "$new_id" ]]; then
    docker rmi "$old_id" >/dev/null 2>&1 || true
  fi

  if ! verify_pause_image; then
    # Do not leave a broken image behind: the next run would accept it.
    docker rmi -f "$PAUSE_IMAGE" >/dev/null 2>&1 || true
    die "locally built pause image does not run"
  fi
  log "pause: built $PAUSE_IMAGE ($new_id)"
}

ensure_pause_image() {
  [[ -f "$PAUSE_SRC" ]] || die "missing $PAUSE_SRC"
  local src_sha label
  src_sha="$(sha256sum "$PAUSE_SRC" | cut -d' ' -f1)"

  if docker image inspect "$PAUSE_IMAGE" >/dev/null 2>&1; then
    label="$(docker image inspect --format "{{ index .Config.Labels \"$PAUSE_LABEL\" }}" "$PAUSE_IMAGE" 2>/dev/null || true)"
    [[ "$label" == "<no value>" ]] && label=""
    if [[ "${BERTH_PAUSE_REBUILD:-0}" == 1 ]]; then
      log "pause: BERTH_PAUSE_REBUILD=1, rebuilding $PAUSE_IMAGE"
    elif [[ -n "$label" && "$label" != "$src_sha" ]]; then
      log "pause: $PAUSE_IMAGE was built from an older pause/pause.c; rebuilding"
    else
      log "pause: $PAUSE_IMAGE present${label:+ (local build, source unchanged)}"
      return 0
    fi
    build_pause_image "$src_sha"
    return 0
  fi

  if [[ "${BERTH_PAUSE_PULL:-1}" != 0 ]]; then
    log "pause: $PAUSE_IMAGE missing; trying docker pull (30 s limit)"
    if timeout 30 docker pull -q "$PAUSE_IMAGE" >/dev/null 2>&1; then
      log "pause: pulled $PAUSE_IMAGE"
      return 0
    fi
    log "pause: pull failed (no registry access?); building it locally"
  fi
  build_pause_image "$src_sha"
}

# Docker Engine 20.10 polls the logs berth follows once the node runs out of inotify
# instances (see packaging/sysctl/30-berth.conf); never lowers a higher setting.
ensure_inotify_instances() {
  local file=/proc/sys/fs/inotify/max_user_instances wanted current
  wanted="$(sed -n 's/^fs.inotify.max_user_instances *= *//p' "$BERTH_ROOT/packaging/sysctl/30-berth.conf")"
  current="$(cat "$file" 2>/dev/null || echo "")"
  if [[ -n "$current" && "$current" -lt "$wanted" ]]; then
    if echo "$wanted" >"$file" 2>/dev/null; then
      log "sysctl: fs.inotify.max_user_instances $current -> $wanted (for this boot)"
    else
      log "sysctl: fs.inotify.max_user_instances is $current and cannot be raised here"
    fi
  fi
}

# ---------------------------------------------------------------------------
ensure_packages
ensure_inotify_instances
ensure_engine
ensure_pause_image

ENGINE="$(docker version --format '{{.Server.Version}} (API {{.Server.APIVersion}})' 2>/dev/null || echo unknown)"
CNI_DIR="/usr/lib/cni"
[[ -x "$CNI_DIR/bridge" ]] || CNI_DIR="/opt/cni/bin"
log "host ready in $(( $(now_ms) - T0 )) ms: engine $ENGINE, CNI $CNI_DIR, pause $PAUSE_IMAGE $(image_id "$PAUSE_IMAGE")"
