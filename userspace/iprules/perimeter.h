/* SPDX-License-Identifier: Apache-2.0 */
/* The gateway's side of the perimeter (SPEC §13): the current rule snapshot, kept fresh
 * from the store, the step-3 and step-7 checks, the client IP, auto-bans, and what the
 * agent reports (for /health, /metrics and GET /api/v1/perimeter).
 *
 * Freshness: a thread polls the store's perimeter_generation every perimeter.poll_ms
 * (changes by hiway-agent's peers, hiwayctl on another node, a manual INSERT), rebuilds
 * when it moved, when a rule or ban reaches its expires_at, or when the configuration was
 * reloaded; changes made through this process call hw_perimeter_refresh() and apply
 * before their response. Rebuilds happen off the request path and are published with one
 * atomic pointer store; request threads only load that pointer (no lock). A replaced
 * snapshot is freed after a grace period far longer than any lookup. It also deletes
 * expired rules and bans from the store every sweep interval (< 60 s, §13.2).
 *
 * One perimeter per process: hiwayd starts it once. Before start (unit tests of other
 * modules) every call is a harmless no-op that allows everything. */
#ifndef HW_IPRULES_PERIMETER_H
#define HW_IPRULES_PERIMETER_H

#include "common/buf.h"
#include "common/config.h"
#include "iprules/autoban.h"
#include "iprules/ruleset.h"
#include "store/store.h"

#include <jansson.h>

#define HW_PERIMETER_SWEEP_S 10 /* expired rows are deleted within this, well under 60 s */
#define HW_PERIMETER_AGENT_FRESH_MS 15000 /* an agent is up while its heartbeat is younger */
#define HW_IP_RULES_MAX_WORKSPACE 10000	  /* SPEC §13.2 */
#define HW_IP_RULES_MAX_GLOBAL 100000

typedef const struct hw_config *(*hw_perimeter_cfg_fn)(void *arg);

int hw_perimeter_start(struct hw_store *st, hw_perimeter_cfg_fn cfg, void *arg);
void hw_perimeter_stop(void);
/* Rebuilds from the store now; 0 or the store's negative errno (the old snapshot stays). */
int hw_perimeter_refresh(void);

/* §13.1 with the configured trusted proxies; `xff` may be NULL. */
void hw_perimeter_client_ip(const struct hw_ipaddr *peer, const char *xff, struct hw_ipaddr *out);
/* Step 3 and step 7; a denial is counted in hiway_ip_denied_total. */
enum hw_ip_verdict hw_perimeter_check(const struct hw_ipaddr *ip);
enum hw_ip_verdict hw_perimeter_check_workspace(const char *workspace_id,
						const struct hw_ipaddr *ip);

/* One 401 or one 429 guardian_block answered to `ip` (§3 counting). At the threshold the
 * source is banned for perimeter.autoban.ttl_s, at once in this gateway. The Guardian's
 * blocks reach it through hw_respond_error; call it directly for a block answered another
 * way. */
void hw_perimeter_note(const struct hw_ipaddr *ip, enum hw_autoban_reason reason);
/* The same check as hw_perimeter_note's, for tests and tools. */
bool hw_perimeter_autoban_exempt(const struct hw_ipaddr *ip);

/* {"status": active|inactive|disabled, "agent_heartbeat", "interfaces"} for /health. */
json_t *hw_perimeter_health(const struct hw_config *cfg);
/* hiway_ip_denied_total, hiway_autobans_*, hiway_perimeter_*. */
void hw_perimeter_metrics_render(struct hw_buf *out);

/* Figures of the published snapshot; index 0 is IPv4, 1 IPv6. */
struct hw_perimeter_counts {
	int64_t generation;
	int64_t kernel_allow[2], kernel_deny[2]; /* rules bound for the kernel */
	int64_t bans[2];			 /* distinct active ban blocks */
	int64_t bans_active, autobans_active;	 /* active ban rows */
};
void hw_perimeter_counts(struct hw_perimeter_counts *out);

/* For the management API: a rule's enforced_in_kernel under the running configuration. */
bool hw_perimeter_rule_in_kernel(const struct hw_ip_rule *r, const struct hw_config *cfg);

#endif
