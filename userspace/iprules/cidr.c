// SPDX-License-Identifier: Apache-2.0
/* Parsing and printing addresses and CIDR blocks. inet_pton does the address grammar (it
 * already refuses zones, brackets, leading zeros in IPv4 and stray spaces); the prefix is
 * checked here: decimal digits only, at most three, within the family's width. */
#include "iprules/cidr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

static const uint8_t v4mapped_prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

/* ::ffff:a.b.c.d becomes a.b.c.d in place. */
static void unmap(struct hw_ipaddr *ip)
{
	if (ip->family == 6 && memcmp(ip->addr, v4mapped_prefix, 12) == 0) {
		memmove(ip->addr, ip->addr + 12, 4);
		memset(ip->addr + 4, 0, 12);
		ip->family = 4;
	}
}

int hw_ip_parse_n(const char *text, size_t len, struct hw_ipaddr *out)
{
	char buf[INET6_ADDRSTRLEN];

	memset(out, 0, sizeof(*out));
	if (len == 0 || len >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, text, len);
	buf[len] = '\0';
	if (inet_pton(AF_INET, buf, out->addr) == 1) {
		out->family = 4;
		return 0;
	}
	if (inet_pton(AF_INET6, buf, out->addr) == 1) {
		out->family = 6;
		unmap(out);
		return 0;
	}
	memset(out, 0, sizeof(*out));
	return -EINVAL;
}

int hw_ip_parse(const char *text, struct hw_ipaddr *out)
{
	return hw_ip_parse_n(text, strlen(text), out);
}

void hw_ip_format(const struct hw_ipaddr *ip, char *out, size_t cap)
{
	if (!inet_ntop(ip->family == 4 ? AF_INET : AF_INET6, ip->addr, out, (socklen_t)cap))
		snprintf(out, cap, "%s", "");
}

int hw_ip_from_sockaddr(const void *sa, struct hw_ipaddr *out)
{
	const struct sockaddr *s = sa;

	memset(out, 0, sizeof(*out));
	if (s->sa_family == AF_INET) {
		memcpy(out->addr, &((const struct sockaddr_in *)sa)->sin_addr, 4);
		out->family = 4;
		return 0;
	}
	if (s->sa_family == AF_INET6) {
		memcpy(out->addr, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
		out->family = 6;
		unmap(out);
		return 0;
	}
	return -EAFNOSUPPORT;
}

/* Clears every bit past `prefix`. */
static void mask(uint8_t addr[16], unsigned prefix)
{
	for (unsigned i = 0; i < 16; i++) {
		unsigned keep = prefix >= 8 * (i + 1) ? 8 : prefix > 8 * i ? prefix - 8 * i : 0;
		addr[i] &= (uint8_t)(keep ? 0xff << (8 - keep) : 0);
	}
}

int hw_cidr_parse(const char *text, struct hw_cidr *out)
{
	const char *slash = strchr(text, '/');
	size_t alen = slash ? (size_t)(slash - text) : strlen(text);
	struct hw_ipaddr ip;
	unsigned prefix, width;
	char raw[INET6_ADDRSTRLEN];
	bool v6_text;

	memset(out, 0, sizeof(*out));
	if (alen == 0 || alen >= sizeof(raw))
		return -EINVAL;
	memcpy(raw, text, alen);
	raw[alen] = '\0';
	/* Parse without unmapping first: a mapped block's prefix counts the 96 bits before
	 * the IPv4 part. */
	v6_text = strchr(raw, ':') != NULL;
	if (hw_ip_parse(raw, &ip) < 0)
		return -EINVAL;
	width = v6_text ? 128 : 32;
	prefix = width;
	if (slash) {
		const char *p = slash + 1;
		size_t n = strlen(p);
		if (n == 0 || n > 3 || strspn(p, "0123456789") != n)
			return -EINVAL;
		prefix = 0;
		for (size_t i = 0; i < n; i++)
			prefix = prefix * 10 + (unsigned)(p[i] - '0');
		if (prefix > width)
			return -EINVAL;
	}
	if (v6_text && ip.family == 4) {
		/* ::ffff:a.b.c.d/n: IPv4 when the block lies inside ::ffff:0:0/96. */
		if (prefix < 96) {
			out->family = 6;
			memcpy(out->addr, v4mapped_prefix, 12);
			memcpy(out->addr + 12, ip.addr, 4);
			out->prefix = (uint8_t)prefix;
			mask(out->addr, prefix);
			return 0;
		}
		prefix -= 96;
	}
	out->family = ip.family;
	out->prefix = (uint8_t)prefix;
	memcpy(out->addr, ip.addr, 16);
	mask(out->addr, prefix);
	return 0;
}

void hw_cidr_format(const struct hw_cidr *c, char *out, size_t cap)
{
	char addr[INET6_ADDRSTRLEN];
	struct hw_ipaddr ip = {.family = c->family};

	memcpy(ip.addr, c->addr, 16);
	/* inet_ntop would print a mapped /n < 96 block as ::ffff:a.b.c.d; any form is fine. */
	hw_ip_format(&ip, addr, sizeof(addr));
	snprintf(out, cap, "%s/%u", addr, (unsigned)c->prefix);
}

void hw_cidr_host(const struct hw_ipaddr *ip, struct hw_cidr *out)
{
	out->family = ip->family;
	out->prefix = ip->family == 4 ? 32 : 128;
	memcpy(out->addr, ip->addr, 16);
}

bool hw_cidr_contains(const struct hw_cidr *c, const struct hw_ipaddr *ip)
{
	uint8_t a[16];

	if (c->family != ip->family)
		return false;
	memcpy(a, ip->addr, 16);
	mask(a, c->prefix);
	return memcmp(a, c->addr, 16) == 0;
}
