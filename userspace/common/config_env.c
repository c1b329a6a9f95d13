// SPDX-License-Identifier: Apache-2.0
/* Environment expansion in configuration scalars (SPEC §18): ${NAME}, ${NAME:-default}
 * (the default also replaces an empty value, as in the shell) and $$ for a literal '$'.
 * Any other '$' stays as written, so a password holding one needs no escaping. */
#include "common/config_walk.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool valid_name(const char *s, size_t n)
{
	if (n == 0 || !(isalpha((unsigned char)s[0]) || s[0] == '_'))
		return false;
	for (size_t i = 1; i < n; i++)
		if (!(isalnum((unsigned char)s[i]) || s[i] == '_'))
			return false;
	return true;
}

int hw_cfg_env_expand(const char *in, char **out, char *problem, size_t problem_len)
{
	char *buf = NULL;
	size_t size = 0;
	int ret = 0;
	FILE *m = open_memstream(&buf, &size);
	if (!m)
		return -ENOMEM;

	for (const char *p = in; *p; p++) {
		if (p[0] != '$' || (p[1] != '$' && p[1] != '{')) {
			fputc(*p, m);
			continue;
		}
		if (p[1] == '$') {
			fputc('$', m);
			p++;
			continue;
		}
		const char *start = p + 2;
		const char *close = strchr(start, '}');
		if (!close) {
			snprintf(problem, problem_len,
				 "unterminated \"${\" in environment reference");
			ret = -EINVAL;
			goto out;
		}
		const char *sep = memchr(start, ':', (size_t)(close - start));
		size_t name_len = (size_t)((sep ? sep : close) - start);
		if (!valid_name(start, name_len) || (sep && sep[1] != '-')) {
			snprintf(problem, problem_len, "invalid environment reference \"%.*s\"",
				 (int)(close - p + 1), p);
			ret = -EINVAL;
			goto out;
		}
		char name[256];
		if (name_len >= sizeof(name)) {
			snprintf(problem, problem_len, "environment variable name too long");
			ret = -EINVAL;
			goto out;
		}
		memcpy(name, start, name_len);
		name[name_len] = '\0';
		const char *value = getenv(name);
		if (sep && (!value || !*value))
			fwrite(sep + 2, 1, (size_t)(close - (sep + 2)), m);
		else if (value)
			fputs(value, m);
		else {
			snprintf(problem, problem_len, "environment variable %s is not set", name);
			ret = -EINVAL;
			goto out;
		}
		p = close;
	}
out:
	if (fclose(m) != 0 && ret == 0)
		ret = -ENOMEM;
	if (ret < 0)
		free(buf);
	else
		*out = buf;
	return ret;
}
