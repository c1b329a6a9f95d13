// SPDX-License-Identifier: Apache-2.0
/* Management API for workspaces and keys, and the first-start bootstrap, against the real
 * SQLite store in a temporary file (SPEC §2, §4, §16). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "admin/admin.h"
#include "common/crypto.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define REQUEST_ID "req_test_admin"
#define LEGACY_KEY "hwy_Abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJK"

struct fixture {
	char dir[64];
	char db[128];
	struct hw_store *st;
	struct hw_config cfg;
	struct hw_admin_ctx ctx;
	int changes;
	char allow[64];
};

static const struct hw_principal token = {.kind = HW_PRINCIPAL_ADMIN_TOKEN};

static void count_change(void *arg) { ((struct fixture *)arg)->changes++; }

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	char url[160];

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/hw_admin_XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->db, sizeof(f->db), "%s/hiway.db", f->dir);
	snprintf(url, sizeof(url), "sqlite:%s", f->db);
	assert_int_equal(hw_store_open(url, 5000, "normal", &f->st), 0);
	f->cfg.keys.default_rpm_limit = 600;
	f->cfg.keys.accept_legacy_prefix = true;
	f->cfg.bootstrap.enabled = true;
	f->cfg.bootstrap.workspace_name = "default";
	f->cfg.admin.token = "";
	f->cfg.routing.profile = "balanced";
	f->cfg.routing.default_model = "anthropic/claude-haiku-4-5";
	f->ctx.store = f->st;
	f->ctx.cfg = &f->cfg;
	f->ctx.on_change = count_change;
	f->ctx.on_change_arg = f;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	static const char *const suffixes[] = {"", "-wal", "-shm", "-journal"};
	char path[160];

	f->st->ops->close(f->st);
	for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
		snprintf(path, sizeof(path), "%s%s", f->db, suffixes[i]);
		unlink(path);
	}
	rmdir(f->dir);
	free(f);
	return 0;
}

/* One management call; the path may carry "?query". Returns the status; *out (may be NULL)
 * receives the body. */
static int call(struct fixture *f, const struct hw_principal *who, const char *method,
		const char *body, json_t **out, const char *fmt, ...)
{
	struct hw_admin_request req = {.method = method, .who = who, .request_id = REQUEST_ID};
	struct hw_admin_response resp;
	char path[512];
	char *q;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(path, sizeof(path), fmt, ap);
	va_end(ap);
	q = strchr(path, '?');
	if (q) {
		*q = '\0';
		req.query = q + 1;
	}
	req.path = path;
	req.body = body;
	req.body_len = body ? strlen(body) : 0;
	hw_admin_handle(&f->ctx, &req, &resp);
	snprintf(f->allow, sizeof(f->allow), "%s", resp.allow);
	if (out)
		*out = resp.body;
	else
		json_decref(resp.body);
	return resp.status;
}

static const char *str(const json_t *obj, const char *name)
{
	return json_string_value(json_object_get(obj, name));
}

/* Checks a §2 envelope: code, type, the request id and, when `param` is given, `param`
 * ("" stands for null). Consumes body. */
static void expect_error(json_t *body, const char *code, const char *type, const char *param)
{
	json_t *err = json_object_get(body, "error");

	assert_non_null(err);
	assert_string_equal(str(err, "code"), code);
	assert_string_equal(str(err, "type"), type);
	assert_string_equal(str(err, "request_id"), REQUEST_ID);
	assert_non_null(str(err, "message"));
	if (param && *param)
		assert_string_equal(str(err, "param"), param);
	else if (param)
		assert_true(json_is_null(json_object_get(err, "param")));
	json_decref(body);
}

static void expect_400(struct fixture *f, const char *method, const char *body, const char *param,
		       const char *path)
{
	json_t *out;

	assert_int_equal(call(f, &token, method, body, &out, "%s", path), 400);
	expect_error(out, "invalid_request", "invalid_request_error", param);
}

static void make_ws(struct fixture *f, const char *name, char id[HW_ID_MAX])
{
	char body[256];
	json_t *out;

	snprintf(body, sizeof(body), "{\"name\":\"%s\"}", name);
	assert_int_equal(call(f, &token, "POST", body, &out, "/api/v1/workspaces"), 201);
	snprintf(id, HW_ID_MAX, "%s", str(out, "id"));
	json_decref(out);
}

static void make_key(struct fixture *f, const char *ws, const char *body, char id[HW_ID_MAX])
{
	json_t *out;

	assert_int_equal(call(f, &token, "POST", body, &out, "/api/v1/workspaces/%s/keys", ws),
			 201);
	snprintf(id, HW_ID_MAX, "%s", str(out, "id"));
	json_decref(out);
}

static bool rfc3339(const char *s)
{
	return s && strlen(s) == 20 && s[4] == '-' && s[10] == 'T' && s[19] == 'Z';
}

static void test_workspace_create_defaults(void **state)
{
	struct fixture *f = *state;
	json_t *out, *got;
	char id[HW_ID_MAX];

	assert_int_equal(call(f, &token, "POST", "{\"name\":\"acme\"}", &out, "/api/v1/workspaces"),
			 201);
	assert_int_equal(strlen(str(out, "id")), 26);
	assert_string_equal(str(out, "name"), "acme");
	assert_string_equal(str(out, "status"), "active");
	assert_true(json_is_null(json_object_get(out, "suspended_reason")));
	assert_string_equal(str(out, "plan"), "unlimited");
	assert_string_equal(str(out, "routing_profile"), "balanced");
	assert_string_equal(str(out, "default_model"), "anthropic/claude-haiku-4-5");
	assert_true(json_is_null(json_object_get(out, "allowed_regions")));
	assert_true(rfc3339(str(out, "created_at")));
	assert_null(json_object_get(out, "admin_key"));
	assert_int_equal(json_object_size(out), 9);
	assert_int_equal(f->changes, 1);
	snprintf(id, sizeof(id), "%s", str(out, "id"));

	assert_int_equal(call(f, &token, "GET", NULL, &got, "/api/v1/workspaces/%s", id), 200);
	assert_true(json_equal(out, got));
	assert_int_equal(f->changes, 1);
	json_decref(got);
	json_decref(out);
}

