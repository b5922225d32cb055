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

# Installs a Debian package that ships a system service without leaving that service running:
# `install_stopped <package> <service>`. The maintainer scripts of redis-server and coturn
# start and enable a machine-wide daemon (redis on 6379, coturn on 3478); Noom only ever runs
# private instances (loopback, a port of its own), so the service is kept from starting
# while installing (policy-rc.d, which both invoke-rc.d and deb-systemd-invoke obey) and
# disabled afterwards, with systemd or with sysv-rc.
install_stopped() {
  local pkg=$1 service=$2
  if have_pkgs "$pkg"; then return 0; fi
  local policy=/usr/sbin/policy-rc.d ours=0
  if [ "$(id -u)" = 0 ] && [ ! -e "$policy" ]; then
    printf '#!/bin/sh\n# installed by Noom setup while installing %s\nexit 101\n' "$pkg" > "$policy"
    chmod 755 "$policy"
    ours=1
  fi
  local status=0
  ( apt_install "$pkg" ) || status=$?
  [ "$ours" = 1 ] && rm -f "$policy"
  [ "$status" = 0 ] || exit "$status"
  if [ -d /run/systemd/system ]; then
    systemctl disable --now "$service.service" >/dev/null 2>&1 || true
  else
    update-rc.d "$service" disable >/dev/null 2>&1 || true
    # A package installed under another init may still have started it; stop that one.
    invoke-rc.d --force "$service" stop >/dev/null 2>&1 || true
  fi
}

redis_install_stopped() { install_stopped redis-server redis-server; }
