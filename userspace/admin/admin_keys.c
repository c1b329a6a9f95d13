// SPDX-License-Identifier: Apache-2.0
/* A workspace's API keys over the management API (SPEC §4.1, §16.2): mint or import, list,
 * read, update (including suspension), revoke, rotate and delete. Only SHA-256 of a key is
 * stored; the plaintext leaves once, in the response of the call that made it. */
#include "admin/admin_internal.h"

#include "common/clock.h"
#include "common/crypto.h"
#include "common/ids.h"
#include "events/outbox.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ROTATED_SUFFIX " (rotated)"

static const char *const roles[] = {"inference", "admin", NULL};
static const char *const shield_modes[] = {"off", "monitor", "block", NULL};
static const char *const statuses[] = {"active", "suspended", "revoked", NULL};
static const char *const settable_statuses[] = {"active", "suspended", NULL};
/* "bootstrap" is the server's own; "import" comes with legacy_key. */
static const char *const sources[] = {"api", "cli", "import", NULL};

void hw_admin_key_init(const struct hw_config *cfg, const char *ws_id, struct hw_key *key)
{
	memset(key, 0, sizeof(*key));
	snprintf(key->workspace_id, sizeof(key->workspace_id), "%s", ws_id);
	snprintf(key->role, sizeof(key->role), "inference");
	snprintf(key->status, sizeof(key->status), "active");
	snprintf(key->source, sizeof(key->source), "api");
	key->rpm_limit = cfg->keys.default_rpm_limit > 0 ? cfg->keys.default_rpm_limit : -1;
}

/* Id, display prefix, hash and creation time of a key whose plaintext is `plain`. */
static int key_identify(struct hw_key *key, const char *plain)
{
	int rc = hw_id_make(key->id, sizeof(key->id), "kid_");

	if (rc)
		return rc;
	hw_key_display_prefix(plain, key->prefix);
	hw_sha256_hex(plain, strlen(plain), key->hash);
	snprintf(key->status, sizeof(key->status), "active");
	key->created_at = hw_clock_wall_s();
	return 0;
}

int hw_admin_key_mint(struct hw_store *st, struct hw_key *key, char plain[HW_KEY_LIVE_LEN + 1])
{
	int rc = hw_key_generate(plain);

	if (rc == 0)
		rc = key_identify(key, plain);
	if (rc == 0)
		rc = st->ops->key_create(st, key);
	return rc;
}

json_t *hw_admin_key_json(const struct hw_key *key)
{
	return json_pack(
		"{s:s,s:s,s:s,s:s,s:s,s:s,s:o,s:o,s:s,s:o,s:o,s:o,s:o}", "id", key->id,
		"workspace_id", key->workspace_id, "name", key->name, "prefix", key->prefix, "role",
		key->role, "status", key->status, "rpm_limit",
		key->rpm_limit < 0 ? json_null() : json_integer(key->rpm_limit), "shield_mode",
		key->shield_mode[0] ? json_string(key->shield_mode) : json_null(), "source",
		key->source, "created_at", hw_admin_time_json(key->created_at), "last_used_at",
		hw_admin_time_json(key->last_used_at), "revoked_at",
		hw_admin_time_json(key->revoked_at), "suspended_reason",
		key->has_suspended_reason ? json_string(key->suspended_reason) : json_null());
}

static json_t *key_json_with_plain(const struct hw_key *key, const char *plain)
{
	json_t *out = hw_admin_key_json(key);

	json_object_set_new(out, "key", json_string(plain));
	return out;
}

static int rpm_take(struct hw_admin_call *c, const json_t *v, int64_t *out)
{
	if (json_is_null(v)) {
		*out = -1;
		return 0;
	}
	if (!json_is_integer(v) || json_integer_value(v) < 1) {
		hw_admin_fail_param(c, "rpm_limit", "rpm_limit must be an integer >= 1, or null.");
		return -EINVAL;
	}
	*out = json_integer_value(v);
	return 0;
}

static int shield_take(struct hw_admin_call *c, const json_t *v, char *out, size_t cap)
{
	if (json_is_null(v)) {
		out[0] = '\0';
		return 0;
	}
	return hw_admin_choice_take(c, v, "shield_mode", shield_modes, out, cap);
}

