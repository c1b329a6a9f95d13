// SPDX-License-Identifier: Apache-2.0
/* The typed walk of a libyaml document against field tables (config_walk.h). Each value is
 * checked where it is read, so the first problem stops the load with its exact key path.
 * Walking a mapping only writes the keys it holds: that is how the file overlays the
 * defaults, and how provider entries merge by id. */
#include "common/config_walk.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

__attribute__((format(printf, 2, 3))) static size_t path_append(struct hw_cfg_walk *w,
								const char *fmt, ...)
{
	size_t saved = w->path_len, room = sizeof(w->path) - w->path_len;
	va_list ap;
	va_start(ap, fmt);
	/* va_start is right above; clang-analyzer misreads it. */
	// NOLINTNEXTLINE(clang-analyzer-valist.Uninitialized)
	int n = vsnprintf(w->path + w->path_len, room, fmt, ap);
	va_end(ap);
	if (n > 0)
		w->path_len += (size_t)n < room ? (size_t)n : room - 1;
	return saved;
}

size_t hw_cfg_path_push(struct hw_cfg_walk *w, const char *key)
{
	return path_append(w, "%s%s", w->path_len ? "." : "", key);
}

size_t hw_cfg_path_push_index(struct hw_cfg_walk *w, size_t index)
{
	return path_append(w, "[%zu]", index);
}

void hw_cfg_path_pop(struct hw_cfg_walk *w, size_t saved)
{
	w->path_len = saved;
	w->path[saved] = '\0';
}

void hw_cfg_path_set(struct hw_cfg_walk *w, const char *path)
{
	hw_cfg_path_pop(w, 0);
	hw_cfg_path_push(w, path);
}

