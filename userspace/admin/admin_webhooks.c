// SPDX-License-Identifier: Apache-2.0
/* A workspace's webhooks over the management API (SPEC §15, §16.2, §16.3): list, create,
 * update, delete. The secret is write-only: stored sealed like provider keys (so it needs
 * secrets.master_key, as they do), never answered except once, in the 201 body, when
 * hiway generated it. A URL that would reach this gateway's own listener is refused, so an
 * event can never loop back into the server that sends it. */
#include "admin/admin_internal.h"

#include "common/clock.h"
#include "common/crypto.h"
#include "common/ids.h"
#include "common/log.h"
#include "common/secretbox.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <ifaddrs.h>
#include <netdb.h>
#include <netinet/in.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define SECRET_PREFIX "whsec_"

static const char *const event_names[] = {
	"guardian.block", "budget.alert", "key.rotated", "account.low_balance",
	"passthrough.activated", "passthrough.warning", "passthrough.hard_cut",
	"passthrough.deactivated", "security.event", NULL,
};
static const char *const security_action_names[] = {"blocked", "logged", NULL};

static json_t *webhook_json(const struct hw_webhook *wh)
{
	json_t *events = wh->events[0] ? json_loads(wh->events, 0, NULL) : json_null();
	json_t *actions = json_loads(wh->security_actions, 0, NULL);

	return json_pack("{s:s,s:s,s:s,s:o,s:o,s:o,s:b}", "id", wh->id, "name", wh->name, "url",
			 wh->url, "events", events ? events : json_null(), "security_actions",
			 actions ? actions : json_array(), "created_at",
			 hw_admin_time_json(wh->created_at), "secret_set", 1);
}

/* A JSON array of distinct strings among `names` into `out` as compact text. `v` null is
 * accepted only when `nullable`, and gives "". Answers 400 naming `param` otherwise. */
static int list_take(struct hw_admin_call *c, const json_t *v, const char *param,
		     const char *const *names, bool nullable, char *out, size_t cap)
{
	size_t i, j;
	json_t *item;
	char *text;

	if (json_is_null(v) && nullable) {
		out[0] = '\0';
		return 0;
	}
	if (!json_is_array(v))
		goto bad;
	json_array_foreach(v, i, item) {
		if (!json_is_string(item) || !hw_admin_one_of(json_string_value(item), names))
			goto bad;
		for (j = 0; j < i; j++)
			if (json_equal(item, json_array_get(v, j)))
				goto bad;
	}
	text = json_dumps(v, JSON_COMPACT);
	if (!text || strlen(text) >= cap) {
		free(text);
		goto bad;
	}
	snprintf(out, cap, "%s", text);
	free(text);
	return 0;
bad:
	hw_admin_fail_param(c, param, "%s must be %sa list of distinct values among those of "
				      "SPEC §15.", param, nullable ? "null or " : "");
	return -EINVAL;
}

/* Whether `sa` is an address of this host: loopback, unspecified, or on an interface. */
static bool addr_is_local(const struct sockaddr *sa)
{
	struct ifaddrs *ifs = NULL, *i;
	bool local = false;

	if (sa->sa_family == AF_INET) {
		in_addr_t a = ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr);
		if ((a >> 24) == 127 || a == INADDR_ANY)
			return true;
	} else {
		const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
		if (IN6_IS_ADDR_LOOPBACK(a) || IN6_IS_ADDR_UNSPECIFIED(a))
			return true;
	}
	if (getifaddrs(&ifs) != 0)
		return false;
	for (i = ifs; i && !local; i = i->ifa_next) {
		if (!i->ifa_addr || i->ifa_addr->sa_family != sa->sa_family)
			continue;
		if (sa->sa_family == AF_INET)
			local = ((const struct sockaddr_in *)i->ifa_addr)->sin_addr.s_addr ==
				((const struct sockaddr_in *)sa)->sin_addr.s_addr;
		else
			local = memcmp(&((const struct sockaddr_in6 *)i->ifa_addr)->sin6_addr,
				       &((const struct sockaddr_in6 *)sa)->sin6_addr,
				       sizeof(struct in6_addr)) == 0;
	}
	freeifaddrs(ifs);
	return local;
}

