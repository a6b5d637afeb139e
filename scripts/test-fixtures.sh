#!/usr/bin/env bash
# Fixtures for berth's end-to-end tests, on top of setup-host.sh.
#
#   sudo scripts/test-fixtures.sh       # from any directory; idempotent
#   sudo scripts/stop-fixtures.sh       # stops the registries again
#
# Produces (the machine has no registry access, so everything is local):
#   * three images built FROM scratch around Debian's busybox-static:
#       berth-test/busybox:1.0       CMD ["sh"], no USER
#       berth-test/busybox-uid:1.0   USER 1234        (numeric)
#       berth-test/busybox-user:1.0  USER berthuser   (name -> 1234:1234)
#   * two registries (Debian's docker-registry, distribution 2.8):
#       127.0.0.1:5000  plain HTTP, anonymous
#       127.0.0.1:5443  TLS (own CA, trusted via /etc/docker/certs.d) + htpasswd
#     both holding the three images under berth-test/..., freshly pushed
#     into empty storage on every run;
#   * no registry-prefixed copies in the local engine, so tests really pull;
#   * /var/lib/berth-test/fixtures.json describing all of the above.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/lib.sh"

T0="$(now_ms)"
require_root

# Engine, CNI, pause image first.
"$BERTH_ROOT/scripts/setup-host.sh"

BASE="/var/lib/berth-test"
FIXTURES_JSON="$BASE/fixtures.json"
CERT_DIR="$BASE/certs"
PLAIN_ADDR="127.0.0.1:5000"
AUTH_ADDR="127.0.0.1:5443"
REG_USER="berth"
REG_PASS="berth-secret"
PAUSE_IMAGE="${BERTH_PAUSE_IMAGE:-registry.k8s.io/pause:3.10}"

# Image name (without registry) -> image key in fixtures.json.
IMG_BUSYBOX="berth-test/busybox:1.0"
IMG_UID="berth-test/busybox-uid:1.0"
IMG_USER="berth-test/busybox-user:1.0"
# Only in the registries, never kept locally: an image of its own ID, so that tests may pull
# and remove it (RemoveImage removes every tag of an ID) without touching the images above.
IMG_PULLABLE="berth-test/pullable:1.0"
ALL_IMAGES=("$IMG_BUSYBOX" "$IMG_UID" "$IMG_USER" "$IMG_PULLABLE")

# Bump when the rootfs recipe below changes in a way the fingerprint (which
# covers busybox, passwd, group and the image config) would not notice.
ROOTFS_VERSION=2

# Everything temporary lives here and goes away on exit, including the
# throwaway DOCKER_CONFIG holding registry credentials.
WORK="$(mktemp -d /tmp/berth-fixtures.XXXXXX)"
trap 'rm -rf "$WORK"' EXIT