/* The key {kid} of workspace {ws}; a key of another workspace does not exist here. */
static int load(struct hw_admin_call *c, struct hw_key *key)
{
	struct hw_store *st = c->ctx->store;
	int rc = st->ops->key_get(st, c->key_id, key);

	if (rc == 0 && strcmp(key->workspace_id, c->ws_id) != 0)
		rc = -ENOENT;
	if (rc)
		hw_admin_fail_store(c, rc, "Key");
	return rc;
}

static int save(struct hw_admin_call *c, const struct hw_key *key)
{
	struct hw_store *st = c->ctx->store;
	int rc = st->ops->key_update(st, key);

	if (rc) {
		hw_admin_fail_store(c, rc, "Key");
		return rc;
	}
	c->changed = true;
	return 0;
}

void hw_admin_keys_list(struct hw_admin_call *c)
{
	struct hw_store *st = c->ctx->store;
	struct hw_key *rows = NULL;
	struct hw_workspace ws;
	char cursor[HW_ID_MAX], status[16];
	const char *filter = NULL;
	size_t n = 0;
	json_t *data;
	int limit, rc;

	if (hw_admin_page_parse(c, &limit, cursor))
		return;
	rc = hw_admin_query_get(c->req->query, "status", status, sizeof(status));
	if (rc == -EINVAL || (rc == 0 && !hw_admin_one_of(status, statuses))) {
		hw_admin_fail_param(c, "status",
				    "status must be one of: active, suspended, revoked.");
		return;
	}
	if (rc == 0)
		filter = status;
	rc = st->ops->workspace_get(st, c->ws_id, &ws);
	if (rc) {
		hw_admin_fail_store(c, rc, "Workspace");
		return;
	}
	rc = st->ops->key_list(st, c->ws_id, filter, cursor, limit + 1, &rows, &n);
	if (rc) {
		hw_admin_fail_store(c, rc, "Key");
		goto out;
	}
	data = json_array();
	for (size_t i = 0; i < n && i < (size_t)limit; i++)
		json_array_append_new(data, hw_admin_key_json(&rows[i]));
	hw_admin_reply(c, 200,
		       hw_admin_page_body(data, n > (size_t)limit ? rows[limit - 1].id : NULL));
out:
	free(rows);
}

/* legacy_key (token only, §4.2): a well-formed hwy_ key the server accepts. */
static int legacy_take(struct hw_admin_call *c, const json_t *v, const char **out)
{
	*out = NULL;
	if (!v)
		return 0;
	if (!hw_admin_by_token(c)) {
		hw_admin_fail(c, HW_ERR_FORBIDDEN, "Importing a legacy key needs the admin token.");
		return -EPERM;
	}
	if (!c->ctx->cfg->keys.accept_legacy_prefix) {
		hw_admin_fail_param(c, "legacy_key",
				    "Legacy keys are not accepted (keys.accept_legacy_prefix).");
		return -EINVAL;
	}
	if (hw_key_shape(json_string_value(v)) != HW_KEY_SHAPE_LEGACY) {
		hw_admin_fail_param(
			c, "legacy_key",
			"legacy_key must be \"hwy_\" followed by 47 letters or digits.");
		return -EINVAL;
	}
	*out = json_string_value(v);
	return 0;
}

/* A key must authenticate one record only; the store does not index hashes uniquely, and
 * imports are rare enough to look at every key. -EEXIST when `hash` is taken. */
static int import_check(struct hw_store *st, const char *hash)
{
	struct hw_key *all = NULL;
	size_t n = 0;
	int rc = st->ops->key_list_all(st, &all, &n);

	for (size_t i = 0; rc == 0 && i < n; i++)
		if (strcmp(all[i].hash, hash) == 0)
			rc = -EEXIST;
	free(all);
	return rc;
}

