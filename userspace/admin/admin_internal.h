/* SPDX-License-Identifier: Apache-2.0 */
/* Internals shared by the management API's files (routing, JSON helpers, one file per
 * resource); callers use admin.h only. */
#ifndef HW_ADMIN_ADMIN_INTERNAL_H
#define HW_ADMIN_ADMIN_INTERNAL_H

#include "admin/admin.h"
#include "auth/keys.h"
#include "common/errors.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#define HW_ADMIN_PAGE_DEFAULT	100
#define HW_ADMIN_PAGE_MAX	500
#define HW_ADMIN_NAME_MAX_CHARS 100

/* One management call in flight: the router fills it, a handler answers through it. */
struct hw_admin_call {
	struct hw_admin_ctx *ctx;
	const struct hw_admin_request *req;
	struct hw_admin_response *resp;
	const char *ws_id;  /* {ws} of the path, or NULL */
	const char *key_id; /* second id of the path: {kid}, or {provider}; NULL when none */
	bool changed;       /* a key or workspace was written: on_change is due */
};

/* admin.c: answers. Each sets the whole response; the last one called wins. */
void hw_admin_reply(struct hw_admin_call *c, int status, json_t *body);
void hw_admin_fail(struct hw_admin_call *c, enum hw_err err, const char *message);
/* 400 invalid_request with `param` (NULL = json null). */
void hw_admin_fail_param(struct hw_admin_call *c, const char *param, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Maps a store errno: -ENOENT 404 (`what` names the resource), -EEXIST 409,
 * -EIO 503 store_unavailable, anything else 500. */
void hw_admin_fail_store(struct hw_admin_call *c, int rc, const char *what);
bool hw_admin_by_token(const struct hw_admin_call *c);

/* admin_json.c: request bodies, query strings, pagination, field checks, money. */

/* Parses the body as a JSON object whose members all appear in `allowed` (NULL-terminated);
 * an empty body is {}. On failure answers 400 and returns -EINVAL. */
int hw_admin_body_parse(struct hw_admin_call *c, const char *const *allowed, json_t **out);
/* First value of `name` in the query, percent-decoded. 0, -ENOENT, or -EINVAL when it does
 * not fit in `len`. */
int hw_admin_query_get(const char *query, const char *name, char *out, size_t len);
/* ?limit= and ?cursor=; answers 400 and returns -EINVAL when either is bad. */
int hw_admin_page_parse(struct hw_admin_call *c, int *limit, char cursor[HW_ID_MAX]);
/* {"data": data, "next_cursor": cursor or null}; steals `data`. */
json_t *hw_admin_page_body(json_t *data, const char *next_cursor);
/* RFC 3339 string, or null for 0. */
json_t *hw_admin_time_json(int64_t unix_s);
/* A name of 1-100 characters that fits `cap` bytes with its NUL; copies it into out.
 * Answers 400 naming `param` and returns -EINVAL otherwise. */
int hw_admin_name_take(struct hw_admin_call *c, const json_t *v, const char *param, char *out,
		       size_t cap);
/* True when `s` is one of the NULL-terminated `values`. */
bool hw_admin_one_of(const char *s, const char *const *values);
/* A string among `values`, copied into out; else answers 400 naming `param`, -EINVAL. */
int hw_admin_choice_take(struct hw_admin_call *c, const json_t *v, const char *param,
			 const char *const *values, char *out, size_t cap);
/* Exact µ$ of the top-level number member `name` of the raw body, parsed as a decimal:
 * 0, -EINVAL (not a number, or more than 6 decimals), -ERANGE (negative or too large). */
int hw_admin_usd_member(const char *body, size_t len, const char *name, int64_t *micros);
/* Cuts `s` to at most `max_chars` characters and `max_bytes` bytes without splitting a
 * UTF-8 sequence. */
void hw_admin_utf8_cut(char *s, size_t max_chars, size_t max_bytes);

/* admin_workspaces.c */
/* Defaults of a new workspace (SPEC §4.3): fresh id, status active, now. */
void hw_admin_workspace_init(const struct hw_config *cfg, struct hw_workspace *ws);
json_t *hw_admin_workspace_json(const struct hw_config *cfg, const struct hw_workspace *ws);
void hw_admin_workspaces_list(struct hw_admin_call *c);
void hw_admin_workspaces_create(struct hw_admin_call *c);
void hw_admin_workspace_get(struct hw_admin_call *c);
void hw_admin_workspace_patch(struct hw_admin_call *c);
void hw_admin_workspace_suspend(struct hw_admin_call *c);
void hw_admin_workspace_unsuspend(struct hw_admin_call *c);

/* admin_keys.c */
/* Fills the defaults of a key of workspace `ws_id` (role inference, active, source api,
 * rpm_limit from keys.default_rpm_limit). */
void hw_admin_key_init(const struct hw_config *cfg, const char *ws_id, struct hw_key *key);
/* Mints a fresh hw_live_ key for `key` (id, prefix, hash, created_at) and stores it;
 * the plaintext goes to `plain`. Returns 0 or the store's negative errno. */
int hw_admin_key_mint(struct hw_store *st, struct hw_key *key, char plain[HW_KEY_LIVE_LEN + 1]);
json_t *hw_admin_key_json(const struct hw_key *key);
void hw_admin_keys_list(struct hw_admin_call *c);
void hw_admin_keys_create(struct hw_admin_call *c);
void hw_admin_key_get(struct hw_admin_call *c);
void hw_admin_key_patch(struct hw_admin_call *c);
void hw_admin_key_delete(struct hw_admin_call *c);
void hw_admin_key_revoke(struct hw_admin_call *c);
void hw_admin_key_rotate(struct hw_admin_call *c);

/* admin_providers.c */
void hw_admin_providers_list(struct hw_admin_call *c);
void hw_admin_provider_put(struct hw_admin_call *c);
void hw_admin_provider_delete(struct hw_admin_call *c);

/* admin_webhooks.c */
void hw_admin_webhooks_list(struct hw_admin_call *c);
void hw_admin_webhooks_create(struct hw_admin_call *c);
void hw_admin_webhook_patch(struct hw_admin_call *c);
void hw_admin_webhook_delete(struct hw_admin_call *c);
/* admin_security.c */
void hw_admin_security_config_get(struct hw_admin_call *c);
void hw_admin_security_config_put(struct hw_admin_call *c); /* POST and PUT */

/* admin_iprules.c: IP rules of a workspace (ws_id) or global (token only; the rule id of
 * a DELETE arrives in ws_id, the router's first capture). */
void hw_admin_ws_ip_rules_list(struct hw_admin_call *c);
void hw_admin_ws_ip_rules_create(struct hw_admin_call *c);
void hw_admin_ws_ip_rule_delete(struct hw_admin_call *c);
void hw_admin_global_ip_rules_list(struct hw_admin_call *c);
void hw_admin_global_ip_rules_create(struct hw_admin_call *c);
void hw_admin_global_ip_rule_delete(struct hw_admin_call *c);
/* A CIDR member normalized into out (its family in *family); a comment of at most 200
 * characters ("" for absent or null). Both answer 400 naming the field on failure. */
int hw_admin_cidr_take(struct hw_admin_call *c, const json_t *v, char *out, size_t cap,
		       int *family);
int hw_admin_comment_take(struct hw_admin_call *c, const json_t *v, char *out, size_t cap);
/* Applies a committed rule or ban change to this gateway before the response. */
void hw_admin_perimeter_applied(struct hw_admin_call *c);

/* admin_bans.c: bans (the ban id of a DELETE arrives in ws_id) and the perimeter status. */
void hw_admin_bans_list(struct hw_admin_call *c);
void hw_admin_bans_create(struct hw_admin_call *c);
void hw_admin_ban_delete(struct hw_admin_call *c);
void hw_admin_perimeter_get(struct hw_admin_call *c);

/* admin_audit.c */
void hw_admin_audit_verify(struct hw_admin_call *c);

/* admin_guardian.c */
void hw_admin_guardian_get(struct hw_admin_call *c);
void hw_admin_guardian_put(struct hw_admin_call *c);

/* admin_money.c */
void hw_admin_wallet_get(struct hw_admin_call *c);
void hw_admin_wallet_topup(struct hw_admin_call *c);
void hw_admin_wallet_ledger(struct hw_admin_call *c);
void hw_admin_budget_get(struct hw_admin_call *c);
void hw_admin_budget_put(struct hw_admin_call *c);
void hw_admin_plan_get(struct hw_admin_call *c);
void hw_admin_plan_put(struct hw_admin_call *c);
void hw_admin_usage(struct hw_admin_call *c);
void hw_admin_audit_export(struct hw_admin_call *c);

#endif
