/* SPDX-License-Identifier: Apache-2.0 */
/* Management API (SPEC §16) as a pure request -> response function over the store, so
 * the HTTP layer only authenticates and transports. Also the first-start bootstrap (§4.3). */
#ifndef HW_ADMIN_ADMIN_H
#define HW_ADMIN_ADMIN_H

#include "common/config.h"
#include "store/store.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/* Who is calling, already authenticated by the gateway. */
enum hw_principal_kind { HW_PRINCIPAL_ADMIN_TOKEN, HW_PRINCIPAL_ADMIN_KEY };

struct hw_principal {
	enum hw_principal_kind kind;
	char workspace_id[HW_ID_MAX]; /* admin key only */
	char key_id[HW_ID_MAX];       /* admin key only */
};

struct hw_money;

struct hw_admin_ctx {
	struct hw_store *store;
	const struct hw_config *cfg;
	/* Called after any change to keys or workspaces, before the response is returned, so
	 * the gateway's in-memory caches see a revocation at once (SPEC §4.1). */
	void (*on_change)(void *arg);
	void *on_change_arg;
	struct hw_money *money; /* NULL when money.enabled is false */
};

struct hw_admin_request {
	const char *method;     /* "GET", "POST", ... */
	const char *path;       /* full path, "/api/v1/workspaces/01J.../keys" */
	const char *query;      /* raw query string without '?', or NULL */
	const char *body;       /* raw body, may be NULL when empty */
	size_t body_len;
	const struct hw_principal *who;
	const char *request_id;
};

struct hw_admin_response {
	int status;   /* HTTP status */
	json_t *body; /* owned by the caller after return; NULL for 204 */
	char allow[64]; /* the Allow header value on 405, else "" */
	/* A non-JSON answer (the CSV audit export) instead of body: malloc'ed text owned by the
	 * caller, its Content-Type and Content-Disposition. */
	char *text;
	size_t text_len;
	const char *content_type;
	char disposition[128];
};

/* Never fails: every outcome, errors included, is a status and a SPEC §2 envelope. */
void hw_admin_handle(struct hw_admin_ctx *ctx, const struct hw_admin_request *req,
		     struct hw_admin_response *resp);

/* First start (SPEC §4.3): when bootstrap.enabled and the store holds no workspace, creates
 * the workspace and an admin key, and when admin.token is empty an admin token (stored
 * hashed in setting "admin_token_sha256"); prints the three lines on stderr once.
 * Returns 0 (also when nothing had to be done) or a negative errno. */
int hw_admin_bootstrap(struct hw_store *store, const struct hw_config *cfg);

#endif
