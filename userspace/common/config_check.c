// SPDX-License-Identifier: Apache-2.0
/* What a valid configuration string looks like: each check returns NULL when the value is
 * valid, else the "expected ..." phrase of the error message. */
#include "common/config_walk.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

static bool all_digits(const char *s, size_t n)
{
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isdigit((unsigned char)s[i]))
			return false;
	return true;
}

static bool valid_port(const char *s, size_t n)
{
	if (!all_digits(s, n) || n > 5)
		return false;
	long v = strtol(s, NULL, 10);
	return v >= 1 && v <= 65535;
}

static bool valid_hostname(const char *s, size_t n)
{
	if (n == 0 || n > 253)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!(isalnum((unsigned char)s[i]) || s[i] == '-' || s[i] == '.' || s[i] == '_'))
			return false;
	return true;
}

/* host[:port] or [v6][:port]; with need_port the port is required. */
static bool valid_hostport(const char *s, size_t n, bool need_port)
{
	char v6[INET6_ADDRSTRLEN];
	struct in6_addr a6;
	const char *end = s + n, *colon;

	if (n && s[0] == '[') {
		const char *close = memchr(s, ']', n);
		size_t hl = close ? (size_t)(close - s - 1) : 0;
		if (!close || hl == 0 || hl >= sizeof(v6))
			return false;
		memcpy(v6, s + 1, hl);
		v6[hl] = '\0';
		if (inet_pton(AF_INET6, v6, &a6) != 1)
			return false;
		if (close + 1 == end)
			return !need_port;
		return close[1] == ':' && valid_port(close + 2, (size_t)(end - close - 2));
	}
	colon = memchr(s, ':', n);
	if (!colon)
		return !need_port && valid_hostname(s, n);
	return valid_hostname(s, (size_t)(colon - s)) &&
	       valid_port(colon + 1, (size_t)(end - colon - 1));
}

const char *hw_cfg_check_store(const char *v)
{
	static const char expected[] =
		"\"sqlite:PATH\" or \"redis://[:PASSWORD@]HOST[:PORT][/DB]\"";
	if (strncmp(v, "sqlite:", 7) == 0)
		return v[7] ? NULL : expected;
	if (strncmp(v, "redis://", 8) != 0)
		return expected;
	const char *p = v + 8, *at = strrchr(p, '@');
	if (at)
		p = at + 1;
	const char *slash = strchr(p, '/');
	size_t hl = slash ? (size_t)(slash - p) : strlen(p);
	if (!valid_hostport(p, hl, false))
		return expected;
	if (slash && !all_digits(slash + 1, strlen(slash + 1)))
		return expected;
	return NULL;
}

const char *hw_cfg_check_admin_token(const char *v)
{
	size_t n = strlen(v);
	for (size_t i = 0; i < n; i++)
		if (!isgraph((unsigned char)v[i]))
			return "empty or at least 32 printable characters without spaces";
	return n == 0 || n >= 32 ? NULL
				 : "empty or at least 32 printable characters without spaces";
}

static int b64_value(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+' || c == '-')
		return 62;
	if (c == '/' || c == '_')
		return 63;
	return -1;
}

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (char)tolower((unsigned char)c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

int hw_cfg_master_key_decode(const char *v, uint8_t out[32])
{
	size_t n = strlen(v);
	if (n == 64) {
		for (size_t i = 0; i < 32; i++) {
			int hi = hex_value(v[2 * i]), lo = hex_value(v[2 * i + 1]);
			if (hi < 0 || lo < 0)
				goto base64;
			out[i] = (uint8_t)(hi << 4 | lo);
		}
		return 0;
	}
base64:
	/* 32 bytes are 43 symbols, the last carrying 2 bits, then an optional '='. */
	if (!(n == 43 || (n == 44 && v[43] == '=')))
		return -EINVAL;
	uint32_t acc = 0;
	int bits = 0;
	size_t o = 0;
	for (size_t i = 0; i < 43; i++) {
		int d = b64_value(v[i]);
		if (d < 0)
			return -EINVAL;
		acc = acc << 6 | (uint32_t)d;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (uint8_t)(acc >> bits);
			acc &= (1u << bits) - 1;
		}
	}
	return acc == 0 && o == 32 ? 0 : -EINVAL;
}

