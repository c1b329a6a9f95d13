#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Shield scan throughput: builds bench_shield.c against build/libhiway.a and PCRE2, then
# prints Hyperscan and PCRE2 GB/s over 1 KB, 100 KB and 1 MB prompts and their ratio.
set -euo pipefail
cd "$(dirname "$0")/../.."
make -s -j"$(nproc)" build/libhiway.a
PKGS="libmicrohttpd libcurl jansson yaml-0.1 sqlite3 openssl libhs libpcre2-8"
mkdir -p build/bench
# shellcheck disable=SC2046 # pkg-config output is meant to split into words
cc -std=gnu11 -O2 -g -Wall -Wextra -Werror -Wshadow -Wno-unused-parameter -D_GNU_SOURCE \
	-Iinclude -Iuserspace $(pkg-config --cflags $PKGS) \
	-o build/bench/bench_shield bench/shield/bench_shield.c build/libhiway.a \
	$(pkg-config --libs $PKGS) -lpthread -lm
exec build/bench/bench_shield
