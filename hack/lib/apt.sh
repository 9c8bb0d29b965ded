# shellcheck shell=bash
# apt.sh - sourced by hack scripts that need a Debian package they can
# install themselves on a CI machine (root only).

# apt_install PACKAGE...: install Debian packages when running as root;
# returns non-zero otherwise. Waits for dpkg's lock when another apt-get
# runs; updates the package lists only when the install fails without.
apt_install() {
  [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null || return 1
  echo "installing Debian's $* package(s)" >&2
  export DEBIAN_FRONTEND=noninteractive
  local apt=(apt-get -o DPkg::Lock::Timeout=300 -y -qq)
  "${apt[@]}" install --no-install-recommends "$@" >&2 ||
    { "${apt[@]}" update >&2 && "${apt[@]}" install --no-install-recommends "$@" >&2; }
}
