// SPDX-License-Identifier: Apache-2.0
/* Perimeter state for one gateway process: the published snapshot, its refresher thread,
 * the request-side checks and the auto-ban counters. See perimeter.h for the freshness
 * and publication rules. */
#include "iprules/perimeter_internal.h"

#include "common/clock.h"
#include "common/ids.h"
#include "common/log.h"
#include "iprules/ban_overlay.h"
#include "iprules/client_ip.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GRACE_NS (5LL * 1000000000) /* a lookup takes microseconds; readers are long gone */
#define AGENT_POLL_MS 1000

struct retired {
	struct hw_ruleset *rs;
	int64_t at_ns;
	struct retired *next;
};

static struct {
	bool started;
	struct hw_store *st;
	hw_perimeter_cfg_fn cfg_fn;
	void *cfg_arg;
	_Atomic(struct hw_ruleset *) cur;
	pthread_mutex_t build_mu; /* one rebuild at a time; guards retired and built_cfg */
	const struct hw_config *built_cfg;
	struct retired *retired;
	struct hw_autoban *autoban;
	struct hw_ban_overlay *overlay; /* auto-bans not yet in `cur` */
	pthread_t thread;
	pthread_mutex_t wait_mu;
	pthread_cond_t wait_cv;
	bool stop;
	pthread_mutex_t agents_mu;
	struct hw_agent_status *agents;
	size_t n_agents;
	_Atomic uint64_t denied_rule, denied_ban;
	_Atomic uint64_t autobans[HW_AUTOBAN__COUNT];
} P = {.build_mu = PTHREAD_MUTEX_INITIALIZER,
       .wait_mu = PTHREAD_MUTEX_INITIALIZER,
       .wait_cv = PTHREAD_COND_INITIALIZER,
       .agents_mu = PTHREAD_MUTEX_INITIALIZER};

static const struct hw_config *cfg_now(void)
{
	return P.cfg_fn(P.cfg_arg);
}

static void retire_free(bool all)
{
	int64_t now = hw_clock_mono_ns();
	struct retired **pp = &P.retired;
	while (*pp) {
		struct retired *r = *pp;
		if (all || now - r->at_ns > GRACE_NS) {
			*pp = r->next;
			hw_ruleset_free(r->rs);
			free(r);
		} else {
			pp = &r->next;
		}
	}
}

/* Caller holds build_mu. */
static int rebuild_locked(void)
{
	const struct hw_config *cfg = cfg_now();
	struct hw_store *st = P.st;
	struct hw_ip_rule *rules = NULL;
	struct hw_ban *bans = NULL;
	size_t nr = 0, nb = 0;
	int64_t gen = 0;
	struct hw_ruleset *rs = NULL;
	/* Every overlay ban up to here is committed: the rows read below include it. */
	uint64_t overlay_upto = hw_ban_overlay_seq(P.overlay);
	/* The generation first: a change landing after it is read moves it again, and the
	 * next poll rebuilds. */
	int rc = st->ops->perimeter.generation(st, &gen);
	if (rc == 0)
		rc = st->ops->perimeter.rule_list_all(st, &rules, &nr);
	if (rc == 0)
		rc = st->ops->perimeter.ban_list_all(st, &bans, &nb);
	if (rc == 0) {
		struct hw_ruleset_opts o = {
		    cfg->perimeter.workspace_rules_in_kernel, cfg->server.trusted_proxies,
		    cfg->server.n_trusted_proxies, cfg->perimeter.autoban.exempt,
		    cfg->perimeter.autoban.n_exempt};
		rc = hw_ruleset_build(rules, nr, bans, nb, &o, hw_clock_wall_s(), &rs);
	}
	free(rules);
	free(bans);
	if (rc != 0 || !rs) {
		hw_log(HW_LOG_ERROR,
		       "perimeter: cannot load IP rules and bans (%s); keeping the "
		       "previous set",
		       strerror(rc ? -rc : ENOMEM));
		return rc ? rc : -ENOMEM;
	}
	rs->generation = gen;
	struct hw_ruleset *old = atomic_exchange(&P.cur, rs);
	hw_ban_overlay_prune(P.overlay, overlay_upto);
	P.built_cfg = cfg;
	if (old) {
		struct retired *r = malloc(sizeof(*r));
		if (r) {
			r->rs = old;
			r->at_ns = hw_clock_mono_ns();
			r->next = P.retired;
			P.retired = r;
		}
		/* Without memory to remember it, leaking the old snapshot is the safe choice:
		 * a reader may still hold it. */
	}
	return 0;
}