static void test_workspace_create_full(void **state)
{
	struct fixture *f = *state;
	struct hw_key stored;
	char hash[HW_SHA256_HEX_LEN + 1];
	json_t *out, *key;
	const char *plain;

	assert_int_equal(
		call(f, &token, "POST",
		     "{\"name\":\"big\",\"plan\":\"scale\",\"routing_profile\":\"quality\","
		     "\"default_model\":\"openai/gpt-4o\",\"initial_credit_usd\":12.5,"
		     "\"create_admin_key\":true}",
		     &out, "/api/v1/workspaces"),
		201);
	assert_string_equal(str(out, "plan"), "scale");
	assert_string_equal(str(out, "routing_profile"), "quality");
	assert_string_equal(str(out, "default_model"), "openai/gpt-4o");
	key = json_object_get(out, "admin_key");
	assert_non_null(key);
	assert_string_equal(str(key, "role"), "admin");
	assert_string_equal(str(key, "workspace_id"), str(out, "id"));
	assert_string_equal(str(key, "status"), "active");
	assert_string_equal(str(key, "source"), "api");
	assert_int_equal(json_integer_value(json_object_get(key, "rpm_limit")), 600);
	assert_null(json_object_get(key, "hash"));
	plain = str(key, "key");
	assert_non_null(plain);
	assert_int_equal(strlen(plain), 40);
	assert_memory_equal(plain, "hw_live_", 8);
	assert_memory_equal(str(key, "prefix"), plain, 12);
	assert_int_equal(strlen(str(key, "prefix")), 12);
	assert_int_equal(f->st->ops->key_get(f->st, str(key, "id"), &stored), 0);
	hw_sha256_hex(plain, strlen(plain), hash);
	assert_string_equal(stored.hash, hash);
	json_decref(out);

	/* Exact decimals: trailing zeros are not decimals, escaped member names still count. */
	assert_int_equal(call(f, &token, "POST",
			      "{\"name\":\"c1\",\"initial\\u005fcredit_usd\":1.0000000}", NULL,
			      "/api/v1/workspaces"),
			 201);
	assert_int_equal(call(f, &token, "POST", "{\"name\":\"c2\",\"initial_credit_usd\":1e2}",
			      NULL, "/api/v1/workspaces"),
			 201);
	assert_int_equal(call(f, &token, "POST",
			      "{\"name\":\"c3\",\"initial_credit_usd\":0.000001,"
			      "\"create_admin_key\":false,\"default_model\":null}",
			      &out, "/api/v1/workspaces"),
			 201);
	assert_null(json_object_get(out, "admin_key"));
	assert_string_equal(str(out, "default_model"), "anthropic/claude-haiku-4-5");
	json_decref(out);
}

static void test_workspace_create_invalid(void **state)
{
	struct fixture *f = *state;
	char body[1024], name[512];
	json_t *out;

	expect_400(f, "POST", NULL, "name", "/api/v1/workspaces");
	expect_400(f, "POST", "{}", "name", "/api/v1/workspaces");
	expect_400(f, "POST", "{\"name\":\"\"}", "name", "/api/v1/workspaces");
	expect_400(f, "POST", "{\"name\":7}", "name", "/api/v1/workspaces");
	expect_400(f, "POST", "{\"name\":\"a\\nb\"}", "name", "/api/v1/workspaces");
	memset(name, 'n', 101);
	name[101] = '\0';
	snprintf(body, sizeof(body), "{\"name\":\"%s\"}", name);
	expect_400(f, "POST", body, "name", "/api/v1/workspaces");
	name[100] = '\0';
	snprintf(body, sizeof(body), "{\"name\":\"%s\"}", name);
	assert_int_equal(call(f, &token, "POST", body, NULL, "/api/v1/workspaces"), 201);
	expect_400(f, "POST", "{\"name\":\"x\",\"plan\":\"gold\"}", "plan", "/api/v1/workspaces");
	expect_400(f, "POST", "{\"name\":\"x\",\"routing_profile\":\"fast\"}", "routing_profile",
		   "/api/v1/workspaces");
	expect_400(f, "POST", "{\"name\":\"x\",\"default_model\":\"nomodel\"}", "default_model",
		   "/api/v1/workspaces");
	expect_400(f, "POST", "{\"name\":\"x\",\"initial_credit_usd\":-1}", "initial_credit_usd",
		   "/api/v1/workspaces");
	expect_400(f, "POST", "{\"name\":\"x\",\"initial_credit_usd\":1.0000001}",
		   "initial_credit_usd", "/api/v1/workspaces");
	expect_400(f, "POST", "{\"name\":\"x\",\"initial_credit_usd\":\"10\"}",
		   "initial_credit_usd", "/api/v1/workspaces");
	expect_400(f, "POST", "{\"name\":\"x\",\"initial_credit_usd\":1e-7}", "initial_credit_usd",
		   "/api/v1/workspaces");
	expect_400(f, "POST", "{\"name\":\"x\",\"create_admin_key\":\"yes\"}", "create_admin_key",
		   "/api/v1/workspaces");
	expect_400(f, "POST", "{\"name\":\"x\",\"allowed_regions\":null}", "allowed_regions",
		   "/api/v1/workspaces");
	expect_400(f, "POST", "{\"name\":\"x\",\"bogus\":1}", "bogus", "/api/v1/workspaces");
	expect_400(f, "POST", "not json", "", "/api/v1/workspaces");
	expect_400(f, "POST", "[1]", "", "/api/v1/workspaces");
	expect_400(f, "POST", "{\"name\":\"x\",\"name\":\"y\"}", "", "/api/v1/workspaces");

	assert_int_equal(
		call(f, &token, "POST", "{\"name\":\"x\",\"bogus\":1}", &out, "/api/v1/workspaces"),
		400);
	assert_non_null(strstr(str(json_object_get(out, "error"), "message"), "bogus"));
	json_decref(out);
	assert_int_equal(f->changes, 1);
}

static void test_workspace_list_pagination(void **state)
{
	struct fixture *f = *state;
	char ids[5][HW_ID_MAX], name[16], cursor[HW_ID_MAX] = "";
	size_t seen = 0;
	json_t *out;

	for (int i = 0; i < 5; i++) {
		snprintf(name, sizeof(name), "ws%d", i);
		make_ws(f, name, ids[i]);
	}
	for (int page = 0; page < 3; page++) {
		json_t *data, *next;

		assert_int_equal(call(f, &token, "GET", NULL, &out,
				      "/api/v1/workspaces?limit=2%s%s", cursor[0] ? "&cursor=" : "",
				      cursor),
				 200);
		data = json_object_get(out, "data");
		next = json_object_get(out, "next_cursor");
		assert_int_equal(json_array_size(data), page < 2 ? 2 : 1);
		seen += json_array_size(data);
		if (page < 2) {
			assert_string_equal(json_string_value(next),
					    str(json_array_get(data, 1), "id"));
			snprintf(cursor, sizeof(cursor), "%s", json_string_value(next));
		} else {
			assert_true(json_is_null(next));
		}
		json_decref(out);
	}
	assert_int_equal(seen, 5);

	assert_int_equal(call(f, &token, "GET", NULL, &out, "/api/v1/workspaces"), 200);
	assert_int_equal(json_array_size(json_object_get(out, "data")), 5);
	assert_true(json_is_null(json_object_get(out, "next_cursor")));
	json_decref(out);
	assert_int_equal(call(f, &token, "GET", NULL, &out, "/api/v1/workspaces?limit=5"), 200);
	assert_true(json_is_null(json_object_get(out, "next_cursor")));
	json_decref(out);
	assert_int_equal(call(f, &token, "GET", NULL, &out, "/api/v1/workspaces?limit=500"), 200);
	json_decref(out);

	expect_400(f, "GET", NULL, "limit", "/api/v1/workspaces?limit=0");
	expect_400(f, "GET", NULL, "limit", "/api/v1/workspaces?limit=501");
	expect_400(f, "GET", NULL, "limit", "/api/v1/workspaces?limit=abc");
	expect_400(f, "GET", NULL, "limit", "/api/v1/workspaces?limit=");
	expect_400(f, "GET", NULL, "limit", "/api/v1/workspaces?limit=-1");
	expect_400(f, "GET", NULL, "cursor", "/api/v1/workspaces?cursor=a%20b");
	expect_400(f, "GET", NULL, "cursor", "/api/v1/workspaces?cursor=%zz");
}

