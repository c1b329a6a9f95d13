#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Step-3 IP rule lookup: builds bench_lookup.c against the worktree's build/libhiway.a with
# the Makefile's flags and libraries, then prints ns per lookup with 0, 1k and 100k rules
# beside a linear scan over the same blocks.
set -euo pipefail
cd "$(dirname "$0")/../.."
make -s -j"$(nproc)" build/libhiway.a
PKGS="libmicrohttpd libcurl jansson yaml-0.1 sqlite3 openssl"
mkdir -p build/bench
# shellcheck disable=SC2046 # pkg-config output is meant to split into words
cc -std=gnu11 -O2 -g -Wall -Wextra -Werror -Wshadow -Wno-unused-parameter -D_GNU_SOURCE \
	-Iinclude -Iuserspace $(pkg-config --cflags $PKGS) \
	-o build/bench/bench_lookup bench/iprules/bench_lookup.c build/libhiway.a \
	$(pkg-config --libs $PKGS) -lpthread -lm
exec build/bench/bench_lookup
