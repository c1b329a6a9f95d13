/* SPDX-License-Identifier: Apache-2.0 */
/* Addresses and CIDR blocks for IP rules (SPEC §13). One representation for both families:
 * 16 bytes in network order, IPv4 in the first four, so the rule sets and the client-IP
 * code compare raw bytes and never go back through text. An IPv4-mapped IPv6 address
 * (::ffff:a.b.c.d) is IPv4 everywhere here, as §13.1 wants for the client IP. */
#ifndef HW_IPRULES_CIDR_H
#define HW_IPRULES_CIDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255/128" and its NUL. */
#define HW_CIDR_TEXT_MAX 54
#define HW_IP_TEXT_MAX 46

struct hw_ipaddr {
	uint8_t family; /* 4 | 6; 0 = none */
	uint8_t addr[16];
};

struct hw_cidr {
	uint8_t family;	  /* 4 | 6 */
	uint8_t prefix;	  /* 0-32 | 0-128 */
	uint8_t addr[16]; /* host bits cleared */
};

/* A bare address, v4 or v6 (no zone, no brackets); -EINVAL otherwise. */
int hw_ip_parse(const char *text, struct hw_ipaddr *out);
/* The same over `len` bytes that need not end with a NUL. */
int hw_ip_parse_n(const char *text, size_t len, struct hw_ipaddr *out);
/* Canonical text (inet_ntop); out needs HW_IP_TEXT_MAX bytes. */
void hw_ip_format(const struct hw_ipaddr *ip, char *out, size_t cap);
/* From a socket address (AF_INET / AF_INET6); -EAFNOSUPPORT for anything else. */
int hw_ip_from_sockaddr(const void *sa, struct hw_ipaddr *out);

/* "a.b.c.d[/n]" or "v6[/n]": a bare address is /32 or /128, host bits are cleared, an
 * IPv4-mapped block of /96 or longer becomes the IPv4 block. -EINVAL otherwise. */
int hw_cidr_parse(const char *text, struct hw_cidr *out);
/* Normalized text, "10.0.0.0/8"; out needs HW_CIDR_TEXT_MAX bytes. */
void hw_cidr_format(const struct hw_cidr *c, char *out, size_t cap);
/* The single-address block of `ip` (/32 or /128). */
void hw_cidr_host(const struct hw_ipaddr *ip, struct hw_cidr *out);
bool hw_cidr_contains(const struct hw_cidr *c, const struct hw_ipaddr *ip);

#endif
