// SPDX-License-Identifier: Apache-2.0
/* `hiwayctl bans ...` and `hiwayctl perimeter status` (SPEC §13.3, §14, §16.2, §17): manual
 * bans, listing and lifting any ban (auto-bans included), and what the perimeter agent last
 * reported. Admin token only. */
#include "cli/cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int bans_add(struct hw_cli *cli, const struct hw_cli_args *a)
{
	const char *ttl = hw_cli_get(a, "ttl"), *comment = hw_cli_get(a, "comment");
	json_t *body = hw_cli_must(json_object()), *out = NULL;
	char *path = HW_CLI_PATH("bans");
	int ret = HW_CLI_USAGE;

	hw_cli_set(body, "cidr", json_string(a->pos[0]));
	if (ttl) {
		char *end;
		long long v = strtoll(ttl, &end, 10);
		if (!ttl[0] || *end || v < 1) {
			hw_cli_usage("--ttl: seconds, a whole number >= 1");
			goto out;
		}
		hw_cli_set(body, "ttl_s", json_integer(v));
	}
	if (comment)
		hw_cli_set(body, "comment", json_string(comment));
	ret = hw_cli_call(cli, "POST", path, body, true, &out);
	if (ret == HW_CLI_OK && out)
		hw_cli_show(cli, out, NULL);
out:
	json_decref(body);
	json_decref(out);
	free(path);
	return ret;
}

static int bans_list(struct hw_cli *cli, const struct hw_cli_args *a)
{
	static const struct hw_cli_col cols[] = {
	    {"ID", "id", NULL},
	    {"CIDR", "cidr", NULL},
	    {"REASON", "reason", NULL},
	    {"CREATED", "created_at", NULL},
	    {"EXPIRES", "expires_at", "never"},
	    {"COMMENT", "comment", NULL},
	};
	json_t *list = NULL;
	char *path = HW_CLI_PATH("bans");
	int ret =
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

static int bans_rm(struct hw_cli *cli, const struct hw_cli_args *a)
{
	json_t *out = NULL;
	char *path = HW_CLI_PATH("bans", a->pos[0]);
	int ret = hw_cli_call(cli, "DELETE", path, NULL, true, &out);

	if (ret == HW_CLI_OK && !cli->json)
		printf("lifted ban %s\n", a->pos[0]);
	json_decref(out);
	free(path);
	return ret;
}

static int perimeter_status(struct hw_cli *cli, const struct hw_cli_args *a)
{
	json_t *out = NULL;
	char *path = HW_CLI_PATH("perimeter");
	int ret = hw_cli_call(cli, "GET", path, NULL, true, &out);

	if (ret == HW_CLI_OK && out)
		hw_cli_show(cli, out, NULL);
	json_decref(out);
	free(path);
	return ret;
}

static const struct hw_cli_opt add_opts[] = {{"ttl", true}, {"comment", true}, {NULL, false}};
static const struct hw_cli_opt list_opts[] = {{"limit", true}, {"cursor", true}, {NULL, false}};
static const struct hw_cli_opt no_opts[] = {{NULL, false}};

const struct hw_cli_verb hw_cli_bans_verbs[] = {
    {"add", "CIDR [--ttl SECONDS] [--comment TEXT]",
     "Ban an address or block (reason manual); without --ttl it lasts until lifted.", add_opts, 1,
     1, bans_add},
    {"list", "[--limit N] [--cursor C]", "List bans, auto-bans included.", list_opts, 0, 0,
     bans_list},
    {"rm", "ID", "Lift a ban; it stops applying at once.", no_opts, 1, 1, bans_rm},
    {NULL, NULL, NULL, NULL, 0, 0, NULL},
};

const struct hw_cli_verb hw_cli_perimeter_verbs[] = {
    {"status", "",
     "The kernel perimeter: agent liveness, interfaces, generation, rule and\n"
     "ban counts, packet counters per verdict.",
     no_opts, 0, 0, perimeter_status},
    {NULL, NULL, NULL, NULL, 0, 0, NULL},
};
