// SPDX-License-Identifier: Apache-2.0
/* `hiwayctl wallet|budget|plan|usage`: a workspace's money over the management API (SPEC §10,
 * §16.2, §16.3, §17). Amounts typed on the command line are checked as decimals and sent as
 * JSON numbers digit for digit: a request body built through a double could turn "0.1" into
 * 0.10000000000000001, which the server refuses (at most 6 decimals) or, worse, rounds. */
#include "cli/cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* 12 integer digits keep any amount, in micro-dollars, inside an int64 on the server. */
#define INT_DIGITS_MAX 12
#define USD_DECIMALS_MAX 6
/* An included-requests count: 18 digits stay inside an int64. */
#define COUNT_DIGITS_MAX 18

static const struct hw_cli_opt no_opts[] = {{NULL, false}};

/* ---- request bodies as JSON text ---- */

/* Appends `"key":value` to the object text *body (NULL: nothing yet). `key` is one of this
 * file's constants, so it needs no escaping; `value` is JSON text. */
static void body_add(char **body, const char *key, const char *value)
{
	char *joined;

	if (asprintf(&joined, "%s%s\"%s\":%s", *body ? *body : "{", *body ? "," : "", key, value) < 0)
		hw_cli_oom();
	free(*body);
	*body = joined;
}

/* Closes the object text; NULL stays NULL (no field given). */
static char *body_end(char *body)
{
	char *closed;

	if (!body)
		return NULL;
	if (asprintf(&closed, "%s}", body) < 0)
		hw_cli_oom();
	free(body);
	return closed;
}

/* `s` as a JSON string; NULL after a usage error when it is not UTF-8. */
static char *string_json(const char *opt, const char *s)
{
	json_t *v = json_string(s);
	char *text;

	if (!v) {
		hw_cli_usage("--%s: not valid UTF-8", opt);
		return NULL;
	}
	text = hw_cli_must(json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT));
	json_decref(v);
	return text;
}

/* Skips leading zeros that JSON does not allow ("007" -> "7", "00.5" -> "0.5"); the value is
 * unchanged. */
static const char *skip_zeros(const char *s)
{
	while (s[0] == '0' && s[1] >= '0' && s[1] <= '9')
		s++;
	return s;
}

static size_t digits(const char *s)
{
	size_t n = 0;

	while (s[n] >= '0' && s[n] <= '9')
		n++;
	return n;
}

/* A non-negative decimal, "12", "0.5", "19.990000", with at most 6 decimals: returns it as
 * JSON number text (caller frees), or NULL after a usage error describing `what`. */
static char *decimal_json(const char *opt, const char *value, const char *what)
{
	const char *s = skip_zeros(value);
	size_t n = digits(s), frac = 0;

	if (s[n] == '.') {
		frac = digits(s + n + 1);
		/* "5." is not a JSON number; a trailing dot is a typo worth reporting. */
		if (frac == 0)
			n = 0;
	}
	if (n == 0 || n > INT_DIGITS_MAX || frac > USD_DECIMALS_MAX ||
	    s[n + (frac ? frac + 1 : 0)] != '\0') {
		hw_cli_usage("--%s: expected %s (digits, at most %d decimals), got '%s'", opt, what,
			     USD_DECIMALS_MAX, value);
		return NULL;
	}
	return hw_cli_must(strdup(s));
}

/* Adds option `opt` to the body as `key`, a decimal or, with `allow_none`, "none" = null.
 * Returns 0 (also when the option was not given) or HW_CLI_USAGE. */
static int add_decimal(char **body, const struct hw_cli_args *a, const char *opt,
		       const char *key, const char *what, bool allow_none)
{
	const char *value = hw_cli_get(a, opt);
	char *num;

	if (!value)
		return 0;
	if (allow_none && strcmp(value, "none") == 0) {
		body_add(body, key, "null");
		return 0;
	}
	num = decimal_json(opt, value, what);
	if (!num)
		return HW_CLI_USAGE;
	body_add(body, key, num);
	free(num);
	return 0;
}

/* ---- field views ---- */

struct field {
	const char *label;
	const char *path;      /* dotted path into the answer */
	const char *unit;      /* appended to a value that is not null, or NULL */
	const char *null_text; /* shown for null or missing */
	bool on_off;           /* a boolean shown as the on|off that `set` takes */
};

static json_t *lookup(json_t *obj, const char *path)
{
	char *copy = hw_cli_must(strdup(path)), *save = NULL;

	for (char *p = strtok_r(copy, ".", &save); p && obj; p = strtok_r(NULL, ".", &save))
		obj = json_object_get(obj, p);
	free(copy);
	return obj;
}

