// SPDX-License-Identifier: Apache-2.0
/* `hiwayctl providers ...`: the workspace's provider keys (BYOK, SPEC §16.2, §16.3, §17).
 * A key is read from --key-file or stdin, never from argv, where other users could read it;
 * the API never returns it, so only its fingerprint is ever printed. */
#include "cli/cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int providers_list(struct hw_cli *cli, const struct hw_cli_args *a)
{
	static const struct hw_cli_col cols[] = {
		{"PROVIDER", "provider", NULL},
		{"KIND", "kind", NULL},
		{"CONFIGURED", "configured", NULL},
		{"SOURCE", "source", NULL},
		{"ENABLED", "enabled", NULL},
		{"FINGERPRINT", "fingerprint", NULL},
		{"UPDATED", "updated_at", NULL},
	};
	const char *ws = hw_cli_workspace(cli, NULL);
	json_t *list = NULL;
	char *path;
	int ret;

	if (!ws)
		return HW_CLI_USAGE;
	path = HW_CLI_PATH("workspaces", ws, "providers");
	ret = hw_cli_call(cli, "GET", path, NULL, true, &list);
	if (ret == HW_CLI_OK && cli->json)
		hw_cli_print_json(list);
	else if (ret == HW_CLI_OK)
		hw_cli_print_table(cols, sizeof(cols) / sizeof(cols[0]),
				   json_object_get(list, "data"));
	json_decref(list);
	free(path);
	return ret;
}

/* The key to send, if any: --key-file F, else stdin when it is not a terminal (empty input
 * means none), else a prompt on the terminal unless only a switch was asked for. */
static int key_read(const struct hw_cli_args *a, bool switch_given, char **key)
{
	const char *file = hw_cli_get(a, "key-file");
	int ret;

	*key = NULL;
	if (file)
		return hw_cli_read_secret(file, key);
	if (isatty(STDIN_FILENO))
		return switch_given ? 0 : hw_cli_read_secret(NULL, key);
	ret = hw_cli_read_secret_opt(NULL, key);
	if (ret == 0 && !*key && !switch_given)
		ret = hw_cli_usage("providers set: no key on stdin (or give --key-file, --enable "
				   "or --disable)");
	return ret;
}

static int providers_set(struct hw_cli *cli, const struct hw_cli_args *a)
{
	bool enable = hw_cli_get(a, "enable") != NULL, disable = hw_cli_get(a, "disable") != NULL;
	const char *ws = hw_cli_workspace(cli, NULL);
	json_t *body = hw_cli_must(json_object()), *out = NULL;
	char *key = NULL, *path = NULL;
	int ret = HW_CLI_USAGE;

	if (!ws)
		goto out;
	if (enable && disable) {
		hw_cli_usage("providers set: --enable and --disable exclude each other");
		goto out;
	}
	ret = key_read(a, enable || disable, &key);
	if (ret)
		goto out;
	if (key)
		hw_cli_set(body, "api_key", json_string(key));
	if (enable || disable)
		hw_cli_set(body, "enabled", json_boolean(enable));
	path = HW_CLI_PATH("workspaces", ws, "providers", a->pos[0]);
	ret = hw_cli_call(cli, "PUT", path, body, true, &out);
	if (ret == HW_CLI_OK && out)
		hw_cli_show(cli, out, NULL);
out:
	/* The body holds the key too: wipe jansson's copy before it is freed. */
	if (key) {
		json_t *v = json_object_get(body, "api_key");
		explicit_bzero((char *)json_string_value(v), json_string_length(v));
		explicit_bzero(key, strlen(key));
	}
	free(key);
	json_decref(body);
	json_decref(out);
	free(path);
	return ret;
}

static int providers_unset(struct hw_cli *cli, const struct hw_cli_args *a)
{
	const char *ws = hw_cli_workspace(cli, NULL);
	json_t *out = NULL;
	char *path;
	int ret;

	if (!ws)
		return HW_CLI_USAGE;
	path = HW_CLI_PATH("workspaces", ws, "providers", a->pos[0]);
	ret = hw_cli_call(cli, "DELETE", path, NULL, true, &out);
	if (ret == HW_CLI_OK && !cli->json)
		printf("removed the workspace's key and setting for provider %s\n", a->pos[0]);
	json_decref(out);
	free(path);
	return ret;
}

static const struct hw_cli_opt set_opts[] = {
	{"key-file", true},
	{"enable", false},
	{"disable", false},
	{NULL, false},
};
static const struct hw_cli_opt no_opts[] = {{NULL, false}};

const struct hw_cli_verb hw_cli_providers_verbs[] = {
	{"list", "", "List every configured provider: where the workspace's key comes from\n"
		     "(workspace, server, not_required, none), whether it is enabled, and the\n"
		     "fingerprint of the workspace's own key.",
	 no_opts, 0, 0, providers_list},
	{"set", "PROVIDER [--key-file F] [--enable | --disable]",
	 "Store the workspace's own key for PROVIDER, read from --key-file F, or from stdin\n"
	 "when it is not a terminal (prompted for, without echo, on a terminal); and/or turn\n"
	 "the provider on or off for the workspace. The server needs secrets.master_key.",
	 set_opts, 1, 1, providers_set},
	{"unset", "PROVIDER",
	 "Remove the workspace's key and on/off setting for PROVIDER; the server's\n"
	 "shared key, if any, applies again.",
	 no_opts, 1, 1, providers_unset},
	{NULL, NULL, NULL, NULL, 0, 0, NULL},
};
