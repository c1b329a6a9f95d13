// SPDX-License-Identifier: Apache-2.0
/* hiwayctl: the admin CLI over the management API (SPEC §17). This file holds the command
 * table, the usage text and the dispatch: global options, then a command group, then its
 * verb with the verb's own options. Groups the server does not serve yet stay in the table
 * without verbs, so enabling one is a one-line change. */
#include "cli/cli.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define DEFAULT_URL "http://127.0.0.1:8080"

struct group {
	const char *name;
	const struct hw_cli_verb *verbs; /* NULL: not available in this version */
	const char *note;                /* printed under the group's usage, or NULL */
};

#define NEEDS_WS "Acts on the workspace given by --workspace WS or HIWAY_WORKSPACE."

static const struct group groups[] = {
	{"workspaces", hw_cli_workspaces_verbs, NULL},
	{"keys", hw_cli_keys_verbs, NEEDS_WS},
	{"health", hw_cli_health_verbs, NULL},
	{"providers", hw_cli_providers_verbs, NEEDS_WS},
	{"ip-rules", hw_cli_iprules_verbs,
	 "Acts on the workspace given by --workspace WS or HIWAY_WORKSPACE, or with --global on\n"
	 "the server-wide rules."},
	{"bans", hw_cli_bans_verbs, NULL},
	{"security", hw_cli_security_verbs, NEEDS_WS},
	{"audit", hw_cli_audit_verbs, NEEDS_WS},
	{"budget", hw_cli_budget_verbs, NEEDS_WS},
	{"plan", hw_cli_plan_verbs, NEEDS_WS},
	{"wallet", hw_cli_wallet_verbs, NEEDS_WS},
	{"guardian", hw_cli_guardian_verbs, NEEDS_WS},
	{"webhooks", hw_cli_webhooks_verbs, NEEDS_WS},
	{"usage", hw_cli_usage_verbs, NEEDS_WS},
	{"perimeter", hw_cli_perimeter_verbs, NULL},
};

#define N_GROUPS (sizeof(groups) / sizeof(groups[0]))

static const char global_help[] =
	"Global options (accepted before or after the command):\n"
	"  --url URL        gateway base URL; env HIWAY_URL, default " DEFAULT_URL "\n"
	"  --token TOKEN    admin token or admin key; env HIWAY_ADMIN_TOKEN (preferred: other\n"
	"                   users can read a command line)\n"
	"  --workspace WS   workspace the command acts on; env HIWAY_WORKSPACE\n"
	"  --json           print the API's JSON instead of a table\n"
	"  -h, --help       this help; 'hiwayctl <command> --help' for one command\n";

static const char exit_help[] =
	"Exit status: 0 success, 1 API error, 2 usage error, 3 cannot reach the gateway.\n";

/* Writes `text`, every line after the first indented by `indent` spaces. */
static void put_indented(FILE *f, int indent, const char *text)
{
	for (const char *nl; (nl = strchr(text, '\n')); text = nl + 1)
		fprintf(f, "%.*s\n%*s", (int)(nl - text), text, indent, "");
	fprintf(f, "%s\n", text);
}

/* "<lead>hiwayctl <group> [<verb>] <synopsis>", continuation lines aligned under it. */
static void verb_line(FILE *f, const char *lead, const struct group *g, const struct hw_cli_verb *v)
{
	int n = fprintf(f, "%shiwayctl %s%s%s%s", lead, g->name, v->name ? " " : "",
			v->name ? v->name : "", *v->synopsis ? " " : "");
	put_indented(f, n, v->synopsis);
}

/* All the group's verbs, or with `only` that verb alone. `full` is the --help text on
 * stdout; otherwise a reminder of the syntax follows a usage error on stderr. */