int hw_perimeter_refresh(void)
{
	if (!P.started)
		return 0;
	pthread_mutex_lock(&P.build_mu);
	int rc = rebuild_locked();
	pthread_mutex_unlock(&P.build_mu);
	return rc;
}

static void agents_poll(void)
{
	struct hw_agent_status *rows = NULL;
	size_t n = 0;
	if (P.st->ops->perimeter.agent_list(P.st, &rows, &n) < 0)
		return;
	pthread_mutex_lock(&P.agents_mu);
	free(P.agents);
	P.agents = rows;
	P.n_agents = n;
	pthread_mutex_unlock(&P.agents_mu);
}

static void sweep(void)
{
	int64_t deleted = 0;
	if (P.st->ops->perimeter.sweep(P.st, hw_clock_wall_s(), &deleted) == 0 && deleted > 0)
		hw_log_json(HW_LOG_INFO, NULL, "perimeter: expired rules and bans deleted",
			    json_pack("{s:I}", "rows", (json_int_t)deleted));
}

/* One poll: rebuild when the store's generation moved, a row expired, or the
 * configuration was reloaded. */
static void tick(void)
{
	int64_t gen = 0;
	bool due;
	if (P.st->ops->perimeter.generation(P.st, &gen) < 0)
		return;
	pthread_mutex_lock(&P.build_mu);
	const struct hw_ruleset *cur = atomic_load(&P.cur);
	due = !cur || cur->generation != gen || hw_clock_wall_s() >= cur->next_expiry ||
	      cfg_now() != P.built_cfg;
	if (due)
		rebuild_locked();
	retire_free(false);
	pthread_mutex_unlock(&P.build_mu);
	hw_ban_overlay_reclaim(P.overlay, false);
}

static void *refresher(void *arg)
{
	int64_t last_agents = 0, last_sweep = 0;
	(void)arg;
	for (;;) {
		int64_t poll_ms = cfg_now()->perimeter.poll_ms;
		if (poll_ms < 20)
			poll_ms = 20;
		if (poll_ms > 1000)
			poll_ms = 1000; /* §13.2: changes apply within 1 s */
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += (long)(poll_ms % 1000) * 1000000L;
		ts.tv_sec += poll_ms / 1000 + ts.tv_nsec / 1000000000L;
		ts.tv_nsec %= 1000000000L;
		pthread_mutex_lock(&P.wait_mu);
		if (!P.stop)
			pthread_cond_timedwait(&P.wait_cv, &P.wait_mu, &ts);
		bool stop = P.stop;
		pthread_mutex_unlock(&P.wait_mu);
		if (stop)
			return NULL;
		tick();
		int64_t now = hw_clock_mono_ns() / 1000000;
		if (now - last_agents >= AGENT_POLL_MS) {
			agents_poll();
			last_agents = now;
		}
		if (now - last_sweep >= (int64_t)HW_PERIMETER_SWEEP_S * 1000) {
			sweep();
			last_sweep = now;
		}
	}
}

int hw_perimeter_start(struct hw_store *st, hw_perimeter_cfg_fn cfg, void *arg)
{
	P.st = st;
	P.cfg_fn = cfg;
	P.cfg_arg = arg;
	P.stop = false;
	P.autoban = hw_autoban_new((size_t)cfg(arg)->perimeter.limits.max_tracked_sources);
	P.overlay = hw_ban_overlay_new();
	if (!P.autoban || !P.overlay) {
		hw_autoban_free(P.autoban);
		hw_ban_overlay_free(P.overlay);
		P.autoban = NULL;
		P.overlay = NULL;
		return -ENOMEM;
	}
	P.started = true;
	/* A store that cannot be read now leaves an empty set until the first good poll. */
	hw_perimeter_refresh();
	agents_poll();
	sweep();
	if (pthread_create(&P.thread, NULL, refresher, NULL) != 0) {
		hw_perimeter_stop();
		return -EAGAIN;
	}
	return 0;
}

