# Sourced by the setup scripts: installs Debian packages that are missing, as root, with one
# `apt-get update` retry for machines whose package lists are stale or absent.
# Needs `die` and `say` functions from the caller.
have_pkgs() {
  local n
  n=$(dpkg-query -W -f='${Status}\n' "$@" 2>/dev/null | grep -c 'install ok installed' || true)
  [ "$n" -eq "$#" ]
}

apt_install() {
  if have_pkgs "$@"; then return 0; fi
  [ "$(id -u)" = 0 ] || die "missing Debian packages ($*); run as root or install them: apt-get install $*"
  say "apt-get install $*"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q --no-install-recommends "$@" >/dev/null 2>&1 || {
    apt-get update -q >/dev/null
    apt-get install -y -q --no-install-recommends "$@" >/dev/null || die "apt-get install failed for: $*"
  }
}

# Installs Debian's redis-server without leaving its system service running. The package's
# maintainer scripts start and enable a redis on 6379 for the whole machine; Noom only ever
# runs private instances (loopback, a port of its own, no persistence), so that service is
# kept from starting while installing (policy-rc.d, which both invoke-rc.d and
# deb-systemd-invoke obey) and disabled afterwards, with systemd or with sysv-rc.
redis_install_stopped() {
  if have_pkgs redis-server; then return 0; fi
  local policy=/usr/sbin/policy-rc.d ours=0
  if [ "$(id -u)" = 0 ] && [ ! -e "$policy" ]; then
    printf '#!/bin/sh\n# installed by Noom setup while installing redis-server\nexit 101\n' > "$policy"
    chmod 755 "$policy"
    ours=1
  fi
  local status=0
  ( apt_install redis-server ) || status=$?
  [ "$ours" = 1 ] && rm -f "$policy"
  [ "$status" = 0 ] || exit "$status"
  if [ -d /run/systemd/system ]; then
    systemctl disable --now redis-server.service >/dev/null 2>&1 || true
  else
    update-rc.d redis-server disable >/dev/null 2>&1 || true
    # A package installed under another init may still have started it; stop that one.
    invoke-rc.d --force redis-server stop >/dev/null 2>&1 || true
  fi
}
