#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Builds hiwayd and runs it on the embedded default: SQLite in ./hiway.db and the
# `local` echo demo provider. The first start prints the admin token and an API key once.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
make -j"$(nproc)" build/hiwayd build/hiwayctl >/dev/null
[ -f hiway.yaml ] || cp config/hiway.yaml hiway.yaml
exec build/hiwayd --config hiway.yaml "$@"