const char *hw_cfg_check_master_key(const char *v)
{
	uint8_t raw[32];
	if (!*v || hw_cfg_master_key_decode(v, raw) == 0)
		return NULL;
	return "empty, 64 hex characters or base64 of 32 bytes";
}

const char *hw_cfg_check_listen(const char *v)
{
	if (valid_hostport(v, strlen(v), true))
		return NULL;
	return "\"HOST:PORT\" or \"[IPV6]:PORT\" with a port between 1 and 65535";
}

int hw_cfg_listen_split(const char *v, struct hw_cfg_listen *out)
{
	const char *colon = strrchr(v, ':');
	bool v6 = v[0] == '[';
	size_t hl = (size_t)(colon - v) - (v6 ? 2 : 0);
	out->host = strndup(v + (v6 ? 1 : 0), hl);
	if (!out->host)
		return -ENOMEM;
	out->port = (uint16_t)strtol(colon + 1, NULL, 10);
	out->ipv6 = v6;
	return 0;
}

const char *hw_cfg_check_cidr(const char *v)
{
	static const char expected[] = "an IPv4 or IPv6 address or CIDR";
	char addr[INET6_ADDRSTRLEN];
	unsigned char buf[sizeof(struct in6_addr)];
	const char *slash = strchr(v, '/');
	size_t al = slash ? (size_t)(slash - v) : strlen(v);
	int max;

	if (al == 0 || al >= sizeof(addr))
		return expected;
	memcpy(addr, v, al);
	addr[al] = '\0';
	if (inet_pton(AF_INET, addr, buf) == 1)
		max = 32;
	else if (inet_pton(AF_INET6, addr, buf) == 1)
		max = 128;
	else
		return expected;
	if (slash) {
		size_t pl = strlen(slash + 1);
		if (!all_digits(slash + 1, pl) || pl > 3 || strtol(slash + 1, NULL, 10) > max)
			return expected;
	}
	return NULL;
}

const char *hw_cfg_check_http_url(const char *v)
{
	static const char expected[] = "an http:// or https:// URL";
	const char *host;
	if (strncmp(v, "http://", 7) == 0)
		host = v + 7;
	else if (strncmp(v, "https://", 8) == 0)
		host = v + 8;
	else
		return expected;
	if (!*host || *host == '/')
		return expected;
	for (const char *p = v; *p; p++)
		if (!isgraph((unsigned char)*p))
			return expected;
	return NULL;
}

const char *hw_cfg_check_http_url_or_empty(const char *v)
{
	return !*v || !hw_cfg_check_http_url(v) ? NULL : "empty or an http:// or https:// URL";
}

const char *hw_cfg_check_model_id(const char *v)
{
	const char *slash = strchr(v, '/');
	if (!slash || slash == v || !slash[1])
		return "a model id \"provider/model\"";
	for (const char *p = v; *p; p++)
		if (!isgraph((unsigned char)*p))
			return "a model id \"provider/model\"";
	return NULL;
}

const char *hw_cfg_check_name(const char *v)
{
	static const char expected[] = "a name of 1 to 64 letters, digits, '_' or '-'";
	size_t n = strlen(v);
	if (n == 0 || n > 64)
		return expected;
	for (size_t i = 0; i < n; i++)
		if (!(isalnum((unsigned char)v[i]) || v[i] == '_' || v[i] == '-'))
			return expected;
	return NULL;
}

const char *hw_cfg_check_node_id(const char *v)
{
	size_t n = strlen(v);
	if (n > 128)
		return "empty or up to 128 printable characters without spaces";
	for (size_t i = 0; i < n; i++)
		if (!isgraph((unsigned char)v[i]))
			return "empty or up to 128 printable characters without spaces";
	return NULL;
}

const char *hw_cfg_check_nonempty(const char *v) { return *v ? NULL : "a non-empty string"; }

const char *hw_cfg_check_abs_path(const char *v) { return v[0] == '/' ? NULL : "an absolute path"; }

const char *hw_cfg_check_ifname(const char *v)
{
	static const char expected[] = "an interface name of 1 to 15 characters";
	size_t n = strlen(v);
	if (n == 0 || n > 15)
		return expected;
	for (size_t i = 0; i < n; i++)
		if (!isgraph((unsigned char)v[i]) || v[i] == '/' || v[i] == ':')
			return expected;
	return NULL;
}