static void test_workspace_patch(void **state)
{
	struct fixture *f = *state;
	char ws[HW_ID_MAX], path[128];
	json_t *out;

	make_ws(f, "p", ws);
	snprintf(path, sizeof(path), "/api/v1/workspaces/%s", ws);
	assert_int_equal(call(f, &token, "PATCH",
			      "{\"name\":\"renamed\",\"routing_profile\":\"budget\","
			      "\"default_model\":\"mistral/mistral-small\","
			      "\"allowed_regions\":[\"eu\",\"us-east\"]}",
			      &out, "%s", path),
			 200);
	assert_string_equal(str(out, "name"), "renamed");
	assert_string_equal(str(out, "routing_profile"), "budget");
	assert_string_equal(str(out, "default_model"), "mistral/mistral-small");
	assert_int_equal(json_array_size(json_object_get(out, "allowed_regions")), 2);
	assert_string_equal(
		json_string_value(json_array_get(json_object_get(out, "allowed_regions"), 1)),
		"us-east");
	assert_int_equal(json_object_size(out), 9);
	json_decref(out);

	assert_int_equal(call(f, &token, "GET", NULL, &out, "%s", path), 200);
	assert_string_equal(str(out, "name"), "renamed");
	assert_int_equal(json_array_size(json_object_get(out, "allowed_regions")), 2);
	json_decref(out);

	assert_int_equal(call(f, &token, "PATCH",
			      "{\"allowed_regions\":null,\"default_model\":null}", &out, "%s",
			      path),
			 200);
	assert_true(json_is_null(json_object_get(out, "allowed_regions")));
	assert_string_equal(str(out, "default_model"), "anthropic/claude-haiku-4-5");
	assert_string_equal(str(out, "name"), "renamed");
	json_decref(out);
	assert_int_equal(call(f, &token, "PATCH", NULL, NULL, "%s", path), 200);

	expect_400(f, "PATCH", "{\"allowed_regions\":[]}", "allowed_regions", path);
	expect_400(f, "PATCH", "{\"allowed_regions\":\"eu\"}", "allowed_regions", path);
	expect_400(f, "PATCH", "{\"allowed_regions\":[\"eu\",5]}", "allowed_regions[1]", path);
	expect_400(f, "PATCH", "{\"allowed_regions\":[\"e u\"]}", "allowed_regions[0]", path);
	expect_400(f, "PATCH", "{\"plan\":\"free\"}", "plan", path);
	expect_400(f, "PATCH", "{\"name\":null}", "name", path);
	expect_400(f, "PATCH", "{\"routing_profile\":null}", "routing_profile", path);

	assert_int_equal(call(f, &token, "PATCH", "{\"name\":\"z\"}", &out,
			      "/api/v1/workspaces/01JAX3Q5ZP7K8M9N0R1S2T3V4W"),
			 404);
	expect_error(out, "not_found", "not_found_error", NULL);
	assert_int_equal(
		call(f, &token, "GET", NULL, &out, "/api/v1/workspaces/01JAX3Q5ZP7K8M9N0R1S2T3V4W"),
		404);
	expect_error(out, "not_found", "not_found_error", NULL);
}

static void test_workspace_suspend(void **state)
{
	struct fixture *f = *state;
	char ws[HW_ID_MAX], path[160];
	json_t *out;

	make_ws(f, "s", ws);
	snprintf(path, sizeof(path), "/api/v1/workspaces/%s/suspend", ws);
	assert_int_equal(call(f, &token, "POST", "{\"reason\":\"unpaid\"}", &out, "%s", path), 200);
	assert_string_equal(str(out, "status"), "suspended");
	assert_string_equal(str(out, "suspended_reason"), "unpaid");
	json_decref(out);
	assert_int_equal(call(f, &token, "GET", NULL, &out, "/api/v1/workspaces/%s", ws), 200);
	assert_string_equal(str(out, "status"), "suspended");
	assert_string_equal(str(out, "suspended_reason"), "unpaid");
	json_decref(out);

	assert_int_equal(call(f, &token, "POST", NULL, &out, "/api/v1/workspaces/%s/unsuspend", ws),
			 200);
	assert_string_equal(str(out, "status"), "active");
	assert_true(json_is_null(json_object_get(out, "suspended_reason")));
	json_decref(out);

	assert_int_equal(call(f, &token, "POST", "{}", &out, "%s", path), 200);
	assert_string_equal(str(out, "status"), "suspended");
	assert_true(json_is_null(json_object_get(out, "suspended_reason")));
	json_decref(out);

	expect_400(f, "POST", "{\"reason\":5}", "reason", path);
	expect_400(f, "POST", "{\"why\":\"x\"}", "why", path);
	assert_int_equal(call(f, &token, "POST", NULL, &out,
			      "/api/v1/workspaces/01JAX3Q5ZP7K8M9N0R1S2T3V4W/suspend"),
			 404);
	expect_error(out, "not_found", "not_found_error", NULL);
}

static void test_workspace_plan_presets(void **state)
{
	struct fixture *f = *state;
	struct hw_cfg_plan presets[] = {{.name = "team"}, {.name = "gold"}};
	json_t *out;

	f->cfg.plans.presets = presets;
	f->cfg.plans.n_presets = 2;
	f->cfg.plans.default_plan = "team";
	assert_int_equal(call(f, &token, "POST", "{\"name\":\"a\"}", &out, "/api/v1/workspaces"),
			 201);
	assert_string_equal(str(out, "plan"), "team");
	json_decref(out);
	assert_int_equal(call(f, &token, "POST", "{\"name\":\"b\",\"plan\":\"gold\"}", &out,
			      "/api/v1/workspaces"),
			 201);
	assert_string_equal(str(out, "plan"), "gold");
	json_decref(out);
	expect_400(f, "POST", "{\"name\":\"c\",\"plan\":\"scale\"}", "plan", "/api/v1/workspaces");
	expect_400(f, "POST", "{\"name\":\"c\",\"plan\":null}", "plan", "/api/v1/workspaces");
}

