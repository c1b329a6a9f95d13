// SPDX-License-Identifier: Apache-2.0
#include "common/json_usd.h"

#include "common/crypto.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Amounts travel as strings "\x01<nonce>:<number>". The nonce is drawn once per process and
 * never leaves it (the output holds only the number), so text from a client or a provider
 * cannot forge a marker and inject raw JSON. */
static char g_mark[24];         /* "\x01" + 16 hex + ':' */
static char g_mark_escaped[32]; /* the same as json_dumps writes it, with the opening quote */
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

static void init_mark(void)
{
	char nonce[17];
	if (hw_random_hex(nonce, 8) < 0)
		snprintf(nonce, sizeof(nonce), "%016llx", (unsigned long long)(uintptr_t)&g_mark);
	snprintf(g_mark, sizeof(g_mark), "\x01%s:", nonce);
	snprintf(g_mark_escaped, sizeof(g_mark_escaped), "\"\\u0001%s:", nonce);
}

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
	char num[24], text[48];
	hw_usd_format(micro, num);
	pthread_once(&g_once, init_mark);
	snprintf(text, sizeof(text), "%s%s", g_mark, num);
	return json_string(text);
}

char *hw_json_dumps(const json_t *json)
{
	char *text = json_dumps(json, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(6));
	pthread_once(&g_once, init_mark);
	if (!text || !strstr(text, g_mark_escaped))
		return text;
	/* Rewrite in place: each "\u0001usd:123.4" becomes 123.4, which is always shorter. */
	char *w = text;
	const char *r = text;
	const size_t mlen = strlen(g_mark_escaped);
	while (*r) {
		if (strncmp(r, g_mark_escaped, mlen) == 0) {
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
