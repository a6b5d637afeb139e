#!/usr/bin/env bash
# Offline stand-ins for the images critest (cri-tools' CRI validation suite) pulls, so that its
# image specs can pass on a machine without registry access.
#
#   sudo scripts/critest-images.sh        # build, serve, resolve (idempotent)
#   sudo scripts/critest-images.sh down   # undo all of it
#
# critest asks for fully qualified names (registry.k8s.io/..., k8s.gcr.io/pause:3.9,
# gcr.io/k8s-staging-cri-tools/...) and compares them with what ListImages and ImageStatus
# report, so the names themselves must resolve: critest's -registry-prefix rewrites pulls but
# not the names its container specs create with or its image specs expect back. So:
#   * the images are built FROM scratch around Debian's dynamic busybox (applets as hard links
#     exec'd through PATH, as in upstream busybox images: critest's MaskedPaths spec masks
#     /bin/ls and expects `sh -c ls` to fail; ipcs and pgrep, which Debian builds without, as
#     small scripts), in the shapes critest's specs expect: CMD ["sh"],
#     the users of cri-tools' images/ (1002, www-data, 1003:1004, www-data:1004, 1000 with
#     group 50000), an nginx on :80 (:12003 for the host-network one) whose pid 1 is named
#     nginx and says "master process", an httpd on :80, and nonewprivs' setuid program that
#     prints its effective uid;
#   * a registry of their own (Debian's docker-registry) serves them on 127.0.0.1:80;
#   * one /etc/hosts line points the three registry names at 127.0.0.1. Docker treats a
#     registry that resolves to 127.0.0.0/8 as insecure and falls back from HTTPS (nothing
#     listens on :443) to HTTP, so neither engine's daemon.json changes and no engine restarts.
# `down` stops the registry, removes the hosts line and the stand-ins from both engines.
# The digest-pinned image (test-image-digest@sha256:9700f9...) cannot be reproduced: that spec
# fails offline.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/lib.sh"
require_root

BASE="/var/lib/berth-test/critest"
REG_ADDR="127.0.0.1:80"
REG_DIR="$BASE/registry"
REG_LOG="/var/log/berth-registry-critest.log"
HOSTS_MARK="# berth scripts/critest-images.sh"
HOSTS_NAMES="registry.k8s.io k8s.gcr.io gcr.io"
E2E="registry.k8s.io/e2e-test-images"
STAGING="gcr.io/k8s-staging-cri-tools"
ENGINES=("unix://$BERTH_DOCKER_SOCK" "unix://$BERTH_DOCKER28_SOCK")
ENV_PATH='PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'

# name -> one line each; the list `down` removes again.
IMAGES=(
  "$E2E/busybox:1.29-2"
  "$E2E/nginx:1.14-2"
  "$E2E/httpd:2.4.39-4"
  "$E2E/nonewprivs:1.3"
  "$STAGING/hostnet-nginx-amd64:latest"
  "$STAGING/test-image-latest:latest"
  "$STAGING/test-image-tag:test"
  "$STAGING/test-image-tag:all"
  "$STAGING/test-image-1:latest"
  "$STAGING/test-image-2:latest"
  "$STAGING/test-image-3:latest"
  "$STAGING/test-image-tags:1"
  "$STAGING/test-image-tags:2"
  "$STAGING/test-image-tags:3"
  "$STAGING/test-image-user-uid:latest"
  "$STAGING/test-image-user-username:latest"
  "$STAGING/test-image-user-uid-group:latest"
  "$STAGING/test-image-user-username-group:latest"
  "$STAGING/test-image-predefined-group:latest"
  "registry.k8s.io/pause:3.9"
  "k8s.gcr.io/pause:3.9"
)

engine_up() { DOCKER_HOST="$1" docker version --format '{{.Server.Version}}' >/dev/null 2>&1; }

hosts_remove() {
  grep -qF "$HOSTS_MARK" /etc/hosts || return 0
  # In place (not mv): /etc/hosts may be a bind mount.
  local kept
  kept="$(grep -vF "$HOSTS_MARK" /etc/hosts)"
  printf '%s\n' "$kept" >/etc/hosts
  log "hosts: removed $HOSTS_NAMES"
}

