#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Installs the SDKs pinned in tests/clients/package-lock.json into tests/clients/node_modules
# (npm ci) when they are missing or older than the lock file. Exit status 0 when the SDKs are
# ready; 3 when node or npm is missing (scripts/deps.sh --test installs them) or node is older
# than 20; npm's status when the install failed (no network, registry down).
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
cd "$here"

for tool in node npm; do
	if ! command -v "$tool" >/dev/null 2>&1; then
		echo "hiway: '$tool' is not installed; run scripts/deps.sh --test" >&2
		exit 3
	fi
done

# The SDKs support Node.js 20 and later (Debian 12's nodejs is 18: use NodeSource's or Debian 13's).
major="$(node -p 'process.versions.node.split(".")[0]')"
if [ "$major" -lt 20 ]; then
	echo "hiway: node $(node --version) is too old: the client SDKs need Node.js 20 or later" >&2
	exit 3
fi

stamp=node_modules/.hiway-lock
up_to_date() { [ -f "$stamp" ] && cmp -s package-lock.json "$stamp"; }
up_to_date && exit 0

# One installer at a time (a release and an ASan run may start together).
exec 9>"${TMPDIR:-/tmp}/hiway-clients-npm-$(id -u).lock"
flock -w 600 9
up_to_date && exit 0

echo "hiway: installing the client SDKs (npm ci in tests/clients)" >&2
timeout 300 npm ci --no-audit --no-fund --loglevel=error >&2
cp package-lock.json "$stamp"
