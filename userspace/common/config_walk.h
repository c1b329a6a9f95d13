/* SPDX-License-Identifier: Apache-2.0 */
/* Internal to the configuration loader: a typed walk of a libyaml document against
 * field tables, the key path kept for messages, and the scalar conversions it uses. */
#ifndef HW_COMMON_CONFIG_WALK_H
#define HW_COMMON_CONFIG_WALK_H

#include "common/config.h"

#include <stddef.h>
#include <stdint.h>
#include <yaml.h>

struct hw_cfg_walk {
	yaml_document_t *doc;
	const char *name; /* file name in messages */
	char *err;
	size_t errlen;
	char path[512]; /* "guardian.dedup.count", "catalog.models[2].id" */
	size_t path_len;
};

enum hw_cfg_type {
	HW_CFG_T_INT,	   /* int64_t in [min, max] */
	HW_CFG_T_INT_NULL, /* same, or null stored as -1 */
	HW_CFG_T_BOOL,
	HW_CFG_T_STR,	   /* char *; `check` says what was expected when it refuses */
	HW_CFG_T_CHOICE,   /* char * holding the canonical spelling of one of `choices` */
	HW_CFG_T_ENUM,	   /* int holding the index into `choices` */
	HW_CFG_T_USD,	   /* int64_t µ$ >= min, at most 6 decimals */
	HW_CFG_T_USD_NULL, /* same, or null stored as -1 */
	HW_CFG_T_BP,	   /* a percentage with at most 2 decimals, held as int64_t basis points */
	HW_CFG_T_REAL,	   /* double in [fmin, fmax]; fmin excluded when excl_min */
	HW_CFG_T_STRLIST,  /* char ** with its size_t count at count_off; items checked */
	HW_CFG_T_INTLIST,  /* int64_t * with its size_t count at count_off; items in [min, max] */
	HW_CFG_T_MAP,	   /* `sub` over the same base */
	HW_CFG_T_CUSTOM,   /* `parse` and `release` */
};

struct hw_cfg_field {
	const char *key;
	enum hw_cfg_type type;
	size_t off, count_off;
	int64_t min, max;
	double fmin, fmax;
	bool excl_min;
	bool secret;				 /* never echo the value in a message */
	const char *const *choices;		 /* NULL-terminated */
	const char *const *aliases;		 /* pairs (alias, canonical), NULL-terminated */
	const char *(*check)(const char *value); /* NULL when valid, else what was expected */
	const struct hw_cfg_field *sub;
	int (*parse)(struct hw_cfg_walk *w, yaml_node_t *node, void *base);
	void (*release)(void *base);
};

#define HW_CFG_NOMAX INT64_MAX
/* $1e9 in µ$: far above any real amount, low enough that price arithmetic cannot overflow. */
#define HW_CFG_USD_MAX INT64_C(1000000000000000)

/* One table row per key; S is the struct the offsets are taken in. */
/* clang-format off */
#define HW_CFG_INT(S, k, m, lo, hi) \
	{ .key = (k), .type = HW_CFG_T_INT, .off = offsetof(S, m), .min = (lo), .max = (hi) }
#define HW_CFG_INT_NULL(S, k, m, lo, hi) \
	{ .key = (k), .type = HW_CFG_T_INT_NULL, .off = offsetof(S, m), .min = (lo), .max = (hi) }
#define HW_CFG_BOOL(S, k, m) \
	{ .key = (k), .type = HW_CFG_T_BOOL, .off = offsetof(S, m) }
#define HW_CFG_STR(S, k, m, chk) \
	{ .key = (k), .type = HW_CFG_T_STR, .off = offsetof(S, m), .check = (chk) }
#define HW_CFG_SECRET(S, k, m, chk) \
	{ .key = (k), .type = HW_CFG_T_STR, .off = offsetof(S, m), .check = (chk), .secret = true }
#define HW_CFG_CHOICE(S, k, m, ch, al) \
	{ .key = (k), .type = HW_CFG_T_CHOICE, .off = offsetof(S, m), .choices = (ch), \
	  .aliases = (al) }