down() {
  local engine img
  for engine in "${ENGINES[@]}"; do
    engine_up "$engine" || continue
    for img in "${IMAGES[@]}"; do
      DOCKER_HOST="$engine" docker rmi "$img" >/dev/null 2>&1 || true
    done
    log "engine $engine: stand-ins removed"
  done
  stop_pidfile "$REG_DIR/registry.pid" docker-registry
  hosts_remove
  rm -rf "$BASE"
}

# Debian's dynamic busybox, unpacked (not installed: it conflicts with busybox-static, which the
# e2e fixtures use), with the libraries ldd names.
fetch_busybox() {
  local deb
  install -d -o _apt "$BASE/deb"   # apt downloads as _apt
  if [[ ! -x "$BASE/busybox/bin/busybox" ]]; then
    deb="$(find "$BASE/deb" -name 'busybox_*.deb' | head -n 1)"
    if [[ -z "$deb" ]]; then
      (cd "$BASE/deb" && apt-get download busybox >/dev/null) || die "apt-get download busybox failed"
      deb="$(find "$BASE/deb" -name 'busybox_*.deb' | head -n 1)"
    fi
    rm -rf "$BASE/busybox"
    dpkg -x "$deb" "$BASE/busybox"
  fi
}

# make_rootfs DIR: busybox with every applet hard-linked, its libraries, the passwd and group of
# upstream busybox images, and the two applets critest runs that Debian's busybox lacks.
make_rootfs() {
  local root="$1" bb="$BASE/busybox/bin/busybox" lib applet
  mkdir -p "$root"/{bin,etc,root,tmp,var/run,var/www,usr/bin,usr/sbin,usr/local/bin,sbin,proc,sys,dev,home}
  chmod 1777 "$root/tmp"
  chmod 0700 "$root/root"
  install -m 0755 "$bb" "$root/bin/busybox"
  for lib in $(ldd "$bb" | grep -oE '/[^ ]+'); do
    mkdir -p "$root$(dirname "$lib")"
    cp -L "$lib" "$root$lib"
  done
  while read -r applet; do
    [[ -n "$applet" && "$applet" != busybox ]] || continue
    ln -f "$root/bin/busybox" "$root/bin/$applet"
  done < <("$bb" --list)
  cat >"$root/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/bin/false
bin:x:2:2:bin:/bin:/bin/false
sys:x:3:3:sys:/dev:/bin/false
sync:x:4:100:sync:/bin:/bin/sync
mail:x:8:8:mail:/var/spool/mail:/bin/false
www-data:x:33:33:www-data:/var/www:/bin/false
operator:x:37:37:Operator:/var:/bin/false
nobody:x:65534:65534:nobody:/home:/bin/false
EOF
  cat >"$root/etc/group" <<'EOF'
root:x:0:
daemon:x:1:
bin:x:2:
sys:x:3:
adm:x:4:
tty:x:5:
disk:x:6:
wheel:x:10:root
mail:x:8:
www-data:x:33:
operator:x:37:
users:x:100:
nogroup:x:65534:
EOF
  # ipcs: critest's HostIpc specs run `ipcs -m` and look for a segment id the host made.
  printf '#!/bin/sh\n# stands in for ipcs -m: the kernel'"'"'s table of shared memory segments\ncat /proc/sysvipc/shm\n' >"$root/bin/ipcs"
  chmod 0755 "$root/bin/ipcs"
  # pgrep: critest's execSync timeout spec runs `pgrep sleep` to see the timed-out process gone.
  cat >"$root/bin/pgrep" <<'EOF'
#!/bin/sh
# stands in for pgrep NAME: the pids whose command name is NAME; status 1 when there is none
status=1
for d in /proc/[0-9]*; do
  if [ "$(cat "$d/comm" 2>/dev/null)" = "$1" ]; then
    echo "${d#/proc/}"
    status=0
  fi
done
exit $status
EOF
  chmod 0755 "$root/bin/pgrep"
}

# nginx stand-in: pid 1 is named nginx, writes /var/run/nginx.pid, re-execs itself once so its
# command line says "master process" (critest greps /proc/1/cmdline for it), and serves
# "Welcome to nginx!" with busybox httpd until SIGTERM.
nginx_script() {
  local port="$1"
  cat <<EOF
#!/bin/sh
[ "\$1" = "master process" ] || exec "\$0" "master process" "\$@"
echo \$\$ >/var/run/nginx.pid
httpd -f -p $port -h /usr/share/nginx/html &
child=\$!
trap 'kill \$child; exit 0' TERM INT QUIT
wait
EOF
}

