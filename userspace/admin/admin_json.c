// SPDX-License-Identifier: Apache-2.0
/* Input side of the management API: strict JSON bodies (§1.3: unknown fields are a 400
 * naming the field), query strings, list pagination (§16.1), field checks shared by the
 * resources, and USD amounts read as exact decimals from the raw body text. */
#include "admin/admin_internal.h"

#include "common/clock.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool blank(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (!isspace((unsigned char)s[i]))
			return false;
	return true;
}

bool hw_admin_one_of(const char *s, const char *const *values)
{
	for (; *values; values++)
		if (strcmp(s, *values) == 0)
			return true;
	return false;
}

int hw_admin_body_parse(struct hw_admin_call *c, const char *const *allowed, json_t **out)
{
	const char *body = c->req->body;
	size_t len = body ? c->req->body_len : 0;
	json_t *obj = NULL, *v;
	json_error_t jerr;
	const char *name;
	int rc = -EINVAL;

	*out = NULL;
	if (blank(body, len)) {
		*out = json_object();
		return 0;
	}
	/* Duplicate members would make the request ambiguous. */
	obj = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!obj) {
		hw_admin_fail_param(c, NULL, "Request body is not valid JSON (line %d: %s).",
				    jerr.line, jerr.text);
		goto out;
	}
	if (!json_is_object(obj)) {
		hw_admin_fail_param(c, NULL, "Request body must be a JSON object.");
		goto out;
	}
	json_object_foreach(obj, name, v) {
		if (!hw_admin_one_of(name, allowed)) {
			hw_admin_fail_param(c, name, "Unknown field '%s'.", name);
			goto out;
		}
	}
	*out = obj;
	obj = NULL;
	rc = 0;
out:
	json_decref(obj);
	return rc;
}

static int hex_value(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

/* Percent-decodes [s, s+n) ('+' is a space) into out. */
static int query_decode(const char *s, size_t n, char *out, size_t len)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		char ch = s[i];

		if (ch == '%') {
			int hi = i + 2 < n ? hex_value(s[i + 1]) : -1;
			int lo = i + 2 < n ? hex_value(s[i + 2]) : -1;

			if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
				return -EINVAL;
			ch = (char)(hi * 16 + lo);
			i += 2;
		} else if (ch == '+') {
			ch = ' ';
		}
		if (o + 1 >= len)
			return -EINVAL;
		out[o++] = ch;
	}
	out[o] = '\0';
	return 0;
}

int hw_admin_query_get(const char *query, const char *name, char *out, size_t len)
{
	size_t nlen = strlen(name);
	const char *p = query;

	while (p && *p) {
		const char *amp = strchr(p, '&');
		size_t n = amp ? (size_t)(amp - p) : strlen(p);

		if (n >= nlen && memcmp(p, name, nlen) == 0 && (n == nlen || p[nlen] == '=')) {
			size_t skip = n == nlen ? nlen : nlen + 1;

			return query_decode(p + skip, n - skip, out, len);
		}
		p = amp ? amp + 1 : NULL;
	}
	return -ENOENT;
}

static bool cursor_valid(const char *s)
{
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '_')
			return false;
	return true;
}

int hw_admin_page_parse(struct hw_admin_call *c, int *limit, char cursor[HW_ID_MAX])
{
	char buf[8];
	int rc;

	*limit = HW_ADMIN_PAGE_DEFAULT;
	cursor[0] = '\0';
	rc = hw_admin_query_get(c->req->query, "limit", buf, sizeof(buf));
	if (rc == 0) {
		char *end;
		long v = strtol(buf, &end, 10);

		if (!isdigit((unsigned char)buf[0]) || *end || v < 1 || v > HW_ADMIN_PAGE_MAX)
			rc = -EINVAL;
		else
			*limit = (int)v;
	}
	if (rc == -EINVAL) {
		hw_admin_fail_param(c, "limit", "limit must be an integer from 1 to %d.",
				    HW_ADMIN_PAGE_MAX);
		return -EINVAL;
	}
	rc = hw_admin_query_get(c->req->query, "cursor", cursor, HW_ID_MAX);
	if (rc == -EINVAL || (rc == 0 && !cursor_valid(cursor))) {
		cursor[0] = '\0';
		hw_admin_fail_param(c, "cursor", "cursor is not a valid list cursor.");
		return -EINVAL;
	}
	if (rc == -ENOENT)
		cursor[0] = '\0';
	return 0;
}

