// SPDX-License-Identifier: Apache-2.0
/* `hiwayctl keys ...`: the workspace's hiway API keys (SPEC §4.1, §16.2). Plaintext keys
 * appear once, in the answer that creates them; a legacy key to import is read from a file
 * or stdin, never from argv, where other users could read it. */
#include "cli/cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const roles[] = {"inference", "admin", NULL};
static const char *const statuses[] = {"active", "suspended", NULL};
static const char *const list_statuses[] = {"active", "suspended", "revoked", NULL};
/* Field views leave the plaintext out: it is printed apart, once. */
static const char *const skip_plain[] = {"key", NULL};

/* Prints a Key answer; `secret_title` non-NULL also prints its plaintext "key". */
static void show_key(const struct hw_cli *cli, json_t *key, const char *secret_title)
{
	const char *plain = json_string_value(json_object_get(key, "key"));

	hw_cli_show(cli, key, skip_plain);
	if (!cli->json && secret_title && plain)
		hw_cli_print_secret(secret_title, plain);
}

/* One call on /workspaces/{ws}/keys[/{kid}[/{action}]]; prints the Key answered. */
static int key_call(struct hw_cli *cli, const char *method, const char *kid, const char *action,
		    json_t *body, const char *secret_title)
{
	const char *ws = hw_cli_workspace(cli, NULL);
	json_t *key = NULL;
	char *path;
	int ret;

	if (!ws)
		return HW_CLI_USAGE;
	path = HW_CLI_PATH("workspaces", ws, "keys", kid, action);
	ret = hw_cli_call(cli, method, path, body, true, &key);
	if (ret == HW_CLI_OK && key)
		show_key(cli, key, secret_title);
	json_decref(key);
	free(path);
	return ret;
}

/* Sets "legacy_key" from --legacy-key-file / --key-file / --legacy-key-stdin, if given. */
static int add_legacy_key(json_t *body, const struct hw_cli_args *a, bool *imported)
{
	const char *file = hw_cli_get(a, "legacy-key-file");
	const char *alias = hw_cli_get(a, "key-file");
	bool from_stdin = hw_cli_get(a, "legacy-key-stdin") != NULL;
	char *secret;
	int ret;

	*imported = false;
	if ((file != NULL) + (alias != NULL) + from_stdin > 1)
		return hw_cli_usage("give the legacy key one way: --legacy-key-file or --legacy-key-stdin");
	if (!file)
		file = alias;
	if (!file && !from_stdin)
		return 0;
	ret = hw_cli_read_secret(file, &secret);
	if (ret)
		return ret;
	hw_cli_set(body, "legacy_key", json_string(secret));
	explicit_bzero(secret, strlen(secret));
	free(secret);
	*imported = true;
	return 0;
}

static int keys_create(struct hw_cli *cli, const struct hw_cli_args *a)
{
	const char *role = hw_cli_get(a, "role");
	const char *rpm = hw_cli_get(a, "rpm");
	const char *shield = hw_cli_get(a, "shield");
	json_t *body = hw_cli_must(json_object());
	bool imported;
	int ret = HW_CLI_USAGE;

	if (!hw_cli_workspace(cli, NULL))
		goto out;
	hw_cli_set(body, "name", json_string(a->pos[0]));
	if (role) {
		if (hw_cli_check_choice("role", role, roles))
			goto out;
		hw_cli_set(body, "role", json_string(role));
	}
	if ((rpm && hw_cli_set_rpm(body, rpm)) || (shield && hw_cli_set_shield(body, shield)))
		goto out;
	if (add_legacy_key(body, a, &imported))
		goto out;
	/* The server files a legacy key under source "import" (SPEC §4.1). */
	hw_cli_set(body, "source", json_string(imported ? "import" : "cli"));
	/* An imported key is the caller's own secret already: no need to echo it back. */
	ret = key_call(cli, "POST", NULL, NULL, body, imported ? NULL : "API key");
out:
	json_decref(body);
	return ret;
}

static int keys_list(struct hw_cli *cli, const struct hw_cli_args *a)
{
	static const struct hw_cli_col cols[] = {
		{"ID", "id", NULL},
		{"NAME", "name", NULL},
		{"PREFIX", "prefix", NULL},
		{"ROLE", "role", NULL},
		{"STATUS", "status", NULL},
		{"RPM", "rpm_limit", "none"},
		{"SHIELD", "shield_mode", "inherit"},
		{"SOURCE", "source", NULL},
		{"CREATED", "created_at", NULL},
		{"LAST USED", "last_used_at", NULL},
	};
	const char *ws = hw_cli_workspace(cli, NULL);
	const char *limit = hw_cli_get(a, "limit");
	const char *status = hw_cli_get(a, "status");
	const struct hw_cli_param params[] = {{"status", status}};
	json_t *list = NULL;
	char *path;
	int ret;

	if (!ws || (limit && hw_cli_check_limit(limit)) ||
	    (status && hw_cli_check_choice("status", status, list_statuses)))
		return HW_CLI_USAGE;
	path = HW_CLI_PATH("workspaces", ws, "keys");
	ret = hw_cli_list(cli, path, params, 1, limit, hw_cli_get(a, "cursor"), &list);
	if (ret == HW_CLI_OK && cli->json) {
		hw_cli_print_json(list);
	} else if (ret == HW_CLI_OK) {
		json_t *next = json_object_get(list, "next_cursor");
		hw_cli_print_table(cols, sizeof(cols) / sizeof(cols[0]),
				   json_object_get(list, "data"));
		if (json_is_string(next))
			fprintf(stderr, "more: --cursor %s\n", json_string_value(next));
	}
	json_decref(list);
	free(path);
	return ret;
}

