// SPDX-License-Identifier: Apache-2.0
/* Building and querying a rule snapshot. Workspace rules live in one allow and one deny
 * set per workspace, found by binary search on the id, so a workspace's step-7 check costs
 * the same with one workspace or ten thousand. */
#include "iprules/ruleset.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct hw_ruleset_ws {
	char id[HW_ID_MAX];
	struct hw_netset *allow, *deny;
};

/* Per-workspace builders while the rows are sorted out. */
struct ws_build {
	char id[HW_ID_MAX];
	struct hw_netset_builder allow, deny;
};

static int ws_cmp(const void *a, const void *b)
{
	return strcmp(((const struct ws_build *)a)->id, ((const struct ws_build *)b)->id);
}

void hw_ruleset_free(struct hw_ruleset *rs)
{
	if (!rs)
		return;
	hw_netset_free(rs->g_allow);
	hw_netset_free(rs->g_deny);
	hw_netset_free(rs->g_kernel_allow);
	hw_netset_free(rs->ws_kernel_deny);
	hw_netset_free(rs->bans);
	hw_netset_free(rs->trusted);
	hw_netset_free(rs->exempt);
	for (size_t i = 0; i < rs->n_ws; i++) {
		hw_netset_free(rs->ws[i].allow);
		hw_netset_free(rs->ws[i].deny);
	}
	free(rs->ws);
	free(rs);
}

bool hw_ip_rule_in_kernel(const struct hw_ip_rule *r, bool perimeter_enabled,
			  bool workspace_rules_in_kernel)
{
	if (!r->kernel || !perimeter_enabled)
		return false;
	if (!r->workspace_id[0])
		return true;
	return workspace_rules_in_kernel && strcmp(r->action, "deny") == 0;
}

static bool live(int64_t expires_at, int64_t now, int64_t *next_expiry)
{
	if (!expires_at)
		return true;
	if (expires_at <= now)
		return false;
	if (expires_at < *next_expiry)
		*next_expiry = expires_at;
	return true;
}

static int add_list(struct hw_netset_builder *b, char *const *cidrs, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct hw_cidr c;
		if (hw_cidr_parse(cidrs[i], &c) == 0 && hw_netset_builder_add(b, &c) < 0)
			return -ENOMEM;
	}
	return 0;
}

/* The workspaces that own rules, sorted, each with empty builders; *n distinct. */
static int ws_collect(const struct hw_ip_rule *rules, size_t n_rules, struct ws_build **out,
		      size_t *n)
{
	struct ws_build *w = NULL;
	size_t len = 0;

	for (size_t i = 0; i < n_rules; i++)
		len += rules[i].workspace_id[0] ? 1 : 0;
	*out = NULL;
	*n = 0;
	if (!len)
		return 0;
	w = calloc(len, sizeof(*w));
	if (!w)
		return -ENOMEM;
	len = 0;
	for (size_t i = 0; i < n_rules; i++)
		if (rules[i].workspace_id[0])
			memcpy(w[len++].id, rules[i].workspace_id, HW_ID_MAX);
	qsort(w, len, sizeof(*w), ws_cmp);
	size_t d = 0;
	for (size_t i = 0; i < len; i++)
		if (d == 0 || strcmp(w[d - 1].id, w[i].id) != 0)
			memmove(&w[d++], &w[i], sizeof(*w));
	*out = w;
	*n = d;
	return 0;
}

static struct ws_build *ws_find_build(struct ws_build *w, size_t n, const char *id)
{
	struct ws_build key;
	snprintf(key.id, sizeof(key.id), "%s", id);
	return bsearch(&key, w, n, sizeof(*w), ws_cmp);
}

int hw_ruleset_build(const struct hw_ip_rule *rules, size_t n_rules, const struct hw_ban *bans,
		     size_t n_bans, const struct hw_ruleset_opts *opts, int64_t now,
		     struct hw_ruleset **out)
{
	struct hw_netset_builder g_allow = {0}, g_deny = {0}, g_kallow = {0}, wsk_deny = {0},
				 ban_b = {0}, trusted = {0}, exempt = {0};
	struct ws_build *wb = NULL;
	size_t n_wb = 0;
	struct hw_ruleset *rs = calloc(1, sizeof(*rs));
	int rc = -ENOMEM;