#define HW_CFG_ENUM(S, k, m, ch) \
	{ .key = (k), .type = HW_CFG_T_ENUM, .off = offsetof(S, m), .choices = (ch) }
#define HW_CFG_USD(S, k, m) \
	{ .key = (k), .type = HW_CFG_T_USD, .off = offsetof(S, m), .max = HW_CFG_USD_MAX }
#define HW_CFG_USD_NULL(S, k, m) \
	{ .key = (k), .type = HW_CFG_T_USD_NULL, .off = offsetof(S, m), .max = HW_CFG_USD_MAX }
#define HW_CFG_BP(S, k, m) \
	{ .key = (k), .type = HW_CFG_T_BP, .off = offsetof(S, m), .max = 10000 }
#define HW_CFG_REAL(S, k, m, lo, hi) \
	{ .key = (k), .type = HW_CFG_T_REAL, .off = offsetof(S, m), .fmin = (lo), .fmax = (hi) }
#define HW_CFG_POSITIVE(S, k, m, hi) \
	{ .key = (k), .type = HW_CFG_T_REAL, .off = offsetof(S, m), .fmax = (hi), .excl_min = true }
#define HW_CFG_STRLIST(S, k, m, n, chk) \
	{ .key = (k), .type = HW_CFG_T_STRLIST, .off = offsetof(S, m), \
	  .count_off = offsetof(S, n), .check = (chk) }
#define HW_CFG_INTLIST(S, k, m, n, lo, hi) \
	{ .key = (k), .type = HW_CFG_T_INTLIST, .off = offsetof(S, m), \
	  .count_off = offsetof(S, n), .min = (lo), .max = (hi) }
#define HW_CFG_MAP(k, table) \
	{ .key = (k), .type = HW_CFG_T_MAP, .sub = (table) }
#define HW_CFG_CUSTOM(k, p, r) \
	{ .key = (k), .type = HW_CFG_T_CUSTOM, .parse = (p), .release = (r) }
#define HW_CFG_END { .key = NULL }
/* clang-format on */

/* Key path. push returns the length to restore with pop. */
size_t hw_cfg_path_push(struct hw_cfg_walk *w, const char *key);
size_t hw_cfg_path_push_index(struct hw_cfg_walk *w, size_t index);
void hw_cfg_path_pop(struct hw_cfg_walk *w, size_t saved);
void hw_cfg_path_set(struct hw_cfg_walk *w, const char *path);