json_t *hw_admin_page_body(json_t *data, const char *next_cursor)
{
	return json_pack("{s:o,s:o}", "data", data, "next_cursor",
			 next_cursor ? json_string(next_cursor) : json_null());
}

json_t *hw_admin_time_json(int64_t unix_s)
{
	char buf[21];

	if (!unix_s)
		return json_null();
	hw_clock_rfc3339(unix_s, buf);
	return json_string(buf);
}

static size_t utf8_chars(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		if (((unsigned char)*s & 0xC0) != 0x80)
			n++;
	return n;
}

int hw_admin_name_take(struct hw_admin_call *c, const json_t *v, const char *param, char *out,
		       size_t cap)
{
	const char *s;
	size_t chars;

	if (!v) {
		hw_admin_fail_param(c, param, "%s is required.", param);
		return -EINVAL;
	}
	s = json_string_value(v);
	chars = s ? utf8_chars(s) : 0;
	if (!s || chars < 1 || chars > HW_ADMIN_NAME_MAX_CHARS) {
		hw_admin_fail_param(c, param, "%s must be a string of 1 to %d characters.", param,
				    HW_ADMIN_NAME_MAX_CHARS);
		return -EINVAL;
	}
	for (const char *p = s; *p; p++) {
		if ((unsigned char)*p < 0x20 || *p == 0x7f) {
			hw_admin_fail_param(c, param, "%s must not contain control characters.",
					    param);
			return -EINVAL;
		}
	}
	if (strlen(s) >= cap) {
		hw_admin_fail_param(c, param, "%s must be at most %zu bytes of UTF-8.", param,
				    cap - 1);
		return -EINVAL;
	}
	memcpy(out, s, strlen(s) + 1);
	return 0;
}

int hw_admin_choice_take(struct hw_admin_call *c, const json_t *v, const char *param,
			 const char *const *values, char *out, size_t cap)
{
	const char *s = json_string_value(v);
	char list[128] = "";
	size_t used = 0;

	if (s && hw_admin_one_of(s, values) && strlen(s) < cap) {
		memcpy(out, s, strlen(s) + 1);
		return 0;
	}
	for (const char *const *p = values; *p; p++)
		used += (size_t)snprintf(list + used, sizeof(list) - used, "%s%s", used ? ", " : "",
					 *p);
	hw_admin_fail_param(c, param, "%s must be one of: %s.", param, list);
	return -EINVAL;
}

void hw_admin_utf8_cut(char *s, size_t max_chars, size_t max_bytes)
{
	size_t end = 0, chars = 0;

	/* Advance one whole character at a time while it still fits both limits. */
	while (s[end] && chars < max_chars) {
		size_t next = end + 1;

		while (((unsigned char)s[next] & 0xC0) == 0x80)
			next++;
		if (next > max_bytes)
			break;
		end = next;
		chars++;
	}
	s[end] = '\0';
}

/* Skips a JSON string or nested value starting at s[i], returning the index after it.
 * The text has already been accepted by jansson, so only the structure is tracked. */
static size_t skip_value(const char *s, size_t n, size_t i)
{
	int depth = 0;
	bool in_string = false;

	for (; i < n; i++) {
		char ch = s[i];

		if (in_string) {
			if (ch == '\\')
				i++;
			else if (ch == '"')
				in_string = false;
			if (!in_string && depth == 0)
				return i + 1;
			continue;
		}
		if (ch == '"') {
			in_string = true;
		} else if (ch == '{' || ch == '[') {
			depth++;
		} else if (ch == '}' || ch == ']') {
			if (depth == 0)
				return i;
			if (--depth == 0)
				return i + 1;
		} else if (ch == ',' && depth == 0) {
			return i;
		}
	}
	return n;
}

