// SPDX-License-Identifier: Apache-2.0
/* `hiwayctl webhooks ...`: the workspace's webhooks (SPEC §15, §16.2, §17). A secret is
 * read from --secret-file or stdin, never from argv, where other users could read it; with
 * neither, the server generates one and it is printed once. */
#include "cli/cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *const skip_secret[] = {"secret", NULL};

/* A comma-separated option as a JSON array of strings ("" = the empty list). */
static json_t *split_list(const char *csv)
{
	json_t *arr = hw_cli_must(json_array());
	char *copy = hw_cli_must(strdup(csv)), *save = NULL;

	for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save))
		json_array_append_new(arr, hw_cli_must(json_string(t)));
	free(copy);
	return arr;
}

static int webhooks_add(struct hw_cli *cli, const struct hw_cli_args *a)
{
	const char *ws = hw_cli_workspace(cli, NULL), *events = hw_cli_get(a, "events");
	const char *actions = hw_cli_get(a, "security-actions"), *file = hw_cli_get(a, "secret-file");
	json_t *body = hw_cli_must(json_object()), *out = NULL;
	char *secret = NULL, *path = NULL;
	int ret = HW_CLI_USAGE;

	if (!ws)
		goto out;
	/* Stdin only when piped: on a terminal the server's generated secret is the default. */
	if (file || !isatty(STDIN_FILENO)) {
		ret = hw_cli_read_secret_opt(file, &secret);
		if (ret)
			goto out;
	}
	hw_cli_set(body, "name", json_string(a->pos[0]));
	hw_cli_set(body, "url", json_string(a->pos[1]));
	if (events)
		hw_cli_set(body, "events", split_list(events));
	if (actions)
		hw_cli_set(body, "security_actions", split_list(actions));
	if (secret)
		hw_cli_set(body, "secret", json_string(secret));
	path = HW_CLI_PATH("workspaces", ws, "webhooks");
	ret = hw_cli_call(cli, "POST", path, body, true, &out);
	if (ret == HW_CLI_OK && out) {
		const char *generated = json_string_value(json_object_get(out, "secret"));

		hw_cli_show(cli, out, skip_secret);
		if (generated && !cli->json)
			hw_cli_print_secret("Webhook signing secret", generated);
	}
out:
	/* The body holds the secret too: wipe jansson's copy before it is freed. */
	if (secret) {
		json_t *v = json_object_get(body, "secret");
		explicit_bzero((char *)json_string_value(v), json_string_length(v));
		explicit_bzero(secret, strlen(secret));
	}
	free(secret);
	json_decref(body);
	json_decref(out);
	free(path);
	return ret;
}

static int webhooks_list(struct hw_cli *cli, const struct hw_cli_args *a)
{
	static const struct hw_cli_col cols[] = {
		{"ID", "id", NULL},
		{"NAME", "name", NULL},
		{"URL", "url", NULL},
		{"EVENTS", "events", "all"},
		{"SECURITY_ACTIONS", "security_actions", NULL},
		{"CREATED", "created_at", NULL},
	};
	const char *ws = hw_cli_workspace(cli, NULL);
	json_t *list = NULL;
	char *path;
	int ret;

	if (!ws)
		return HW_CLI_USAGE;
	path = HW_CLI_PATH("workspaces", ws, "webhooks");
	ret = hw_cli_list(cli, path, NULL, 0, NULL, NULL, &list);
	if (ret == HW_CLI_OK && cli->json)
		hw_cli_print_json(list);
	else if (ret == HW_CLI_OK)
		hw_cli_print_table(cols, sizeof(cols) / sizeof(cols[0]),
				   json_object_get(list, "data"));
	json_decref(list);
	free(path);
	return ret;
}

static int webhooks_rm(struct hw_cli *cli, const struct hw_cli_args *a)
{
	const char *ws = hw_cli_workspace(cli, NULL);
	json_t *out = NULL;
	char *path;
	int ret;

	if (!ws)
		return HW_CLI_USAGE;
	path = HW_CLI_PATH("workspaces", ws, "webhooks", a->pos[0]);
	ret = hw_cli_call(cli, "DELETE", path, NULL, true, &out);
	if (ret == HW_CLI_OK && !cli->json)
		printf("removed webhook %s\n", a->pos[0]);
	json_decref(out);
	free(path);
	return ret;
}

static const struct hw_cli_opt add_opts[] = {
	{"events", true},
	{"security-actions", true},
	{"secret-file", true},
	{NULL, false},
};
static const struct hw_cli_opt no_opts[] = {{NULL, false}};

const struct hw_cli_verb hw_cli_webhooks_verbs[] = {
	{"add", "NAME URL [--events E1,E2] [--security-actions blocked,logged] [--secret-file F]",
	 "Add a webhook. Its signing secret is read from --secret-file F, or from stdin when\n"
	 "it is not a terminal; without one the server generates it and it is printed once.\n"
	 "--events \"\" pauses the webhook; without --events it receives every event.\n"
	 "The server needs secrets.master_key.",
	 add_opts, 2, 2, webhooks_add},
	{"list", "", "List the workspace's webhooks (secrets are never shown).", no_opts, 0, 0,
	 webhooks_list},
	{"rm", "ID", "Delete a webhook; its undelivered events are dropped.", no_opts, 1, 1,
	 webhooks_rm},
	{NULL, NULL, NULL, NULL, 0, 0, NULL},
};
