// SPDX-License-Identifier: Apache-2.0
#include "common/ids.h"

#include "common/clock.h"
#include "common/crypto.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static const char crockford[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/* ULID randomness only has to make ids unique, not secret: a per-thread xorshift seeded
 * once from the CSPRNG spares a system call per request id. Secrets (keys, tokens) come
 * from hw_random_bytes directly. */
static uint64_t next_random(void)
{
	static __thread uint64_t state;
	while (state == 0 && hw_random_bytes(&state, sizeof(state)) < 0)
		state = (uint64_t)hw_clock_mono_ns();
	state ^= state << 13;
	state ^= state >> 7;
	state ^= state << 17;
	return state;
}

void hw_ulid_at(char out[HW_ULID_LEN + 1], uint64_t ms)
{
	unsigned char rnd[10];
	uint64_t a = next_random(), b = next_random();
	memcpy(rnd, &a, 8);
	memcpy(rnd + 8, &b, 2);
	/* 48-bit timestamp -> 10 characters, most significant first. */
	for (int i = 9; i >= 0; i--) {
		out[i] = crockford[ms & 31];
		ms >>= 5;
	}
	/* 80 random bits -> 16 characters. */
	uint64_t hi = 0, lo = 0;
	for (int i = 0; i < 5; i++)
		hi = (hi << 8) | rnd[i];
	for (int i = 5; i < 10; i++)
		lo = (lo << 8) | rnd[i];
	for (int i = 17; i >= 10; i--) {
		out[i] = crockford[hi & 31];
		hi >>= 5;
	}
	for (int i = 25; i >= 18; i--) {
		out[i] = crockford[lo & 31];
		lo >>= 5;
	}
	out[HW_ULID_LEN] = '\0';
}

void hw_ulid(char out[HW_ULID_LEN + 1]) { hw_ulid_at(out, (uint64_t)hw_clock_wall_ms()); }

int hw_id_make(char *out, size_t len, const char *prefix)
{
	char ulid[HW_ULID_LEN + 1];
	hw_ulid(ulid);
	int n = snprintf(out, len, "%s%s", prefix, ulid);
	return (n < 0 || (size_t)n >= len) ? -ENOSPC : 0;
}

bool hw_request_id_valid(const char *s)
{
	size_t n = 0;
	for (; s[n]; n++) {
		char c = s[n];
		bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
			  c == '.' || c == '_' || c == ':' || c == '-';
		if (!ok || n >= HW_REQUEST_ID_MAX)
			return false;
	}
	return n >= 1;
}