static int eio_key_get(struct hw_store *st, const char *id, struct hw_key *out) { return -EIO; }

static int einval_ws_get(struct hw_store *st, const char *id, struct hw_workspace *out)
{
	return -EINVAL;
}

static void test_store_failures(void **state)
{
	struct fixture *f = *state;
	const struct hw_store_ops *real = f->st->ops;
	struct hw_store_ops ops = *real;
	char ws[HW_ID_MAX], kid[HW_ID_MAX];
	json_t *out;

	make_ws(f, "fail", ws);
	make_key(f, ws, "{\"name\":\"k\"}", kid);
	f->st->ops = &ops;
	ops.key_get = eio_key_get;
	assert_int_equal(
		call(f, &token, "GET", NULL, &out, "/api/v1/workspaces/%s/keys/%s", ws, kid), 503);
	expect_error(out, "store_unavailable", "api_error", NULL);
	ops.workspace_get = einval_ws_get;
	assert_int_equal(call(f, &token, "GET", NULL, &out, "/api/v1/workspaces/%s", ws), 500);
	expect_error(out, "internal_error", "api_error", NULL);
	f->st->ops = real;
}

static void test_routes_unknown_and_methods(void **state)
{
	struct fixture *f = *state;
	static const char *const unknown[] = {
		"/api/v1/nope",
		"/api/v1/",
		"/api/v1",
		"/api/v1/workspaces/",
		"/v1/models",
		"/api/v1/workspaces/a/keys/b/c",
		"/api/v1/workspaces/a/b",
		"/api/v1/workspaces//keys",
	};
	struct {
		const char *method, *path, *allow;
	} wrong[] = {
		{"DELETE", "/api/v1/workspaces", "GET, POST"},
		{"PUT", "/api/v1/workspaces/W", "GET, PATCH"},
		{"GET", "/api/v1/workspaces/W/suspend", "POST"},
		{"DELETE", "/api/v1/workspaces/W/unsuspend", "POST"},
		{"PATCH", "/api/v1/workspaces/W/keys", "GET, POST"},
		{"POST", "/api/v1/workspaces/W/keys/K", "GET, PATCH, DELETE"},
		{"GET", "/api/v1/workspaces/W/keys/K/revoke", "POST"},
		{"HEAD", "/api/v1/workspaces/W/keys/K/rotate", "POST"},
	};
	json_t *out;

	for (size_t i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++) {
		assert_int_equal(call(f, &token, "GET", NULL, &out, "%s", unknown[i]), 404);
		expect_error(out, "not_found", "not_found_error", NULL);
		assert_string_equal(f->allow, "");
	}
	for (size_t i = 0; i < sizeof(wrong) / sizeof(wrong[0]); i++) {
		assert_int_equal(call(f, &token, wrong[i].method, NULL, &out, "%s", wrong[i].path),
				 405);
		expect_error(out, "method_not_allowed", "invalid_request_error", NULL);
		assert_string_equal(f->allow, wrong[i].allow);
	}
	/* The route is matched before anything else: an admin key gets the same 405. */
	assert_int_equal(f->changes, 0);
}

static void test_admin_key_scope(void **state)
{
	struct fixture *f = *state;
	struct hw_principal key = {.kind = HW_PRINCIPAL_ADMIN_KEY};
	char other[HW_ID_MAX], kid[HW_ID_MAX];
	json_t *out;
	const char *ws;

	assert_int_equal(call(f, &token, "POST", "{\"name\":\"mine\",\"create_admin_key\":true}",
			      &out, "/api/v1/workspaces"),
			 201);
	snprintf(key.workspace_id, sizeof(key.workspace_id), "%s", str(out, "id"));
	snprintf(key.key_id, sizeof(key.key_id), "%s",
		 str(json_object_get(out, "admin_key"), "id"));
	json_decref(out);
	ws = key.workspace_id;
	make_ws(f, "theirs", other);
	make_key(f, other, "{\"name\":\"k\"}", kid);

	/* Its own workspace. */
	assert_int_equal(call(f, &key, "GET", NULL, NULL, "/api/v1/workspaces/%s", ws), 200);
	assert_int_equal(
		call(f, &key, "PATCH", "{\"name\":\"mine2\"}", NULL, "/api/v1/workspaces/%s", ws),
		200);
	assert_int_equal(
		call(f, &key, "POST", "{\"name\":\"app\"}", NULL, "/api/v1/workspaces/%s/keys", ws),
		201);
	assert_int_equal(call(f, &key, "GET", NULL, NULL, "/api/v1/workspaces/%s/keys", ws), 200);

	/* Server-only operations. */
	assert_int_equal(call(f, &key, "GET", NULL, &out, "/api/v1/workspaces"), 403);
	expect_error(out, "forbidden", "permission_error", NULL);
	assert_int_equal(call(f, &key, "POST", "{\"name\":\"n\"}", &out, "/api/v1/workspaces"),
			 403);
	expect_error(out, "forbidden", "permission_error", NULL);
	assert_int_equal(call(f, &key, "POST", NULL, &out, "/api/v1/workspaces/%s/suspend", ws),
			 403);
	expect_error(out, "forbidden", "permission_error", NULL);
	assert_int_equal(call(f, &key, "POST", NULL, &out, "/api/v1/workspaces/%s/unsuspend", ws),
			 403);
	expect_error(out, "forbidden", "permission_error", NULL);
	assert_int_equal(call(f, &key, "POST",
			      "{\"name\":\"old\",\"legacy_key\":\"" LEGACY_KEY "\"}", &out,
			      "/api/v1/workspaces/%s/keys", ws),
			 403);
	expect_error(out, "forbidden", "permission_error", NULL);

	/* Another workspace does not exist for it. */
	assert_int_equal(call(f, &key, "GET", NULL, &out, "/api/v1/workspaces/%s", other), 404);
	expect_error(out, "not_found", "not_found_error", NULL);
	assert_int_equal(
		call(f, &key, "PATCH", "{\"name\":\"x\"}", &out, "/api/v1/workspaces/%s", other),
		404);
	expect_error(out, "not_found", "not_found_error", NULL);
	assert_int_equal(call(f, &key, "GET", NULL, &out, "/api/v1/workspaces/%s/keys", other),
			 404);
	expect_error(out, "not_found", "not_found_error", NULL);
	assert_int_equal(call(f, &key, "POST", "{\"name\":\"x\"}", &out,
			      "/api/v1/workspaces/%s/keys", other),
			 404);
	expect_error(out, "not_found", "not_found_error", NULL);
	assert_int_equal(call(f, &key, "POST", NULL, &out, "/api/v1/workspaces/%s/keys/%s/revoke",
			      other, kid),
			 404);
	expect_error(out, "not_found", "not_found_error", NULL);
	/* Nor does the other workspace's key under its own path. */
	assert_int_equal(call(f, &key, "GET", NULL, &out, "/api/v1/workspaces/%s/keys/%s", ws, kid),
			 404);
	expect_error(out, "not_found", "not_found_error", NULL);

	/* A suspended workspace answers its keys 403 workspace_suspended (§4.3). */
	assert_int_equal(call(f, &token, "POST", "{\"reason\":\"abuse\"}", NULL,
			      "/api/v1/workspaces/%s/suspend", ws),
			 200);
	assert_int_equal(call(f, &key, "GET", NULL, &out, "/api/v1/workspaces/%s", ws), 403);
	assert_string_equal(str(json_object_get(out, "error"), "reason"), "abuse");
	expect_error(out, "workspace_suspended", "permission_error", NULL);
	assert_int_equal(call(f, &token, "GET", NULL, NULL, "/api/v1/workspaces/%s", ws), 200);

	assert_int_equal(call(f, NULL, "GET", NULL, &out, "/api/v1/workspaces"), 401);
	expect_error(out, "invalid_api_key", "authentication_error", NULL);
}