/* Whether a connection to `sa` reaches the listener `l` (same port checked by the caller).
 * A wildcard listener takes every local address; a specific one its own, and the
 * unspecified address, which the kernel sends to the loopback. */
static bool addr_reaches(const struct sockaddr *sa, const struct hw_cfg_listen *l)
{
	unsigned char want[sizeof(struct in6_addr)];
	int family = l->ipv6 ? AF_INET6 : AF_INET;
	const void *got;
	size_t len;

	if (inet_pton(family, l->host, want) != 1)
		return false;
	if ((family == AF_INET && ((struct in_addr *)want)->s_addr == INADDR_ANY) ||
	    (family == AF_INET6 && IN6_IS_ADDR_UNSPECIFIED((struct in6_addr *)want)))
		return addr_is_local(sa);
	if (sa->sa_family != family)
		return false;
	if (family == AF_INET) {
		got = &((const struct sockaddr_in *)sa)->sin_addr;
		len = sizeof(struct in_addr);
		if (((const struct in_addr *)got)->s_addr == INADDR_ANY)
			return (ntohl(((struct in_addr *)want)->s_addr) >> 24) == 127;
	} else {
		got = &((const struct sockaddr_in6 *)sa)->sin6_addr;
		len = sizeof(struct in6_addr);
		if (IN6_IS_ADDR_UNSPECIFIED((const struct in6_addr *)got))
			return IN6_IS_ADDR_LOOPBACK((struct in6_addr *)want);
	}
	return memcmp(got, want, len) == 0;
}

/* Whether host:port resolves to one of the gateway's own listeners. A name that does not
 * resolve now is not refused: it cannot reach this server, and delivery retries later. */
static bool url_is_self(const struct hw_config *cfg, const char *host, long port)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL, *a;
	bool self = false;

	if (getaddrinfo(host, NULL, &hints, &res) != 0)
		return false;
	for (a = res; a && !self; a = a->ai_next)
		for (size_t i = 0; i < cfg->server.n_listen && !self; i++)
			self = cfg->server.listen_addrs[i].port == port &&
			       addr_reaches(a->ai_addr, &cfg->server.listen_addrs[i]);
	freeaddrinfo(res);
	return self;
}

/* An absolute http(s) URL that does not point back at this gateway, copied into out. */
static int url_take(struct hw_admin_call *c, const json_t *v, char *out, size_t cap)
{
	const char *url = json_string_value(v);
	CURLU *u = NULL;
	char *host = NULL, *port = NULL;
	int rc = -EINVAL;

	if (!url || json_string_length(v) >= cap || strlen(url) != json_string_length(v) ||
	    (strncasecmp(url, "http://", 7) != 0 && strncasecmp(url, "https://", 8) != 0)) {
		hw_admin_fail_param(c, "url", "url must be an http or https URL of at most %zu "
					      "bytes.", cap - 1);
		return rc;
	}
	u = curl_url();
	if (!u || curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) != CURLUE_OK) {
		hw_admin_fail_param(c, "url", "url is not a valid URL.");
		goto out;
	}
	/* curl answers an IPv6 literal with its brackets; the resolver wants it bare. */
	if (host[0] == '[') {
		size_t n = strlen(host);
		memmove(host, host + 1, n - 2);
		host[n - 2] = '\0';
	}
	if (url_is_self(c->ctx->cfg, host, strtol(port, NULL, 10))) {
		hw_admin_fail_param(c, "url", "url points at this gateway's own listener.");
		goto out;
	}
	snprintf(out, cap, "%s", url);
	rc = 0;
out:
	curl_free(host);
	curl_free(port);
	curl_url_cleanup(u);
	return rc;
}

