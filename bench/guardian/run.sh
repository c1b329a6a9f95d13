#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The checks alone: builds bench_checks.c against build/libhiway.a and prints ns per
# request of steps 9 and 10 and of the canonical prompt hash.
set -euo pipefail
cd "$(dirname "$0")/../.."
make -s -j2 build/libhiway.a
PKGS="libmicrohttpd libcurl jansson yaml-0.1 sqlite3 openssl libhs"
mkdir -p build/bench
# shellcheck disable=SC2046 # pkg-config output is meant to split into words
cc -std=gnu11 -O2 -g -Wall -Wextra -Werror -Wshadow -Wno-unused-parameter -D_GNU_SOURCE \
	-Iinclude -Iuserspace $(pkg-config --cflags $PKGS) \
	-o build/bench/bench_guardian bench/guardian/bench_checks.c build/libhiway.a \
	$(pkg-config --libs $PKGS) -lpthread -lm
exec build/bench/bench_guardian