void hw_perimeter_stop(void)
{
	if (!P.started)
		return;
	pthread_mutex_lock(&P.wait_mu);
	bool running = !P.stop;
	P.stop = true;
	pthread_cond_broadcast(&P.wait_cv);
	pthread_mutex_unlock(&P.wait_mu);
	if (running && P.thread)
		pthread_join(P.thread, NULL);
	P.thread = 0;
	P.started = false;
	pthread_mutex_lock(&P.build_mu);
	retire_free(true);
	hw_ruleset_free(atomic_exchange(&P.cur, NULL));
	P.built_cfg = NULL;
	pthread_mutex_unlock(&P.build_mu);
	hw_autoban_free(P.autoban);
	P.autoban = NULL;
	hw_ban_overlay_free(P.overlay);
	P.overlay = NULL;
	pthread_mutex_lock(&P.agents_mu);
	free(P.agents);
	P.agents = NULL;
	P.n_agents = 0;
	pthread_mutex_unlock(&P.agents_mu);
}

void hw_perimeter_client_ip(const struct hw_ipaddr *peer, const char *xff, struct hw_ipaddr *out)
{
	const struct hw_ruleset *rs = atomic_load(&P.cur);
	if (!rs) {
		*out = *peer;
		return;
	}
	hw_client_ip_resolve(peer, xff, rs->trusted, out);
}

static enum hw_ip_verdict count_verdict(enum hw_ip_verdict v)
{
	if (v == HW_IP_DENIED_RULE)
		atomic_fetch_add_explicit(&P.denied_rule, 1, memory_order_relaxed);
	else if (v == HW_IP_DENIED_BAN)
		atomic_fetch_add_explicit(&P.denied_ban, 1, memory_order_relaxed);
	return v;
}

enum hw_ip_verdict hw_perimeter_check(const struct hw_ipaddr *ip)
{
	if (!ip->family)
		return HW_IP_ALLOWED;
	const struct hw_ruleset *rs = atomic_load(&P.cur);
	enum hw_ip_verdict v = hw_ruleset_perimeter(rs, ip);
	/* An auto-ban the snapshot does not hold yet; a global allow lifts it as it would. */
	if (v == HW_IP_ALLOWED && hw_ban_overlay_contains(P.overlay, ip) &&
	    !(rs && hw_netset_contains(rs->g_allow, ip)))
		v = HW_IP_DENIED_BAN;
	return count_verdict(v);
}

enum hw_ip_verdict hw_perimeter_check_workspace(const char *workspace_id,
						const struct hw_ipaddr *ip)
{
	if (!ip->family)
		return HW_IP_ALLOWED;
	return count_verdict(hw_ruleset_workspace(atomic_load(&P.cur), workspace_id, ip));
}

bool hw_perimeter_autoban_exempt(const struct hw_ipaddr *ip)
{
	return hw_ruleset_autoban_exempt(atomic_load(&P.cur), ip);
}

