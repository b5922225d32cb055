#!/usr/bin/env bash
# Makes a mediasoup worker binary available to this checkout.
#
# Order of preference:
#   1. a cached binary (keyed by mediasoup version and the hash of the patch + shims);
#   2. the official prebuilt worker from mediasoup's GitHub release, where it can be reached;
#   3. a build from the mediasoup npm tarball against Debian's libraries (libuv1, libssl3,
#      libabsl, flatbuffers) and libsrtp 2 built from Debian's source on OpenSSL (Debian's
#      binary package uses NSS, several times slower per packet), with a small patch:
#      SrtpSession ported to libsrtp2,
#      and the DTLS BIO callback fixed for Debian's KTLS-enabled OpenSSL (without it the
#      worker crashes on the first DTLS ClientHello from a real WebRTC peer).
# The binary is then linked to node_modules/mediasoup/worker/out/Release/mediasoup-worker,
# the place mediasoup looks by default, so no variable has to be set at run time.
#
# Usage: bash scripts/worker/provision.sh [--link-only] [--force-build]
# Env:   NOOM_CACHE_DIR (default ${XDG_CACHE_HOME:-~/.cache}/noom), JOBS (default nproc)
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
LINK_ONLY=0
FORCE_BUILD=0
for arg in "$@"; do
  case "$arg" in
    --link-only) LINK_ONLY=1 ;;
    --force-build) FORCE_BUILD=1 ;;
    *) echo "provision: unknown argument $arg" >&2; exit 2 ;;
  esac
done

T0=$(date +%s)
step() { printf '[worker %4ss] %s\n' "$(( $(date +%s) - T0 ))" "$*"; }
die() { printf '[worker] ERROR: %s\n' "$*" >&2; exit 1; }

MS_PKG="$REPO/node_modules/mediasoup/package.json"
[ -f "$MS_PKG" ] || die "node_modules/mediasoup is missing: run 'npm ci' first (scripts/setup.sh does)"
MS_VERSION=$(node -p "require('$MS_PKG').version")
PATCH="$HERE/mediasoup-$MS_VERSION-debian.patch"
INPUT_HASH=$(cat "$PATCH" 2>/dev/null | cat - <(find "$HERE/shims" -type f | sort | xargs cat) | sha256sum | cut -c1-12)
CACHE_ROOT=${NOOM_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/noom}
CACHE_DIR="$CACHE_ROOT/mediasoup-worker"
BUILT_BIN="$CACHE_DIR/$MS_VERSION-$INPUT_HASH/mediasoup-worker"
PREBUILT_BIN="$CACHE_DIR/$MS_VERSION-prebuilt/mediasoup-worker"
TARGET="$REPO/node_modules/mediasoup/worker/out/Release/mediasoup-worker"

RUNTIME_PKGS=(libuv1 libssl3 libabsl20220623)
BUILD_PKGS=(build-essential g++ pkg-config ninja-build python3 patch xz-utils ca-certificates dpkg-dev
  libuv1-dev libssl-dev libabsl-dev libflatbuffers-dev flatbuffers-compiler)

# A binary is usable when the dynamic loader resolves all its libraries.
usable() { [ -x "$1" ] && ! ldd "$1" 2>/dev/null | grep -q 'not found'; }

link_binary() {
  mkdir -p "$(dirname "$TARGET")"
  ln -sfn "$1" "$TARGET"
  step "mediasoup $MS_VERSION worker: $TARGET -> $1"
}

say() { step "$@"; }
. "$HERE/../apt.sh"

for candidate in "$BUILT_BIN" "$PREBUILT_BIN"; do
  if [ "$FORCE_BUILD" = 0 ] && [ -x "$candidate" ]; then
    [ "$candidate" = "$BUILT_BIN" ] && apt_install "${RUNTIME_PKGS[@]}"
    usable "$candidate" || die "cached worker $candidate has unresolved libraries: $(ldd "$candidate" | grep 'not found')"
    link_binary "$candidate"
    exit 0
  fi