static size_t skip_space(const char *s, size_t n, size_t i)
{
	while (i < n && isspace((unsigned char)s[i]))
		i++;
	return i;
}

/* Raw text of the top-level member `name`; member names are compared after JSON
 * unescaping, so "a\u0062" is "ab". */
static int raw_member(const char *s, size_t n, const char *name, const char **val, size_t *vlen)
{
	size_t i = skip_space(s, n, 0);

	if (i >= n || s[i] != '{')
		return -EINVAL;
	i++;
	for (;;) {
		size_t kstart, kend, vstart, vend;
		json_t *key;
		bool same;

		i = skip_space(s, n, i);
		if (i >= n || s[i] != '"')
			return -ENOENT;
		kstart = i;
		kend = skip_value(s, n, i);
		key = json_loadb(s + kstart, kend - kstart, JSON_DECODE_ANY, NULL);
		same = key && json_is_string(key) && strcmp(json_string_value(key), name) == 0;
		json_decref(key);
		i = skip_space(s, n, kend);
		if (i >= n || s[i] != ':')
			return -EINVAL;
		vstart = skip_space(s, n, i + 1);
		vend = skip_value(s, n, vstart);
		if (same) {
			while (vend > vstart && isspace((unsigned char)s[vend - 1]))
				vend--;
			*val = s + vstart;
			*vlen = vend - vstart;
			return 0;
		}
		i = skip_space(s, n, vend);
		if (i >= n || s[i] != ',')
			return -ENOENT;
		i++;
	}
}

/* A JSON number as µ$: significant digits × 10^exponent, exact, never through a float
 * (§1.3). Trailing zeros are held back so "1.0000000" still has no seventh decimal. */
static int usd_parse(const char *s, size_t n, int64_t *micros)
{
	int64_t v = 0;
	size_t i = 0, sig = 0, zeros = 0;
	long exp10 = 6;
	bool negative = false;

	if (i < n && s[i] == '-') {
		negative = true;
		i++;
	}
	for (bool frac = false; i < n; i++) {
		if (s[i] == '.' && !frac) {
			frac = true;
			continue;
		}
		if (!isdigit((unsigned char)s[i]))
			break;
		if (frac)
			exp10--;
		if (s[i] == '0') {
			zeros += sig > 0;
			continue;
		}
		/* More than 18 significant digits overflow µ$ or exceed 6 decimals. */
		if (sig + zeros + 1 > 18)
			return -ERANGE;
		for (; zeros; zeros--, sig++)
			v *= 10;
		v = v * 10 + (s[i] - '0');
		sig++;
	}
	exp10 += (long)zeros;
	if (i < n && (s[i] == 'e' || s[i] == 'E')) {
		long e = 0;
		bool eneg = false;

		i++;
		if (i < n && (s[i] == '+' || s[i] == '-'))
			eneg = s[i++] == '-';
		for (; i < n && isdigit((unsigned char)s[i]); i++)
			if (e < 100000)
				e = e * 10 + (s[i] - '0');
		exp10 += eneg ? -e : e;
	}
	if (i != n)
		return -EINVAL;
	if (sig == 0) {
		*micros = 0;
		return 0;
	}
	if (negative)
		return -ERANGE;
	if (exp10 < 0)
		return -EINVAL;
	if ((long)sig + exp10 > 18)
		return -ERANGE;
	for (long k = 0; k < exp10; k++)
		v *= 10;
	*micros = v;
	return 0;
}

int hw_admin_usd_member(const char *body, size_t len, const char *name, int64_t *micros)
{
	const char *val;
	size_t vlen;
	int rc;

	if (!body)
		return -EINVAL;
	rc = raw_member(body, len, name, &val, &vlen);
	if (rc)
		return -EINVAL;
	return usd_parse(val, vlen, micros);
}
