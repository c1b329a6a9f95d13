// SPDX-License-Identifier: Apache-2.0
#include "common/json_usd.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A control character cannot appear unescaped in JSON output, so the escaped marker
 * below can only come from hw_json_usd. */
#define MARK "\x01usd:"
#define MARK_ESCAPED "\"\\u0001usd:"

void hw_usd_format(int64_t micro, char out[24])
{
	uint64_t v = micro < 0 ? (uint64_t)0 - (uint64_t)micro : (uint64_t)micro;
	int n = snprintf(out, 24, "%s%" PRIu64, micro < 0 ? "-" : "", v / 1000000);
	uint64_t frac = v % 1000000;
	if (frac == 0)
		return;
	char digits[8];
	snprintf(digits, sizeof(digits), "%06" PRIu64, frac);
	size_t d = 6;
	while (d > 0 && digits[d - 1] == '0')
		d--;
	snprintf(out + n, (size_t)(24 - n), ".%.*s", (int)d, digits);
}

json_t *hw_json_usd(int64_t micro)
{
	char num[24], text[32];
	hw_usd_format(micro, num);
	snprintf(text, sizeof(text), MARK "%s", num);
	return json_string(text);
}

char *hw_json_dumps(const json_t *json)
{
	char *text = json_dumps(json, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(6));
	if (!text || !strstr(text, MARK_ESCAPED))
		return text;
	/* Rewrite in place: each "\u0001usd:123.4" becomes 123.4, which is always shorter. */
	char *w = text;
	const char *r = text;
	const size_t mlen = strlen(MARK_ESCAPED);
	while (*r) {
		if (strncmp(r, MARK_ESCAPED, mlen) == 0) {
			r += mlen;
			while (*r && *r != '"')
				*w++ = *r++;
			if (*r == '"')
				r++;
			continue;
		}
		*w++ = *r++;
	}
	*w = '\0';
	return text;
}
