// SPDX-License-Identifier: Apache-2.0
/* `hiwayctl audit verify|head` and `hiwayctl security export` (SPEC §12.3, §17): check a
 * workspace's hash chain on the server or, with --file, an export offline with the same
 * verify code the server runs; print the chain head to keep elsewhere, so that
 * --expect-head later also catches a chain rewritten from end to end. Tampering found is
 * exit status 1 and names the first bad seq. */
#include "cli/cli.h"

#include "shield/audit.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --expect-head SEQ:HASH; 0 or HW_CLI_USAGE. */
static int expect_parse(const char *v, long long *seq, char hash[65])
{
	int used = 0;
	*seq = 0;
	if (!v)
		return 0;
	if (sscanf(v, "%lld:%64[0-9a-f]%n", seq, hash, &used) != 2 || v[used] || *seq < 1 ||
	    strlen(hash) != 64)
		return hw_cli_usage(
		    "audit verify: --expect-head takes SEQ:HASH (64 lowercase hex)");
	return 0;
}

static int verdict_print(const struct hw_cli *cli, const char *what, bool ok, long long rows,
			 long long head_seq, const char *head_hash, long long bad_seq,
			 const char *problem)
{
	if (cli->json) {
		json_t *o =
		    json_pack("{s:b,s:I,s:I,s:o,s:o,s:o}", "ok", ok, "rows", (json_int_t)rows,
			      "head_seq", (json_int_t)head_seq, "head_hash",
			      head_hash && *head_hash ? json_string(head_hash) : json_null(),
			      "first_bad_seq", ok ? json_null() : json_integer(bad_seq), "problem",
			      ok ? json_null() : json_string(problem));
		hw_cli_print_json(hw_cli_must(o));
		json_decref(o);
	} else if (ok) {
		printf("ok: %s: %lld rows, head %lld:%s\n", what, rows, head_seq,
		       head_hash && *head_hash ? head_hash : "-");
	}
	if (!ok)
		fprintf(stderr, "tampering found: %s: seq %lld: %s\n", what, bad_seq, problem);
	return ok ? HW_CLI_OK : HW_CLI_API_ERROR;
}

static char *file_read(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *data = NULL;
	size_t cap = 0;
	*len = 0;
	if (!f)
		return NULL;
	for (;;) {
		if (*len + 4096 + 1 > cap) {
			cap = cap ? cap * 2 : 65536;
			data = hw_cli_must(realloc(data, cap));
		}
		size_t got = fread(data + *len, 1, cap - *len - 1, f);
		*len += got;
		if (got == 0)
			break;
	}
	data[*len] = '\0';
	if (ferror(f)) {
		free(data);
		data = NULL;
	}
	fclose(f);
	return data;
}

/* Rows of a JSON export ({"events":[…]}) or a CSV export. */
static int export_rows(const char *text, size_t len, struct hw_audit_row **rows, size_t *n)
{
	size_t i = 0;
	while (i < len && (text[i] == ' ' || text[i] == '\n' || text[i] == '\r' || text[i] == '\t'))
		i++;
	if (i == len || text[i] != '{')
		return hw_audit_rows_from_csv(text, len, rows, n);

	json_t *doc = json_loadb(text, len, 0, NULL), *events = json_object_get(doc, "events"), *ev;
	int rc = json_is_array(events) ? 0 : -EINVAL;
	*rows = NULL;
	*n = 0;
	if (rc == 0 && json_array_size(events)) {
		*rows = hw_cli_must(calloc(json_array_size(events), sizeof(**rows)));
		json_array_foreach(events, i, ev)
		{
			rc = hw_audit_row_from_json(ev, &(*rows)[i]);
			if (rc < 0)
				break;
		}
		*n = json_array_size(events);
	}
	json_decref(doc);
	if (rc < 0) {
		free(*rows);
		*rows = NULL;
		*n = 0;
	}
	return rc;
}

static int verify_file(const struct hw_cli *cli, const char *path, long long expect_seq,
		       const char *expect_hash)
{
	struct hw_audit_row *rows = NULL;
	struct hw_audit_verdict v;
	size_t len = 0, n = 0;
	char *text = file_read(path, &len);
	int ret;

	if (!text) {
		perror(path);
		return HW_CLI_USAGE;
	}
	if (export_rows(text, len, &rows, &n) < 0) {
		free(text);
		return hw_cli_usage("audit verify: %s is not a JSON or CSV audit export", path);
	}
	hw_audit_verify(rows, n, false, expect_seq, expect_hash, &v);
	ret = verdict_print(cli, path, v.ok, v.rows, v.head_seq, v.head_hash, v.first_bad_seq,
			    v.problem);
	free(rows);
	free(text);
	return ret;
}

