// SPDX-License-Identifier: Apache-2.0
/* A workspace's provider keys over the management API (SPEC §16.2, §16.3): list every
 * configured provider with where its key comes from, store or clear the workspace's own key
 * (sealed with AES-256-GCM under a per-workspace key), turn a provider off or on for the
 * workspace. A key is never answered nor logged; only its fingerprint is. */
#include "admin/admin_internal.h"

#include "auth/byok_cache.h"
#include "common/clock.h"
#include "common/crypto.h"
#include "common/log.h"
#include "common/secretbox.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The provider {provider} of the path (the route's second id); answers 404 when the
 * configuration has none by that id. */
static const struct hw_cfg_provider *provider_take(struct hw_admin_call *c)
{
	const struct hw_cfg_provider *p = hw_config_provider(c->ctx->cfg, c->key_id);

	if (!p)
		hw_admin_fail(c, HW_ERR_NOT_FOUND, "Provider not found.");
	return p;
}

static int workspace_check(struct hw_admin_call *c)
{
	struct hw_store *st = c->ctx->store;
	struct hw_workspace ws;
	int rc = st->ops->workspace_get(st, c->ws_id, &ws);

	if (rc)
		hw_admin_fail_store(c, rc, "Workspace");
	return rc;
}

/* The §16.2 object for `p` given the workspace's row (NULL when it has none). `enabled` is
 * the effective state: the server's and the workspace's switches both on; `configured`
 * says a key exists or none is needed, so usable = configured && enabled. */
static json_t *provider_json(const struct hw_config *cfg, const struct hw_cfg_provider *p,
			     const struct hw_provider_key *row)
{
	bool stored = row && row->ciphertext_len;
	/* A key stored under a master key this server no longer has cannot be used. */
	enum hw_byok_source src = hw_byok_source_of(p, stored && cfg->secrets.has_master_key);

	return json_pack("{s:s,s:s,s:b,s:s,s:b,s:o,s:o}", "provider", p->id, "kind",
			 hw_provider_kind_name(p->kind), "configured", src != HW_BYOK_SOURCE_NONE,
			 "source", hw_byok_source_name(src), "enabled",
			 p->enabled && (!row || row->enabled), "fingerprint",
			 stored ? json_string(row->fingerprint) : json_null(), "updated_at",
			 row ? hw_admin_time_json(row->updated_at) : json_null());
}

void hw_admin_providers_list(struct hw_admin_call *c)
{
	const struct hw_config *cfg = c->ctx->cfg;
	struct hw_store *st = c->ctx->store;
	struct hw_provider_key *rows = NULL;
	size_t n = 0;
	json_t *data;
	int rc;

	if (workspace_check(c))
		return;
	rc = st->ops->provider_key_list(st, c->ws_id, &rows, &n);
	if (rc) {
		hw_admin_fail_store(c, rc, "Provider");
		return;
	}
	/* Every configured provider, in configuration order; rows of providers no longer
	 * configured stay stored but are not shown. */
	data = json_array();
	for (size_t i = 0; i < cfg->n_providers; i++) {
		const struct hw_provider_key *row = NULL;
		for (size_t j = 0; j < n && !row; j++)
			if (strcmp(rows[j].provider, cfg->providers[i].id) == 0)
				row = &rows[j];
		json_array_append_new(data, provider_json(cfg, &cfg->providers[i], row));
	}
	hw_admin_reply(c, 200, hw_admin_page_body(data, NULL));
	OPENSSL_cleanse(rows, n * sizeof(*rows));
	free(rows);
}

/* Provider keys go into an HTTP header upstream: visible ASCII only, so a CR or LF can
 * never split the header. */
static bool key_shape_ok(const char *s, size_t len)
{
	if (len == 0 || len > HW_PROVIDER_KEY_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)s[i];
		if (ch <= ' ' || ch >= 0x7f)
			return false;
	}
	return true;
}

/* Seals the key in `v` into `row`; answers 400 and returns -EINVAL when it cannot be. */
static int key_seal(struct hw_admin_call *c, const struct hw_cfg_provider *p, const json_t *v,
		    struct hw_provider_key *row)
{
	const struct hw_config *cfg = c->ctx->cfg;
	char hex[HW_SHA256_HEX_LEN + 1];
	const char *key = json_string_value(v);
	size_t len = json_string_length(v);
	int rc;

	if (!json_is_string(v) || !key_shape_ok(key, len)) {
		hw_admin_fail_param(c, "api_key",
				    "api_key must be 1 to %d visible ASCII characters, or null.",
				    HW_PROVIDER_KEY_MAX);
		return -EINVAL;
	}
	if (p->kind == HW_PROVIDER_ECHO) {
		hw_admin_fail_param(c, "api_key", "The echo provider takes no key.");
		return -EINVAL;
	}
	if (!cfg->secrets.has_master_key) {
		hw_admin_fail_param(c, "api_key",
				    "Storing provider keys needs secrets.master_key on the server.");
		return -EINVAL;
	}
	rc = hw_byok_seal(cfg->secrets.master_key_raw, c->ws_id, p->id, key, len, row->ciphertext,
			  sizeof(row->ciphertext), &row->ciphertext_len);
	if (rc) {
		hw_admin_fail(c, HW_ERR_INTERNAL, "Internal error.");
		return rc;
	}
	hw_sha256_hex(key, len, hex);
	snprintf(row->fingerprint, sizeof(row->fingerprint), "%.8s", hex);
	OPENSSL_cleanse(hex, sizeof(hex));
	return 0;
}

