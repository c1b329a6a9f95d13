// SPDX-License-Identifier: Apache-2.0
/* `hiwayctl health`: GET /health (SPEC §5.5). It needs no credential, and its 503 is a health
 * report rather than an error envelope, so it is shown before exiting with status 1. */
#include "cli/cli.h"

#include <stdio.h>

static int health(struct hw_cli *cli, const struct hw_cli_args *a)
{
	json_t *report = NULL;
	long status = 0;
	int ret = hw_cli_call_status(cli, "GET", "/health", NULL, false, &report, &status);

	if (ret)
		return ret;
	hw_cli_show(cli, report, NULL);
	if (status != 200) {
		const char *state = json_string_value(json_object_get(report, "status"));
		fprintf(stderr, "error: %s: the gateway reports itself unhealthy (HTTP %ld)\n",
			state ? state : "unavailable", status);
		ret = HW_CLI_API_ERROR;
	}
	json_decref(report);
	return ret;
}

static const struct hw_cli_opt no_opts[] = {{NULL, false}};

const struct hw_cli_verb hw_cli_health_verbs[] = {
	{NULL, "", "Gateway health: store, perimeter, open circuits (no token needed).",
	 no_opts, 0, 0, health},
	{NULL, NULL, NULL, NULL, 0, 0, NULL},
};
