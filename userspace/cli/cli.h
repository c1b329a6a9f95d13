/* SPDX-License-Identifier: Apache-2.0 */
/* hiwayctl internals (SPEC §17): global options, the option parser, the management API
 * client and the table printer that the command files (workspaces.c, keys.c, providers.c,
 * health.c, money.c, ...) are written against. Commands return a process exit status, never a negative
 * errno. */
#ifndef HW_CLI_CLI_H
#define HW_CLI_CLI_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/* Process exit statuses, SPEC §17. */
enum hw_cli_exit {
	HW_CLI_OK = 0,
	HW_CLI_API_ERROR = 1,
	HW_CLI_USAGE = 2,
	HW_CLI_CONN = 3,
};

/* Global options: argv first, then HIWAY_URL / HIWAY_ADMIN_TOKEN / HIWAY_WORKSPACE. */
struct hw_cli {
	char *url; /* base URL, trailing slashes removed; owned */
	const char *token;
	const char *workspace;
	bool json;
	bool help;
};

/* ---- options (args.c) ---- */

struct hw_cli_opt {
	const char *name; /* long name without the leading "--" */
	bool takes_value;
};

#define HW_CLI_MAX_OPTS 12
#define HW_CLI_MAX_POS 4

struct hw_cli_args {
	const struct hw_cli_opt *spec; /* at most HW_CLI_MAX_OPTS, then a NULL name */
	const char *vals[HW_CLI_MAX_OPTS]; /* by spec index; "" for a flag that was given */
	const char *pos[HW_CLI_MAX_POS];
	int npos;
};

/* Parses argv[0..argc) against `spec` plus the global options, which are accepted anywhere.
 * With `out` NULL, parses only global options and stops at the first positional argument,
 * storing its index in *stop. Returns 0, or -EINVAL after printing the problem on stderr.
 * "-h"/"--help" sets cli->help and stops parsing. */
int hw_cli_parse(struct hw_cli *cli, int argc, char **argv, const struct hw_cli_opt *spec,
		 struct hw_cli_args *out, int *stop);

/* The value of option `name`, "" for a given flag, NULL when absent. */
const char *hw_cli_get(const struct hw_cli_args *a, const char *name);

/* Prints "hiwayctl: <message>" on stderr; returns HW_CLI_USAGE for `return hw_cli_usage(...)`. */
int hw_cli_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* `value` must be one of the NULL-terminated `choices`; else a usage error naming --opt. */
int hw_cli_check_choice(const char *opt, const char *value, const char *const *choices);

/* --rpm N|none: sets "rpm_limit" in `body` to N (>= 1) or null. Returns 0 or HW_CLI_USAGE. */
int hw_cli_set_rpm(json_t *body, const char *value);

/* --shield off|monitor|block|inherit: sets "shield_mode", inherit = null. */
int hw_cli_set_shield(json_t *body, const char *value);

/* Reads a secret (one line, surrounding whitespace trimmed) from `path`, or from stdin when
 * `path` is NULL, with echo off on a terminal. Returns 0 with a malloc'd *out the caller
 * wipes and frees, or HW_CLI_USAGE after printing why. */
int hw_cli_read_secret(const char *path, char **out);
/* The same, but an empty input is no error: 0 with *out NULL. */
int hw_cli_read_secret_opt(const char *path, char **out);

/* Out of memory ends the process with status 1: nothing useful can follow, and every caller
 * would do the same, so allocation results are checked once, here. */
void hw_cli_oom(void) __attribute__((noreturn));
static inline void *hw_cli_must(void *p)
{
	if (!p)
		hw_cli_oom();
	return p;
}

/* json_object_set_new for a request body being built. */
void hw_cli_set(json_t *obj, const char *key, json_t *value);

/* --limit N: 1..500 (SPEC §16.1). Returns 0 or HW_CLI_USAGE. */
int hw_cli_check_limit(const char *value);

/* The workspace a command acts on: `explicit_ws` (a positional argument) or --workspace /
 * HIWAY_WORKSPACE; NULL after printing a usage error. */
const char *hw_cli_workspace(const struct hw_cli *cli, const char *explicit_ws);

/* ---- management API client (client.c) ---- */

/* "/api/v1/<seg>/<seg>...", every segment percent-encoded; `segs` ends at the first NULL,
 * so optional trailing segments can be passed as NULL. Caller frees. */
char *hw_cli_path(const char *const *segs);
#define HW_CLI_PATH(...) hw_cli_path((const char *const[]){__VA_ARGS__, NULL})

/* One call. `body` (may be NULL) is sent as JSON. On a 2xx returns HW_CLI_OK with *out the
 * parsed answer (NULL for 204); otherwise prints the error (SPEC §2.1 envelope: code,
 * message, request id) and returns HW_CLI_API_ERROR, or HW_CLI_CONN when the gateway could
 * not be reached. `auth` false sends no Authorization header (/health). */