/* Wipes the plaintext key jansson holds for the request body. */
static void body_wipe(json_t *in)
{
	json_t *v = json_object_get(in, "api_key");

	if (json_is_string(v))
		OPENSSL_cleanse((char *)json_string_value(v), json_string_length(v));
}

/* After a store write, the cache of this process; a failed update falls back to a reload
 * so the request path never keeps a row the store no longer has. */
static void cache_sync(struct hw_admin_call *c, const struct hw_provider_key *row)
{
	int rc = 0;

	if (row)
		rc = hw_byok_cache_put(row);
	else
		hw_byok_cache_remove(c->ws_id, c->key_id);
	if (rc < 0 && hw_byok_cache_reload() < 0)
		hw_log_json(HW_LOG_ERROR, c->req->request_id, "admin: provider key cache is stale",
			    json_pack("{s:s,s:s}", "workspace_id", c->ws_id, "provider",
				      c->key_id));
}

void hw_admin_provider_put(struct hw_admin_call *c)
{
	static const char *const fields[] = {"api_key", "enabled", NULL};
	struct hw_store *st = c->ctx->store;
	const struct hw_cfg_provider *p;
	struct hw_provider_key *row = NULL;
	json_t *in = NULL, *v;
	bool found = true;
	int rc;

	if (workspace_check(c) || !(p = provider_take(c)) || hw_admin_body_parse(c, fields, &in))
		goto out;
	/* Heap: a row holds a whole sealed key, too large for a worker's stack frame. */
	row = calloc(1, sizeof(*row));
	if (!row) {
		hw_admin_fail_store(c, -ENOMEM, "Provider");
		goto out;
	}
	rc = st->ops->provider_key_get(st, c->ws_id, p->id, row);
	if (rc == -ENOENT) {
		found = false;
		memset(row, 0, sizeof(*row));
		snprintf(row->workspace_id, sizeof(row->workspace_id), "%s", c->ws_id);
		snprintf(row->provider, sizeof(row->provider), "%s", p->id);
		row->enabled = true;
	} else if (rc) {
		hw_admin_fail_store(c, rc, "Provider");
		goto out;
	}
	v = json_object_get(in, "enabled");
	if (v && !json_is_boolean(v)) {
		hw_admin_fail_param(c, "enabled", "enabled must be true or false.");
		goto out;
	}
	if (v)
		row->enabled = json_is_true(v);
	v = json_object_get(in, "api_key");
	if (json_is_null(v)) {
		OPENSSL_cleanse(row->ciphertext, sizeof(row->ciphertext));
		row->ciphertext_len = 0;
		row->fingerprint[0] = '\0';
	} else if (v && key_seal(c, p, v, row)) {
		goto out;
	}
	/* An empty body changes nothing and answers the current state. */
	if (json_object_size(in) > 0) {
		row->updated_at = hw_clock_wall_s();
		rc = st->ops->provider_key_put(st, row);
		if (rc) {
			hw_admin_fail_store(c, rc, "Workspace");
			goto out;
		}
		found = true;
		cache_sync(c, row);
		hw_log_json(HW_LOG_INFO, c->req->request_id, "admin: provider key updated",
			    json_pack("{s:s,s:s,s:b,s:s}", "workspace_id", c->ws_id, "provider",
				      p->id, "enabled", row->enabled, "fingerprint",
				      row->ciphertext_len ? row->fingerprint : ""));
	}
	hw_admin_reply(c, 200, provider_json(c->ctx->cfg, p, found ? row : NULL));
out:
	body_wipe(in);
	json_decref(in);
	if (row)
		OPENSSL_cleanse(row, sizeof(*row));
	free(row);
}

void hw_admin_provider_delete(struct hw_admin_call *c)
{
	struct hw_store *st = c->ctx->store;
	const struct hw_cfg_provider *p;
	int rc;

	if (workspace_check(c) || !(p = provider_take(c)))
		return;
	/* Deleting what is not there leaves the state asked for: no error. */
	rc = st->ops->provider_key_delete(st, c->ws_id, p->id);
	if (rc && rc != -ENOENT) {
		hw_admin_fail_store(c, rc, "Provider");
		return;
	}
	cache_sync(c, NULL);
	hw_log_json(HW_LOG_INFO, c->req->request_id, "admin: provider key removed",
		    json_pack("{s:s,s:s}", "workspace_id", c->ws_id, "provider", p->id));
	hw_admin_reply(c, 204, NULL);
}
