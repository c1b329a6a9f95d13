// SPDX-License-Identifier: Apache-2.0
/* Sorted-prefix CIDR set. Both families use one 128-bit key (two uint64 in host order):
 * IPv6 as is, IPv4 in the top 32 bits, so masking and comparing is one code path. */
#include "iprules/netset.h"

#include <endian.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct key {
	uint64_t hi, lo;
};

struct level {
	unsigned prefix;
	struct key *keys; /* sorted, distinct */
	size_t n;
};

struct family_set {
	struct level *levels;
	size_t nlevels;
	size_t count;
};

struct hw_netset {
	struct family_set fam[2]; /* [0] IPv4, [1] IPv6 */
};

static uint64_t load_be64(const uint8_t *p)
{
	uint64_t v;
	memcpy(&v, p, sizeof(v));
	return be64toh(v);
}

static struct key key_of(const uint8_t addr[16], int family)
{
	struct key k = {load_be64(addr), load_be64(addr + 8)};
	if (family == 4) {
		k.hi &= 0xffffffff00000000ULL;
		k.lo = 0;
	}
	return k;
}

/* `prefix` counts from the top of the 128-bit key for both families. */
static struct key key_mask(struct key k, unsigned prefix)
{
	if (prefix == 0)
		return (struct key){0, 0};
	if (prefix <= 64)
		return (struct key){k.hi & (~0ULL << (64 - prefix)), 0};
	return (struct key){k.hi, prefix == 128 ? k.lo : k.lo & (~0ULL << (128 - prefix))};
}

static int key_cmp(const struct key *a, const struct key *b)
{
	if (a->hi != b->hi)
		return a->hi < b->hi ? -1 : 1;
	if (a->lo != b->lo)
		return a->lo < b->lo ? -1 : 1;
	return 0;
}

static int key_cmp_v(const void *a, const void *b)
{
	return key_cmp(a, b);
}

int hw_netset_builder_add(struct hw_netset_builder *b, const struct hw_cidr *c)
{
	if (b->n == b->cap) {
		size_t ncap = b->cap ? b->cap * 2 : 64;
		struct hw_cidr *grown = realloc(b->items, ncap * sizeof(*grown));
		if (!grown)
			return -ENOMEM;
		b->items = grown;
		b->cap = ncap;
	}
	b->items[b->n++] = *c;
	return 0;
}

void hw_netset_builder_free(struct hw_netset_builder *b)
{
	free(b->items);
	memset(b, 0, sizeof(*b));
}

void hw_netset_free(struct hw_netset *s)
{
	if (!s)
		return;
	for (int f = 0; f < 2; f++) {
		for (size_t i = 0; i < s->fam[f].nlevels; i++)
			free(s->fam[f].levels[i].keys);
		free(s->fam[f].levels);
	}
	free(s);
}

/* Fills one family from the blocks of that family: counts per prefix, then one array per
 * prefix present, sorted and deduplicated. */
static int family_build(struct family_set *fs, const struct hw_netset_builder *b, int family)
{
	size_t per_prefix[129] = {0};
	unsigned width = family == 4 ? 32 : 128;

	for (size_t i = 0; i < b->n; i++)
		if (b->items[i].family == family && b->items[i].prefix <= width)
			per_prefix[b->items[i].prefix]++;
	for (unsigned p = 0; p <= width; p++)
		fs->nlevels += per_prefix[p] ? 1 : 0;
	if (!fs->nlevels)
		return 0;
	fs->levels = calloc(fs->nlevels, sizeof(*fs->levels));
	if (!fs->levels)
		return -ENOMEM;
	/* Longest prefixes first: bans (/32, /128) are the common case. */
	size_t li = 0;
	for (unsigned p = width + 1; p-- > 0;) {
		if (!per_prefix[p])
			continue;
		struct level *lv = &fs->levels[li++];
		lv->prefix = p;
		lv->keys = malloc(per_prefix[p] * sizeof(*lv->keys));
		if (!lv->keys)
			return -ENOMEM;
		for (size_t i = 0; i < b->n; i++) {
			const struct hw_cidr *c = &b->items[i];
			if (c->family == family && c->prefix == p)
				lv->keys[lv->n++] = key_mask(key_of(c->addr, family), p);
		}
		qsort(lv->keys, lv->n, sizeof(*lv->keys), key_cmp_v);
		size_t w = 0;
		for (size_t i = 0; i < lv->n; i++)
			if (w == 0 || key_cmp(&lv->keys[w - 1], &lv->keys[i]) != 0)
				lv->keys[w++] = lv->keys[i];
		lv->n = w;
		fs->count += w;
	}
	return 0;
}

struct hw_netset *hw_netset_build(struct hw_netset_builder *b)
{
	struct hw_netset *s = calloc(1, sizeof(*s));

	if (s && (family_build(&s->fam[0], b, 4) < 0 || family_build(&s->fam[1], b, 6) < 0)) {
		hw_netset_free(s);
		s = NULL;
	}
	hw_netset_builder_free(b);
	return s;
}

static bool level_has(const struct level *lv, const struct key *k)
{
	size_t lo = 0, hi = lv->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = key_cmp(&lv->keys[mid], k);
		if (c == 0)
			return true;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
}

bool hw_netset_contains(const struct hw_netset *s, const struct hw_ipaddr *ip)
{
	if (!s || (ip->family != 4 && ip->family != 6))
		return false;
	const struct family_set *fs = &s->fam[ip->family == 4 ? 0 : 1];
	if (!fs->nlevels)
		return false;
	struct key k = key_of(ip->addr, ip->family);
	for (size_t i = 0; i < fs->nlevels; i++) {
		struct key m = key_mask(k, fs->levels[i].prefix);
		if (level_has(&fs->levels[i], &m))
			return true;
	}
	return false;
}

size_t hw_netset_count(const struct hw_netset *s, int family)
{
	return s ? s->fam[family == 4 ? 0 : 1].count : 0;
}