void hw_admin_keys_create(struct hw_admin_call *c)
{
	static const char *const fields[] = {
		"name", "role", "rpm_limit", "shield_mode", "source", "legacy_key", NULL,
	};
	struct hw_store *st = c->ctx->store;
	char plain[HW_KEY_LIVE_LEN + 1] = "";
	const char *legacy;
	json_t *in = NULL, *v;
	struct hw_workspace ws;
	struct hw_key key;
	int rc;

	if (hw_admin_body_parse(c, fields, &in) ||
	    legacy_take(c, json_object_get(in, "legacy_key"), &legacy))
		goto out;
	rc = st->ops->workspace_get(st, c->ws_id, &ws);
	if (rc) {
		hw_admin_fail_store(c, rc, "Workspace");
		goto out;
	}
	hw_admin_key_init(c->ctx->cfg, c->ws_id, &key);
	if (hw_admin_name_take(c, json_object_get(in, "name"), "name", key.name, sizeof(key.name)))
		goto out;
	v = json_object_get(in, "role");
	if (v && hw_admin_choice_take(c, v, "role", roles, key.role, sizeof(key.role)))
		goto out;
	v = json_object_get(in, "rpm_limit");
	if (v && rpm_take(c, v, &key.rpm_limit))
		goto out;
	v = json_object_get(in, "shield_mode");
	if (v && shield_take(c, v, key.shield_mode, sizeof(key.shield_mode)))
		goto out;
	if (legacy)
		snprintf(key.source, sizeof(key.source), "import");
	v = json_object_get(in, "source");
	if (v && hw_admin_choice_take(c, v, "source", sources, key.source, sizeof(key.source)))
		goto out;
	if ((strcmp(key.source, "import") == 0) != (legacy != NULL)) {
		hw_admin_fail_param(c, "source",
				    "source \"import\" goes with legacy_key, and only with it.");
		goto out;
	}
	if (legacy) {
		rc = key_identify(&key, legacy);
		if (rc == 0)
			rc = import_check(st, key.hash);
		if (rc == -EEXIST) {
			hw_admin_fail(c, HW_ERR_CONFLICT, "This key has already been imported.");
			goto out;
		}
		if (rc == 0)
			rc = st->ops->key_create(st, &key);
	} else {
		rc = hw_admin_key_mint(st, &key, plain);
	}
	if (rc) {
		hw_admin_fail_store(c, rc, "Key");
		goto out;
	}
	c->changed = true;
	hw_admin_reply(c, 201, key_json_with_plain(&key, legacy ? legacy : plain));
out:
	explicit_bzero(plain, sizeof(plain));
	json_decref(in);
}

void hw_admin_key_get(struct hw_admin_call *c)
{
	struct hw_key key;

	if (load(c, &key) == 0)
		hw_admin_reply(c, 200, hw_admin_key_json(&key));
}

static void suspension_clear(struct hw_key *key)
{
	key->has_suspended_reason = false;
	key->suspended_reason[0] = '\0';
}

void hw_admin_key_patch(struct hw_admin_call *c)
{
	static const char *const fields[] = {"name", "rpm_limit", "shield_mode", "status", NULL};
	char status[12];
	json_t *in = NULL, *v;
	struct hw_key key;

	if (hw_admin_body_parse(c, fields, &in) || load(c, &key))
		goto out;
	v = json_object_get(in, "name");
	if (v && hw_admin_name_take(c, v, "name", key.name, sizeof(key.name)))
		goto out;
	v = json_object_get(in, "rpm_limit");
	if (v && rpm_take(c, v, &key.rpm_limit))
		goto out;
	v = json_object_get(in, "shield_mode");
	if (v && shield_take(c, v, key.shield_mode, sizeof(key.shield_mode)))
		goto out;
	v = json_object_get(in, "status");
	if (v) {
		if (json_is_string(v) && strcmp(json_string_value(v), "revoked") == 0) {
			hw_admin_fail_param(c, "status",
					    "Revoke a key with POST .../keys/{id}/revoke.");
			goto out;
		}
		if (hw_admin_choice_take(c, v, "status", settable_statuses, status, sizeof(status)))
			goto out;
		/* Revocation is final (§4.1). */
		if (strcmp(key.status, "revoked") == 0) {
			hw_admin_fail(c, HW_ERR_CONFLICT, "A revoked key cannot change status.");
			goto out;
		}
		/* Lifting clears the reason; an admin suspension of an active key has none,
		 * while re-suspending keeps Guardian's. */
		if (strcmp(status, "active") == 0 || strcmp(key.status, "active") == 0)
			suspension_clear(&key);
		snprintf(key.status, sizeof(key.status), "%s", status);
	}
	if (save(c, &key) == 0)
		hw_admin_reply(c, 200, hw_admin_key_json(&key));
out:
	json_decref(in);
}

