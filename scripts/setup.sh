#!/usr/bin/env bash
# Installs every Debian package vessel uses (scripts/packages.txt), with their recommended
# packages (podman needs its recommended network plugins and helpers). Idempotent and quiet; when all
# packages are present it only checks and returns in well under a second.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
mapfile -t wanted < <(sed -e 's/#.*//' -e '/^\s*$/d' "$here/packages.txt" | tr -d ' ')

missing=()
for pkg in "${wanted[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$pkg")
done
if ((${#missing[@]} == 0)); then
  exit 0
fi

if [[ $(id -u) -ne 0 ]]; then
  echo "setup: missing packages: ${missing[*]}" >&2
  echo "setup: run as root (or: sudo $0)" >&2
  exit 1
fi
echo "setup: installing ${#missing[@]} Debian packages: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq "${missing[@]}" >/tmp/vessel-setup-apt.log 2>&1 || {
  echo "setup: apt-get install failed; last lines of /tmp/vessel-setup-apt.log:" >&2
  tail -20 /tmp/vessel-setup-apt.log >&2
  exit 1
}
echo "setup: done" >&2
