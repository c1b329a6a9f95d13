/* SPDX-License-Identifier: Apache-2.0 */
/* One immutable snapshot of every IP rule and ban the gateway enforces (SPEC §13.2), built
 * from the store's rows off the request path and then only read:
 *   perimeter set (step 3): global rules (kernel or not), workspace deny rules with
 *     kernel: true when perimeter.workspace_rules_in_kernel, and active bans;
 *   workspace set (step 7): global rules plus the workspace's own rules.
 * Allow beats deny; no match is allowed. The snapshot also carries the configuration's
 * trusted proxies and auto-ban exemptions, parsed once per build. */
#ifndef HW_IPRULES_RULESET_H
#define HW_IPRULES_RULESET_H

#include "iprules/cidr.h"
#include "iprules/netset.h"
#include "store/store.h"

#include <stdbool.h>
#include <stdint.h>

enum hw_ip_verdict { HW_IP_ALLOWED, HW_IP_DENIED_RULE, HW_IP_DENIED_BAN };

struct hw_ruleset_opts {
	bool workspace_rules_in_kernel;
	char *const *trusted_proxies;
	size_t n_trusted_proxies;
	char *const *exempt;
	size_t n_exempt;
};

struct hw_ruleset_ws;

struct hw_ruleset {
	int64_t generation;  /* the store's perimeter_generation it was built from */
	int64_t next_expiry; /* unix s of the next rule or ban to expire, INT64_MAX = none */
	struct hw_netset *g_allow, *g_deny; /* every global rule */
	struct hw_netset *g_kernel_allow;   /* global kernel allow: never auto-banned */
	struct hw_netset *ws_kernel_deny;   /* workspace kernel deny rules, when in the kernel */
	struct hw_netset *bans;
	struct hw_netset *trusted, *exempt; /* configuration */
	struct hw_ruleset_ws *ws;	    /* sorted by workspace id */
	size_t n_ws;
	/* Perimeter-set entries the kernel holds, [0] IPv4 [1] IPv6, for metrics. */
	int64_t kernel_allow[2], kernel_deny[2];
	int64_t bans_active, autobans_active;
};

/* Rows that expired by `now` are left out. Malformed rows (a CIDR that does not parse) are
 * skipped. 0 or -ENOMEM. */
int hw_ruleset_build(const struct hw_ip_rule *rules, size_t n_rules, const struct hw_ban *bans,
		     size_t n_bans, const struct hw_ruleset_opts *opts, int64_t now,
		     struct hw_ruleset **out);
void hw_ruleset_free(struct hw_ruleset *rs);

enum hw_ip_verdict hw_ruleset_perimeter(const struct hw_ruleset *rs, const struct hw_ipaddr *ip);
enum hw_ip_verdict hw_ruleset_workspace(const struct hw_ruleset *rs, const char *workspace_id,
					const struct hw_ipaddr *ip);
/* §13.3 exemptions: perimeter.autoban.exempt, trusted proxies, global kernel allow rules. */
bool hw_ruleset_autoban_exempt(const struct hw_ruleset *rs, const struct hw_ipaddr *ip);

/* Whether a rule is enforced in the kernel when the agent runs (SPEC §13.2). */
bool hw_ip_rule_in_kernel(const struct hw_ip_rule *r, bool perimeter_enabled,
			  bool workspace_rules_in_kernel);

#endif