/* Writes "FILE: key.path: problem" (or "FILE: problem" at the root); returns -EINVAL. */
int hw_cfg_fail(struct hw_cfg_walk *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* "a mapping", "a sequence", "null" or the quoted scalar text, for "got ..." parts. */
void hw_cfg_describe(yaml_node_t *node, const char *text, bool secret, char *buf, size_t len);

yaml_node_t *hw_cfg_node(struct hw_cfg_walk *w, int index);
bool hw_cfg_is_null(yaml_node_t *node);

/* Checks that `node` is a mapping (null counts as an empty one) with scalar, unique keys.
 * Sets *pairs and *n; the key text of pair i is hw_cfg_key(w, &pairs[i]). */
int hw_cfg_mapping(struct hw_cfg_walk *w, yaml_node_t *node, yaml_node_pair_t **pairs, size_t *n);

/* A mapping keyed by user-chosen names (providers, plans, keyword lists): calls `fn` for each
 * entry with the key path extended by its name; stops at the first error. */
typedef int (*hw_cfg_entry_fn)(struct hw_cfg_walk *w, struct hw_config *cfg, const char *name,
			       yaml_node_t *value);
int hw_cfg_each_entry(struct hw_cfg_walk *w, yaml_node_t *node, struct hw_config *cfg,
		      hw_cfg_entry_fn fn);
const char *hw_cfg_key(struct hw_cfg_walk *w, const yaml_node_pair_t *pair);
/* Checks that `node` is a sequence (null counts as an empty one). */
int hw_cfg_sequence(struct hw_cfg_walk *w, yaml_node_t *node, yaml_node_item_t **items, size_t *n);

/* The scalar's text after environment expansion, malloc'd, into *out. */
int hw_cfg_scalar(struct hw_cfg_walk *w, yaml_node_t *node, bool secret, char **out);
int hw_cfg_string(struct hw_cfg_walk *w, yaml_node_t *node, const struct hw_cfg_field *f,
		  char **out);
int hw_cfg_string_list(struct hw_cfg_walk *w, yaml_node_t *node, const char *(*check)(const char *),
		       char ***items, size_t *n);

/* Walks a mapping against `table`, storing into `base`. Bit i of *seen (may be NULL) is set
 * when table[i] was present. */
int hw_cfg_walk_map(struct hw_cfg_walk *w, yaml_node_t *node, const struct hw_cfg_field *table,
		    void *base, uint64_t *seen);
/* Whether the key `key` of `table` was among those a walk_map saw. */
bool hw_cfg_seen(uint64_t seen, const struct hw_cfg_field *table, const char *key);
/* One field's value, stored at base + f->off. */
int hw_cfg_walk_field(struct hw_cfg_walk *w, yaml_node_t *node, const struct hw_cfg_field *f,
		      void *base);
/* Frees what a table's fields own under `base`. */
void hw_cfg_release(const struct hw_cfg_field *table, void *base);
void hw_cfg_free_strv(char **v, size_t n);

/* Number syntax (config_number.c). All return 0 or -EINVAL (syntax) / -ERANGE. */
int hw_cfg_parse_int(const char *s, int64_t *out);
/* Decimal with at most `scale` fractional digits, as value × 10^scale; never through a float. */
int hw_cfg_parse_fixed(const char *s, unsigned int scale, int64_t *out);
int hw_cfg_parse_real(const char *s, double *out);
int hw_cfg_parse_bool(const char *s, bool *out);

/* ${NAME}, ${NAME:-default}, $$ (config_env.c). On -EINVAL `problem` says why. */
int hw_cfg_env_expand(const char *in, char **out, char *problem, size_t problem_len);

/* Value checks shared by the tables (config_check.c): NULL or what was expected. */
const char *hw_cfg_check_store(const char *v);
const char *hw_cfg_check_admin_token(const char *v);
const char *hw_cfg_check_master_key(const char *v);
const char *hw_cfg_check_listen(const char *v);
const char *hw_cfg_check_cidr(const char *v);
const char *hw_cfg_check_http_url(const char *v);
const char *hw_cfg_check_http_url_or_empty(const char *v);
const char *hw_cfg_check_model_id(const char *v);
const char *hw_cfg_check_name(const char *v);
const char *hw_cfg_check_node_id(const char *v);
const char *hw_cfg_check_nonempty(const char *v);
const char *hw_cfg_check_abs_path(const char *v);
const char *hw_cfg_check_ifname(const char *v);
/* Splits a valid listen entry; host is malloc'd. */
int hw_cfg_listen_split(const char *v, struct hw_cfg_listen *out);
/* Decodes a valid non-empty master key (64 hex or base64 of 32 bytes). */
int hw_cfg_master_key_decode(const char *v, uint8_t out[32]);

/* The sections (config_schema.c) and their custom parts (config_providers.c). */
extern const struct hw_cfg_field hw_cfg_root[];
extern const char hw_cfg_defaults_yaml[];
int hw_cfg_parse_providers(struct hw_cfg_walk *w, yaml_node_t *node, void *base);
void hw_cfg_release_providers(void *base);
int hw_cfg_parse_models(struct hw_cfg_walk *w, yaml_node_t *node, void *base);
void hw_cfg_release_models(void *base);
/* After both passes: inherited timeouts, kind rules, derived catalog fields. */
int hw_cfg_finish_providers(struct hw_cfg_walk *w, struct hw_config *cfg);

#endif