static void test_key_create(void **state)
{
	struct fixture *f = *state;
	char ws[HW_ID_MAX], path[160];
	json_t *out;
	const char *plain;

	make_ws(f, "k", ws);
	snprintf(path, sizeof(path), "/api/v1/workspaces/%s/keys", ws);
	f->changes = 0;
	assert_int_equal(call(f, &token, "POST", "{\"name\":\"app\"}", &out, "%s", path), 201);
	assert_int_equal(f->changes, 1);
	assert_memory_equal(str(out, "id"), "kid_", 4);
	assert_int_equal(strlen(str(out, "id")), 30);
	assert_string_equal(str(out, "workspace_id"), ws);
	assert_string_equal(str(out, "name"), "app");
	assert_string_equal(str(out, "role"), "inference");
	assert_string_equal(str(out, "status"), "active");
	assert_int_equal(json_integer_value(json_object_get(out, "rpm_limit")), 600);
	assert_true(json_is_null(json_object_get(out, "shield_mode")));
	assert_string_equal(str(out, "source"), "api");
	assert_true(rfc3339(str(out, "created_at")));
	assert_true(json_is_null(json_object_get(out, "last_used_at")));
	assert_true(json_is_null(json_object_get(out, "revoked_at")));
	assert_true(json_is_null(json_object_get(out, "suspended_reason")));
	plain = str(out, "key");
	assert_int_equal(strlen(plain), 40);
	assert_memory_equal(str(out, "prefix"), plain, 12);
	assert_int_equal(json_object_size(out), 14);
	json_decref(out);

	assert_int_equal(call(f, &token, "POST",
			      "{\"name\":\"ops\",\"role\":\"admin\",\"rpm_limit\":null,"
			      "\"shield_mode\":\"block\",\"source\":\"cli\"}",
			      &out, "%s", path),
			 201);
	assert_string_equal(str(out, "role"), "admin");
	assert_true(json_is_null(json_object_get(out, "rpm_limit")));
	assert_string_equal(str(out, "shield_mode"), "block");
	assert_string_equal(str(out, "source"), "cli");
	json_decref(out);

	f->cfg.keys.default_rpm_limit = -1;
	assert_int_equal(
		call(f, &token, "POST", "{\"name\":\"free\",\"rpm_limit\":null}", &out, "%s", path),
		201);
	assert_true(json_is_null(json_object_get(out, "rpm_limit")));
	json_decref(out);
	assert_int_equal(call(f, &token, "POST", "{\"name\":\"unl\"}", &out, "%s", path), 201);
	assert_true(json_is_null(json_object_get(out, "rpm_limit")));
	json_decref(out);
	assert_int_equal(
		call(f, &token, "POST", "{\"name\":\"r7\",\"rpm_limit\":7}", &out, "%s", path),
		201);
	assert_int_equal(json_integer_value(json_object_get(out, "rpm_limit")), 7);
	json_decref(out);

	/* A duplicate name within the workspace. */
	f->changes = 0;
	assert_int_equal(call(f, &token, "POST", "{\"name\":\"app\"}", &out, "%s", path), 409);
	expect_error(out, "conflict", "invalid_request_error", NULL);
	assert_int_equal(f->changes, 0);

	expect_400(f, "POST", "{}", "name", path);
	expect_400(f, "POST", "{\"name\":\"x\",\"role\":\"root\"}", "role", path);
	expect_400(f, "POST", "{\"name\":\"x\",\"rpm_limit\":0}", "rpm_limit", path);
	expect_400(f, "POST", "{\"name\":\"x\",\"rpm_limit\":1.5}", "rpm_limit", path);
	expect_400(f, "POST", "{\"name\":\"x\",\"rpm_limit\":\"60\"}", "rpm_limit", path);
	expect_400(f, "POST", "{\"name\":\"x\",\"shield_mode\":\"loud\"}", "shield_mode", path);
	expect_400(f, "POST", "{\"name\":\"x\",\"source\":\"bootstrap\"}", "source", path);
	expect_400(f, "POST", "{\"name\":\"x\",\"source\":\"import\"}", "source", path);
	expect_400(f, "POST", "{\"name\":\"x\",\"status\":\"active\"}", "status", path);
	assert_int_equal(f->changes, 0);

	assert_int_equal(call(f, &token, "POST", "{\"name\":\"x\"}", &out,
			      "/api/v1/workspaces/01JAX3Q5ZP7K8M9N0R1S2T3V4W/keys"),
			 404);
	expect_error(out, "not_found", "not_found_error", NULL);
}