	*out = NULL;
	if (!rs || ws_collect(rules, n_rules, &wb, &n_wb) < 0)
		goto out;
	rs->next_expiry = INT64_MAX;
	for (size_t i = 0; i < n_rules; i++) {
		const struct hw_ip_rule *r = &rules[i];
		struct hw_cidr c;
		bool allow = strcmp(r->action, "allow") == 0;
		int fi = 0;
		if (!live(r->expires_at, now, &rs->next_expiry) || hw_cidr_parse(r->cidr, &c) < 0)
			continue;
		fi = c.family == 4 ? 0 : 1;
		if (!r->workspace_id[0]) {
			if (hw_netset_builder_add(allow ? &g_allow : &g_deny, &c) < 0)
				goto out;
			if (r->kernel && allow && hw_netset_builder_add(&g_kallow, &c) < 0)
				goto out;
			if (r->kernel)
				(allow ? rs->kernel_allow : rs->kernel_deny)[fi]++;
			continue;
		}
		struct ws_build *w = ws_find_build(wb, n_wb, r->workspace_id);
		if (hw_netset_builder_add(allow ? &w->allow : &w->deny, &c) < 0)
			goto out;
		if (!allow && r->kernel && opts->workspace_rules_in_kernel) {
			if (hw_netset_builder_add(&wsk_deny, &c) < 0)
				goto out;
			rs->kernel_deny[fi]++;
		}
	}
	for (size_t i = 0; i < n_bans; i++) {
		struct hw_cidr c;
		if (!live(bans[i].expires_at, now, &rs->next_expiry) ||
		    hw_cidr_parse(bans[i].cidr, &c) < 0)
			continue;
		if (hw_netset_builder_add(&ban_b, &c) < 0)
			goto out;
		rs->bans_active++;
		rs->autobans_active += strcmp(bans[i].reason, "manual") != 0 ? 1 : 0;
	}
	if (add_list(&trusted, opts->trusted_proxies, opts->n_trusted_proxies) < 0 ||
	    add_list(&exempt, opts->exempt, opts->n_exempt) < 0)
		goto out;
	rs->ws = calloc(n_wb ? n_wb : 1, sizeof(*rs->ws));
	if (!rs->ws)
		goto out;
	for (size_t i = 0; i < n_wb; i++) {
		struct hw_ruleset_ws *w = &rs->ws[rs->n_ws++];
		memcpy(w->id, wb[i].id, sizeof(w->id));
		w->allow = hw_netset_build(&wb[i].allow);
		w->deny = hw_netset_build(&wb[i].deny);
		if (!w->allow || !w->deny)
			goto out;
	}
	rs->g_allow = hw_netset_build(&g_allow);
	rs->g_deny = hw_netset_build(&g_deny);
	rs->g_kernel_allow = hw_netset_build(&g_kallow);
	rs->ws_kernel_deny = hw_netset_build(&wsk_deny);
	rs->bans = hw_netset_build(&ban_b);
	rs->trusted = hw_netset_build(&trusted);
	rs->exempt = hw_netset_build(&exempt);
	if (rs->g_allow && rs->g_deny && rs->g_kernel_allow && rs->ws_kernel_deny && rs->bans &&
	    rs->trusted && rs->exempt)
		rc = 0;
out:
	hw_netset_builder_free(&g_allow);
	hw_netset_builder_free(&g_deny);
	hw_netset_builder_free(&g_kallow);
	hw_netset_builder_free(&wsk_deny);
	hw_netset_builder_free(&ban_b);
	hw_netset_builder_free(&trusted);
	hw_netset_builder_free(&exempt);
	for (size_t i = 0; i < n_wb; i++) {
		hw_netset_builder_free(&wb[i].allow);
		hw_netset_builder_free(&wb[i].deny);
	}
	free(wb);
	if (rc < 0) {
		hw_ruleset_free(rs);
		return rc;
	}
	*out = rs;
	return 0;
}

enum hw_ip_verdict hw_ruleset_perimeter(const struct hw_ruleset *rs, const struct hw_ipaddr *ip)
{
	if (!rs || hw_netset_contains(rs->g_allow, ip))
		return HW_IP_ALLOWED;
	if (hw_netset_contains(rs->g_deny, ip) || hw_netset_contains(rs->ws_kernel_deny, ip))
		return HW_IP_DENIED_RULE;
	if (hw_netset_contains(rs->bans, ip))
		return HW_IP_DENIED_BAN;
	return HW_IP_ALLOWED;
}

static const struct hw_ruleset_ws *ws_find(const struct hw_ruleset *rs, const char *id)
{
	size_t lo = 0, hi = rs->n_ws;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(rs->ws[mid].id, id);
		if (c == 0)
			return &rs->ws[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

enum hw_ip_verdict hw_ruleset_workspace(const struct hw_ruleset *rs, const char *workspace_id,
					const struct hw_ipaddr *ip)
{
	if (!rs)
		return HW_IP_ALLOWED;
	const struct hw_ruleset_ws *w = workspace_id ? ws_find(rs, workspace_id) : NULL;
	if (hw_netset_contains(rs->g_allow, ip) || (w && hw_netset_contains(w->allow, ip)))
		return HW_IP_ALLOWED;
	if (hw_netset_contains(rs->g_deny, ip) || (w && hw_netset_contains(w->deny, ip)))
		return HW_IP_DENIED_RULE;
	return HW_IP_ALLOWED;
}

bool hw_ruleset_autoban_exempt(const struct hw_ruleset *rs, const struct hw_ipaddr *ip)
{
	return rs && (hw_netset_contains(rs->exempt, ip) || hw_netset_contains(rs->trusted, ip) ||
		      hw_netset_contains(rs->g_kernel_allow, ip));
}