void hw_admin_key_delete(struct hw_admin_call *c)
{
	struct hw_store *st = c->ctx->store;
	struct hw_key key;
	int rc;

	if (load(c, &key))
		return;
	if (strcmp(key.status, "revoked") != 0) {
		hw_admin_fail(c, HW_ERR_CONFLICT, "Revoke the key before deleting it.");
		return;
	}
	rc = st->ops->key_delete(st, key.id);
	if (rc) {
		hw_admin_fail_store(c, rc, "Key");
		return;
	}
	c->changed = true;
	hw_admin_reply(c, 204, NULL);
}

static void revoke_fields(struct hw_key *key)
{
	snprintf(key->status, sizeof(key->status), "revoked");
	key->revoked_at = hw_clock_wall_s();
	suspension_clear(key);
}

/* Writes the revocation of `key` together with its key.rotated event (SPEC §15), so the
 * event exists exactly when the change does. `new_key_id` names the successor of a
 * rotation, NULL for a plain revocation. */
static int revoke_save(struct hw_store *st, const struct hw_key *key, const char *new_key_id)
{
	char at[21];
	json_t *data;

	hw_clock_rfc3339(key->revoked_at, at);
	data = json_pack("{s:s,s:s,s:s,s:s}", "key_id", key->id, "key_prefix", key->prefix,
			 "action", new_key_id ? "rotated" : "revoked", "rotated_at", at);
	if (data && new_key_id)
		json_object_set_new(data, "new_key_id", json_string(new_key_id));
	return hw_outbox_emit_key_update(st, key, "key.rotated", data);
}

void hw_admin_key_revoke(struct hw_admin_call *c)
{
	static const char *const fields[] = {NULL};
	json_t *in = NULL;
	struct hw_key key;

	if (hw_admin_body_parse(c, fields, &in) || load(c, &key))
		goto out;
	/* Revoking twice answers the key as it is: revoked_at keeps the first time. */
	if (strcmp(key.status, "revoked") != 0) {
		revoke_fields(&key);
		int rc = revoke_save(c->ctx->store, &key, NULL);
		if (rc) {
			hw_admin_fail_store(c, rc, "Key");
			goto out;
		}
		c->changed = true;
	}
	hw_admin_reply(c, 200, hw_admin_key_json(&key));
out:
	json_decref(in);
}

void hw_admin_key_rotate(struct hw_admin_call *c)
{
	static const char *const fields[] = {NULL};
	struct hw_store *st = c->ctx->store;
	char plain[HW_KEY_LIVE_LEN + 1] = "";
	struct hw_key old, key;
	json_t *in = NULL;
	size_t suffix = sizeof(ROTATED_SUFFIX) - 1;
	int rc;

	if (hw_admin_body_parse(c, fields, &in) || load(c, &old))
		goto out;
	if (strcmp(old.status, "revoked") == 0) {
		hw_admin_fail(c, HW_ERR_CONFLICT, "A revoked key cannot be rotated.");
		goto out;
	}
	hw_admin_key_init(c->ctx->cfg, old.workspace_id, &key);
	snprintf(key.role, sizeof(key.role), "%s", old.role);
	snprintf(key.shield_mode, sizeof(key.shield_mode), "%s", old.shield_mode);
	key.rpm_limit = old.rpm_limit;
	/* The suffix always fits: the old name gives way to it. */
	memcpy(key.name, old.name, sizeof(key.name));
	hw_admin_utf8_cut(key.name, HW_ADMIN_NAME_MAX_CHARS - suffix,
			  sizeof(key.name) - 1 - suffix);
	size_t used = strlen(key.name);
	snprintf(key.name + used, sizeof(key.name) - used, "%s", ROTATED_SUFFIX);
	/* Mint first: a failure leaves the old key working. */
	rc = hw_admin_key_mint(st, &key, plain);
	if (rc) {
		hw_admin_fail_store(c, rc, "Key");
		goto out;
	}
	revoke_fields(&old);
	rc = revoke_save(st, &old, key.id);
	if (rc) {
		st->ops->key_delete(st, key.id);
		hw_admin_fail_store(c, rc, "Key");
		goto out;
	}
	c->changed = true;
	hw_admin_reply(c, 201, key_json_with_plain(&key, plain));
out:
	explicit_bzero(plain, sizeof(plain));
	json_decref(in);
}
