// SPDX-License-Identifier: Apache-2.0
/* `hiwayctl ip-rules ...`: a workspace's IP rules, or with --global the server-wide ones
 * (admin token only) (SPEC §13.2, §16.2, §17). --expires takes an RFC 3339 time or a
 * duration from now (90s, 30m, 12h, 7d), turned into the time the API expects. */
#include "cli/cli.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *const actions[] = {"allow", "deny", NULL};

/* "/api/v1/ip-rules[/id]" with --global, else the workspace's; NULL after a usage error. */
static char *rules_path(struct hw_cli *cli, const struct hw_cli_args *a, const char *id)
{
	if (hw_cli_get(a, "global"))
		return HW_CLI_PATH("ip-rules", id);
	const char *ws = hw_cli_workspace(cli, NULL);
	if (!ws)
		return NULL;
	return HW_CLI_PATH("workspaces", ws, "security", "ip-rules", id);
}

/* A duration ("90s", "30m", "12h", "7d") as an RFC 3339 time from now, into out; else the
 * value as given, for the server to check. */
static void expires_value(const char *v, char out[32])
{
	char *end;
	long long n = strtoll(v, &end, 10);
	long long unit = 0;

	if (isdigit((unsigned char)v[0]) && end[0] && !end[1])
		unit = end[0] == 's'   ? 1
		       : end[0] == 'm' ? 60
		       : end[0] == 'h' ? 3600
		       : end[0] == 'd' ? 86400
				       : 0;
	if (unit && n > 0) {
		time_t t = time(NULL) + (time_t)(n * unit);
		struct tm tm;
		gmtime_r(&t, &tm);
		strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
		return;
	}
	snprintf(out, 32, "%s", v);
}

static int rules_add(struct hw_cli *cli, const struct hw_cli_args *a)
{
	const char *comment = hw_cli_get(a, "comment"), *expires = hw_cli_get(a, "expires");
	json_t *body, *out = NULL;
	char *path;
	char when[32];
	int ret;

	/* "add deny CIDR", or "add CIDR [--action A]" (deny when not given). */
	const char *action = a->npos == 2 ? a->pos[0] : hw_cli_get(a, "action");
	const char *cidr = a->pos[a->npos - 1];
	if (!action)
		action = "deny";
	if (hw_cli_check_choice("action", action, actions))
		return HW_CLI_USAGE;
	path = rules_path(cli, a, NULL);
	if (!path)
		return HW_CLI_USAGE;
	body = hw_cli_must(json_object());
	hw_cli_set(body, "cidr", json_string(cidr));
	hw_cli_set(body, "action", json_string(action));
	if (comment)
		hw_cli_set(body, "comment", json_string(comment));
	if (hw_cli_get(a, "no-kernel"))
		hw_cli_set(body, "kernel", json_false());
	if (expires) {
		expires_value(expires, when);
		hw_cli_set(body, "expires_at", json_string(when));
	}
	ret = hw_cli_call(cli, "POST", path, body, true, &out);
	if (ret == HW_CLI_OK && out)
		hw_cli_show(cli, out, NULL);
	json_decref(body);
	json_decref(out);
	free(path);
	return ret;
}

static int rules_list(struct hw_cli *cli, const struct hw_cli_args *a)
{
	static const struct hw_cli_col cols[] = {
	    {"ID", "id", NULL},
	    {"SCOPE", "scope", NULL},
	    {"ACTION", "action", NULL},
	    {"CIDR", "cidr", NULL},
	    {"KERNEL", "enforced_in_kernel", NULL},
	    {"EXPIRES", "expires_at", "never"},
	    {"COMMENT", "comment", NULL},
	};
	json_t *list = NULL;
	char *path = rules_path(cli, a, NULL);
	int ret;

	if (!path)
		return HW_CLI_USAGE;
	ret =
	    hw_cli_list(cli, path, NULL, 0, hw_cli_get(a, "limit"), hw_cli_get(a, "cursor"), &list);
	if (ret == HW_CLI_OK && cli->json)
		hw_cli_print_json(list);
	else if (ret == HW_CLI_OK)
		hw_cli_print_table(cols, sizeof(cols) / sizeof(cols[0]),
				   json_object_get(list, "data"));
	json_decref(list);
	free(path);
	return ret;
}

static int rules_rm(struct hw_cli *cli, const struct hw_cli_args *a)
{
	json_t *out = NULL;
	char *path = rules_path(cli, a, a->pos[0]);
	int ret;

	if (!path)
		return HW_CLI_USAGE;
	ret = hw_cli_call(cli, "DELETE", path, NULL, true, &out);
	if (ret == HW_CLI_OK && !cli->json)
		printf("removed IP rule %s\n", a->pos[0]);
	json_decref(out);
	free(path);
	return ret;
}

static const struct hw_cli_opt add_opts[] = {
    {"global", false}, {"no-kernel", false}, {"expires", true},
    {"comment", true}, {"action", true},     {NULL, false},
};
static const struct hw_cli_opt list_opts[] = {
    {"global", false},
    {"limit", true},
    {"cursor", true},
    {NULL, false},
};
static const struct hw_cli_opt rm_opts[] = {{"global", false}, {NULL, false}};

const struct hw_cli_verb hw_cli_iprules_verbs[] = {
    {"add", "[allow|deny] CIDR [--global] [--no-kernel] [--expires T] [--comment TEXT]",
     "Add an IP rule (allow beats deny; no match is allowed). A bare address is /32 or /128.\n"
     "The action is the first word, or --action allow|deny (default deny).\n"
     "--global: a server-wide rule (admin token). --no-kernel: enforced by the gateway only.\n"
     "--expires: an RFC 3339 time or a duration from now (90s, 30m, 12h, 7d).",
     add_opts, 1, 2, rules_add},
    {"list", "[--global] [--limit N] [--cursor C]",
     "List the rules of the workspace, or the "
     "global ones.",
     list_opts, 0, 0, rules_list},
    {"rm", "ID [--global]", "Delete a rule; it stops applying at once.", rm_opts, 1, 1, rules_rm},
    {NULL, NULL, NULL, NULL, 0, 0, NULL},
};
