// SPDX-License-Identifier: Apache-2.0
/* `hiwayctl guardian get|set` (SPEC §16.2, §17): a workspace's Guardian settings, one rule
 * per table row. `set` takes RULE.FIELD=VALUE pairs (or a whole body with --file) and PUTs
 * them: like the API, what it does not name goes back to the configuration's defaults. */
#include "cli/cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const rules[] = {"dedup", "cost_spike", "context_bloat", "zombie_agent"};

/* One row per rule: enabled, action, and the other fields as `name=value`. */
static void print_table(json_t *doc)
{
	json_t *rows = hw_cli_must(json_array());
	for (size_t i = 0; i < sizeof(rules) / sizeof(rules[0]); i++) {
		json_t *r = json_object_get(doc, rules[i]);
		if (!json_is_object(r))
			continue;
		char buf[512] = "";
		size_t len = 0;
		const char *k;
		json_t *v;
		json_object_foreach(r, k, v)
		{
			if (strcmp(k, "enabled") == 0 || strcmp(k, "action") == 0)
				continue;
			char *t = hw_cli_text(v, NULL);
			int n =
			    snprintf(buf + len, sizeof(buf) - len, "%s%s=%s", len ? " " : "", k, t);
			free(t);
			if (n > 0 && (size_t)n < sizeof(buf) - len)
				len += (size_t)n;
		}
		json_array_append_new(rows,
				      json_pack("{s:s,s:O,s:O,s:s}", "rule", rules[i], "enabled",
						json_object_get(r, "enabled"), "action",
						json_object_get(r, "action"), "settings", buf));
	}
	static const struct hw_cli_col cols[] = {{"RULE", "rule", NULL},
						 {"ENABLED", "enabled", NULL},
						 {"ACTION", "action", NULL},
						 {"SETTINGS", "settings", NULL}};
	hw_cli_print_table(cols, sizeof(cols) / sizeof(cols[0]), rows);
	json_decref(rows);
}

static int show(const struct hw_cli *cli, json_t *doc)
{
	if (cli->json)
		hw_cli_print_json(doc);
	else
		print_table(doc);
	json_decref(doc);
	return HW_CLI_OK;
}

static int guardian_get(struct hw_cli *cli, const struct hw_cli_args *a)
{
	const char *ws = hw_cli_workspace(cli, NULL);
	if (!ws)
		return HW_CLI_USAGE;
	char *path = hw_cli_must(HW_CLI_PATH("workspaces", ws, "guardian"));
	json_t *doc = NULL;
	int ret = hw_cli_call(cli, "GET", path, NULL, true, &doc);
	free(path);
	return ret ? ret : show(cli, doc);
}

/* "dedup.count=5" into body.dedup.count; the value is JSON (5, true, 1.5) or else a string
 * (block). */
static int pair_take(json_t *body, const char *pair)
{
	const char *dot = strchr(pair, '.'), *eq = strchr(pair, '=');
	if (!dot || !eq || dot > eq || dot == pair || eq == dot + 1)
		return hw_cli_usage("expected RULE.FIELD=VALUE, got '%s'", pair);
	char rule[32], field[32];
	if ((size_t)(dot - pair) >= sizeof(rule) || (size_t)(eq - dot - 1) >= sizeof(field))
		return hw_cli_usage("unknown setting '%s'", pair);
	snprintf(rule, sizeof(rule), "%.*s", (int)(dot - pair), pair);
	snprintf(field, sizeof(field), "%.*s", (int)(eq - dot - 1), dot + 1);
	json_t *v = json_loads(eq + 1, JSON_DECODE_ANY, NULL);
	if (!v)
		v = hw_cli_must(json_string(eq + 1));
	json_t *r = json_object_get(body, rule);
	if (!r) {
		r = hw_cli_must(json_object());
		hw_cli_set(body, rule, r);
	}
	hw_cli_set(r, field, v);
	return HW_CLI_OK;
}

static int guardian_set(struct hw_cli *cli, const struct hw_cli_args *a)
{
	const char *ws = hw_cli_workspace(cli, NULL);
	if (!ws)
		return HW_CLI_USAGE;
	const char *file = hw_cli_get(a, "file");
	json_t *body;
	if (file) {
		if (a->npos)
			return hw_cli_usage("give either --file or RULE.FIELD=VALUE pairs");
		json_error_t err;
		body = strcmp(file, "-") == 0 ? json_loadf(stdin, 0, &err)
					      : json_load_file(file, 0, &err);
		if (!body)
			return hw_cli_usage("%s: %s", file, err.text);
	} else {
		body = hw_cli_must(json_object());
		for (int i = 0; i < a->npos; i++) {
			int ret = pair_take(body, a->pos[i]);
			if (ret) {
				json_decref(body);
				return ret;
			}
		}
	}
	char *path = hw_cli_must(HW_CLI_PATH("workspaces", ws, "guardian"));
	json_t *doc = NULL;
	int ret = hw_cli_call(cli, "PUT", path, body, true, &doc);
	free(path);
	json_decref(body);
	return ret ? ret : show(cli, doc);
}

static const struct hw_cli_opt no_opts[] = {{NULL, false}};
static const struct hw_cli_opt set_opts[] = {{"file", true}, {NULL, false}};

const struct hw_cli_verb hw_cli_guardian_verbs[] = {
    {"get", "", "Show the workspace's Guardian settings, one rule per row.", no_opts, 0, 0,
     guardian_get},
    {"set", "[RULE.FIELD=VALUE ...] [--file F|-]",
     "Replace the workspace's Guardian settings with the named ones (at most 4 pairs, e.g.\n"
     "dedup.count=5 dedup.action=alert), or with the JSON body in F (- = stdin). Settings\n"
     "not named follow the configuration's defaults.",
     set_opts, 0, 4, guardian_set},
    {NULL, NULL, NULL, NULL, 0, 0, NULL},
};
