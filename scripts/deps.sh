#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Installs the Debian packages hiway needs to build, run and test, when they are missing.
set -euo pipefail

BUILD_PKGS=(build-essential pkg-config libmicrohttpd-dev libcurl4-openssl-dev libjansson-dev
            libyaml-dev libsqlite3-dev libssl-dev libcmocka-dev libhyperscan-dev
            clang llvm libbpf-dev bpftool libelf-dev zlib1g-dev)
# iproute2 (ip netns, tc) and nftables: the perimeter's integration tests and benchmark.
TEST_PKGS=(python3 nginx wrk curl libpcre2-dev iproute2 nftables)

want=("${BUILD_PKGS[@]}")
if [ "${1:-}" = "--test" ]; then want+=("${TEST_PKGS[@]}"); fi

missing=()
for p in "${want[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# Node.js and npm run the official OpenAI and Anthropic SDKs (tests/clients). They are looked
# for on PATH, not with dpkg: they often come from elsewhere (NodeSource's nodejs package
# carries npm and conflicts with Debian's npm package, nvm, a tarball), and Debian's are
# installed only when the commands are absent.
if [ "${1:-}" = "--test" ] && ! command -v node >/dev/null 2>&1; then missing+=(nodejs); fi

SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
updated=""
install() {
	echo "hiway: installing $*" >&2
	[ -n "$updated" ] || $SUDO apt-get update -qq
	updated=1
	$SUDO apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# Debian's nginx package starts a system nginx on port 80 when it can; the tests and
# benchmarks run their own instances and never touch it.
[ ${#missing[@]} -eq 0 ] || install "${missing[@]}"
# Debian packages npm apart from nodejs; checked once nodejs is there.
if [ "${1:-}" = "--test" ] && ! command -v npm >/dev/null 2>&1; then install npm; fi
