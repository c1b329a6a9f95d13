// SPDX-License-Identifier: Apache-2.0
#include "common/clock.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static _Atomic int64_t g_offset_ms;

int64_t hw_clock_wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 + atomic_load(&g_offset_ms);
}

int64_t hw_clock_wall_s(void) { return hw_clock_wall_ms() / 1000; }

int64_t hw_clock_mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void hw_clock_set_offset_ms(int64_t offset) { atomic_store(&g_offset_ms, offset); }
int64_t hw_clock_offset_ms(void) { return atomic_load(&g_offset_ms); }

void hw_clock_rfc3339(int64_t unix_s, char out[21])
{
	time_t t = (time_t)unix_s;
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(out, 21, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int hw_clock_parse_rfc3339(const char *s, int64_t *unix_s)
{
	struct tm tm;
	memset(&tm, 0, sizeof(tm));
	const char *end = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	if (!end)
		return -EINVAL;
	if (*end == '.') {
		end++;
		while (*end >= '0' && *end <= '9')
			end++;
	}
	if (strcmp(end, "Z") != 0)
		return -EINVAL;
	*unix_s = (int64_t)timegm(&tm);
	return 0;
}