static void group_usage(const struct group *g, const struct hw_cli_verb *only, bool full)
{
	FILE *f = full ? stdout : stderr;

	if (only) {
		verb_line(f, "usage: ", g, only);
	} else {
		fprintf(f, "usage: hiwayctl [global options] %s%s\n%s", g->name,
			g->verbs[0].name ? " <verb> ..." : "", full ? "\n" : "");
		for (const struct hw_cli_verb *v = g->verbs; v->run; v++) {
			verb_line(f, "  ", g, v);
			if (full) {
				fputs("      ", f);
				put_indented(f, 6, v->help);
			}
		}
	}
	if (!full) {
		fprintf(f, "Run 'hiwayctl %s%s%s --help' for details.\n", g->name,
			only && only->name ? " " : "", only && only->name ? only->name : "");
		return;
	}
	if (only) {
		fputs("\n  ", f);
		put_indented(f, 2, only->help);
	}
	if (g->note)
		fprintf(f, "\n%s\n", g->note);
	fprintf(f, "\n%s\n%s", global_help, exit_help);
}

static void usage(bool full)
{
	FILE *f = full ? stdout : stderr;

	fputs("usage: hiwayctl [--url URL] [--token TOKEN] [--workspace WS] [--json] <command> ...\n",
	      f);
	if (!full) {
		fputs("Run 'hiwayctl --help' for the commands and options.\n", f);
		return;
	}
	fputs("\nAdmin CLI for the hiway management API.\n\nCommands:\n", f);
	for (size_t i = 0; i < N_GROUPS; i++) {
		const struct group *g = &groups[i];
		if (!g->verbs)
			continue;
		fprintf(f, "  %-11s", g->name);
		/* A group without verb words is described by its one verb's help instead. */
		if (!g->verbs[0].name)
			fprintf(f, "%.*s", (int)strcspn(g->verbs[0].help, "\n"), g->verbs[0].help);
		for (const struct hw_cli_verb *v = g->verbs; v->run && v->name; v++)
			fprintf(f, "%s%s", v == g->verbs ? "" : "|", v->name);
		fputc('\n', f);
	}
	fputs("\nNot available in this version:\n ", f);
	for (size_t i = 0, col = 1, first = 1; i < N_GROUPS; i++) {
		if (groups[i].verbs)
			continue;
		if (!first)
			fputc(',', f);
		/* Wrapped like the rest of the help, under 80 columns. */
		if (col + strlen(groups[i].name) + 3 > 78) {
			fputs("\n ", f);
			col = 1;
		}
		col += (size_t)fprintf(f, " %s", groups[i].name) + !first;
		first = 0;
	}
	fprintf(f, "\n\n%s\n%s", global_help, exit_help);
}

static const struct group *find_group(const char *name)
{
	for (size_t i = 0; i < N_GROUPS; i++) {
		if (strcmp(groups[i].name, name) == 0)
			return &groups[i];
	}
	return NULL;
}

/* Fills what argv left unset from the environment and checks it. */
static int resolve_globals(struct hw_cli *cli)
{
	if (!cli->url) {
		const char *env = getenv("HIWAY_URL");
		cli->url = hw_cli_must(strdup(env && *env ? env : DEFAULT_URL));
	}
	if (strncasecmp(cli->url, "http://", 7) != 0 && strncasecmp(cli->url, "https://", 8) != 0)
		return hw_cli_usage("--url: expected an http:// or https:// URL, got '%s'", cli->url);
	/* Paths are appended as "/api/v1/...". */
	for (size_t n = strlen(cli->url); n > 0 && cli->url[n - 1] == '/'; n--)
		cli->url[n - 1] = '\0';

	if (!cli->token)
		cli->token = getenv("HIWAY_ADMIN_TOKEN");
	/* The token goes into a header line: a control character would split it. */
	for (const char *p = cli->token; p && *p; p++) {
		if ((unsigned char)*p <= ' ' || *p == 0x7f)
			return hw_cli_usage("the admin token holds a space or control character");
	}
	if (!cli->workspace)
		cli->workspace = getenv("HIWAY_WORKSPACE");
	return 0;
}