# add_nginx ROOT PORT
add_nginx() {
  local root="$1" port="$2"
  mkdir -p "$root/usr/share/nginx/html"
  echo '<title>Welcome to nginx!</title>' >"$root/usr/share/nginx/html/index.html"
  nginx_script "$port" >"$root/usr/sbin/nginx"
  chmod 0755 "$root/usr/sbin/nginx"
}

add_httpd() {
  local root="$1"
  mkdir -p "$root/usr/local/apache2/htdocs"
  echo '<html><body><h1>It works!</h1></body></html>' >"$root/usr/local/apache2/htdocs/index.html"
  cat >"$root/usr/local/bin/httpd-foreground" <<'EOF'
#!/bin/sh
echo "httpd: serving /usr/local/apache2/htdocs on :80"
exec httpd -f -vv -p 80 -h /usr/local/apache2/htdocs
EOF
  chmod 0755 "$root/usr/local/bin/httpd-foreground"
}

# nonewprivs' program: setuid root, prints the effective uid it runs with.
add_nnp() {
  local root="$1" src="$BASE/nnp.c"
  cat >"$src" <<'EOF'
#include <stdio.h>
#include <unistd.h>

int main(void) {
  printf("Effective uid: %d\n", (int)geteuid());
  return 0;
}
EOF
  gcc -static -O2 -o "$root/usr/local/bin/nnp" "$src"
  chmod 4755 "$root/usr/local/bin/nnp"
}

# import ROOT NAME CHANGE...: one layer, owned by root, hard links kept.
import() {
  local root="$1" name="$2" args=() c
  shift 2
  for c in "$@" "ENV $ENV_PATH" "LABEL io.berth.test.critest-stand-in=$name"; do
    args+=(--change "$c")
  done
  tar --numeric-owner --owner=0 --group=0 -C "$root" -c . |
    DOCKER_HOST="unix://$BERTH_DOCKER_SOCK" docker import --message "berth critest stand-in" "${args[@]}" - "$name" >/dev/null
  log "image: $name"
}

# variant NAME CHANGE... [-- FILE-SETUP-COMMAND...]: a copy of the base rootfs, changed, imported.
variant() {
  local name="$1"
  shift
  local dir="$WORK/${name//[^a-zA-Z0-9]/_}"
  cp -a "$WORK/base" "$dir"
  "$@" "$dir"
  echo "$dir"
}

build_images() {
  local d t
  make_rootfs "$WORK/base"
  import "$WORK/base" "$E2E/busybox:1.29-2" 'CMD ["sh"]'

  d="$(variant nginx add_nginx_80)"
  import "$d" "$E2E/nginx:1.14-2" 'EXPOSE 80' 'CMD ["nginx", "-g", "daemon off;"]'
  d="$(variant hostnet add_nginx_12003)"
  import "$d" "$STAGING/hostnet-nginx-amd64:latest" 'EXPOSE 12003' 'CMD ["nginx", "-g", "daemon off;"]'
  d="$(variant httpd add_httpd)"
  import "$d" "$E2E/httpd:2.4.39-4" 'EXPOSE 80' 'CMD ["httpd-foreground"]'
  d="$(variant nnp add_nnp)"
  import "$d" "$E2E/nonewprivs:1.3" 'CMD ["/usr/local/bin/nnp"]'

  # cri-tools' image-test: busybox plus one file named after the image, one image per name.
  for t in test-image-latest:latest test-image-tag:test test-image-tag:all test-image-1:latest \
    test-image-2:latest test-image-3:latest test-image-tags:1; do
    d="$(variant "$t" add_marker "${t/:/-}")"
    import "$d" "$STAGING/$t" 'CMD ["sh"]'
  done
  # Different tags, same image.
  for t in 2 3; do
    DOCKER_HOST="unix://$BERTH_DOCKER_SOCK" docker tag "$STAGING/test-image-tags:1" "$STAGING/test-image-tags:$t"
  done

  import "$WORK/base" "$STAGING/test-image-user-uid:latest" 'CMD ["sh"]' 'USER 1002'
  import "$WORK/base" "$STAGING/test-image-user-username:latest" 'CMD ["sh"]' 'USER www-data'
  import "$WORK/base" "$STAGING/test-image-user-uid-group:latest" 'CMD ["sh"]' 'USER 1003:1004'
  import "$WORK/base" "$STAGING/test-image-user-username-group:latest" 'CMD ["sh"]' 'USER www-data:1004'
  d="$(variant predefined add_predefined_group)"
  import "$d" "$STAGING/test-image-predefined-group:latest" 'CMD ["sh"]' 'USER 1000'

  # A pause of its own: critest's "same image from different registries" spec removes
  # pause:3.9 by ID, which must not take the engine's pod-infra image with it.
  mkdir -p "$WORK/pause"
  gcc -static -O2 -o "$WORK/pause/pause" "$BERTH_ROOT/pause/pause.c"
  import "$WORK/pause" "registry.k8s.io/pause:3.9" 'USER 65535:65535' 'ENTRYPOINT ["/pause"]'
  DOCKER_HOST="unix://$BERTH_DOCKER_SOCK" docker tag "registry.k8s.io/pause:3.9" "k8s.gcr.io/pause:3.9"
}