/* Seals `secret` into the webhook; answers 400 and returns -EINVAL when it cannot be. */
static int secret_seal(struct hw_admin_call *c, const char *secret, size_t len,
		       struct hw_webhook *wh)
{
	const struct hw_config *cfg = c->ctx->cfg;

	if (len == 0 || len > HW_WEBHOOK_SECRET_MAX || strlen(secret) != len) {
		hw_admin_fail_param(c, "secret", "secret must be 1 to %d bytes.",
				    HW_WEBHOOK_SECRET_MAX);
		return -EINVAL;
	}
	if (!cfg->secrets.has_master_key) {
		hw_admin_fail_param(c, "secret",
				    "Storing webhook secrets needs secrets.master_key on the server.");
		return -EINVAL;
	}
	if (hw_byok_seal(cfg->secrets.master_key_raw, wh->workspace_id, wh->id, secret, len,
			 wh->secret_box, sizeof(wh->secret_box), &wh->secret_box_len)) {
		hw_admin_fail(c, HW_ERR_INTERNAL, "Internal error.");
		return -EIO;
	}
	return 0;
}

/* Applies the members of `in` present to `wh` (all of them for a create). */
static int fields_apply(struct hw_admin_call *c, const json_t *in, struct hw_webhook *wh)
{
	json_t *v;

	if ((v = json_object_get(in, "name")) &&
	    hw_admin_name_take(c, v, "name", wh->name, sizeof(wh->name)))
		return -EINVAL;
	if ((v = json_object_get(in, "url")) && url_take(c, v, wh->url, sizeof(wh->url)))
		return -EINVAL;
	if ((v = json_object_get(in, "events")) &&
	    list_take(c, v, "events", event_names, true, wh->events, sizeof(wh->events)))
		return -EINVAL;
	if ((v = json_object_get(in, "security_actions")) &&
	    list_take(c, v, "security_actions", security_action_names, false,
		      wh->security_actions, sizeof(wh->security_actions)))
		return -EINVAL;
	v = json_object_get(in, "secret");
	if (v && !json_is_string(v)) {
		hw_admin_fail_param(c, "secret", "secret must be a string.");
		return -EINVAL;
	}
	if (v)
		return secret_seal(c, json_string_value(v), json_string_length(v), wh);
	return 0;
}

