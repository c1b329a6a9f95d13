// SPDX-License-Identifier: Apache-2.0
/* `hiwayctl health`: GET /health (SPEC §5.5). It needs no credential, and its 503 is a health
 * report rather than an error envelope, so it is shown before exiting with status 1. */
#include "cli/cli.h"

#include <stdio.h>

static int health(struct hw_cli *cli, const struct hw_cli_args *a)
{
	static const char *const skip[] = {"error", NULL};
	json_t *report = NULL;
	long status = 0;
	int ret = hw_cli_call_status(cli, "GET", "/health", NULL, false, &report, &status);

	if (ret)
		return ret;
	/* A 503 report carries the envelope beside it, already printed as the error line. */
	hw_cli_show(cli, report, skip);
	if (status != 200) {
		if (!json_object_get(report, "error"))
			fprintf(stderr, "error: unavailable: the gateway answered HTTP %ld\n", status);
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
