// SPDX-License-Identifier: Apache-2.0
#include "auth/keys.h"

#include "common/crypto.h"

#include <string.h>
#include <strings.h>

static bool all_lower_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
			return false;
	}
	return true;
}

static bool all_alnum(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')))
			return false;
	}
	return true;
}

enum hw_key_shape hw_key_shape(const char *key)
{
	if (!key)
		return HW_KEY_SHAPE_INVALID;
	size_t n = strlen(key);
	const size_t live_pfx = sizeof(HW_KEY_LIVE_PREFIX) - 1;
	const size_t legacy_pfx = sizeof(HW_KEY_LEGACY_PREFIX) - 1;
	if (n == HW_KEY_LIVE_LEN && strncmp(key, HW_KEY_LIVE_PREFIX, live_pfx) == 0 &&
	    all_lower_hex(key + live_pfx, n - live_pfx))
		return HW_KEY_SHAPE_LIVE;
	if (n == HW_KEY_LEGACY_LEN && strncmp(key, HW_KEY_LEGACY_PREFIX, legacy_pfx) == 0 &&
	    all_alnum(key + legacy_pfx, n - legacy_pfx))
		return HW_KEY_SHAPE_LEGACY;
	return HW_KEY_SHAPE_INVALID;
}

int hw_key_generate(char out[HW_KEY_LIVE_LEN + 1])
{
	memcpy(out, HW_KEY_LIVE_PREFIX, sizeof(HW_KEY_LIVE_PREFIX) - 1);
	return hw_random_hex(out + sizeof(HW_KEY_LIVE_PREFIX) - 1, 16);
}

int hw_admin_token_generate(char out[HW_ADMIN_TOKEN_LEN + 1])
{
	memcpy(out, HW_ADMIN_TOKEN_PREFIX, sizeof(HW_ADMIN_TOKEN_PREFIX) - 1);
	return hw_random_hex(out + sizeof(HW_ADMIN_TOKEN_PREFIX) - 1, 32);
}

void hw_key_display_prefix(const char *key, char out[HW_KEY_DISPLAY_PREFIX_LEN + 1])
{
	size_t n = strnlen(key, HW_KEY_DISPLAY_PREFIX_LEN);
	memcpy(out, key, n);
	out[n] = '\0';
}

const char *hw_key_from_headers(const char *authorization, const char *x_api_key)
{
	if (authorization) {
		const char *p = authorization;
		while (*p == ' ')
			p++;
		if (strncasecmp(p, "bearer", 6) == 0 && (p[6] == ' ' || p[6] == '\t')) {
			p += 6;
			while (*p == ' ' || *p == '\t')
				p++;
			return *p ? p : NULL;
		}
		return NULL;
	}
	if (x_api_key && *x_api_key)
		return x_api_key;
	return NULL;
}