int hw_cfg_fail(struct hw_cfg_walk *w, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	/* va_start is right above; clang-analyzer misreads it. */
	// NOLINTNEXTLINE(clang-analyzer-valist.Uninitialized)
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (w->path_len)
		snprintf(w->err, w->errlen, "%s: %s: %s", w->name, w->path, msg);
	else
		snprintf(w->err, w->errlen, "%s: %s", w->name, msg);
	/* Keys and references come from the file: keep the message on one line. */
	for (char *p = w->err; w->errlen && *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	return -EINVAL;
}

yaml_node_t *hw_cfg_node(struct hw_cfg_walk *w, int index)
{
	return yaml_document_get_node(w->doc, index);
}

bool hw_cfg_is_null(yaml_node_t *node)
{
	static const char *const nulls[] = {"", "~", "null", "Null", "NULL"};
	if (!node || node->type != YAML_SCALAR_NODE ||
	    node->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return false;
	for (size_t i = 0; i < sizeof(nulls) / sizeof(nulls[0]); i++)
		if (strcmp((const char *)node->data.scalar.value, nulls[i]) == 0)
			return true;
	return false;
}

void hw_cfg_describe(yaml_node_t *node, const char *text, bool secret, char *buf, size_t len)
{
	if (node->type == YAML_MAPPING_NODE) {
		snprintf(buf, len, "a mapping");
		return;
	}
	if (node->type == YAML_SEQUENCE_NODE) {
		snprintf(buf, len, "a sequence");
		return;
	}
	if (!text && hw_cfg_is_null(node)) {
		snprintf(buf, len, "null");
		return;
	}
	if (!text)
		text = (const char *)node->data.scalar.value;
	if (secret) {
		snprintf(buf, len, "a value of %zu characters", strlen(text));
		return;
	}
	/* Quoted, escaped and cut, so the message stays one readable line. */
	size_t o = 0, shown = 0;
	if (len < 8)
		return;
	buf[o++] = '"';
	for (const unsigned char *p = (const unsigned char *)text; *p && o + 8 < len; p++) {
		if (++shown > 80) {
			o += (size_t)snprintf(buf + o, len - o, "...");
			break;
		}
		if (*p == '"' || *p == '\\')
			o += (size_t)snprintf(buf + o, len - o, "\\%c", *p);
		else if (*p < 0x20 || *p == 0x7f)
			o += (size_t)snprintf(buf + o, len - o, "\\x%02x", *p);
		else
			buf[o++] = (char)*p;
	}
	buf[o++] = '"';
	buf[o] = '\0';
}

static int fail_expected(struct hw_cfg_walk *w, yaml_node_t *node, const char *text, bool secret,
			 const char *expected)
{
	char got[200];
	hw_cfg_describe(node, text, secret, got, sizeof(got));
	return hw_cfg_fail(w, "expected %s, got %s", expected, got);
}

int hw_cfg_each_entry(struct hw_cfg_walk *w, yaml_node_t *node, struct hw_config *cfg,
		      hw_cfg_entry_fn fn)
{
	yaml_node_pair_t *pairs;
	size_t n;
	int ret = hw_cfg_mapping(w, node, &pairs, &n);
	for (size_t i = 0; ret == 0 && i < n; i++) {
		const char *name = hw_cfg_key(w, &pairs[i]);
		size_t saved = hw_cfg_path_push(w, name);
		ret = fn(w, cfg, name, hw_cfg_node(w, pairs[i].value));
		hw_cfg_path_pop(w, saved);
	}
	return ret;
}

int hw_cfg_mapping(struct hw_cfg_walk *w, yaml_node_t *node, yaml_node_pair_t **pairs, size_t *n)
{
	*pairs = NULL;
	*n = 0;
	if (!node || hw_cfg_is_null(node))
		return 0;
	if (node->type != YAML_MAPPING_NODE)
		return fail_expected(w, node, NULL, false, "a mapping");
	yaml_node_pair_t *p = node->data.mapping.pairs.start;
	size_t count = (size_t)(node->data.mapping.pairs.top - p);
	for (size_t i = 0; i < count; i++) {
		yaml_node_t *k = hw_cfg_node(w, p[i].key);
		if (!k || k->type != YAML_SCALAR_NODE)
			return hw_cfg_fail(w, "mapping keys must be scalars");
		for (size_t j = 0; j < i; j++) {
			if (strcmp(hw_cfg_key(w, &p[j]), (const char *)k->data.scalar.value) == 0) {
				size_t saved =
					hw_cfg_path_push(w, (const char *)k->data.scalar.value);
				int ret = hw_cfg_fail(w, "duplicate key");
				hw_cfg_path_pop(w, saved);
				return ret;
			}
		}
	}
	*pairs = p;
	*n = count;
	return 0;
}

const char *hw_cfg_key(struct hw_cfg_walk *w, const yaml_node_pair_t *pair)
{
	return (const char *)hw_cfg_node(w, pair->key)->data.scalar.value;
}

int hw_cfg_sequence(struct hw_cfg_walk *w, yaml_node_t *node, yaml_node_item_t **items, size_t *n)
{
	*items = NULL;
	*n = 0;
	if (!node || hw_cfg_is_null(node))
		return 0;
	if (node->type != YAML_SEQUENCE_NODE)
		return fail_expected(w, node, NULL, false, "a sequence");
	*items = node->data.sequence.items.start;
	*n = (size_t)(node->data.sequence.items.top - *items);
	return 0;
}

int hw_cfg_scalar(struct hw_cfg_walk *w, yaml_node_t *node, bool secret, char **out)
{
	char problem[300];
	if (node->type != YAML_SCALAR_NODE)
		return fail_expected(w, node, NULL, secret, "a scalar");
	if (strlen((const char *)node->data.scalar.value) != node->data.scalar.length)
		return hw_cfg_fail(w, "value contains a NUL character");
	int ret = hw_cfg_env_expand((const char *)node->data.scalar.value, out, problem,
				    sizeof(problem));
	if (ret == -EINVAL)
		return hw_cfg_fail(w, "%s", problem);
	return ret;
}

/* A string field: null reads as "", the way `token:` with nothing after it is meant. */
int hw_cfg_string(struct hw_cfg_walk *w, yaml_node_t *node, const struct hw_cfg_field *f,
		  char **out)
{
	char *s = NULL;
	int ret;
	if (node->type != YAML_SCALAR_NODE)
		return fail_expected(w, node, NULL, f->secret, "a string");
	if (hw_cfg_is_null(node))
		s = strdup("");
	else if ((ret = hw_cfg_scalar(w, node, f->secret, &s)) < 0)
		return ret;
	if (!s)
		return -ENOMEM;
	const char *expected = f->check ? f->check(s) : NULL;
	if (expected) {
		ret = fail_expected(w, node, s, f->secret, expected);
		free(s);
		return ret;
	}
	*out = s;
	return 0;
}

void hw_cfg_free_strv(char **v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		free(v[i]);
	free(v);
}

int hw_cfg_string_list(struct hw_cfg_walk *w, yaml_node_t *node, const char *(*check)(const char *),
		       char ***items, size_t *n)
{
	struct hw_cfg_field f = {.check = check};
	yaml_node_item_t *it;
	size_t count, i = 0;
	char **v = NULL;
	int ret = hw_cfg_sequence(w, node, &it, &count);
	if (ret < 0)
		return ret;
	if (count) {
		v = calloc(count, sizeof(*v));
		if (!v)
			return -ENOMEM;
	}
	for (; i < count; i++) {
		size_t saved = hw_cfg_path_push_index(w, i);
		yaml_node_t *item = hw_cfg_node(w, it[i]);
		ret = hw_cfg_is_null(item) ? fail_expected(w, item, NULL, false, "a string")
					   : hw_cfg_string(w, item, &f, &v[i]);
		hw_cfg_path_pop(w, saved);
		if (ret < 0)
			goto out;
	}
	*items = v;
	*n = count;
out:
	if (ret < 0)
		hw_cfg_free_strv(v, i);
	return ret;
}

static int choice_index(const struct hw_cfg_field *f, const char *s)
{
	if (!s)
		return -1;
	for (size_t a = 0; f->aliases && f->aliases[a]; a += 2)
		if (strcmp(s, f->aliases[a]) == 0)
			s = f->aliases[a + 1];
	for (int i = 0; f->choices[i]; i++)
		if (strcmp(s, f->choices[i]) == 0)
			return i;
	return -1;
}

static int fail_choice(struct hw_cfg_walk *w, yaml_node_t *node, const char *text,
		       const struct hw_cfg_field *f)
{
	char expected[300];
	size_t o = (size_t)snprintf(expected, sizeof(expected), "one of ");
	for (size_t i = 0; f->choices[i] && o < sizeof(expected); i++)
		o += (size_t)snprintf(expected + o, sizeof(expected) - o, "%s%s", i ? ", " : "",
				      f->choices[i]);
	return fail_expected(w, node, text, false, expected);
}

static void int_expected(const struct hw_cfg_field *f, const char *what, bool nullable, char *buf,
			 size_t len)
{
	if (f->max == HW_CFG_NOMAX)
		snprintf(buf, len, "%s >= %" PRId64 "%s", what, f->min, nullable ? " or null" : "");
	else
		snprintf(buf, len, "%s between %" PRId64 " and %" PRId64 "%s", what, f->min, f->max,
			 nullable ? " or null" : "");
}

static void real_expected(const struct hw_cfg_field *f, char *buf, size_t len)
{
	if (f->excl_min && f->fmax == HUGE_VAL)
		snprintf(buf, len, "number > %g", f->fmin);
	else if (f->excl_min)
		snprintf(buf, len, "number > %g and <= %g", f->fmin, f->fmax);
	else if (f->fmax == HUGE_VAL)
		snprintf(buf, len, "number >= %g", f->fmin);
	else
		snprintf(buf, len, "number between %g and %g", f->fmin, f->fmax);
}

/* One integer-like scalar: plain integers, USD amounts and percentages share the range
 * check and the message shape. */
static int walk_int(struct hw_cfg_walk *w, yaml_node_t *node, const struct hw_cfg_field *f,
		    int64_t *dst)
{
	bool nullable = f->type == HW_CFG_T_INT_NULL || f->type == HW_CFG_T_USD_NULL;
	char expected[160], *s = NULL;
	int64_t v = 0;
	int ret;

	if (f->type == HW_CFG_T_USD || f->type == HW_CFG_T_USD_NULL)
		snprintf(expected, sizeof(expected),
			 "USD amount between 0 and %" PRId64 " with at most 6 decimals%s",
			 f->max / 1000000, nullable ? " or null" : "");
	else if (f->type == HW_CFG_T_BP)
		snprintf(expected, sizeof(expected),
			 "percentage between 0 and 100 with at most 2 decimals");
	else
		int_expected(f, "integer", nullable, expected, sizeof(expected));

	if (nullable && hw_cfg_is_null(node)) {
		*dst = -1;
		return 0;
	}
	if (node->type != YAML_SCALAR_NODE || hw_cfg_is_null(node))
		return fail_expected(w, node, NULL, false, expected);
	ret = hw_cfg_scalar(w, node, false, &s);
	if (ret < 0)
		return ret;
	if (f->type == HW_CFG_T_USD || f->type == HW_CFG_T_USD_NULL)
		ret = hw_cfg_parse_fixed(s, 6, &v);
	else if (f->type == HW_CFG_T_BP)
		ret = hw_cfg_parse_fixed(s, 2, &v);
	else
		ret = hw_cfg_parse_int(s, &v);
	if (ret < 0 || v < f->min || (f->max != HW_CFG_NOMAX && v > f->max)) {
		ret = fail_expected(w, node, s, false, expected);
		goto out;
	}
	*dst = v;
out:
	free(s);
	return ret;
}

static int walk_scalar_typed(struct hw_cfg_walk *w, yaml_node_t *node, const struct hw_cfg_field *f,
			     void *dst)
{
	char expected[160], *s = NULL;
	int ret;

	switch (f->type) {
	case HW_CFG_T_BOOL:
		snprintf(expected, sizeof(expected), "true or false");
		break;
	case HW_CFG_T_REAL:
		real_expected(f, expected, sizeof(expected));
		break;
	default:
		expected[0] = '\0';
		break;
	}
	if (f->type == HW_CFG_T_CHOICE || f->type == HW_CFG_T_ENUM) {
		if (node->type != YAML_SCALAR_NODE || hw_cfg_is_null(node))
			return fail_choice(w, node, NULL, f);
	} else if (node->type != YAML_SCALAR_NODE || hw_cfg_is_null(node)) {
		return fail_expected(w, node, NULL, false, expected);
	}
	ret = hw_cfg_scalar(w, node, false, &s);
	if (ret < 0)
		return ret;

	if (f->type == HW_CFG_T_BOOL) {
		if (hw_cfg_parse_bool(s, dst) < 0)
			ret = fail_expected(w, node, s, false, expected);
	} else if (f->type == HW_CFG_T_REAL) {
		double d;
		if (hw_cfg_parse_real(s, &d) < 0 || d < f->fmin || (f->excl_min && d == f->fmin) ||
		    d > f->fmax)
			ret = fail_expected(w, node, s, false, expected);
		else
			*(double *)dst = d;
	} else {
		int i = choice_index(f, s);
		if (i < 0) {
			ret = fail_choice(w, node, s, f);
		} else if (f->type == HW_CFG_T_ENUM) {
			*(int *)dst = i;
		} else {
			char *c = strdup(f->choices[i]);
			if (!c) {
				ret = -ENOMEM;
			} else {
				free(*(char **)dst);
				*(char **)dst = c;
			}
		}
	}
	free(s);
	return ret;
}

static int walk_int_list(struct hw_cfg_walk *w, yaml_node_t *node, const struct hw_cfg_field *f,
			 void *base)
{
	struct hw_cfg_field item = *f;
	yaml_node_item_t *it;
	size_t count;
	int64_t *v = NULL;
	int ret = hw_cfg_sequence(w, node, &it, &count);
	if (ret < 0)
		return ret;
	item.type = HW_CFG_T_INT;
	if (count && !(v = calloc(count, sizeof(*v))))
		return -ENOMEM;
	for (size_t i = 0; i < count; i++) {
		size_t saved = hw_cfg_path_push_index(w, i);
		ret = walk_int(w, hw_cfg_node(w, it[i]), &item, &v[i]);
		hw_cfg_path_pop(w, saved);
		if (ret < 0) {
			free(v);
			return ret;
		}
	}
	free(*(int64_t **)((char *)base + f->off));
	*(int64_t **)((char *)base + f->off) = v;
	*(size_t *)((char *)base + f->count_off) = count;
	return 0;
}

int hw_cfg_walk_field(struct hw_cfg_walk *w, yaml_node_t *node, const struct hw_cfg_field *f,
		      void *base)
{
	void *dst = (char *)base + f->off;
	char *s = NULL, **v = NULL;
	size_t n = 0;
	int ret;

	switch (f->type) {
	case HW_CFG_T_INT:
	case HW_CFG_T_INT_NULL:
	case HW_CFG_T_USD:
	case HW_CFG_T_USD_NULL:
	case HW_CFG_T_BP:
		return walk_int(w, node, f, dst);
	case HW_CFG_T_BOOL:
	case HW_CFG_T_REAL:
	case HW_CFG_T_CHOICE:
	case HW_CFG_T_ENUM:
		return walk_scalar_typed(w, node, f, dst);
	case HW_CFG_T_STR:
		ret = hw_cfg_string(w, node, f, &s);
		if (ret < 0)
			return ret;
		free(*(char **)dst);
		*(char **)dst = s;
		return 0;
	case HW_CFG_T_STRLIST:
		ret = hw_cfg_string_list(w, node, f->check, &v, &n);
		if (ret < 0)
			return ret;
		hw_cfg_free_strv(*(char ***)dst, *(size_t *)((char *)base + f->count_off));
		*(char ***)dst = v;
		*(size_t *)((char *)base + f->count_off) = n;
		return 0;
	case HW_CFG_T_INTLIST:
		return walk_int_list(w, node, f, base);
	case HW_CFG_T_MAP:
		return hw_cfg_walk_map(w, node, f->sub, base, NULL);
	case HW_CFG_T_CUSTOM:
		return f->parse(w, node, base);
	}
	return -EINVAL;
}

int hw_cfg_walk_map(struct hw_cfg_walk *w, yaml_node_t *node, const struct hw_cfg_field *table,
		    void *base, uint64_t *seen)
{
	yaml_node_pair_t *pairs;
	size_t n;
	int ret = hw_cfg_mapping(w, node, &pairs, &n);
	if (ret < 0)
		return ret;
	for (size_t i = 0; i < n; i++) {
		const char *key = hw_cfg_key(w, &pairs[i]);
		size_t saved = hw_cfg_path_push(w, key);
		size_t k = 0;
		while (table[k].key && strcmp(table[k].key, key) != 0)
			k++;
		if (!table[k].key)
			ret = hw_cfg_fail(w, "unknown key");
		else
			ret = hw_cfg_walk_field(w, hw_cfg_node(w, pairs[i].value), &table[k], base);
		hw_cfg_path_pop(w, saved);
		if (ret < 0)
			return ret;
		if (seen && k < 64)
			*seen |= UINT64_C(1) << k;
	}
	return 0;
}

bool hw_cfg_seen(uint64_t seen, const struct hw_cfg_field *table, const char *key)
{
	for (size_t k = 0; k < 64 && table[k].key; k++)
		if (strcmp(table[k].key, key) == 0)
			return seen & UINT64_C(1) << k;
	return false;
}

void hw_cfg_release(const struct hw_cfg_field *table, void *base)
{
	for (const struct hw_cfg_field *f = table; f->key; f++) {
		void *dst = (char *)base + f->off;
		switch (f->type) {
		case HW_CFG_T_STR:
		case HW_CFG_T_CHOICE:
			free(*(char **)dst);
			*(char **)dst = NULL;
			break;
		case HW_CFG_T_STRLIST:
			hw_cfg_free_strv(*(char ***)dst, *(size_t *)((char *)base + f->count_off));
			*(char ***)dst = NULL;
			*(size_t *)((char *)base + f->count_off) = 0;
			break;
		case HW_CFG_T_INTLIST:
			free(*(int64_t **)dst);
			*(int64_t **)dst = NULL;
			*(size_t *)((char *)base + f->count_off) = 0;
			break;
		case HW_CFG_T_MAP:
			hw_cfg_release(f->sub, base);
			break;
		case HW_CFG_T_CUSTOM:
			f->release(base);
			break;
		default:
			break;
		}
	}
}