add_nginx_80() { add_nginx "$1" 80; }
add_nginx_12003() { add_nginx "$1" 12003; }
add_marker() { echo "$1" >"$2/$1"; }
add_predefined_group() {
  echo 'default-user:x:1000:1000:Linux User,,,:/home/default-user:/bin/sh' >>"$1/etc/passwd"
  echo 'default-user:x:1000:' >>"$1/etc/group"
  echo 'group-defined-in-image:x:50000:default-user' >>"$1/etc/group"
  mkdir -p "$1/home/default-user"
  chown 1000:1000 "$1/home/default-user"
}

start_registry() {
  stop_pidfile "$REG_DIR/registry.pid" docker-registry
  wait_for_port_free 10 127.0.0.1 80 || die "127.0.0.1:80 is held by a process this script did not start"
  rm -rf "$REG_DIR/data"
  mkdir -p "$REG_DIR/data"
  cat >"$REG_DIR/config.yml" <<EOF
# Written by berth scripts/critest-images.sh.
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $REG_DIR/data
  delete:
    enabled: true
http:
  addr: $REG_ADDR
EOF
  setsid nohup /usr/bin/docker-registry serve "$REG_DIR/config.yml" >>"$REG_LOG" 2>&1 </dev/null &
  echo "$!" >"$REG_DIR/registry.pid"
  wait_for 20 "the critest registry on $REG_ADDR" curl -fs -o /dev/null "http://$REG_ADDR/v2/" ||
    die "registry did not start (log: $REG_LOG)"
  log "registry: $REG_ADDR (pid $(cat "$REG_DIR/registry.pid"), log $REG_LOG)"
}

hosts_add() {
  hosts_remove
  printf '127.0.0.1 %s %s\n' "$HOSTS_NAMES" "$HOSTS_MARK" >>/etc/hosts
  log "hosts: $HOSTS_NAMES -> 127.0.0.1"
}

# Push everything, then drop the local copies so that critest's pulls are real pulls.
push_images() {
  local img engine
  for img in "${IMAGES[@]}"; do
    DOCKER_HOST="unix://$BERTH_DOCKER_SOCK" docker push -q "$img" >/dev/null || die "push of $img failed"
  done
  log "registry: pushed ${#IMAGES[@]} names"
  for engine in "${ENGINES[@]}"; do
    engine_up "$engine" || continue
    for img in "${IMAGES[@]}"; do
      DOCKER_HOST="$engine" docker rmi "$img" >/dev/null 2>&1 || true
    done
  done
}

if [[ "${1:-up}" == down ]]; then
  down
  exit 0
fi
[[ "${1:-up}" == up ]] || die "usage: $0 [up|down]"
[[ -x /usr/bin/docker-registry ]] || die "docker-registry is missing: run scripts/test-fixtures.sh first"
command -v gcc >/dev/null || die "gcc is missing (apt-get install gcc libc6-dev)"

WORK="$(mktemp -d /tmp/berth-critest.XXXXXX)"
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$BASE" "$REG_DIR"
fetch_busybox
build_images
start_registry
hosts_add
push_images
log "critest stand-ins ready; undo with: $0 down"