# ---------------------------------------------------------------------------
# Packages
# ---------------------------------------------------------------------------
ensure_fixture_packages() {
  local missing=()
  # We need the *static* busybox: a FROM-scratch image has no libc. Debian's
  # busybox (dynamic) and busybox-static both ship /bin/busybox and conflict,
  # so check the package, not the file.
  dpkg-query -W -f '${Status}' busybox-static 2>/dev/null | grep -q 'ok installed' || missing+=(busybox-static)
  [[ -x /usr/bin/docker-registry ]] || missing+=(docker-registry)
  have_cmd htpasswd || missing+=(apache2-utils)
  have_cmd openssl || missing+=(openssl)
  # systemd-socket-activate and systemd-notify for the systemd tests (no running systemd needed);
  # python3 binds their notify socket.
  have_cmd systemd-socket-activate || missing+=(systemd)
  have_cmd python3 || missing+=(python3)
  if [[ ${#missing[@]} -eq 0 ]]; then
    log "fixtures: packages present (busybox-static, docker-registry, apache2-utils, openssl, systemd, python3)"
  else
    apt_install "${missing[@]}"
  fi
  # The Debian package also ships an init script / unit for a default
  # instance on :5000; nothing starts it here (no init system running,
  # policy-rc.d), and our own instances use their own configs.
}

# ---------------------------------------------------------------------------
# Test images
# ---------------------------------------------------------------------------
PASSWD_CONTENT='root:x:0:0:root:/root:/bin/sh
berthuser:x:1234:1234:berth test user:/home/berthuser:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
'
GROUP_CONTENT='root:x:0:
berthuser:x:1234:
nogroup:x:65534:
nobody:x:65534:
'
# Same default PATH as the upstream busybox image sets.
ENV_PATH='PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'

make_rootfs() {
  local root="$1" bb="/bin/busybox" applet
  file -L "$bb" 2>/dev/null | grep -q 'statically linked' ||
    ldd "$bb" 2>&1 | grep -q 'not a dynamic executable' ||
    die "$bb is not a static binary (is the dynamic 'busybox' package installed instead of busybox-static?)"

  mkdir -p "$root"/{bin,etc,root,tmp,home/berthuser,var,usr/bin,usr/sbin,sbin,proc,sys,dev}
  chmod 1777 "$root/tmp"
  chmod 0700 "$root/root"
  install -m 0755 "$bb" "$root/bin/busybox"
  # Every applet as a hard link to /bin/busybox, like the upstream busybox
  # image: masking or replacing one applet path (e.g. a volume over /bin/ls)
  # must not affect the others, which a symlink farm would.
  while read -r applet; do
    [[ -n "$applet" && "$applet" != busybox ]] || continue
    ln -f "$root/bin/busybox" "$root/bin/$applet"
  done < <("$bb" --list)
  # sh is what CMD uses; make sure it exists even if --list changed.
  [[ -e "$root/bin/sh" ]] || ln -f "$root/bin/busybox" "$root/bin/sh"

  printf '%s' "$PASSWD_CONTENT" >"$root/etc/passwd"
  printf '%s' "$GROUP_CONTENT" >"$root/etc/group"
  chmod 0644 "$root/etc/passwd" "$root/etc/group"
  # berthuser can write its own home (tests of runAsUser + workingDir).
  chown 1234:1234 "$root/home/berthuser"
}

# Fingerprint of everything that determines an image's content and config,
# stored as a label so re-runs skip the import when nothing changed (and
# image ids stay stable between runs).
fingerprint() {
  {
    echo "v$ROOTFS_VERSION"
    sha256sum /bin/busybox | cut -d' ' -f1
    printf '%s' "$PASSWD_CONTENT" "$GROUP_CONTENT" "$ENV_PATH"
    printf '%s\n' "$@"
  } | sha256sum | cut -d' ' -f1
}

ROOTFS_TAR=""
# import_image NAME CHANGE...
import_image() {
  local name="$1"
  shift
  local fp have old_id args=()
  fp="$(fingerprint "$name" "$@")"
  have="$(docker image inspect --format '{{ index .Config.Labels "io.berth.test.fingerprint" }}' "$name" 2>/dev/null || true)"
  if [[ "$have" == "$fp" ]]; then
    log "images: $name up to date"
    return 0
  fi
  if [[ -z "$ROOTFS_TAR" ]]; then
    make_rootfs "$WORK/rootfs"
    ROOTFS_TAR="$WORK/rootfs.tar"
    # Numeric owners: the image must not depend on this host's user names.
    # tar stores the hard links as links (one copy of busybox in the layer).
    tar --numeric-owner -C "$WORK/rootfs" -cf "$ROOTFS_TAR" .
  fi
  old_id="$(docker image inspect --format '{{.Id}}' "$name" 2>/dev/null || true)"
  for c in "$@" "ENV $ENV_PATH" "LABEL io.berth.test.fingerprint=$fp"; do
    args+=(--change "$c")
  done
  # docker import rather than docker build: the Docker 28 CLI here has no
  # buildx plugin, so `docker build` falls back to the deprecated legacy
  # builder (with a warning); import just streams the tar, no builder at all.
  docker import --message "berth test fixture" "${args[@]}" "$ROOTFS_TAR" "$name" >/dev/null
  if [[ -n "$old_id" ]]; then
    docker rmi "$old_id" >/dev/null 2>&1 || true   # now untagged; may be in use
  fi
  log "images: built $name"
}

build_images() {
  import_image "$IMG_BUSYBOX" 'CMD ["sh"]'
  import_image "$IMG_UID" 'CMD ["sh"]' 'USER 1234'
  import_image "$IMG_USER" 'CMD ["sh"]' 'USER berthuser'
}

# Only needed to push: it lives in the registries, never kept in the engine.
build_pullable_image() {
  import_image "$IMG_PULLABLE" 'CMD ["sh"]' 'LABEL io.berth.test.pullable=1'
}

# ---------------------------------------------------------------------------
# TLS material for the authenticated registry
# ---------------------------------------------------------------------------
certs_valid() {
  [[ -s "$CERT_DIR/ca.crt" && -s "$CERT_DIR/ca.key" && -s "$CERT_DIR/server.crt" && -s "$CERT_DIR/server.key" ]] || return 1
  # Still valid for at least a day, and really issued by our CA.
  openssl x509 -checkend 86400 -noout -in "$CERT_DIR/server.crt" >/dev/null 2>&1 || return 1
  openssl x509 -checkend 86400 -noout -in "$CERT_DIR/ca.crt" >/dev/null 2>&1 || return 1
  openssl verify -CAfile "$CERT_DIR/ca.crt" "$CERT_DIR/server.crt" >/dev/null 2>&1 || return 1
  openssl x509 -noout -ext subjectAltName -in "$CERT_DIR/server.crt" 2>/dev/null | grep -q 'IP Address:127.0.0.1'
}

ensure_certs() {
  if certs_valid; then
    log "tls: reusing CA and server certificate in $CERT_DIR"
  else
    log "tls: generating self-signed CA and server certificate (SAN IP:127.0.0.1, DNS:localhost)"
    rm -rf "$CERT_DIR"
    mkdir -p "$CERT_DIR"
    chmod 0755 "$CERT_DIR"
    openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days 3650 \
      -keyout "$CERT_DIR/ca.key" -out "$CERT_DIR/ca.crt" \
      -subj "/CN=berth-test CA" \
      -addext "basicConstraints=critical,CA:TRUE" \
      -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
    openssl req -newkey rsa:2048 -nodes -sha256 \
      -keyout "$CERT_DIR/server.key" -out "$WORK/server.csr" \
      -subj "/CN=127.0.0.1" 2>/dev/null
    # Modern Go TLS clients (Docker, the registry) ignore the CN: the SAN
    # is what must match 127.0.0.1.
    cat >"$WORK/server.ext" <<'EOF'
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=IP:127.0.0.1,DNS:localhost
EOF
    openssl x509 -req -sha256 -days 825 -in "$WORK/server.csr" \
      -CA "$CERT_DIR/ca.crt" -CAkey "$CERT_DIR/ca.key" -CAcreateserial \
      -extfile "$WORK/server.ext" -out "$CERT_DIR/server.crt" 2>/dev/null
    chmod 0600 "$CERT_DIR/ca.key" "$CERT_DIR/server.key"
    certs_valid || die "generated certificates do not verify"
  fi
  # Docker reads certs.d on every registry connection; no daemon restart.
  local d
  for d in "/etc/docker/certs.d/$AUTH_ADDR" "/etc/docker/certs.d/localhost:5443"; do
    mkdir -p "$d"
    if ! cmp -s "$CERT_DIR/ca.crt" "$d/ca.crt"; then
      install -m 0644 "$CERT_DIR/ca.crt" "$d/ca.crt"
      log "tls: installed CA as $d/ca.crt"
    fi
  done
}

# ---------------------------------------------------------------------------
# Registries
# ---------------------------------------------------------------------------
# reg_dir NAME -> /var/lib/berth-test/registry-NAME
reg_dir() { echo "$BASE/registry-$1"; }

# stop_registry NAME ADDR: stop our previous instance (pid file) and make
# sure the port is really free before we wipe its storage.
stop_registry() {
  local name="$1" addr="$2" dir grace=1
  dir="$(reg_dir "$name")"
  # Only worth waiting for the port if we just stopped our own instance.
  [[ -f "$dir/registry.pid" ]] && grace=10
  stop_pidfile "$dir/registry.pid" docker-registry
  if ! wait_for_port_free "$grace" "${addr%:*}" "${addr##*:}"; then
    ss -ltnp "sport = :${addr##*:}" >&2 || true
    die "port $addr is held by a process this script did not start (see above); stop it and re-run"
  fi
}

# start_registry NAME ADDR [tls]
start_registry() {
  local name="$1" addr="$2" tls="${3:-}" dir pid log
  dir="$(reg_dir "$name")"
  log="/var/log/berth-registry-$name.log"
  stop_registry "$name" "$addr"

  # Known state for the tests: empty storage on every run.
  rm -rf "$dir/data"
  mkdir -p "$dir/data"

  {
    cat <<EOF
# Written by berth scripts/test-fixtures.sh; regenerated on every run.
version: 0.1
log:
  level: info
  fields:
    service: berth-registry-$name
storage:
  filesystem:
    rootdirectory: $dir/data
  delete:
    enabled: true
  # No blob descriptor cache: tests may delete and re-push.
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: $addr
  headers:
    X-Content-Type-Options: [nosniff]
EOF
    if [[ "$tls" == tls ]]; then
      cat <<EOF
  tls:
    certificate: $CERT_DIR/server.crt
    key: $CERT_DIR/server.key
auth:
  htpasswd:
    realm: berth-test
    path: $dir/htpasswd
EOF
    fi
  } >"$dir/config.yml"

  if [[ "$tls" == tls ]]; then
    # bcrypt (-B) is the only hash distribution's htpasswd backend accepts.
    htpasswd -Bbn "$REG_USER" "$REG_PASS" >"$dir/htpasswd"
    chmod 0600 "$dir/htpasswd"
  fi

  printf '\n===== %s berth test-fixtures.sh starting registry %s =====\n' "$(date -Is)" "$name" >>"$log"
  # setsid: own session so it outlives the calling npm/terminal; as a
  # background job of a non-interactive shell it is not a process-group
  # leader, so setsid execs in place and $! is the registry's own pid.
  setsid nohup /usr/bin/docker-registry serve "$dir/config.yml" >>"$log" 2>&1 </dev/null &
  pid=$!
  echo "$pid" >"$dir/registry.pid"

  local deadline=$(( $(date +%s) + 20 ))
  while ! registry_ready "$addr" "$tls"; do
    if ! pid_alive "$pid"; then
      tail -n 20 "$log" >&2 || true
      die "registry $name exited during start-up (log: $log)"
    fi
    if (( $(date +%s) >= deadline )); then
      tail -n 20 "$log" >&2 || true
      die "registry $name did not answer on $addr within 20s (log: $log)"
    fi
    sleep 0.1
  done
  log "registry: $name on $addr (pid $pid, data $dir/data, log $log)"
}

# /v2/ answers 200 (anonymous) or 401 (auth required) once the registry runs.
registry_ready() {
  local addr="$1" tls="$2" code
  if [[ "$tls" == tls ]]; then
    code="$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 --cacert "$CERT_DIR/ca.crt" "https://$addr/v2/" || true)"
    [[ "$code" == 401 ]]
  else
    code="$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://$addr/v2/" || true)"
    [[ "$code" == 200 ]]
  fi
}

# ---------------------------------------------------------------------------
# Push, record digests, clean the engine again
# ---------------------------------------------------------------------------
# manifest_digest ADDR REPO TAG [curl args...]
manifest_digest() {
  local addr="$1" repo="$2" tag="$3" scheme=http
  shift 3
  [[ "$addr" == "$AUTH_ADDR" ]] && scheme=https
  curl -sfI --max-time 5 "$@" \
    -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' \
    "$scheme://$addr/v2/$repo/manifests/$tag" |
    tr -d '\r' | awk 'tolower($1) == "docker-content-digest:" { print $2 }'
}

# push_all ADDR -> prints the digest of berth-test/pullable:1.0 on stdout
push_all() {
  local addr="$1" img ref out digest=""
  for img in "${ALL_IMAGES[@]}"; do
    ref="$addr/$img"
    docker tag "$img" "$ref"
    out="$(docker push "$ref" 2>&1)" || {
      printf '%s\n' "$out" >&2
      die "docker push $ref failed"
    }
    if [[ "$img" == "$IMG_PULLABLE" ]]; then
      # Last line reads "1.0: digest: sha256:... size: NNN".
      digest="$(printf '%s\n' "$out" | sed -nE 's/.*digest: (sha256:[0-9a-f]{64}).*/\1/p' | tail -n1)"
    fi
    log "push: $ref"
  done
  printf '%s\n' "$digest"
}

# Removes every reference to ADDR/... from the local engine: the tags we
# pushed and the repo digests (NAME@sha256:...) that a push records. The
# latter would otherwise make `ImageStatus(ADDR/...@sha256:...)` find the
# image locally before any pull.
untag_registry_refs() {
  local ref _pass
  # Two passes: removing a repository's last tag makes the daemon drop that
  # repository's digest references too, so the second pass usually finds
  # nothing left; it is there for digest references without a tag.
  for _pass in 1 2; do
    while read -r ref; do
      [[ -n "$ref" ]] || continue
      docker rmi "$ref" >/dev/null 2>&1 || true
    done < <(registry_refs)
  done
  ref="$(registry_refs | tr '\n' ' ')"
  [[ -z "${ref// /}" ]] || die "could not remove registry references from the engine: $ref"
  log "engine: removed registry-prefixed tags and digests (tests must pull)"
}

# Local tags and repo digests that point into our two registries.
registry_refs() {
  docker image ls --digests --format '{{.Repository}}:{{.Tag}} {{.Repository}}@{{.Digest}}' |
    tr ' ' '\n' |
    grep -E "^(${PLAIN_ADDR//./\\.}|${AUTH_ADDR//./\\.})/" |
    grep -vE ':<none>$|@<none>$' | sort -u || true
}

push_fixtures() {
  local repo="${IMG_PULLABLE%:*}" tag="${IMG_PULLABLE##*:}" pushed head
  # Throwaway client config: `docker login` must not leave credentials in
  # ~/.docker (or anywhere) after this script.
  export DOCKER_CONFIG="$WORK/docker-config"
  mkdir -p "$DOCKER_CONFIG"
  chmod 0700 "$DOCKER_CONFIG"

  # Plain registry: anonymous. Docker treats 127.0.0.0/8 as insecure, so HTTP
  # is accepted without daemon configuration.
  pushed="$(push_all "$PLAIN_ADDR")"
  head="$(manifest_digest "$PLAIN_ADDR" "$repo" "$tag")"
  DIGEST_PLAIN="${head:-$pushed}"
  [[ -z "$pushed" || -z "$head" || "$pushed" == "$head" ]] ||
    warn "plain registry: push reported $pushed but manifest HEAD says $head"

  # Authenticated registry.
  # (Output captured: the CLI warns about unencrypted credentials, which is
  # exactly what the throwaway DOCKER_CONFIG is for.)
  local out
  out="$(printf '%s' "$REG_PASS" | docker login "$AUTH_ADDR" -u "$REG_USER" --password-stdin 2>&1)" || {
    printf '%s\n' "$out" >&2
    die "docker login $AUTH_ADDR failed"
  }
  pushed="$(push_all "$AUTH_ADDR")"
  docker logout "$AUTH_ADDR" >/dev/null
  head="$(manifest_digest "$AUTH_ADDR" "$repo" "$tag" --cacert "$CERT_DIR/ca.crt" -u "$REG_USER:$REG_PASS")"
  DIGEST_AUTH="${head:-$pushed}"
  [[ -z "$pushed" || -z "$head" || "$pushed" == "$head" ]] ||
    warn "auth registry: push reported $pushed but manifest HEAD says $head"

  unset DOCKER_CONFIG
  [[ "$DIGEST_PLAIN" == sha256:* && "$DIGEST_AUTH" == sha256:* ]] ||
    die "could not determine pushed digests (plain='$DIGEST_PLAIN' auth='$DIGEST_AUTH')"
  log "digests: $PLAIN_ADDR/$IMG_PULLABLE $DIGEST_PLAIN; $AUTH_ADDR/$IMG_PULLABLE $DIGEST_AUTH"

  untag_registry_refs
  # The pullable image exists only in the registries (see IMG_PULLABLE). Its fingerprint label
  # is then gone too, so it is re-imported on every run: about a second.
  docker rmi "$IMG_PULLABLE" >/dev/null
  log "engine: removed $IMG_PULLABLE (tests pull it)"
}

write_fixtures_json() {
  local tmp="$FIXTURES_JSON.tmp.$$"
  # All values are fixed strings without quotes or backslashes, so plain
  # printf-style JSON is safe here.
  cat >"$tmp" <<EOF
{
  "plainRegistry": "$PLAIN_ADDR",
  "authRegistry": "$AUTH_ADDR",
  "username": "$REG_USER",
  "password": "$REG_PASS",
  "caFile": "$CERT_DIR/ca.crt",
  "images": {
    "busybox": "$IMG_BUSYBOX",
    "busyboxUid": "$IMG_UID",
    "busyboxUser": "$IMG_USER",
    "pullable": "$IMG_PULLABLE"
  },
  "users": {
    "berthuser": { "uid": 1234, "gid": 1234 }
  },
  "digests": {
    "plain": "$DIGEST_PLAIN",
    "auth": "$DIGEST_AUTH"
  },
  "pauseImage": "$PAUSE_IMAGE"
}
EOF
  mv -f "$tmp" "$FIXTURES_JSON"
  chmod 0644 "$FIXTURES_JSON"
  log "wrote $FIXTURES_JSON"
}

# ---------------------------------------------------------------------------
# A second engine shares the registries
# ---------------------------------------------------------------------------
# recorded_digest KEY: a digest fixtures.json records ("plain" or "auth").
recorded_digest() {
  sed -nE "s/^ *\"$1\": \"(sha256:[0-9a-f]{64})\".*/\1/p" "$FIXTURES_JSON" 2>/dev/null | head -n1
}

# True when both registries run (started by this script) and serve every fixture image, the
# pullable one under the digest fixtures.json records.
registries_serve_fixtures() {
  [[ -s "$FIXTURES_JSON" ]] || return 1
  local name
  for name in plain auth; do
    pid_alive "$(cat "$(reg_dir "$name")/registry.pid" 2>/dev/null || true)" || return 1
  done
  local auth=(--cacert "$CERT_DIR/ca.crt" -u "$REG_USER:$REG_PASS") img
  for img in "$IMG_BUSYBOX" "$IMG_UID" "$IMG_USER"; do
    [[ -n "$(manifest_digest "$PLAIN_ADDR" "${img%:*}" "${img##*:}")" ]] || return 1
    [[ -n "$(manifest_digest "$AUTH_ADDR" "${img%:*}" "${img##*:}" "${auth[@]}")" ]] || return 1
  done
  local repo="${IMG_PULLABLE%:*}" tag="${IMG_PULLABLE##*:}"
  [[ "$(manifest_digest "$PLAIN_ADDR" "$repo" "$tag")" == "$(recorded_digest plain)" ]] || return 1
  [[ "$(manifest_digest "$AUTH_ADDR" "$repo" "$tag" "${auth[@]}")" == "$(recorded_digest auth)" ]]
}

# ---------------------------------------------------------------------------
mkdir -p "$BASE"
ensure_fixture_packages
build_images
ensure_certs
# The registries and fixtures.json are shared by every engine on the machine. The system's
# engine refreshes them on every run; another engine (the suite's Docker 28, whose pass
# follows) reuses them while they hold what fixtures.json says, so that preparing it never
# pulls the registries from under tests running against the system's engine.
if ! docker_uses_local_socket && registries_serve_fixtures; then
  log "registries: $PLAIN_ADDR and $AUTH_ADDR serve the images fixtures.json records; reused"
  untag_registry_refs
  docker rmi "$IMG_PULLABLE" >/dev/null 2>&1 || true
else
  build_pullable_image
  start_registry plain "$PLAIN_ADDR"
  start_registry auth "$AUTH_ADDR" tls
  DIGEST_PLAIN=""
  DIGEST_AUTH=""
  push_fixtures
  write_fixtures_json
fi
log "fixtures ready in $(( $(now_ms) - T0 )) ms (stop registries: scripts/stop-fixtures.sh)"