/* Wipes the plaintext secret jansson holds for the request body. */
static void body_wipe(json_t *in)
{
	json_t *v = json_object_get(in, "secret");

	if (json_is_string(v))
		OPENSSL_cleanse((char *)json_string_value(v), json_string_length(v));
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

static const char *const fields[] = {"name", "url", "secret", "events", "security_actions",
				     NULL};

void hw_admin_webhooks_list(struct hw_admin_call *c)
{
	struct hw_store *st = c->ctx->store;
	struct hw_webhook *rows = NULL;
	char cursor[HW_ID_MAX];
	size_t n = 0;
	json_t *data;
	int limit, rc;

	if (hw_admin_page_parse(c, &limit, cursor) || workspace_check(c))
		return;
	rc = st->ops->hooks.webhook_list(st, c->ws_id, cursor, limit + 1, &rows, &n);
	if (rc) {
		hw_admin_fail_store(c, rc, "Webhook");
		return;
	}
	data = json_array();
	for (size_t i = 0; i < n && i < (size_t)limit; i++)
		json_array_append_new(data, webhook_json(&rows[i]));
	hw_admin_reply(c, 200,
		       hw_admin_page_body(data, n > (size_t)limit ? rows[limit - 1].id : NULL));
	OPENSSL_cleanse(rows, n * sizeof(*rows));
	free(rows);
}

void hw_admin_webhooks_create(struct hw_admin_call *c)
{
	struct hw_store *st = c->ctx->store;
	struct hw_webhook *wh = NULL;
	char generated[sizeof(SECRET_PREFIX) + 32] = "";
	json_t *in = NULL, *out;
	int rc;

	if (workspace_check(c) || hw_admin_body_parse(c, fields, &in))
		goto out;
	if (!json_object_get(in, "url")) {
		hw_admin_fail_param(c, "url", "url is required.");
		goto out;
	}
	/* Heap: a webhook holds a whole URL and sealed secret. */
	wh = calloc(1, sizeof(*wh));
	if (!wh || hw_id_make(wh->id, sizeof(wh->id), "wh_") < 0) {
		hw_admin_fail_store(c, -ENOMEM, "Webhook");
		goto out;
	}
	snprintf(wh->workspace_id, sizeof(wh->workspace_id), "%s", c->ws_id);
	snprintf(wh->security_actions, sizeof(wh->security_actions), "[\"blocked\",\"logged\"]");
	wh->created_at = hw_clock_wall_s();
	if (!json_object_get(in, "name")) {
		hw_admin_fail_param(c, "name", "name is required.");
		goto out;
	}
	if (fields_apply(c, in, wh))
		goto out;
	if (!json_object_get(in, "secret")) {
		memcpy(generated, SECRET_PREFIX, sizeof(SECRET_PREFIX) - 1);
		if (hw_random_hex(generated + sizeof(SECRET_PREFIX) - 1, 16) < 0) {
			hw_admin_fail(c, HW_ERR_INTERNAL, "Internal error.");
			goto out;
		}
		if (secret_seal(c, generated, strlen(generated), wh))
			goto out;
	}
	rc = st->ops->hooks.webhook_create(st, wh);
	if (rc) {
		hw_admin_fail_store(c, rc, "Webhook");
		goto out;
	}
	hw_log_json(HW_LOG_INFO, c->req->request_id, "admin: webhook created",
		    json_pack("{s:s,s:s}", "workspace_id", c->ws_id, "webhook_id", wh->id));
	out = webhook_json(wh);
	if (generated[0])
		json_object_set_new(out, "secret", json_string(generated));
	hw_admin_reply(c, 201, out);
out:
	OPENSSL_cleanse(generated, sizeof(generated));
	body_wipe(in);
	json_decref(in);
	if (wh)
		OPENSSL_cleanse(wh, sizeof(*wh));
	free(wh);
}

void hw_admin_webhook_patch(struct hw_admin_call *c)
{
	struct hw_store *st = c->ctx->store;
	struct hw_webhook *wh = calloc(1, sizeof(*wh));
	json_t *in = NULL;
	int rc;

	if (!wh) {
		hw_admin_fail_store(c, -ENOMEM, "Webhook");
		return;
	}
	if (hw_admin_body_parse(c, fields, &in))
		goto out;
	rc = st->ops->hooks.webhook_get(st, c->ws_id, c->key_id, wh);
	if (rc) {
		hw_admin_fail_store(c, rc, "Webhook");
		goto out;
	}
	if (fields_apply(c, in, wh))
		goto out;
	if (json_object_size(in) > 0) {
		rc = st->ops->hooks.webhook_update(st, wh);
		if (rc) {
			hw_admin_fail_store(c, rc, "Webhook");
			goto out;
		}
	}
	hw_admin_reply(c, 200, webhook_json(wh));
out:
	body_wipe(in);
	json_decref(in);
	OPENSSL_cleanse(wh, sizeof(*wh));
	free(wh);
}

void hw_admin_webhook_delete(struct hw_admin_call *c)
{
	struct hw_store *st = c->ctx->store;
	int rc = st->ops->hooks.webhook_delete(st, c->ws_id, c->key_id);

	if (rc) {
		hw_admin_fail_store(c, rc, "Webhook");
		return;
	}
	hw_log_json(HW_LOG_INFO, c->req->request_id, "admin: webhook deleted",
		    json_pack("{s:s,s:s}", "workspace_id", c->ws_id, "webhook_id", c->key_id));
	hw_admin_reply(c, 204, NULL);
}