done
[ "$LINK_ONLY" = 1 ] && { step "no cached worker for mediasoup $MS_VERSION yet"; exit 0; }

try_prebuilt() {
  local kernel arch url tmp
  kernel=$(uname -r | cut -d. -f1)
  arch=$(node -p 'process.arch')
  url="https://github.com/versatica/mediasoup/releases/download/$MS_VERSION/mediasoup-worker-$MS_VERSION-linux-$arch-kernel$kernel.tgz"
  step "trying the official prebuilt worker ($url)"
  tmp=$(mktemp -d)
  if curl -fsSL --connect-timeout 5 --max-time 120 "$url" -o "$tmp/w.tgz" 2>/dev/null \
    && tar xzf "$tmp/w.tgz" -C "$tmp" && usable "$tmp/mediasoup-worker"; then
    mkdir -p "$(dirname "$PREBUILT_BIN")"
    install -m 0755 "$tmp/mediasoup-worker" "$PREBUILT_BIN"
    rm -rf "$tmp"
    return 0
  fi
  rm -rf "$tmp"
  step "prebuilt worker not reachable: building from source"
  return 1
}

if [ "$FORCE_BUILD" = 0 ] && command -v curl >/dev/null && try_prebuilt; then
  link_binary "$PREBUILT_BIN"
  exit 0
fi

# ---------------------------------------------------------------------------- build
[ -f "$PATCH" ] || die "no patch for mediasoup $MS_VERSION in scripts/worker (have: $(ls "$HERE"/*.patch))"
[ "$(id -u)" = 0 ] || die "building the worker installs Debian packages: run as root"
. /etc/os-release
[ "${VERSION_CODENAME:-}" = bookworm ] || step "warning: written for Debian 12 (bookworm), this is ${PRETTY_NAME:-unknown}"

step "1/5 apt sources: bookworm-backports (meson >= 1.1) and trixie deb-src (unordered_dense.h, libsrtp2)"
# Source entries only for trixie, so no trixie binary can be installed by accident.
cat > /etc/apt/sources.list.d/noom-worker-build.sources <<'EOF'
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb-src
URIs: http://deb.debian.org/debian
Suites: trixie
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
apt-get update -q >/dev/null || die "apt-get update failed"
if ! meson --version 2>/dev/null | grep -qE '^1\.([1-9]|[1-9][0-9])\.'; then
  step "apt-get install -t bookworm-backports meson"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends -t bookworm-backports meson >/dev/null \
    || die "could not install meson >= 1.1 from bookworm-backports"
fi
apt_install "${BUILD_PKGS[@]}" "${RUNTIME_PKGS[@]}"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/noom-worker-build.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"
step "2/5 sources: mediasoup@$MS_VERSION from npm, unordered_dense.h and libsrtp2 from Debian's trixie sources"
npm pack --silent "mediasoup@$MS_VERSION" >/dev/null || die "npm pack mediasoup@$MS_VERSION failed"
tar xzf "mediasoup-$MS_VERSION.tgz" && mv package mediasoup
mkdir rspamd && (cd rspamd && apt-get source --download-only -q rspamd/trixie >/dev/null) \
  || die "apt-get source rspamd/trixie failed (needed for ankerl/unordered_dense.h)"