static int audit_verify(struct hw_cli *cli, const struct hw_cli_args *a)
{
	const char *file = hw_cli_get(a, "file"), *expect = hw_cli_get(a, "expect-head");
	char hash[65] = "", *path = NULL, *query = NULL;
	long long seq = 0;
	json_t *out = NULL;
	int ret = expect_parse(expect, &seq, hash);

	if (ret)
		return ret;
	if (file)
		return verify_file(cli, file, seq, hash);
	const char *ws = hw_cli_workspace(cli, NULL);
	if (!ws)
		return HW_CLI_USAGE;
	path = HW_CLI_PATH("workspaces", ws, "security", "verify");
	if (asprintf(&query, "%s%s%s", path, expect ? "?expect_head=" : "", expect ? expect : "") <
	    0)
		hw_cli_oom();
	ret = hw_cli_call(cli, "GET", query, NULL, true, &out);
	if (ret == HW_CLI_OK) {
		bool ok = json_is_true(json_object_get(out, "ok"));
		ret = verdict_print(cli, ws, ok, json_integer_value(json_object_get(out, "rows")),
				    json_integer_value(json_object_get(out, "head_seq")),
				    json_string_value(json_object_get(out, "head_hash")),
				    json_integer_value(json_object_get(out, "first_bad_seq")),
				    ok ? NULL : json_string_value(json_object_get(out, "problem")));
	}
	json_decref(out);
	free(query);
	free(path);
	return ret;
}

static int audit_head(struct hw_cli *cli, const struct hw_cli_args *a)
{
	const char *ws = hw_cli_workspace(cli, NULL);
	char *path;
	json_t *out = NULL;
	int ret;

	if (!ws)
		return HW_CLI_USAGE;
	path = HW_CLI_PATH("workspaces", ws, "security", "verify");
	ret = hw_cli_call(cli, "GET", path, NULL, true, &out);
	if (ret == HW_CLI_OK && cli->json) {
		json_t *o = json_pack("{s:s,s:O,s:O}", "workspace_id", ws, "head_seq",
				      json_object_get(out, "head_seq"), "head_hash",
				      json_object_get(out, "head_hash"));
		hw_cli_print_json(hw_cli_must(o));
		json_decref(o);
	} else if (ret == HW_CLI_OK) {
		const char *h = json_string_value(json_object_get(out, "head_hash"));
		/* SEQ:HASH as --expect-head takes it back. */
		printf("%s %lld:%s\n", ws,
		       (long long)json_integer_value(json_object_get(out, "head_seq")),
		       h ? h : "-");
	}
	json_decref(out);
	free(path);
	return ret;
}

static int security_export(struct hw_cli *cli, const struct hw_cli_args *a)
{
	static const char *const fmts[] = {"csv", "json", NULL};
	const char *fmt = hw_cli_get(a, "fmt"), *days = hw_cli_get(a, "days");
	const char *ws = hw_cli_workspace(cli, NULL);
	char *path = NULL, *query = NULL, *text = NULL, *end = NULL;
	size_t len = 0;
	int ret;

	if (!ws)
		return HW_CLI_USAGE;
	if (!fmt)
		fmt = "json";
	ret = hw_cli_check_choice("fmt", fmt, fmts);
	if (ret)
		return ret;
	if (days) {
		long long d = strtoll(days, &end, 10);
		if (!*days || *end || d < 1 || d > 3650)
			return hw_cli_usage("security export: --days takes 1 to 3650");
	}
	path = HW_CLI_PATH("workspaces", ws, "security", "export");
	if (asprintf(&query, "%s?fmt=%s&days=%s", path, fmt, days ? days : "30") < 0)
		hw_cli_oom();
	ret = hw_cli_call_text(cli, query, &text, &len);
	if (ret == HW_CLI_OK && fwrite(text, 1, len, stdout) != len)
		ret = HW_CLI_API_ERROR;
	free(text);
	free(query);
	free(path);
	return ret;
}

static const struct hw_cli_opt verify_opts[] = {
    {"file", true},
    {"expect-head", true},
    {NULL, false},
};
static const struct hw_cli_opt export_opts[] = {
    {"fmt", true},
    {"days", true},
    {NULL, false},
};
static const struct hw_cli_opt no_opts[] = {{NULL, false}};

const struct hw_cli_verb hw_cli_audit_verbs[] = {
    {"verify", "[--file F] [--expect-head SEQ:HASH]",
     "Check the workspace's audit hash chain on the server, or an export file F (JSON or\n"
     "CSV) offline from its first prev_hash. --expect-head also requires the row SEQ to\n"
     "still hash to HASH (from an earlier `audit head`). Exit status 1 names the first\n"
     "bad seq and the problem: modified, missing, inserted_or_reordered, anchor_mismatch.",
     verify_opts, 0, 0, audit_verify},
    {"head", "", "Print the workspace's chain head as `WS SEQ:HASH`, to keep elsewhere.", no_opts,
     0, 0, audit_head},
    {NULL, NULL, NULL, NULL, 0, 0, NULL},
};

const struct hw_cli_verb hw_cli_security_verbs[] = {
    {"config", hw_cli_security_config_synopsis, hw_cli_security_config_help,
     hw_cli_security_config_opts, 0, 1, hw_cli_security_config},
    {"export", "[--fmt csv|json] [--days N]",
     "Write the workspace's audit rows of the last N days (default 30) to stdout, as\n"
     "JSON (default) or CSV; `audit verify --file` checks the result offline.",
     export_opts, 0, 0, security_export},
    {NULL, NULL, NULL, NULL, 0, 0, NULL},
};
