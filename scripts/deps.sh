#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Installs the Debian packages hiway needs to build, run and test, when they are missing.
set -euo pipefail

BUILD_PKGS=(build-essential pkg-config libmicrohttpd-dev libcurl4-openssl-dev libjansson-dev
            libyaml-dev libsqlite3-dev libssl-dev libcmocka-dev)
TEST_PKGS=(python3 nginx wrk curl)

want=("${BUILD_PKGS[@]}")
if [ "${1:-}" = "--test" ]; then want+=("${TEST_PKGS[@]}"); fi

missing=()
for p in "${want[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "hiway: installing ${missing[*]}" >&2
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# Debian's nginx package starts a system nginx on port 80 when it can; the tests and
# benchmarks run their own instances and never touch it.
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