static void test_key_legacy_import(void **state)
{
	struct fixture *f = *state;
	char ws[HW_ID_MAX], path[160];
	char hash[HW_SHA256_HEX_LEN + 1];
	struct hw_key stored;
	json_t *out;

	make_ws(f, "legacy", ws);
	snprintf(path, sizeof(path), "/api/v1/workspaces/%s/keys", ws);
	assert_int_equal(call(f, &token, "POST",
			      "{\"name\":\"old\",\"legacy_key\":\"" LEGACY_KEY "\"}", &out, "%s",
			      path),
			 201);
	assert_string_equal(str(out, "key"), LEGACY_KEY);
	assert_string_equal(str(out, "source"), "import");
	assert_string_equal(str(out, "prefix"), "hwy_Abcdefgh");
	assert_int_equal(f->st->ops->key_get(f->st, str(out, "id"), &stored), 0);
	hw_sha256_hex(LEGACY_KEY, strlen(LEGACY_KEY), hash);
	assert_string_equal(stored.hash, hash);
	json_decref(out);

	/* The same key cannot authenticate two records. */
	assert_int_equal(call(f, &token, "POST",
			      "{\"name\":\"again\",\"legacy_key\":\"" LEGACY_KEY "\"}", &out, "%s",
			      path),
			 409);
	expect_error(out, "conflict", "invalid_request_error", NULL);

	assert_int_equal(call(f, &token, "POST",
			      "{\"name\":\"src\",\"source\":\"import\",\"legacy_key\":"
			      "\"hwy_Zbcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJK\"}",
			      NULL, "%s", path),
			 201);
	expect_400(f, "POST", "{\"name\":\"x\",\"legacy_key\":\"hwy_short\"}", "legacy_key", path);
	expect_400(f, "POST",
		   "{\"name\":\"x\",\"legacy_key\":\"hw_live_0123456789abcdef0123456789abcdef\"}",
		   "legacy_key", path);
	expect_400(f, "POST", "{\"name\":\"x\",\"legacy_key\":5}", "legacy_key", path);
	expect_400(f, "POST",
		   "{\"name\":\"x\",\"source\":\"api\",\"legacy_key\":"
		   "\"hwy_Ybcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJK\"}",
		   "source", path);
	f->cfg.keys.accept_legacy_prefix = false;
	expect_400(f, "POST",
		   "{\"name\":\"x\",\"legacy_key\":"
		   "\"hwy_Xbcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJK\"}",
		   "legacy_key", path);
}

static void test_key_list_get_patch(void **state)
{
	struct fixture *f = *state;
	char ws[HW_ID_MAX], other[HW_ID_MAX], kids[5][HW_ID_MAX], cursor[HW_ID_MAX] = "";
	char name[HW_ID_MAX];
	char path[200];
	size_t seen = 0;
	json_t *out;

	make_ws(f, "list", ws);
	make_ws(f, "other", other);
	for (int i = 0; i < 5; i++) {
		char body[64];

		snprintf(name, sizeof(name), "k%d", i);
		snprintf(body, sizeof(body), "{\"name\":\"%s\"}", name);
		make_key(f, ws, body, kids[i]);
	}
	make_key(f, other, "{\"name\":\"k0\"}", name);

	do {
		assert_int_equal(call(f, &token, "GET", NULL, &out,
				      "/api/v1/workspaces/%s/keys?limit=2&cursor=%s", ws, cursor),
				 200);
		seen += json_array_size(json_object_get(out, "data"));
		snprintf(cursor, sizeof(cursor), "%s",
			 json_is_null(json_object_get(out, "next_cursor"))
				 ? ""
				 : str(out, "next_cursor"));
		json_decref(out);
	} while (cursor[0]);
	assert_int_equal(seen, 5);

	assert_int_equal(call(f, &token, "POST", NULL, NULL, "/api/v1/workspaces/%s/keys/%s/revoke",
			      ws, kids[3]),
			 200);
	assert_int_equal(
		call(f, &token, "GET", NULL, &out, "/api/v1/workspaces/%s/keys?status=revoked", ws),
		200);
	assert_int_equal(json_array_size(json_object_get(out, "data")), 1);
	assert_string_equal(str(json_array_get(json_object_get(out, "data"), 0), "id"), kids[3]);
	json_decref(out);
	assert_int_equal(
		call(f, &token, "GET", NULL, &out, "/api/v1/workspaces/%s/keys?status=active", ws),
		200);
	assert_int_equal(json_array_size(json_object_get(out, "data")), 4);
	json_decref(out);
	snprintf(path, sizeof(path), "/api/v1/workspaces/%s/keys?status=gone", ws);
	expect_400(f, "GET", NULL, "status", path);
	snprintf(path, sizeof(path), "/api/v1/workspaces/%s/keys?limit=0", ws);
	expect_400(f, "GET", NULL, "limit", path);
	assert_int_equal(call(f, &token, "GET", NULL, &out,
			      "/api/v1/workspaces/01JAX3Q5ZP7K8M9N0R1S2T3V4W/keys"),
			 404);
	expect_error(out, "not_found", "not_found_error", NULL);

	assert_int_equal(
		call(f, &token, "GET", NULL, &out, "/api/v1/workspaces/%s/keys/%s", ws, kids[0]),
		200);
	assert_string_equal(str(out, "name"), "k0");
	assert_null(json_object_get(out, "key"));
	assert_null(json_object_get(out, "hash"));
	json_decref(out);
	assert_int_equal(
		call(f, &token, "GET", NULL, &out, "/api/v1/workspaces/%s/keys/%s", other, kids[0]),
		404);
	expect_error(out, "not_found", "not_found_error", NULL);
	assert_int_equal(
		call(f, &token, "GET", NULL, &out, "/api/v1/workspaces/%s/keys/kid_nope", ws), 404);
	expect_error(out, "not_found", "not_found_error", NULL);

	snprintf(path, sizeof(path), "/api/v1/workspaces/%s/keys/%s", ws, kids[0]);
	assert_int_equal(call(f, &token, "PATCH",
			      "{\"name\":\"main\",\"rpm_limit\":30,\"shield_mode\":\"monitor\"}",
			      &out, "%s", path),
			 200);
	assert_string_equal(str(out, "name"), "main");
	assert_int_equal(json_integer_value(json_object_get(out, "rpm_limit")), 30);
	assert_string_equal(str(out, "shield_mode"), "monitor");
	assert_int_equal(json_object_size(out), 13);
	json_decref(out);
	assert_int_equal(call(f, &token, "PATCH", "{\"rpm_limit\":null,\"shield_mode\":null}", &out,
			      "%s", path),
			 200);
	assert_true(json_is_null(json_object_get(out, "rpm_limit")));
	assert_true(json_is_null(json_object_get(out, "shield_mode")));
	assert_string_equal(str(out, "name"), "main");
	json_decref(out);

	assert_int_equal(call(f, &token, "PATCH", "{\"status\":\"suspended\"}", &out, "%s", path),
			 200);
	assert_string_equal(str(out, "status"), "suspended");
	json_decref(out);
	assert_int_equal(call(f, &token, "GET", NULL, &out, "%s", path), 200);
	assert_string_equal(str(out, "status"), "suspended");
	json_decref(out);
	assert_int_equal(call(f, &token, "PATCH", "{\"status\":\"active\"}", &out, "%s", path),
			 200);
	assert_string_equal(str(out, "status"), "active");
	assert_true(json_is_null(json_object_get(out, "suspended_reason")));
	json_decref(out);

	assert_int_equal(call(f, &token, "PATCH", "{\"name\":\"k1\"}", &out, "%s", path), 409);
	expect_error(out, "conflict", "invalid_request_error", NULL);
	expect_400(f, "PATCH", "{\"status\":\"revoked\"}", "status", path);
	expect_400(f, "PATCH", "{\"status\":\"paused\"}", "status", path);
	expect_400(f, "PATCH", "{\"role\":\"admin\"}", "role", path);
	expect_400(f, "PATCH", "{\"rpm_limit\":-5}", "rpm_limit", path);
	expect_400(f, "PATCH", "{\"name\":\"\"}", "name", path);

	/* Revocation is final. */
	snprintf(path, sizeof(path), "/api/v1/workspaces/%s/keys/%s", ws, kids[3]);
	assert_int_equal(call(f, &token, "PATCH", "{\"status\":\"active\"}", &out, "%s", path),
			 409);
	expect_error(out, "conflict", "invalid_request_error", NULL);
	assert_int_equal(call(f, &token, "PATCH", "{\"status\":\"suspended\"}", &out, "%s", path),
			 409);
	expect_error(out, "conflict", "invalid_request_error", NULL);
	assert_int_equal(call(f, &token, "PATCH", "{\"name\":\"retired\"}", &out, "%s", path), 200);
	assert_string_equal(str(out, "status"), "revoked");
	json_decref(out);
}