tar xJf rspamd/rspamd_*.orig.tar.xz -C rspamd --wildcards '*/contrib/ankerl/unordered_dense.h' '*/contrib/ankerl/LICENSE'
UD_HDR=$(ls "$WORK"/rspamd/*/contrib/ankerl/unordered_dense.h | head -1)
grep -q 'ANKERL_UNORDERED_DENSE_VERSION_MAJOR 4' "$UD_HDR" || die "unordered_dense.h is not version 4.x"
# The upstream tarball only (apt checks its hash); Debian's packaging of it is not needed.
mkdir libsrtp2 && (cd libsrtp2 && apt-get source --download-only --tar-only -q libsrtp2/trixie >/dev/null 2>&1) \
  || die "apt-get source libsrtp2/trixie failed"
tar xzf libsrtp2/libsrtp2_*.orig.tar.gz -C libsrtp2
SRTP_SRC=$(ls -d "$WORK"/libsrtp2/libsrtp-2.*/ | head -1)
[ -f "$SRTP_SRC/meson.build" ] || die "libsrtp2 source has no meson.build"

step "3/5 meson subprojects -> Debian libraries"
SP="$WORK/mediasoup/worker/subprojects"
wrap_dir() { sed -n 's/^directory = //p' "$SP/$1.wrap"; }
for pair in libuv:libuv openssl:openssl libsrtp3:libsrtp3 flatbuffers:flatbuffers abseil-cpp:abseil-cpp; do
  wrap=${pair%%:*}; shim=${pair#*:}
  dir=$(wrap_dir "$wrap"); [ -n "$dir" ] || die "no $wrap.wrap in mediasoup $MS_VERSION"
  mkdir -p "$SP/$dir" && cp "$HERE/shims/$shim"/* "$SP/$dir/"
done
UD_DIR=$(wrap_dir unordered-dense)
mkdir -p "$SP/$UD_DIR/include/ankerl"
cp "$UD_HDR" "$SP/$UD_DIR/include/ankerl/" && cp "$(dirname "$UD_HDR")/LICENSE" "$SP/$UD_DIR/"
sed -E "s/version: '[0-9.]+'/version: '4.4.0'/" "$SP/packagefiles/ankerl-unordered-dense/meson.build" > "$SP/$UD_DIR/meson.build"
# The libsrtp3 shim builds this one as its own subproject.
rm -rf "$SP/libsrtp2" && cp -r "$SRTP_SRC" "$SP/libsrtp2"

step "4/5 patch: libsrtp2 port and DTLS BIO callback fix"
(cd "$WORK/mediasoup" && patch -p1 --no-backup-if-mismatch --quiet < "$PATCH") || die "patch did not apply to mediasoup $MS_VERSION"

step "5/5 meson + ninja (release; about 4 min on 2 idle cores)"
cd "$WORK/mediasoup/worker"
meson setup out/build --buildtype=release -Db_ndebug=true --wrap-mode=nodownload > "$WORK/meson.log" 2>&1 \
  || { tail -30 "$WORK/meson.log" >&2; die "meson setup failed"; }
# The generated FBS headers have no build-order edge to deps/libwebrtc: generate them first.
meson compile -C out/build flatbuffers-generator > "$WORK/fbs.log" 2>&1 || { tail -30 "$WORK/fbs.log" >&2; die "flatbuffers generation failed"; }
ninja -C out/build -j"${JOBS:-$(nproc)}" mediasoup-worker > "$WORK/ninja.log" 2>&1 &
NINJA=$!
while kill -0 "$NINJA" 2>/dev/null; do
  sleep 20
  step "  ninja $(grep -o '^\[[0-9]*/[0-9]*\]' "$WORK/ninja.log" | tail -1)"
done
wait "$NINJA" || { grep -A20 -m1 FAILED "$WORK/ninja.log" >&2; die "ninja failed (log above)"; }
[ -x out/build/mediasoup-worker ] || die "ninja did not produce mediasoup-worker"
mkdir -p "$(dirname "$BUILT_BIN")"
install -m 0755 out/build/mediasoup-worker "$BUILT_BIN.tmp" && mv "$BUILT_BIN.tmp" "$BUILT_BIN"
usable "$BUILT_BIN" || die "built worker has unresolved libraries"
step "built $BUILT_BIN ($(stat -c %s "$BUILT_BIN") bytes)"
link_binary "$BUILT_BIN"
