// SPDX-License-Identifier: Apache-2.0
/* Step-3 lookup cost (SPEC §13.2): ns per hw_ruleset_perimeter call with 0, 1,000 and
 * 100,000 rules and bans, against the naive competitor, a linear scan over the same blocks.
 * The set mixes what a real perimeter holds: IPv4 /32 bans, IPv4 /24 and /16 denies, IPv6
 * /128 bans and /48 denies, a few allows. Queries are half addresses inside the set, half
 * random, 90 % IPv4. Each figure is the median of 5 rounds; the snapshot build time is
 * printed too (it happens off the request path). */
#include "iprules/cidr.h"
#include "iprules/ruleset.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define QUERIES 1000000
#define LINEAR_QUERIES 2000
#define ROUNDS 5

static uint64_t rng = 0x9e3779b97f4a7c15ULL;

static uint32_t next32(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng >> 16);
}

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void random_addr(struct hw_ipaddr *a, bool v6)
{
	memset(a, 0, sizeof(*a));
	a->family = v6 ? 6 : 4;
	for (int i = 0; i < (v6 ? 16 : 4); i++)
		a->addr[i] = (uint8_t)next32();
	if (v6) {
		a->addr[0] = 0x20; /* global unicast, never v4-mapped */
		a->addr[1] = 0x01;
	}
}

/* n rows: 1 % allows, the rest denies and bans of mixed sizes. */
static void make_rows(size_t n, struct hw_ip_rule **rules, size_t *nr, struct hw_ban **bans,
		      size_t *nb, struct hw_cidr *blocks, bool *allow)
{
	*rules = calloc(n ? n : 1, sizeof(**rules));
	*bans = calloc(n ? n : 1, sizeof(**bans));
	*nr = *nb = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned kind = next32() % 100;
		struct hw_ipaddr a;
		struct hw_cidr c;
		random_addr(&a, kind >= 90);
		hw_cidr_host(&a, &c);
		if (kind < 60 || (kind >= 90 && kind < 95))
			; /* host ban */
		else if (kind < 80)
			c.prefix = 24;
		else if (kind < 89)
			c.prefix = 16;
		else if (kind >= 95)
			c.prefix = 48;
		char text[HW_CIDR_TEXT_MAX];
		hw_cidr_format(&c, text, sizeof(text));
		hw_cidr_parse(text, &c); /* clears host bits */
		hw_cidr_format(&c, text, sizeof(text));
		blocks[i] = c;
		allow[i] = kind == 89;
		if (c.prefix == 32 || c.prefix == 128) {
			struct hw_ban *b = &(*bans)[(*nb)++];
			snprintf(b->id, sizeof(b->id), "ban_%zu", i);
			snprintf(b->cidr, sizeof(b->cidr), "%s", text);
			snprintf(b->reason, sizeof(b->reason), "auth_failures");
		} else {
			struct hw_ip_rule *r = &(*rules)[(*nr)++];
			snprintf(r->id, sizeof(r->id), "ipr_%zu", i);
			snprintf(r->cidr, sizeof(r->cidr), "%s", text);
			snprintf(r->action, sizeof(r->action), "%s", kind == 89 ? "allow" : "deny");
			r->kernel = true;
		}
	}
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return x < y ? -1 : x > y;
}

static double median(int64_t *v)
{
	qsort(v, ROUNDS, sizeof(*v), cmp_i64);
	return (double)v[ROUNDS / 2];
}

static void run(size_t n)
{
	struct hw_cidr *blocks = calloc(n ? n : 1, sizeof(*blocks));
	bool *is_allow = calloc(n ? n : 1, sizeof(*is_allow));
	struct hw_ip_rule *rules;
	struct hw_ban *bans;
	size_t nr, nb;
	struct hw_ruleset_opts o = {.workspace_rules_in_kernel = true};
	struct hw_ruleset *rs = NULL;
	make_rows(n, &rules, &nr, &bans, &nb, blocks, is_allow);
	int64_t t0 = now_ns();
	if (hw_ruleset_build(rules, nr, bans, nb, &o, 0, &rs) < 0) {
		fprintf(stderr, "build failed\n");
		exit(1);
	}
	double build_ms = (double)(now_ns() - t0) / 1e6;

	struct hw_ipaddr *q = calloc(QUERIES, sizeof(*q));
	for (size_t i = 0; i < QUERIES; i++) {
		if (n && (next32() & 1)) {
			const struct hw_cidr *c = &blocks[next32() % n];
			q[i].family = c->family;
			memcpy(q[i].addr, c->addr, 16);
		} else {
			random_addr(&q[i], next32() % 10 == 0);
		}
	}
	int64_t set_ns[ROUNDS], lin_ns[ROUNDS];
	unsigned denied = 0;
	for (int r = 0; r < ROUNDS; r++) {
		t0 = now_ns();
		for (size_t i = 0; i < QUERIES; i++)
			denied += hw_ruleset_perimeter(rs, &q[i]) != HW_IP_ALLOWED;
		set_ns[r] = now_ns() - t0;
		/* The competitor: every block checked in turn, allow beats deny as above. */
		t0 = now_ns();
		for (size_t i = 0; i < LINEAR_QUERIES; i++) {
			bool allow = false, deny = false;
			for (size_t k = 0; k < n; k++) {
				if (hw_cidr_contains(&blocks[k], &q[i])) {
					allow |= is_allow[k];
					deny |= !is_allow[k];
				}
			}
			denied += deny && !allow;
		}
		lin_ns[r] = now_ns() - t0;
	}
	double per_set = median(set_ns) / QUERIES, per_lin = median(lin_ns) / LINEAR_QUERIES;
	printf("%7zu rules  build %8.2f ms  sorted-prefix %7.1f ns/lookup  linear scan %10.1f "
	       "ns/lookup  ratio %7.1fx  (%u denials)\n",
	       n, build_ms, per_set, per_lin, per_set > 0 ? per_lin / per_set : 0.0, denied);
	hw_ruleset_free(rs);
	free(q);
	free(rules);
	free(bans);
	free(blocks);
	free(is_allow);
}

int main(void)
{
	run(0);
	run(1000);
	run(100000);
	return 0;
}