/* Sets view[label] to the text of obj[path] with its unit. */
static void view_add(json_t *view, const char *label, json_t *v, const char *unit,
		     const char *null_text)
{
	char *text = hw_cli_text(v, null_text), *shown = text;

	if (unit && v && !json_is_null(v) && asprintf(&shown, "%s %s", text, unit) < 0)
		hw_cli_oom();
	hw_cli_set(view, label, hw_cli_must(json_string(shown)));
	if (shown != text)
		free(shown);
	free(text);
}

/* The answer as labelled lines for people, or as it came with --json. `extra` (may be
 * NULL) holds further label -> text lines, already formatted, printed last. */
static void show_fields(const struct hw_cli *cli, json_t *obj, const struct field *f, size_t n,
			json_t *extra)
{
	json_t *view;

	if (cli->json) {
		hw_cli_print_json(obj);
		return;
	}
	view = hw_cli_must(json_object());
	for (size_t i = 0; i < n; i++) {
		json_t *v = lookup(obj, f[i].path);
		if (f[i].on_off && json_is_boolean(v))
			hw_cli_set(view, f[i].label, json_string(json_is_true(v) ? "on" : "off"));
		else
			view_add(view, f[i].label, v, f[i].unit, f[i].null_text);
	}
	if (extra && json_object_update(view, extra))
		hw_cli_oom();
	hw_cli_print_object(view, NULL);
	json_decref(view);
}

/* One call on /workspaces/{ws}/<seg>[/<sub>]; the answer in *out. */
static int money_call(struct hw_cli *cli, const char *method, const char *seg, const char *sub,
		      const char *body, json_t **out)
{
	const char *ws = hw_cli_workspace(cli, NULL);
	char *path;
	int ret;

	*out = NULL;
	if (!ws)
		return HW_CLI_USAGE;
	path = HW_CLI_PATH("workspaces", ws, seg, sub);
	ret = hw_cli_call_raw(cli, method, path, body, out);
	free(path);
	return ret;
}

/* ---- wallet ---- */

/* "off", or since when and how much of the grace (SPEC §10.3) is used. */
static char *passthrough_text(json_t *pt)
{
	char *since, *hours, *used, *grace_h, *grace_t, *s;

	if (!json_is_true(json_object_get(pt, "active")))
		return hw_cli_must(strdup("off"));
	since = hw_cli_text(json_object_get(pt, "since"), NULL);
	hours = hw_cli_text(json_object_get(pt, "elapsed_hours"), NULL);
	used = hw_cli_text(json_object_get(pt, "tokens_consumed"), NULL);
	grace_h = hw_cli_text(json_object_get(pt, "grace_hours"), NULL);
	grace_t = hw_cli_text(json_object_get(pt, "grace_tokens"), NULL);
	if (asprintf(&s, "active since %s (%s of %s hours, %s of %s tokens)", since, hours,
		     grace_h, used, grace_t) < 0)
		hw_cli_oom();
	free(since);
	free(hours);
	free(used);
	free(grace_h);
	free(grace_t);
	return s;
}

static void show_wallet(const struct hw_cli *cli, json_t *w)
{
	static const struct field f[] = {
		{"balance", "balance_usd", "USD", NULL, false},
		{"reserved", "reserved_usd", "USD", NULL, false},
		{"available", "available_usd", "USD", NULL, false},
		{"last top-up", "last_topup_usd", "USD", "none", false},
		{"last top-up at", "last_topup_at", NULL, "never", false},
		{"markup", "markup_percent", "%", NULL, false},
		{"month spend", "month_upstream_spend_usd", "USD (upstream)", NULL, false},
	};
	json_t *pt = json_object_get(w, "passthrough");
	json_t *cut = json_object_get(pt, "cut");
	json_t *extra = hw_cli_must(json_object());
	char *text = passthrough_text(pt);

	hw_cli_set(extra, "passthrough", hw_cli_must(json_string(text)));
	free(text);
	/* Why requests were stopped once the grace ran out, while it applies. */
	if (json_is_string(cut))
		view_add(extra, "passthrough cut", cut, NULL, NULL);
	show_fields(cli, w, f, sizeof(f) / sizeof(f[0]), extra);
	json_decref(extra);
}

static int wallet_get(struct hw_cli *cli, const struct hw_cli_args *a)
{
	json_t *w;
	int ret = money_call(cli, "GET", "wallet", NULL, NULL, &w);

	if (ret == HW_CLI_OK)
		show_wallet(cli, w);
	json_decref(w);
	return ret;
}