static void test_key_revoke_delete(void **state)
{
	struct fixture *f = *state;
	char ws[HW_ID_MAX], kid[HW_ID_MAX];
	char *revoked_at;
	json_t *out;

	make_ws(f, "rd", ws);
	make_key(f, ws, "{\"name\":\"gone\"}", kid);

	assert_int_equal(
		call(f, &token, "DELETE", NULL, &out, "/api/v1/workspaces/%s/keys/%s", ws, kid),
		409);
	expect_error(out, "conflict", "invalid_request_error", NULL);

	f->changes = 0;
	assert_int_equal(call(f, &token, "POST", NULL, &out, "/api/v1/workspaces/%s/keys/%s/revoke",
			      ws, kid),
			 200);
	assert_int_equal(f->changes, 1);
	assert_string_equal(str(out, "status"), "revoked");
	assert_true(rfc3339(str(out, "revoked_at")));
	revoked_at = strdup(str(out, "revoked_at"));
	json_decref(out);
	assert_int_equal(call(f, &token, "POST", "{}", &out, "/api/v1/workspaces/%s/keys/%s/revoke",
			      ws, kid),
			 200);
	assert_string_equal(str(out, "revoked_at"), revoked_at);
	json_decref(out);
	free(revoked_at);
	assert_int_equal(call(f, &token, "POST", "{\"now\":true}", &out,
			      "/api/v1/workspaces/%s/keys/%s/revoke", ws, kid),
			 400);
	expect_error(out, "invalid_request", "invalid_request_error", "now");

	/* Revoked keys stay listed until deleted. */
	assert_int_equal(call(f, &token, "GET", NULL, &out, "/api/v1/workspaces/%s/keys", ws), 200);
	assert_int_equal(json_array_size(json_object_get(out, "data")), 1);
	json_decref(out);

	f->changes = 0;
	assert_int_equal(
		call(f, &token, "DELETE", NULL, &out, "/api/v1/workspaces/%s/keys/%s", ws, kid),
		204);
	assert_null(out);
	assert_int_equal(f->changes, 1);
	assert_int_equal(
		call(f, &token, "GET", NULL, &out, "/api/v1/workspaces/%s/keys/%s", ws, kid), 404);
	expect_error(out, "not_found", "not_found_error", NULL);
	assert_int_equal(
		call(f, &token, "DELETE", NULL, &out, "/api/v1/workspaces/%s/keys/%s", ws, kid),
		404);
	expect_error(out, "not_found", "not_found_error", NULL);
	assert_int_equal(call(f, &token, "POST", NULL, &out, "/api/v1/workspaces/%s/keys/%s/revoke",
			      ws, kid),
			 404);
	expect_error(out, "not_found", "not_found_error", NULL);
}

static void test_key_rotate(void **state)
{
	struct fixture *f = *state;
	char ws[HW_ID_MAX], kid[HW_ID_MAX], body[512], name[128];
	json_t *out;
	const char *nid, *nname;

	make_ws(f, "rot", ws);
	make_key(f, ws,
		 "{\"name\":\"svc\",\"role\":\"admin\",\"rpm_limit\":42,\"shield_mode\":\"block\"}",
		 kid);
	f->changes = 0;
	assert_int_equal(call(f, &token, "POST", NULL, &out, "/api/v1/workspaces/%s/keys/%s/rotate",
			      ws, kid),
			 201);
	assert_int_equal(f->changes, 1);
	nid = str(out, "id");
	assert_string_not_equal(nid, kid);
	assert_string_equal(str(out, "name"), "svc (rotated)");
	assert_string_equal(str(out, "role"), "admin");
	assert_int_equal(json_integer_value(json_object_get(out, "rpm_limit")), 42);
	assert_string_equal(str(out, "shield_mode"), "block");
	assert_string_equal(str(out, "status"), "active");
	assert_int_equal(strlen(str(out, "key")), 40);
	assert_memory_equal(str(out, "prefix"), str(out, "key"), 12);
	assert_int_equal(
		call(f, &token, "GET", NULL, NULL, "/api/v1/workspaces/%s/keys/%s", ws, nid), 200);
	json_decref(out);

	assert_int_equal(
		call(f, &token, "GET", NULL, &out, "/api/v1/workspaces/%s/keys/%s", ws, kid), 200);
	assert_string_equal(str(out, "status"), "revoked");
	assert_true(rfc3339(str(out, "revoked_at")));
	json_decref(out);
	assert_int_equal(call(f, &token, "POST", NULL, &out, "/api/v1/workspaces/%s/keys/%s/rotate",
			      ws, kid),
			 409);
	expect_error(out, "conflict", "invalid_request_error", NULL);

	/* A name at the limit gives way to the suffix, on a character boundary. */
	memset(name, 0, sizeof(name));
	for (int i = 0; i < 50; i++)
		memcpy(name + 2 * i, "\xc3\xa9", 2);
	snprintf(body, sizeof(body), "{\"name\":\"%s\"}", name);
	make_key(f, ws, body, kid);
	assert_int_equal(call(f, &token, "POST", NULL, &out, "/api/v1/workspaces/%s/keys/%s/rotate",
			      ws, kid),
			 201);
	nname = str(out, "name");
	assert_non_null(strstr(nname, " (rotated)"));
	assert_true(strlen(nname) <= 100);
	assert_memory_equal(nname, "\xc3\xa9", 2);
	assert_int_equal(strlen(nname) % 2, 0);
	json_decref(out);
}

