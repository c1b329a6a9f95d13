#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Static checks: cppcheck over the C tree (jansson's iteration macros spelled out so
# cppcheck can follow them without parsing system headers).
set -euo pipefail
cd "$(dirname "$0")/.."
cppcheck --quiet --error-exitcode=1 --enable=warning,performance,portability --std=c11 \
	-D_GNU_SOURCE -Iinclude -Iuserspace --suppress=missingIncludeSystem --inline-suppr \
	'-Djson_array_foreach(a,i,v)=for(i=0;(v=json_array_get(a,i));i++)' \
	'-Djson_object_foreach(o,k,v)=for(k=0;(v=0);)' \
	userspace tests/fakes
echo "cppcheck: clean"