static int wallet_topup(struct hw_cli *cli, const struct hw_cli_args *a)
{
	const char *ref = hw_cli_get(a, "reference");
	char *body = NULL, *text;
	json_t *w = NULL;
	int ret;

	if (!hw_cli_get(a, "amount"))
		return hw_cli_usage("wallet topup: --amount USD is required");
	ret = add_decimal(&body, a, "amount", "amount_usd", "an amount in USD such as 25.50",
			  false);
	if (ret)
		goto out;
	if (ref) {
		text = string_json("reference", ref);
		if (!text) {
			ret = HW_CLI_USAGE;
			goto out;
		}
		body_add(&body, "reference", text);
		free(text);
	}
	body = body_end(body);
	ret = money_call(cli, "POST", "wallet", "topup", body, &w);
	if (ret == HW_CLI_OK)
		show_wallet(cli, w);
out:
	json_decref(w);
	free(body);
	return ret;
}

static int wallet_ledger(struct hw_cli *cli, const struct hw_cli_args *a)
{
	static const struct hw_cli_col cols[] = {
		{"ID", "id", NULL},
		{"AT", "at", NULL},
		{"KIND", "kind", NULL},
		{"AMOUNT_USD", "amount_usd", NULL},
		{"BALANCE_AFTER_USD", "balance_after_usd", NULL},
		{"REFERENCE", "reference", NULL},
		{"REQUEST_ID", "request_id", NULL},
	};
	const char *ws = hw_cli_workspace(cli, NULL), *limit = hw_cli_get(a, "limit");
	json_t *list = NULL;
	char *path;
	int ret;

	if (!ws || (limit && hw_cli_check_limit(limit)))
		return HW_CLI_USAGE;
	path = HW_CLI_PATH("workspaces", ws, "wallet", "ledger");
	ret = hw_cli_list(cli, path, NULL, 0, limit, hw_cli_get(a, "cursor"), &list);
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

static const struct hw_cli_opt topup_opts[] = {
	{"amount", true},
	{"reference", true},
	{NULL, false},
};
static const struct hw_cli_opt ledger_opts[] = {
	{"limit", true},
	{"cursor", true},
	{NULL, false},
};

const struct hw_cli_verb hw_cli_wallet_verbs[] = {
	{"get", "", "Balance, reserved and available credit, last top-up, markup rate, the\n"
		    "month's upstream spend and the passthrough state.",
	 no_opts, 0, 0, wallet_get},
	{"topup", "--amount USD [--reference R]",
	 "Credit the wallet (admin token only). A --reference makes the top-up idempotent:\n"
	 "the same reference and amount again credits nothing more; another amount is a\n"
	 "conflict.",
	 topup_opts, 0, 0, wallet_topup},
	{"ledger", "[--limit N] [--cursor C]",
	 "The wallet's ledger, newest first: credits, top-ups, markup charges, adjustments.\n"
	 "Without --limit or --cursor every page is fetched.",
	 ledger_opts, 0, 0, wallet_ledger},
	{NULL, NULL, NULL, NULL, 0, 0, NULL},
};

/* ---- budget ---- */

static const struct field budget_fields[] = {
	{"cap", "cap_usd", "USD", "none", false},
	{"downgrade at", "thresholds.downgrade", "x cap", NULL, false},
	{"light only at", "thresholds.light_only", "x cap", NULL, false},
	{"block at", "thresholds.block", "x cap", NULL, false},
	{"month", "month", NULL, NULL, false},
	{"spent", "spent_usd", "USD", NULL, false},
	{"reserved", "reserved_usd", "USD", NULL, false},
	{"verdict", "verdict", NULL, NULL, false},
	{"resets at", "reset_at", NULL, NULL, false},
};

static int budget_run(struct hw_cli *cli, const char *method, const char *body)
{
	json_t *b;
	int ret = money_call(cli, method, "budget", NULL, body, &b);

	if (ret == HW_CLI_OK)
		show_fields(cli, b, budget_fields, sizeof(budget_fields) / sizeof(budget_fields[0]),
			    NULL);
	json_decref(b);
	return ret;
}

static int budget_get(struct hw_cli *cli, const struct hw_cli_args *a)
{
	return budget_run(cli, "GET", NULL);
}

static int budget_set(struct hw_cli *cli, const struct hw_cli_args *a)
{
	static const char fraction[] = "a fraction of the cap such as 0.9";
	char *body = NULL, *th = NULL;
	int ret;

	/* Only the options given are sent: the server keeps the rest as they are. */
	ret = add_decimal(&body, a, "cap", "cap_usd", "an amount in USD or 'none'", true);
	if (!ret)
		ret = add_decimal(&th, a, "downgrade", "downgrade", fraction, false);
	if (!ret)
		ret = add_decimal(&th, a, "light-only", "light_only", fraction, false);
	if (!ret)
		ret = add_decimal(&th, a, "block", "block", fraction, false);
	if (ret)
		goto out;
	th = body_end(th);
	if (th)
		body_add(&body, "thresholds", th);
	body = body_end(body);
	if (!body) {
		ret = hw_cli_usage("budget set: nothing to change (give --cap, --downgrade, "
				   "--light-only or --block)");
		goto out;
	}
	ret = budget_run(cli, "PUT", body);
out:
	free(th);
	free(body);
	return ret;
}

static const struct hw_cli_opt budget_set_opts[] = {
	{"cap", true},
	{"downgrade", true},
	{"light-only", true},
	{"block", true},
	{NULL, false},
};

const struct hw_cli_verb hw_cli_budget_verbs[] = {
	{"get", "", "The Budget Control cap, its thresholds, this month's spend, reservations\n"
		    "in flight and the verdict they give.",
	 no_opts, 0, 0, budget_get},
	{"set", "[--cap USD|none] [--downgrade F] [--light-only F] [--block F]",
	 "Change the monthly cap on upstream spend ('none' removes it) and the fractions of\n"
	 "it at which requests are downgraded, kept to light models, and refused.\n"
	 "Options not given keep their value.",
	 budget_set_opts, 0, 0, budget_set},
	{NULL, NULL, NULL, NULL, 0, 0, NULL},
};

/* ---- plan ---- */

static const struct field plan_fields[] = {
	{"plan", "plan", NULL, NULL, false},
	{"included requests", "included_requests", NULL, "unlimited", false},
	{"overage", "overage_enabled", NULL, NULL, true},
	{"overage price", "overage_usd_per_100k", "USD per 100k requests", NULL, false},
	{"month", "month", NULL, NULL, false},
	{"used requests", "used_requests", NULL, NULL, false},
	{"in flight", "in_flight_requests", NULL, NULL, false},
	{"overage requests", "overage_requests", NULL, NULL, false},
	{"overage cost", "overage_cost_usd", "USD", NULL, false},
	{"resets at", "reset_at", NULL, NULL, false},
};

static int plan_run(struct hw_cli *cli, const char *method, const char *body)
{
	json_t *p;
	int ret = money_call(cli, method, "plan", NULL, body, &p);

	if (ret == HW_CLI_OK)
		show_fields(cli, p, plan_fields, sizeof(plan_fields) / sizeof(plan_fields[0]), NULL);
	json_decref(p);
	return ret;
}

static int plan_get(struct hw_cli *cli, const struct hw_cli_args *a)
{
	return plan_run(cli, "GET", NULL);
}

/* --included N|none: a count of requests, or null for unlimited. */
static int add_included(char **body, const char *value)
{
	const char *s = skip_zeros(value);
	size_t n = digits(s);

	if (strcmp(value, "none") == 0) {
		body_add(body, "included_requests", "null");
		return 0;
	}
	if (n == 0 || n > COUNT_DIGITS_MAX || s[n])
		return hw_cli_usage("--included: expected a number of requests or 'none', got '%s'",
				    value);
	body_add(body, "included_requests", s);
	return 0;
}

static int plan_set(struct hw_cli *cli, const struct hw_cli_args *a)
{
	static const char *const on_off[] = {"on", "off", NULL};
	const char *name = hw_cli_get(a, "plan"), *included = hw_cli_get(a, "included");
	const char *overage = hw_cli_get(a, "overage");
	char *body = NULL, *text;
	int ret = HW_CLI_USAGE;

	/* The plan first: the server applies its preset, then the overrides after it. */
	if (name) {
		text = string_json("plan", name);
		if (!text)
			goto out;
		body_add(&body, "plan", text);
		free(text);
	}
	if (included && add_included(&body, included))
		goto out;
	if (overage) {
		if (hw_cli_check_choice("overage", overage, on_off))
			goto out;
		body_add(&body, "overage_enabled", strcmp(overage, "on") == 0 ? "true" : "false");
	}
	if (add_decimal(&body, a, "overage-per-100k", "overage_usd_per_100k",
			"an amount in USD such as 4", false))
		goto out;
	body = body_end(body);
	if (!body) {
		hw_cli_usage("plan set: nothing to change (give --plan, --included, --overage or "
			     "--overage-per-100k)");
		goto out;
	}
	ret = plan_run(cli, "PUT", body);
out:
	free(body);
	return ret;
}

static const struct hw_cli_opt plan_set_opts[] = {
	{"plan", true},
	{"included", true},
	{"overage", true},
	{"overage-per-100k", true},
	{NULL, false},
};

const struct hw_cli_verb hw_cli_plan_verbs[] = {
	{"get", "", "The workspace's plan: requests included per month, overage, and this\n"
		    "month's counts.",
	 no_opts, 0, 0, plan_get},
	{"set", "[--plan NAME] [--included N|none] [--overage on|off] [--overage-per-100k USD]",
	 "Change the plan (admin token only). --plan applies one of plans.presets; the other\n"
	 "options override its values ('none': unlimited requests).",
	 plan_set_opts, 0, 0, plan_set},
	{NULL, NULL, NULL, NULL, 0, 0, NULL},
};
