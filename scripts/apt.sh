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