static int run_verb(struct hw_cli *cli, const struct group *g, const struct hw_cli_verb *v,
		    int argc, char **argv)
{
	struct hw_cli_args a;
	int ret;

	if (hw_cli_parse(cli, argc, argv, v->opts, &a, NULL)) {
		group_usage(g, v, false);
		return HW_CLI_USAGE;
	}
	if (cli->help) {
		group_usage(g, v, true);
		return HW_CLI_OK;
	}
	if (a.npos < v->min_pos || a.npos > v->max_pos) {
		/* The synopsis starts with the required arguments' names. */
		if (a.npos < v->min_pos)
			hw_cli_usage("missing %.*s", (int)strcspn(v->synopsis, " \n"), v->synopsis);
		else
			hw_cli_usage("unexpected argument '%s'", a.pos[v->max_pos]);
		group_usage(g, v, false);
		return HW_CLI_USAGE;
	}
	ret = resolve_globals(cli);
	if (ret == HW_CLI_OK)
		ret = v->run(cli, &a);
	if (ret == HW_CLI_USAGE)
		group_usage(g, v, false);
	return ret;
}

static int run_group(struct hw_cli *cli, const struct group *g, int argc, char **argv)
{
	const struct hw_cli_verb *v = g->verbs;
	int i;

	if (!g->verbs) {
		hw_cli_usage("'%s' is not available in this version", g->name);
		return HW_CLI_USAGE;
	}
	if (!v->name)
		return run_verb(cli, g, v, argc, argv);

	if (hw_cli_parse(cli, argc, argv, NULL, NULL, &i)) {
		group_usage(g, NULL, false);
		return HW_CLI_USAGE;
	}
	if (cli->help || i == argc) {
		if (!cli->help)
			hw_cli_usage("%s: missing verb", g->name);
		group_usage(g, NULL, cli->help);
		return cli->help ? HW_CLI_OK : HW_CLI_USAGE;
	}
	for (; v->run; v++) {
		if (strcmp(v->name, argv[i]) == 0)
			return run_verb(cli, g, v, argc - i - 1, argv + i + 1);
	}
	hw_cli_usage("%s: unknown verb '%s'", g->name, argv[i]);
	group_usage(g, NULL, false);
	return HW_CLI_USAGE;
}

/* `hiwayctl help [command]`. */
static int run_help(int argc, char **argv)
{
	const struct group *g = argc > 0 ? find_group(argv[0]) : NULL;

	if (argc > 0 && !g) {
		hw_cli_usage("unknown command '%s'", argv[0]);
		usage(false);
		return HW_CLI_USAGE;
	}
	if (g && !g->verbs)
		return hw_cli_usage("'%s' is not available in this version", g->name);
	if (g)
		group_usage(g, NULL, true);
	else
		usage(true);
	return HW_CLI_OK;
}

int main(int argc, char **argv)
{
	struct hw_cli cli = {0};
	const struct group *g;
	int i, ret;

	if (hw_cli_parse(&cli, argc - 1, argv + 1, NULL, NULL, &i)) {
		usage(false);
		ret = HW_CLI_USAGE;
		goto out;
	}
	i++;
	if (cli.help || i == argc) {
		usage(cli.help);
		ret = cli.help ? HW_CLI_OK : HW_CLI_USAGE;
		goto out;
	}
	if (strcmp(argv[i], "help") == 0) {
		ret = run_help(argc - i - 1, argv + i + 1);
		goto out;
	}
	g = find_group(argv[i]);
	if (!g) {
		hw_cli_usage("unknown command '%s'", argv[i]);
		usage(false);
		ret = HW_CLI_USAGE;
		goto out;
	}
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		fputs("hiwayctl: cannot initialise libcurl\n", stderr);
		ret = HW_CLI_CONN;
		goto out;
	}
	ret = run_group(&cli, g, argc - i - 1, argv + i + 1);
	curl_global_cleanup();
out:
	free(cli.url);
	/* A full disk or closed pipe must not pass for success in a script. */
	if (fflush(stdout) != 0 && ret == HW_CLI_OK) {
		perror("hiwayctl: stdout");
		ret = HW_CLI_API_ERROR;
	}
	return ret;
}
