// SPDX-License-Identifier: Apache-2.0
/* `hiwayctl workspaces ...`: create, list, get, suspend, unsuspend (SPEC §4.3, §16.2). */
#include "cli/cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const profiles[] = {"budget", "balanced", "quality", NULL};

/* The create answer holds the new admin key once, as the plaintext or as a Key object with
 * its plaintext in "key". */
static void print_admin_key(json_t *admin_key)
{
	const char *plain = json_string_value(admin_key);
	const char *kid = NULL;

	if (!plain) {
		plain = json_string_value(json_object_get(admin_key, "key"));
		kid = json_string_value(json_object_get(admin_key, "id"));
	}
	if (!plain)
		return;
	if (kid) {
		char *what;
		if (asprintf(&what, "Admin key %s", kid) < 0)
			hw_cli_oom();
		hw_cli_print_secret(what, plain);
		free(what);
	} else {
		hw_cli_print_secret("Admin key", plain);
	}
}

static int ws_create(struct hw_cli *cli, const struct hw_cli_args *a)
{
	static const char *const skip[] = {"admin_key", NULL};
	const char *plan = hw_cli_get(a, "plan");
	const char *profile = hw_cli_get(a, "profile");
	const char *model = hw_cli_get(a, "default-model");
	json_t *body = hw_cli_must(json_object());
	json_t *ws = NULL;
	char *path = HW_CLI_PATH("workspaces");
	int ret = HW_CLI_USAGE;

	if (profile && hw_cli_check_choice("profile", profile, profiles))
		goto out;
	hw_cli_set(body, "name", json_string(a->pos[0]));
	if (plan)
		hw_cli_set(body, "plan", json_string(plan));
	if (profile)
		hw_cli_set(body, "routing_profile", json_string(profile));
	if (model)
		hw_cli_set(body, "default_model", json_string(model));
	if (hw_cli_get(a, "admin-key"))
		hw_cli_set(body, "create_admin_key", json_true());

	ret = hw_cli_call(cli, "POST", path, body, true, &ws);
	if (ret)
		goto out;
	hw_cli_show(cli, ws, skip);
	if (!cli->json)
		print_admin_key(json_object_get(ws, "admin_key"));
out:
	json_decref(ws);
	json_decref(body);
	free(path);
	return ret;
}

static int ws_list(struct hw_cli *cli, const struct hw_cli_args *a)
{
	static const struct hw_cli_col cols[] = {
		{"ID", "id", NULL},
		{"NAME", "name", NULL},
		{"STATUS", "status", NULL},
		{"PLAN", "plan", NULL},
		{"PROFILE", "routing_profile", NULL},
		{"DEFAULT MODEL", "default_model", NULL},
		{"CREATED", "created_at", NULL},
	};
	const char *limit = hw_cli_get(a, "limit");
	char *path = HW_CLI_PATH("workspaces");
	json_t *list = NULL;
	int ret = HW_CLI_USAGE;

	if (limit && hw_cli_check_limit(limit))
		goto out;
	ret = hw_cli_list(cli, path, NULL, 0, limit, hw_cli_get(a, "cursor"), &list);
	if (ret)
		goto out;
	if (cli->json) {
		hw_cli_print_json(list);
	} else {
		json_t *next = json_object_get(list, "next_cursor");
		hw_cli_print_table(cols, sizeof(cols) / sizeof(cols[0]),
				   json_object_get(list, "data"));
		if (json_is_string(next))
			fprintf(stderr, "more: --cursor %s\n", json_string_value(next));
	}
out:
	json_decref(list);
	free(path);
	return ret;
}

/* GET or an action on one workspace: the positional WS, else --workspace. */
static int ws_one(struct hw_cli *cli, const struct hw_cli_args *a, const char *method,
		  const char *action, json_t *body)
{
	const char *id = hw_cli_workspace(cli, a->npos ? a->pos[0] : NULL);
	json_t *ws = NULL;
	char *path;
	int ret;

	if (!id)
		return HW_CLI_USAGE;
	path = HW_CLI_PATH("workspaces", id, action);
	ret = hw_cli_call(cli, method, path, body, true, &ws);
	if (ret == HW_CLI_OK)
		hw_cli_show(cli, ws, NULL);
	json_decref(ws);
	free(path);
	return ret;
}

static int ws_get(struct hw_cli *cli, const struct hw_cli_args *a)
{
	return ws_one(cli, a, "GET", NULL, NULL);
}

static int ws_suspend(struct hw_cli *cli, const struct hw_cli_args *a)
{
	const char *reason = hw_cli_get(a, "reason");
	json_t *body = hw_cli_must(json_object());
	int ret;

	if (reason)
		hw_cli_set(body, "reason", json_string(reason));
	ret = ws_one(cli, a, "POST", "suspend", body);
	json_decref(body);
	return ret;
}

static int ws_unsuspend(struct hw_cli *cli, const struct hw_cli_args *a)
{
	json_t *body = hw_cli_must(json_object());
	int ret = ws_one(cli, a, "POST", "unsuspend", body);

	json_decref(body);
	return ret;
}

static const struct hw_cli_opt create_opts[] = {
	{"plan", true},
	{"profile", true},
	{"default-model", true},
	{"admin-key", false},
	{NULL, false},
};
static const struct hw_cli_opt list_opts[] = {{"limit", true}, {"cursor", true}, {NULL, false}};
static const struct hw_cli_opt suspend_opts[] = {{"reason", true}, {NULL, false}};
static const struct hw_cli_opt no_opts[] = {{NULL, false}};

const struct hw_cli_verb hw_cli_workspaces_verbs[] = {
	{"create", "NAME [--plan P] [--profile budget|balanced|quality]\n"
		   "[--default-model M] [--admin-key]",
	 "Create a workspace (admin token only). --admin-key also mints an admin key for it\n"
	 "and prints the plaintext once.",
	 create_opts, 1, 1, ws_create},
	{"list", "[--limit N] [--cursor C]",
	 "List workspaces (admin token only); every page unless --limit or --cursor.", list_opts, 0,
	 0, ws_list},
	{"get", "[WS]", "Show a workspace (WS defaults to --workspace).", no_opts, 0, 1, ws_get},
	{"suspend", "[WS] [--reason R]",
	 "Suspend a workspace: all its keys get 403 workspace_suspended (admin token only).",
	 suspend_opts, 0, 1, ws_suspend},
	{"unsuspend", "[WS]", "Lift a workspace suspension (admin token only).", no_opts, 0, 1,
	 ws_unsuspend},
	{NULL, NULL, NULL, NULL, 0, 0, NULL},
};