static void autoban(const struct hw_ipaddr *ip, enum hw_autoban_reason reason,
		    const struct hw_config *cfg)
{
	struct hw_ban ban;
	struct hw_cidr host;
	int64_t now = hw_clock_wall_s();
	const char *name = hw_autoban_reason_name(reason);
	int64_t count = reason == HW_AUTOBAN_AUTH_FAILURES
			    ? cfg->perimeter.autoban.auth_failures.count
			    : cfg->perimeter.autoban.guardian_blocks.count;
	int64_t window = reason == HW_AUTOBAN_AUTH_FAILURES
			     ? cfg->perimeter.autoban.auth_failures.window_s
			     : cfg->perimeter.autoban.guardian_blocks.window_s;

	memset(&ban, 0, sizeof(ban));
	hw_cidr_host(ip, &host);
	hw_cidr_format(&host, ban.cidr, sizeof(ban.cidr));
	hw_id_make(ban.id, sizeof(ban.id), "ban_");
	ban.family = ip->family;
	snprintf(ban.reason, sizeof(ban.reason), "%s", name);
	snprintf(
	    ban.comment, sizeof(ban.comment), "%lld responses %s within %lld s", (long long)count,
	    reason == HW_AUTOBAN_AUTH_FAILURES ? "401" : "429 guardian_block", (long long)window);
	ban.created_at = now;
	ban.expires_at = now + cfg->perimeter.autoban.ttl_s;
	int rc = P.st->ops->perimeter.ban_insert(P.st, &ban);
	if (rc < 0) {
		hw_log(HW_LOG_ERROR, "perimeter: cannot store the auto-ban of %s (%s)", ban.cidr,
		       strerror(-rc));
		return;
	}
	atomic_fetch_add_explicit(&P.autobans[reason], 1, memory_order_relaxed);
	hw_log_json(HW_LOG_WARN, NULL, "perimeter: source auto-banned",
		    json_pack("{s:s,s:s,s:s,s:I}", "ban_id", ban.id, "cidr", ban.cidr, "reason",
			      name, "ttl_s", (json_int_t)cfg->perimeter.autoban.ttl_s));
	/* Applies before the next request from the source is checked; the full snapshot is
	 * rebuilt by the refresher thread, woken now, never on this request thread. */
	if (hw_ban_overlay_add(P.overlay, ip) < 0) {
		hw_perimeter_refresh();
		return;
	}
	pthread_mutex_lock(&P.wait_mu);
	pthread_cond_signal(&P.wait_cv);
	pthread_mutex_unlock(&P.wait_mu);
}

void hw_perimeter_note(const struct hw_ipaddr *ip, enum hw_autoban_reason reason)
{
	if (!P.started || !ip->family)
		return;
	const struct hw_config *cfg = cfg_now();
	if (!cfg->perimeter.autoban.enabled || hw_perimeter_autoban_exempt(ip))
		return;
	struct hw_autoban_limits lim = {{cfg->perimeter.autoban.auth_failures.count,
					 cfg->perimeter.autoban.guardian_blocks.count},
					{cfg->perimeter.autoban.auth_failures.window_s * 1000,
					 cfg->perimeter.autoban.guardian_blocks.window_s * 1000}};
	if (hw_autoban_note(P.autoban, ip, reason, &lim, hw_clock_wall_ms()))
		autoban(ip, reason, cfg);
}

bool hw_perimeter_rule_in_kernel(const struct hw_ip_rule *r, const struct hw_config *cfg)
{
	return hw_ip_rule_in_kernel(r, cfg->perimeter.enabled,
				    cfg->perimeter.workspace_rules_in_kernel);
}

int hw_perimeter_agents_copy(struct hw_agent_status **out, size_t *n)
{
	*out = NULL;
	*n = 0;
	pthread_mutex_lock(&P.agents_mu);
	if (P.n_agents) {
		*out = malloc(P.n_agents * sizeof(**out));
		if (*out) {
			memcpy(*out, P.agents, P.n_agents * sizeof(**out));
			*n = P.n_agents;
		}
	}
	pthread_mutex_unlock(&P.agents_mu);
	return *n || !P.n_agents ? 0 : -ENOMEM;
}

void hw_perimeter_counters_read(struct hw_perimeter_counters *out)
{
	out->denied_rule = atomic_load(&P.denied_rule);
	out->denied_ban = atomic_load(&P.denied_ban);
	for (int r = 0; r < HW_AUTOBAN__COUNT; r++)
		out->autobans[r] = atomic_load(&P.autobans[r]);
}

void hw_perimeter_counts(struct hw_perimeter_counts *out)
{
	memset(out, 0, sizeof(*out));
	/* Under build_mu: the snapshot read here cannot be retired and freed meanwhile. */
	pthread_mutex_lock(&P.build_mu);
	const struct hw_ruleset *rs = atomic_load(&P.cur);
	if (rs) {
		out->generation = rs->generation;
		for (int f = 0; f < 2; f++) {
			out->kernel_allow[f] = rs->kernel_allow[f];
			out->kernel_deny[f] = rs->kernel_deny[f];
			out->bans[f] = (int64_t)hw_netset_count(rs->bans, f ? 6 : 4);
		}
		out->bans_active = rs->bans_active;
		out->autobans_active = rs->autobans_active;
	}
	pthread_mutex_unlock(&P.build_mu);
}

const char *hw_perimeter_node_id(void)
{
	return P.started ? cfg_now()->node_id : "";
}