static int keys_get(struct hw_cli *cli, const struct hw_cli_args *a)
{
	return key_call(cli, "GET", a->pos[0], NULL, NULL, NULL);
}

static int keys_set(struct hw_cli *cli, const struct hw_cli_args *a)
{
	const char *name = hw_cli_get(a, "name");
	const char *rpm = hw_cli_get(a, "rpm");
	const char *shield = hw_cli_get(a, "shield");
	const char *status = hw_cli_get(a, "status");
	json_t *body = hw_cli_must(json_object());
	int ret = HW_CLI_USAGE;

	if (!name && !rpm && !shield && !status) {
		hw_cli_usage("keys set: nothing to change");
		goto out;
	}
	if (name)
		hw_cli_set(body, "name", json_string(name));
	if ((rpm && hw_cli_set_rpm(body, rpm)) || (shield && hw_cli_set_shield(body, shield)))
		goto out;
	if (status) {
		if (hw_cli_check_choice("status", status, statuses))
			goto out;
		hw_cli_set(body, "status", json_string(status));
	}
	ret = key_call(cli, "PATCH", a->pos[0], NULL, body, NULL);
out:
	json_decref(body);
	return ret;
}

static int keys_revoke(struct hw_cli *cli, const struct hw_cli_args *a)
{
	return key_call(cli, "POST", a->pos[0], "revoke", NULL, NULL);
}

static int keys_rotate(struct hw_cli *cli, const struct hw_cli_args *a)
{
	int ret = key_call(cli, "POST", a->pos[0], "rotate", NULL, "New API key");

	if (ret == HW_CLI_OK && !cli->json)
		printf("Key %s is now revoked.\n", a->pos[0]);
	return ret;
}

static int keys_delete(struct hw_cli *cli, const struct hw_cli_args *a)
{
	int ret = key_call(cli, "DELETE", a->pos[0], NULL, NULL, NULL);

	if (ret == HW_CLI_OK && !cli->json)
		printf("deleted key %s\n", a->pos[0]);
	return ret;
}

static int keys_unsuspend(struct hw_cli *cli, const struct hw_cli_args *a)
{
	json_t *body = hw_cli_must(json_object());
	int ret;

	hw_cli_set(body, "status", json_string("active"));
	ret = key_call(cli, "PATCH", a->pos[0], NULL, body, NULL);
	json_decref(body);
	return ret;
}

static const struct hw_cli_opt create_opts[] = {
	{"role", true},
	{"rpm", true},
	{"shield", true},
	{"legacy-key-file", true},
	{"key-file", true},
	{"legacy-key-stdin", false},
	{NULL, false},
};
static const struct hw_cli_opt list_opts[] = {
	{"status", true},
	{"limit", true},
	{"cursor", true},
	{NULL, false},
};
static const struct hw_cli_opt set_opts[] = {
	{"name", true},
	{"rpm", true},
	{"shield", true},
	{"status", true},
	{NULL, false},
};
static const struct hw_cli_opt no_opts[] = {{NULL, false}};

const struct hw_cli_verb hw_cli_keys_verbs[] = {
	{"create", "NAME [--role inference|admin] [--rpm N|none]\n"
		   "[--shield off|monitor|block|inherit]\n"
		   "[--legacy-key-file F | --legacy-key-stdin]",
	 "Create a key (source \"cli\") and print its plaintext once. With a legacy key file\n"
	 "(--key-file F also works) or stdin, import that hwy_ key instead (admin token only).",
	 create_opts, 1, 1, keys_create},
	{"list", "[--status active|suspended|revoked] [--limit N] [--cursor C]",
	 "List the workspace's keys; every page unless --limit or --cursor.", list_opts, 0, 0,
	 keys_list},
	{"get", "KID", "Show a key.", no_opts, 1, 1, keys_get},
	{"set", "KID [--name N] [--rpm N|none] [--shield off|monitor|block|inherit]\n"
		"[--status active|suspended]",
	 "Change a key; --status active lifts a suspension.", set_opts, 1, 1, keys_set},
	{"revoke", "KID", "Revoke a key; this cannot be undone.", no_opts, 1, 1, keys_revoke},
	{"rotate", "KID",
	 "Mint a replacement with the same settings, revoke the old key and print the new\n"
	 "plaintext once.",
	 no_opts, 1, 1, keys_rotate},
	{"delete", "KID", "Delete a revoked key.", no_opts, 1, 1, keys_delete},
	{"unsuspend", "KID", "Reactivate a suspended key.", no_opts, 1, 1, keys_unsuspend},
	{NULL, NULL, NULL, NULL, 0, 0, NULL},
};
