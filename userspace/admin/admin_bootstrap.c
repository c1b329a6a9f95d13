// SPDX-License-Identifier: Apache-2.0
/* First start (SPEC §4.3): an empty store gets one workspace, its admin key and, unless
 * the configuration sets one, the admin token; the secrets are printed once on stderr. */
#include "admin/admin_internal.h"

#include "common/clock.h"
#include "common/crypto.h"

#include <stdio.h>
#include <string.h>

#define ADMIN_TOKEN_SETTING "admin_token_sha256"

int hw_admin_bootstrap(struct hw_store *st, const struct hw_config *cfg)
{
	const char *name = cfg->bootstrap.workspace_name;
	bool make_token = !cfg->admin.token || !cfg->admin.token[0];
	char token[HW_ADMIN_TOKEN_LEN + 1] = "";
	char plain[HW_KEY_LIVE_LEN + 1] = "";
	char hash[HW_SHA256_HEX_LEN + 1];
	char wide[4 * HW_ADMIN_NAME_MAX_CHARS + 1];
	struct hw_workspace ws;
	struct hw_key key;
	int64_t count = 0;
	int rc = 0;

	if (!cfg->bootstrap.enabled)
		goto out;
	rc = st->ops->workspace_count(st, &count);
	if (rc || count > 0)
		goto out;
	/* The token hash goes first: until the workspace exists every start redoes it all, so
	 * a crash part-way never leaves a token nobody was shown. */
	if (make_token) {
		rc = hw_admin_token_generate(token);
		if (rc)
			goto out;
		hw_sha256_hex(token, strlen(token), hash);
		rc = st->ops->setting_set(st, ADMIN_TOKEN_SETTING, hash);
		if (rc)
			goto out;
	}
	/* Room for 100 characters of up to 4 bytes, then cut to what the record holds. */
	snprintf(wide, sizeof(wide), "%s", name && *name ? name : "default");
	hw_admin_utf8_cut(wide, HW_ADMIN_NAME_MAX_CHARS, sizeof(ws.name) - 1);
	hw_admin_workspace_init(cfg, &ws);
	memcpy(ws.name, wide, strlen(wide) + 1);
	snprintf(ws.plan, sizeof(ws.plan), "unlimited");
	rc = st->ops->workspace_create(st, &ws);
	if (rc == 0)
		rc = st->ops->money.wallet_create(st, ws.id, cfg->bootstrap.initial_credit,
						  hw_clock_wall_ms());
	if (rc)
		goto out;
	hw_admin_key_init(cfg, ws.id, &key);
	snprintf(key.name, sizeof(key.name), "bootstrap");
	snprintf(key.role, sizeof(key.role), "admin");
	snprintf(key.source, sizeof(key.source), "bootstrap");
	rc = hw_admin_key_mint(st, &key, plain);
	if (rc)
		goto out;
	fprintf(stderr, "hiway: bootstrap workspace %s created\n", ws.id);
	if (make_token)
		fprintf(stderr, "hiway: admin token: %s (shown once)\n", token);
	fprintf(stderr, "hiway: API key: %s (shown once)\n", plain);
	fflush(stderr);
out:
	explicit_bzero(token, sizeof(token));
	explicit_bzero(plain, sizeof(plain));
	return rc;
}
