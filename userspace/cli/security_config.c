// SPDX-License-Identifier: Apache-2.0
/* `hiwayctl security config [get|set]`: a workspace's Security Shield settings (SPEC
 * §12.1, §16.2, §17). `set` sends only the options given; "default" puts a setting back to
 * the server's value. Custom patterns come from a JSON file holding the whole list, which
 * replaces the stored one ([] removes them all). */
#include "cli/cli.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const skip_patterns[] = {"custom_patterns", NULL};

static void show(const struct hw_cli *cli, json_t *cfg)
{
	static const struct hw_cli_col cols[] = {
	    {"NAME", "name", NULL},
	    {"THREAT_TYPE", "threat_type", NULL},
	    {"PATTERN", "pattern", NULL},
	};
	json_t *pats = json_object_get(cfg, "custom_patterns");

	hw_cli_show(cli, cfg, skip_patterns);
	if (cli->json)
		return;
	if (json_array_size(pats)) {
		printf("\ncustom_patterns:\n");
		hw_cli_print_table(cols, sizeof(cols) / sizeof(cols[0]), pats);
	} else {
		printf("custom_patterns  (none)\n");
	}
}

/* "default" = null, else what `parse` accepts; a usage error otherwise. */
static int set_threshold(json_t *body, const char *v)
{
	char *end = NULL;
	double t;

	if (strcmp(v, "default") == 0) {
		hw_cli_set(body, "threshold", json_null());
		return 0;
	}
	errno = 0;
	t = strtod(v, &end);
	if (!*v || *end || errno || !(t >= 0 && t <= 1))
		return hw_cli_usage("security config set: --threshold takes 0 to 1, or default");
	hw_cli_set(body, "threshold", json_real(t));
	return 0;
}

static int set_retention(json_t *body, const char *v)
{
	char *end = NULL;
	long long d;

	if (strcmp(v, "default") == 0) {
		hw_cli_set(body, "retention_days", json_null());
		return 0;
	}
	errno = 0;
	d = strtoll(v, &end, 10);
	if (!*v || *end || errno || d < 1 || d > 3650)
		return hw_cli_usage(
		    "security config set: --retention-days takes 1 to 3650, or default");
	hw_cli_set(body, "retention_days", json_integer(d));
	return 0;
}

static int set_patterns(json_t *body, const char *path)
{
	json_error_t err;
	json_t *v = json_load_file(path, JSON_REJECT_DUPLICATES, &err);

	if (!v)
		return hw_cli_usage("--patterns-file %s: %s (line %d)", path, err.text, err.line);
	if (!json_is_array(v)) {
		json_decref(v);
		return hw_cli_usage("--patterns-file %s: expected a JSON array of "
				    "{name, threat_type, pattern}",
				    path);
	}
	hw_cli_set(body, "custom_patterns", v);
	return 0;
}

static int config_set(struct hw_cli *cli, const struct hw_cli_args *a, const char *path)
{
	static const char *const modes[] = {"off", "monitor", "block", "default", NULL};
	const char *mode = hw_cli_get(a, "mode"), *thr = hw_cli_get(a, "threshold");
	const char *days = hw_cli_get(a, "retention-days"), *file = hw_cli_get(a, "patterns-file");
	json_t *body = hw_cli_must(json_object()), *out = NULL;
	int ret = HW_CLI_OK;

	if (!mode && !thr && !days && !file)
		ret = hw_cli_usage("security config set: give at least one of --mode, --threshold, "
				   "--retention-days, --patterns-file");
	if (!ret && mode && !(ret = hw_cli_check_choice("mode", mode, modes)))
		hw_cli_set(body, "mode",
			   strcmp(mode, "default") == 0 ? json_null() : json_string(mode));
	if (!ret && thr)
		ret = set_threshold(body, thr);
	if (!ret && days)
		ret = set_retention(body, days);
	if (!ret && file)
		ret = set_patterns(body, file);
	if (!ret)
		ret = hw_cli_call(cli, "PUT", path, body, true, &out);
	if (ret == HW_CLI_OK && out)
		show(cli, out);
	json_decref(out);
	json_decref(body);
	return ret;
}

int hw_cli_security_config(struct hw_cli *cli, const struct hw_cli_args *a)
{
	const char *ws = hw_cli_workspace(cli, NULL);
	const char *verb = a->npos ? a->pos[0] : "get";
	json_t *out = NULL;
	char *path;
	int ret;

	if (!ws)
		return HW_CLI_USAGE;
	if (strcmp(verb, "get") != 0 && strcmp(verb, "set") != 0)
		return hw_cli_usage("security config: expected get or set, got '%s'", verb);
	path = HW_CLI_PATH("workspaces", ws, "security", "config");
	if (strcmp(verb, "set") == 0) {
		ret = config_set(cli, a, path);
	} else if (hw_cli_get(a, "mode") || hw_cli_get(a, "threshold") ||
		   hw_cli_get(a, "retention-days") || hw_cli_get(a, "patterns-file")) {
		ret = hw_cli_usage("security config get takes no option; did you mean set?");
	} else {
		ret = hw_cli_call(cli, "GET", path, NULL, true, &out);
		if (ret == HW_CLI_OK && out)
			show(cli, out);
	}
	json_decref(out);
	free(path);
	return ret;
}

const struct hw_cli_opt hw_cli_security_config_opts[] = {
	{"mode", true},
	{"threshold", true},
	{"retention-days", true},
	{"patterns-file", true},
	{NULL, false},
};

const char hw_cli_security_config_synopsis[] =
	"[get|set] [--mode off|monitor|block|default]\n"
	"[--threshold T] [--retention-days N]\n"
	"[--patterns-file F.json]";

const char hw_cli_security_config_help[] =
	"Show (get, the default) or change (set) the workspace's Security Shield\n"
	"settings: mode, block threshold T (0 to 1), audit retention N in days\n"
	"(1 to 3650) and custom patterns; `default` as a value puts a setting back\n"
	"to the server's. F.json holds the whole list of custom patterns,\n"
	"[{\"name\", \"threat_type\", \"pattern\"}] (at most 100), which replaces\n"
	"the stored one; [] removes them.";
