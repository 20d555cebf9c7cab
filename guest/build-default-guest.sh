#!/usr/bin/env bash
# Builds the default Linux guest into OUTDIR (default: build/guest). See build_default_guest.py.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
exec python3 "$here/build_default_guest.py" "${1:-$here/../build/guest}" "${@:2}"
