// SPDX-License-Identifier: Apache-2.0
/* `hiwayctl usage`: the workspace's usage report (SPEC §16.3, §17): one line per group and
 * a total, then what is reserved by requests still in flight, which the report's settled
 * rows do not count yet. */
#include "cli/cli.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const group_bys[] = {"none", "key", "user", "model", "tier", "day", NULL};

/* "YYYY-MM-DD" or an RFC 3339 time ("YYYY-MM-DDThh:mm:ss..."): only the shape is checked
 * here, so a typo is a usage error; the server checks the rest. */
static bool date_shape(const char *s)
{
	static const char pattern[] = "dddd-dd-ddTdd:dd:dd";
	size_t len = strlen(s), i;

	if (len != 10 && len < sizeof(pattern) - 1)
		return false;
	for (i = 0; i < len && i < sizeof(pattern) - 1; i++) {
		bool digit = isdigit((unsigned char)s[i]);
		if (pattern[i] == 'd' ? !digit : (pattern[i] == 'T' ? toupper((unsigned char)s[i]) != 'T'
								      : s[i] != pattern[i]))
			return false;
	}
	return true;
}

static int check_date(const char *opt, const char *value)
{
	if (value && !date_shape(value))
		return hw_cli_usage("--%s: expected YYYY-MM-DD or an RFC 3339 time, got '%s'", opt,
				    value);
	return 0;
}

/* Copies of the groups with their key under "group", then the totals as "TOTAL". */
static json_t *table_rows(json_t *report, const char *group_by)
{
	json_t *rows = hw_cli_must(json_array()), *g, *total;
	size_t i;

	json_array_foreach(json_object_get(report, "groups"), i, g) {
		json_t *row = hw_cli_must(json_copy(g));
		json_t *key = json_object_get(g, group_by);
		hw_cli_set(row, "group", key ? json_incref(key) : json_null());
		if (json_array_append_new(rows, row))
			hw_cli_oom();
	}
	total = json_object_get(report, "totals");
	total = hw_cli_must(json_is_object(total) ? json_copy(total) : json_object());
	hw_cli_set(total, "group", hw_cli_must(json_string("TOTAL")));
	if (json_array_append_new(rows, total))
		hw_cli_oom();
	return rows;
}

static void print_report(json_t *report, const char *group_by)
{
	struct hw_cli_col cols[] = {
		{"GROUP", "group", "(none)"},
		{"REQUESTS", "requests", NULL},
		{"ERRORS", "errors", NULL},
		{"PROMPT_TOKENS", "prompt_tokens", NULL},
		{"COMPLETION_TOKENS", "completion_tokens", NULL},
		{"UPSTREAM_USD", "upstream_cost_usd", NULL},
		{"MARKUP_USD", "markup_cost_usd", NULL},
		{"BASELINE_USD", "baseline_cost_usd", NULL},
		{"SAVINGS_USD", "savings_usd", NULL},
	};
	char *title = hw_cli_must(strdup(group_by));
	char *from = hw_cli_text(json_object_get(report, "from"), NULL);
	char *to = hw_cli_text(json_object_get(report, "to"), NULL);
	json_t *fl = json_object_get(report, "in_flight"), *month = json_object_get(report, "month");
	json_t *rows = table_rows(report, group_by);
	char *fl_n = hw_cli_text(json_object_get(fl, "requests"), "0");
	char *fl_up = hw_cli_text(json_object_get(fl, "reserved_upstream_usd"), "0");
	char *fl_mk = hw_cli_text(json_object_get(fl, "reserved_markup_usd"), "0");
	char *m_spend = hw_cli_text(json_object_get(month, "upstream_spend_usd"), NULL);
	char *m_pct = hw_cli_text(json_object_get(month, "markup_percent"), NULL);

	/* The first column is named after the grouping, in the table's upper case. */
	for (char *p = title; *p; p++)
		*p = (char)toupper((unsigned char)*p);
	if (strcmp(group_by, "none") != 0)
		cols[0].title = title;
	printf("usage from %s to %s\n\n", from, to);
	hw_cli_print_table(cols, sizeof(cols) / sizeof(cols[0]), rows);
	printf("\nin flight: %s requests, reserved %s USD upstream + %s USD markup\n", fl_n, fl_up,
	       fl_mk);
	printf("this month: %s USD upstream spend, markup rate %s %%\n", m_spend, m_pct);
	json_decref(rows);
	free(title);
	free(from);
	free(to);
	free(fl_n);
	free(fl_up);
	free(fl_mk);
	free(m_spend);
	free(m_pct);
}

static int usage_run(struct hw_cli *cli, const struct hw_cli_args *a)
{
	const char *ws = hw_cli_workspace(cli, NULL), *group_by = hw_cli_get(a, "group-by");
	const char *from = hw_cli_get(a, "from"), *to = hw_cli_get(a, "to");
	const struct hw_cli_param params[] = {{"group_by", group_by}, {"from", from}, {"to", to}};
	json_t *report = NULL;
	char *path = NULL, *query = NULL;
	int ret = HW_CLI_USAGE;

	if (!ws || (group_by && hw_cli_check_choice("group-by", group_by, group_bys)) ||
	    check_date("from", from) || check_date("to", to))
		return HW_CLI_USAGE;
	path = HW_CLI_PATH("workspaces", ws, "usage");
	query = hw_cli_query(path, params, sizeof(params) / sizeof(params[0]));
	ret = hw_cli_call(cli, "GET", query, NULL, true, &report);
	if (ret == HW_CLI_OK && cli->json)
		hw_cli_print_json(report);
	else if (ret == HW_CLI_OK)
		print_report(report, group_by ? group_by : "none");
	json_decref(report);
	free(query);
	free(path);
	return ret;
}

static const struct hw_cli_opt usage_opts[] = {
	{"group-by", true},
	{"from", true},
	{"to", true},
	{NULL, false},
};

const struct hw_cli_verb hw_cli_usage_verbs[] = {
	{NULL, "[--group-by key|user|model|tier|day] [--from D] [--to D]",
	 "Requests, tokens and costs, in total or per group.\n"
	 "Upstream, markup and baseline cost and savings, per --group-by value, then what\n"
	 "requests in flight hold reserved. D is YYYY-MM-DD or an RFC 3339 time; the\n"
	 "default is the start of the month to now.",
	 usage_opts, 0, 0, usage_run},
	{NULL, NULL, NULL, NULL, 0, 0, NULL},
};
