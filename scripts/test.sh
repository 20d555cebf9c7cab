#!/usr/bin/env bash
# Sets up, builds and runs the whole test suite (unit, integration and slow tests) through ctest.
# Subsets: scripts/test.sh -L unit | -L integration | -LE slow ; extra arguments go to ctest.
set -euo pipefail
top="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$top/scripts/setup.sh"
echo "== build" >&2
"$top/scripts/build.sh" | tail -1
echo "== test" >&2
cd "$top/build"
# Some integration tests need long timeouts (the stock Linux guest boot on a PVM host).
ctest --output-on-failure --timeout 3000 "$@"