static void test_on_change_only_after_writes(void **state)
{
	struct fixture *f = *state;
	char ws[HW_ID_MAX];

	make_ws(f, "oc", ws);
	assert_int_equal(f->changes, 1);
	call(f, &token, "GET", NULL, NULL, "/api/v1/workspaces/%s", ws);
	call(f, &token, "GET", NULL, NULL, "/api/v1/workspaces");
	call(f, &token, "PATCH", "{\"name\":5}", NULL, "/api/v1/workspaces/%s", ws);
	assert_int_equal(f->changes, 1);
	call(f, &token, "PATCH", "{\"name\":\"oc2\"}", NULL, "/api/v1/workspaces/%s", ws);
	call(f, &token, "POST", "{}", NULL, "/api/v1/workspaces/%s/suspend", ws);
	call(f, &token, "POST", "{}", NULL, "/api/v1/workspaces/%s/unsuspend", ws);
	assert_int_equal(f->changes, 4);
	f->ctx.on_change = NULL;
	assert_int_equal(call(f, &token, "POST", "{}", NULL, "/api/v1/workspaces/%s/suspend", ws),
			 200);
}

/* Runs the bootstrap with stderr captured into `text`. */
static int bootstrap_captured(struct fixture *f, char *text, size_t len)
{
	char path[160];
	int saved, fd, rc;
	ssize_t n;

	snprintf(path, sizeof(path), "%s/stderr.txt", f->dir);
	fflush(stderr);
	saved = dup(STDERR_FILENO);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	assert_true(saved >= 0 && fd >= 0);
	dup2(fd, STDERR_FILENO);
	rc = hw_admin_bootstrap(f->st, &f->cfg);
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
	n = pread(fd, text, len - 1, 0);
	close(fd);
	unlink(path);
	text[n > 0 ? n : 0] = '\0';
	return rc;
}

static void test_bootstrap(void **state)
{
	struct fixture *f = *state;
	char text[1024], ws_id[64], tok[128], key[64], hash[HW_SHA256_HEX_LEN + 1], stored[128];
	struct hw_workspace *rows = NULL;
	struct hw_key *keys = NULL;
	size_t n = 0;
	int64_t count = 0;

	f->cfg.bootstrap.workspace_name = "first";
	f->cfg.plans.default_plan = "free";
	assert_int_equal(bootstrap_captured(f, text, sizeof(text)), 0);
	assert_int_equal(sscanf(text,
				"hiway: bootstrap workspace %63s created\n"
				"hiway: admin token: %127s (shown once)\n"
				"hiway: API key: %63s (shown once)\n",
				ws_id, tok, key),
			 3);
	/* Exactly the three lines. */
	snprintf(stored, sizeof(stored), "hiway: API key: %s (shown once)\n", key);
	assert_string_equal(strstr(text, "hiway: API key:"), stored);
	assert_int_equal(strlen(ws_id), 26);
	assert_int_equal(strlen(tok), 73);
	assert_memory_equal(tok, "hw_admin_", 9);
	assert_int_equal(strlen(key), 40);
	assert_memory_equal(key, "hw_live_", 8);

	assert_int_equal(
		f->st->ops->setting_get(f->st, "admin_token_sha256", stored, sizeof(stored)), 0);
	hw_sha256_hex(tok, strlen(tok), hash);
	assert_string_equal(stored, hash);

	assert_int_equal(f->st->ops->workspace_list(f->st, "", 10, &rows, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(rows[0].id, ws_id);
	assert_string_equal(rows[0].name, "first");
	assert_string_equal(rows[0].plan, "unlimited");
	assert_string_equal(rows[0].status, "active");
	free(rows);
	assert_int_equal(f->st->ops->key_list(f->st, ws_id, NULL, "", 10, &keys, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(keys[0].name, "bootstrap");
	assert_string_equal(keys[0].role, "admin");
	assert_string_equal(keys[0].source, "bootstrap");
	assert_string_equal(keys[0].status, "active");
	hw_sha256_hex(key, strlen(key), hash);
	assert_string_equal(keys[0].hash, hash);
	free(keys);

	/* Idempotent: a store with a workspace is left alone, silently. */
	assert_int_equal(bootstrap_captured(f, text, sizeof(text)), 0);
	assert_string_equal(text, "");
	assert_int_equal(f->st->ops->workspace_count(f->st, &count), 0);
	assert_int_equal(count, 1);
	assert_int_equal(
		f->st->ops->setting_get(f->st, "admin_token_sha256", stored, sizeof(stored)), 0);
	hw_sha256_hex(tok, strlen(tok), hash);
	assert_string_equal(stored, hash);
}

static void test_bootstrap_configured_token(void **state)
{
	struct fixture *f = *state;
	char text[1024], ws_id[64], key[64], stored[128];
	int64_t count = 0;

	f->cfg.admin.token = "a-configured-admin-token-of-at-least-32-chars";
	f->cfg.bootstrap.enabled = false;
	assert_int_equal(bootstrap_captured(f, text, sizeof(text)), 0);
	assert_string_equal(text, "");
	assert_int_equal(f->st->ops->workspace_count(f->st, &count), 0);
	assert_int_equal(count, 0);

	f->cfg.bootstrap.enabled = true;
	assert_int_equal(bootstrap_captured(f, text, sizeof(text)), 0);
	assert_int_equal(sscanf(text,
				"hiway: bootstrap workspace %63s created\n"
				"hiway: API key: %63s (shown once)\n",
				ws_id, key),
			 2);
	assert_null(strstr(text, "admin token"));
	assert_int_equal(
		f->st->ops->setting_get(f->st, "admin_token_sha256", stored, sizeof(stored)),
		-ENOENT);
	assert_int_equal(f->st->ops->workspace_count(f->st, &count), 0);
	assert_int_equal(count, 1);

	/* The bootstrap workspace is an ordinary one over the API. */
	assert_int_equal(call(f, &token, "GET", NULL, NULL, "/api/v1/workspaces/%s", ws_id), 200);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_workspace_create_defaults, setup, teardown),
		cmocka_unit_test_setup_teardown(test_workspace_create_full, setup, teardown),
		cmocka_unit_test_setup_teardown(test_workspace_create_invalid, setup, teardown),
		cmocka_unit_test_setup_teardown(test_workspace_list_pagination, setup, teardown),
		cmocka_unit_test_setup_teardown(test_workspace_patch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_workspace_suspend, setup, teardown),
		cmocka_unit_test_setup_teardown(test_workspace_plan_presets, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store_failures, setup, teardown),
		cmocka_unit_test_setup_teardown(test_routes_unknown_and_methods, setup, teardown),
		cmocka_unit_test_setup_teardown(test_admin_key_scope, setup, teardown),
		cmocka_unit_test_setup_teardown(test_key_create, setup, teardown),
		cmocka_unit_test_setup_teardown(test_key_legacy_import, setup, teardown),
		cmocka_unit_test_setup_teardown(test_key_list_get_patch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_key_revoke_delete, setup, teardown),
		cmocka_unit_test_setup_teardown(test_key_rotate, setup, teardown),
		cmocka_unit_test_setup_teardown(test_on_change_only_after_writes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bootstrap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bootstrap_configured_token, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
