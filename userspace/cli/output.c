// SPDX-License-Identifier: Apache-2.0
/* hiwayctl output: aligned tables for people, indented JSON for --json. Strings come from
 * the server and may hold anything a client once sent (a key name), so table text never
 * carries control characters to the terminal. */
#include "cli/cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Columns are separated by this many spaces. */
#define GAP 2

/* Replaces C0 controls, DEL and UTF-8 encoded C1 controls (U+0080..U+009F, which some
 * terminals treat as escape sequences) with '?'. */
static char *sanitize(char *s)
{
	unsigned char *r = (unsigned char *)s, *w = (unsigned char *)s;

	while (*r) {
		if (r[0] == 0xc2 && r[1] >= 0x80 && r[1] <= 0x9f) {
			*w++ = '?';
			r += 2;
		} else if (*r < 0x20 || *r == 0x7f) {
			*w++ = '?';
			r++;
		} else {
			*w++ = *r++;
		}
	}
	*w = '\0';
	return s;
}

/* Money and latencies have at most 6 decimals (SPEC §1.3): plain decimal, no exponent,
 * trailing zeros dropped. */
static char *real_text(double d)
{
	char *s;

	if (asprintf(&s, "%.6f", d) < 0)
		hw_cli_oom();
	char *end = s + strlen(s);
	while (end[-1] == '0')
		*--end = '\0';
	if (end[-1] == '.')
		*--end = '\0';
	/* A tiny negative value rounds to "-0". */
	if (strcmp(s, "-0") == 0)
		memmove(s, s + 1, 2);
	return s;
}

char *hw_cli_text(json_t *v, const char *null_text)
{
	char *s;

	switch (v ? json_typeof(v) : JSON_NULL) {
	case JSON_STRING:
		s = hw_cli_must(strdup(json_string_value(v)));
		break;
	case JSON_INTEGER:
		if (asprintf(&s, "%" JSON_INTEGER_FORMAT, json_integer_value(v)) < 0)
			hw_cli_oom();
		break;
	case JSON_REAL:
		s = real_text(json_real_value(v));
		break;
	case JSON_TRUE:
		s = hw_cli_must(strdup("true"));
		break;
	case JSON_FALSE:
		s = hw_cli_must(strdup("false"));
		break;
	case JSON_NULL:
		s = hw_cli_must(strdup(null_text ? null_text : "-"));
		break;
	default:
		s = hw_cli_must(json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY));
		break;
	}
	return sanitize(s);
}

/* Terminal columns of UTF-8 text, counting each code point as one. */
static size_t width(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		n += ((unsigned char)*s & 0xc0) != 0x80;
	return n;
}

/* Prints an nrows x ncols grid of cells, each column as wide as its widest cell; the last
 * column is not padded so lines carry no trailing blanks. Frees the cells. */
static void print_grid(char **cells, size_t nrows, size_t ncols)
{
	size_t *w = hw_cli_must(calloc(ncols, sizeof(*w)));

	for (size_t r = 0; r < nrows; r++) {
		for (size_t c = 0; c < ncols; c++) {
			size_t cw = width(cells[r * ncols + c]);
			if (cw > w[c])
				w[c] = cw;
		}
	}
	for (size_t r = 0; r < nrows; r++) {
		for (size_t c = 0; c < ncols; c++) {
			const char *cell = cells[r * ncols + c];
			fputs(cell, stdout);
			if (c + 1 < ncols)
				printf("%*s", (int)(w[c] - width(cell) + GAP), "");
			free(cells[r * ncols + c]);
		}
		putchar('\n');
	}
	free(w);
	free(cells);
}

/* obj["a"]["b"] for "a.b"; NULL when any step is missing. */
static json_t *lookup(json_t *obj, const char *path)
{
	char *copy = hw_cli_must(strdup(path));
	char *save = NULL;

	for (char *part = strtok_r(copy, ".", &save); part && obj; part = strtok_r(NULL, ".", &save))
		obj = json_object_get(obj, part);
	free(copy);
	return obj;
}

void hw_cli_print_table(const struct hw_cli_col *cols, size_t ncols, json_t *rows)
{
	size_t nrows = json_array_size(rows) + 1;
	char **cells = hw_cli_must(calloc(nrows * ncols, sizeof(*cells)));

	for (size_t c = 0; c < ncols; c++)
		cells[c] = hw_cli_must(strdup(cols[c].title));
	for (size_t r = 1; r < nrows; r++) {
		json_t *row = json_array_get(rows, r - 1);
		for (size_t c = 0; c < ncols; c++)
			cells[r * ncols + c] = hw_cli_text(lookup(row, cols[c].field), cols[c].null_text);
	}
	print_grid(cells, nrows, ncols);
}

struct fields {
	char **cells; /* name, value, name, value, ... */
	size_t n, cap;
};

static void add_field(struct fields *f, char *name, char *value)
{
	if (f->n == f->cap) {
		f->cap = f->cap ? f->cap * 2 : 32;
		f->cells = hw_cli_must(reallocarray(f->cells, f->cap, 2 * sizeof(*f->cells)));
	}
	f->cells[2 * f->n] = name;
	f->cells[2 * f->n + 1] = value;
	f->n++;
}

static bool skipped(const char *key, const char *const *skip)
{
	for (size_t i = 0; skip && skip[i]; i++) {
		if (strcmp(key, skip[i]) == 0)
			return true;
	}
	return false;
}

static void flatten(struct fields *f, const char *prefix, json_t *obj, const char *const *skip)
{
	const char *key;
	json_t *v;

	json_object_foreach(obj, key, v) {
		char *name;

		if (!*prefix && skipped(key, skip))
			continue;
		if (asprintf(&name, "%s%s%s", prefix, *prefix ? "." : "", key) < 0)
			hw_cli_oom();
		if (json_is_object(v) && json_object_size(v)) {
			flatten(f, name, v, skip);
			free(name);
		} else {
			add_field(f, sanitize(name), hw_cli_text(v, NULL));
		}
	}
}

void hw_cli_print_object(json_t *obj, const char *const *skip)
{
	struct fields f = {0};

	flatten(&f, "", obj, skip);
	if (f.n)
		print_grid(f.cells, f.n, 2);
}

void hw_cli_show(const struct hw_cli *cli, json_t *obj, const char *const *skip)
{
	if (cli->json)
		hw_cli_print_json(obj);
	else
		hw_cli_print_object(obj, skip);
}

void hw_cli_print_json(json_t *v)
{
	if (!v)
		return;
	/* 15 significant digits print decimal inputs such as 0.000412 as they were sent. */
	json_dumpf(v, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(15) | JSON_ENCODE_ANY);
	putchar('\n');
}

void hw_cli_print_secret(const char *what, const char *key)
{
	char *shown = sanitize(hw_cli_must(strdup(key)));

	printf("\n%s (shown only once; store it now, it cannot be retrieved again):\n\n    %s\n\n",
	       what, shown);
	free(shown);
}