int hw_cli_call(const struct hw_cli *cli, const char *method, const char *path, json_t *body,
		bool auth, json_t **out);

/* Like hw_cli_call, but a non-2xx answer whose body is a JSON object is returned as well,
 * with its status in *status, for endpoints such as /health whose 503 carries a report; an
 * "error" envelope in it has already been printed on stderr. */
int hw_cli_call_status(const struct hw_cli *cli, const char *method, const char *path,
		       json_t *body, bool auth, json_t **out, long *status);

/* Like hw_cli_call with auth, but `body` is JSON text built by the caller: amounts typed on
 * the command line go out digit for digit, which a double in a json_t could not promise. */
int hw_cli_call_raw(const struct hw_cli *cli, const char *method, const char *path,
		    const char *body, json_t **out);

/* GET a non-JSON answer (the CSV export): on a 2xx, *text (malloc'ed, NUL-terminated) and
 * *len; errors are reported as hw_cli_call does. */
int hw_cli_call_text(const struct hw_cli *cli, const char *path, char **text, size_t *len);

struct hw_cli_param {
	const char *name;
	const char *value; /* NULL: not sent */
};

/* `path` with "?name=value&..." for the params whose value is set, values percent-encoded.
 * Caller frees. */
char *hw_cli_query(const char *path, const struct hw_cli_param *params, size_t nparams);

/* GET a list (SPEC §16.1). With `limit` or `cursor` set, fetches that one page; else follows
 * next_cursor through every page. *out is {"data":[...],"next_cursor":...}. */
int hw_cli_list(const struct hw_cli *cli, const char *path, const struct hw_cli_param *params,
		size_t nparams, const char *limit, const char *cursor, json_t **out);

/* ---- output (output.c) ---- */

struct hw_cli_col {
	const char *title;
	const char *field;     /* dotted path into the row object */
	const char *null_text; /* shown for null or missing; "-" when NULL */
};

/* Aligned table of `rows` (a JSON array of objects) with a header line. */
void hw_cli_print_table(const struct hw_cli_col *cols, size_t ncols, json_t *rows);

/* Two aligned columns, field and value; nested objects are flattened as "a.b". Fields named
 * in the NULL-terminated `skip` (may be NULL) are left out. */
void hw_cli_print_object(json_t *obj, const char *const *skip);

/* A value as table text: strings as they are (control characters shown as '?', so a name
 * cannot drive the terminal), null or missing as `null_text` ("-" when NULL), numbers in
 * plain decimal, arrays and objects as compact JSON. Never NULL; caller frees. */
char *hw_cli_text(json_t *v, const char *null_text);

/* Prints a single-object answer: indented JSON with --json, else the field view without
 * the `skip` fields. */
void hw_cli_show(const struct hw_cli *cli, json_t *obj, const char *const *skip);

/* Indented JSON on stdout. */
void hw_cli_print_json(json_t *v);

/* Prints a plaintext key that the API returns only once, set apart so it cannot be missed. */
void hw_cli_print_secret(const char *what, const char *key);

/* ---- command groups ---- */

/* A command group's verbs; the array ends with an entry whose `run` is NULL. A verb whose
 * `name` is NULL is the group's only one and takes no verb word (`hiwayctl health`). */
struct hw_cli_verb {
	const char *name;
	const char *synopsis; /* arguments after "hiwayctl <group> <verb>"; '\n' continues */
	const char *help;     /* what it does; '\n' starts a new line */
	const struct hw_cli_opt *opts;
	int min_pos, max_pos;
	int (*run)(struct hw_cli *cli, const struct hw_cli_args *a);
};

extern const struct hw_cli_verb hw_cli_workspaces_verbs[];
extern const struct hw_cli_verb hw_cli_keys_verbs[];
extern const struct hw_cli_verb hw_cli_health_verbs[];
extern const struct hw_cli_verb hw_cli_providers_verbs[];
extern const struct hw_cli_verb hw_cli_webhooks_verbs[];
extern const struct hw_cli_verb hw_cli_audit_verbs[];
extern const struct hw_cli_verb hw_cli_security_verbs[];
extern const struct hw_cli_verb hw_cli_wallet_verbs[];
extern const struct hw_cli_verb hw_cli_budget_verbs[];
extern const struct hw_cli_verb hw_cli_plan_verbs[];
extern const struct hw_cli_verb hw_cli_usage_verbs[];

/* security_config.c: the `security config` verb, listed in hw_cli_security_verbs. */
extern const char hw_cli_security_config_synopsis[], hw_cli_security_config_help[];
extern const struct hw_cli_opt hw_cli_security_config_opts[];
int hw_cli_security_config(struct hw_cli *cli, const struct hw_cli_args *a);

extern const struct hw_cli_verb hw_cli_iprules_verbs[];
extern const struct hw_cli_verb hw_cli_bans_verbs[];
extern const struct hw_cli_verb hw_cli_perimeter_verbs[];

extern const struct hw_cli_verb hw_cli_guardian_verbs[];

#endif
