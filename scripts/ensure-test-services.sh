#!/usr/bin/env bash
# Makes sure the servers the tests start themselves are installed: a PostgreSQL server (the
# real-estate connector is tested against it as well as against the embedded engine) and
# redis-server. The tests start and stop their own instances on random loopback ports; this
# script only installs the Debian packages when they are missing. The auditor console's browser
# test needs Debian's chromium (driven by playwright-core) and fonts-noto-cjk (readable Chinese
# in its screenshots).
set -euo pipefail
need=()
ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || need+=(postgresql)
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
{ command -v fc-list >/dev/null 2>&1 && fc-list | grep -qi 'Noto Sans CJK'; } || need+=(fonts-noto-cjk)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "The test suite needs these Debian packages: ${need[*]}. Install them (apt-get install ${need[*]}) and run the tests again." >&2
  exit 1
fi
echo "Installing test packages: ${need[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
# The packages' own services are not wanted: the tests start their own instances.
printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
rm -f /usr/sbin/policy-rc.d
