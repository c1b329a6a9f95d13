// SPDX-License-Identifier: Apache-2.0
/* hiway-agent (SPEC §14.4): loads the perimeter programs, keeps their maps equal to the
 * store's perimeter set and publishes its status. The programs stay attached through pinned
 * links whatever happens to this process; only --detach removes them. */
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agent/agent_attach.h"
#include "agent/agent_load.h"
#include "agent/agent_store.h"
#include "agent/ruleset.h"
#include "common/config.h"
#include "common/log.h"
#include "hiway/perimeter.h"
#include "perimeter.skel.h"
#include <bpf/libbpf.h>

#define HW_SAFETY_RECONCILE_NS (60ull * 1000000000ull)
#define HW_STATUS_EVERY_NS (5ull * 1000000000ull)
#define HW_MAX_IFACES 64

static volatile sig_atomic_t g_stop, g_reload;

static void on_signal(int sig)
{
	if (sig == SIGHUP)
		g_reload = 1;
	else
		g_stop = 1;
}

struct agent {
	const char *cfg_path;
	struct hw_config *cfg;
	struct perimeter_bpf *skel;
	struct hw_perim_maps maps;
	sqlite3 *db;
	int64_t applied_gen;	 /* the store's perimeter_generation last reconciled */
	uint64_t next_expiry_ns; /* earliest expires_ns in the kernel (0 = none) */
	bool attach_pending;	 /* an interface failed to attach: retried with each full pass */
	struct hw_perim_counts counts;
	struct hw_attached att[HW_MAX_IFACES];
	size_t n_att;
	/* The pin directory in use; a reload never moves it (the maps live there). A copy: the
	 * configuration it came from is freed on reload. */
	char pin_dir[PATH_MAX];
};

static uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int load_config(const char *path, struct hw_config **out)
{
	char err[512];
	if (hw_config_load(path, out, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s\n", err);
		return -EINVAL;
	}
	return 0;
}

static void apply_logging(const struct hw_config *cfg)
{
	enum hw_log_level lvl = HW_LOG_INFO;
	if (cfg->logging.level && hw_log_level_parse(cfg->logging.level, &lvl) == 0)
		hw_log_set_level(lvl);
}

static int apply_settings(struct agent *a)
{
	const struct hw_config *c = a->cfg;
	uint16_t ports[HW_PROT_PORTS_MAX];
	size_t n = 0;
	for (size_t i = 0; i < c->perimeter.n_protected_ports && n < HW_PROT_PORTS_MAX; i++)
		ports[n++] = (uint16_t)c->perimeter.protected_ports[i];
	int rc = hw_perim_apply_cfg(&a->maps, ports, n, (uint32_t)c->perimeter.syn_rate_per_s,
				    (uint32_t)c->perimeter.syn_burst,
				    c->perimeter.deny_scope &&
					strcmp(c->perimeter.deny_scope, "all") == 0);
	if (rc)
		hw_log(HW_LOG_ERROR, "agent: writing perimeter_cfg/prot_ports: %s", strerror(-rc));
	return rc;
}

/* Rebuilds the rule set from the store and swaps it in. */
static int reconcile(struct agent *a)
{
	int64_t gen = 0;
	struct hw_perim_rule *rules = NULL;
	size_t n = 0;
	int rc = hw_agent_store_generation(a->db, &gen);
	if (!rc)
		rc = hw_agent_store_rules(a->db, a->cfg->perimeter.workspace_rules_in_kernel,
					  &rules, &n);
	if (!rc)
		rc = hw_perim_swap(&a->maps, rules, n, (uint64_t)gen);
	if (rc) {
		hw_log(HW_LOG_ERROR, "agent: reconcile failed (%s); the previous rule set stays",
		       strerror(-rc));
	} else {
		hw_perim_count(rules, n, &a->counts);
		/* An expired /32 in the trie would hide a live shorter prefix (the trie returns the
		 * longest match only), so the set is rebuilt as soon as an entry expires. */
		a->next_expiry_ns = 0;
		for (size_t i = 0; i < n; i++)
			if (rules[i].expires_ns &&
			    (!a->next_expiry_ns || rules[i].expires_ns < a->next_expiry_ns))
				a->next_expiry_ns = rules[i].expires_ns;
		if (gen != a->applied_gen || hw_log_enabled(HW_LOG_DEBUG))
			hw_log(HW_LOG_INFO,
			       "agent: rule set of generation %lld applied (%zu entries)",
			       (long long)gen, n);
		a->applied_gen = gen;
	}
	free(rules);
	return rc;
}

static int attach_all(struct agent *a)
{
	const struct hw_config *c = a->cfg;
	enum hw_attach_want want = HW_ATTACH_AUTO;
	const char *pin = a->pin_dir;
	int failed = 0;
	hw_attach_want_parse(c->perimeter.attach, &want);
	int xdp = bpf_program__fd(a->skel->progs.hw_perimeter_xdp);
	int tc = bpf_program__fd(a->skel->progs.hw_perimeter_tc);
	if (hw_attach_pin_prog(pin, "hw_perimeter_xdp", xdp) ||
	    hw_attach_pin_prog(pin, "hw_perimeter_tc", tc))
		hw_log(HW_LOG_WARN, "agent: pinning the programs under %s/progs failed", pin);
	a->n_att = 0;
	for (size_t i = 0; i < c->perimeter.n_interfaces && a->n_att < HW_MAX_IFACES; i++) {
		if (hw_attach_iface(pin, c->perimeter.interfaces[i], want, xdp, tc,
				    &a->att[a->n_att]) == 0)
			a->n_att++;
		else
			failed++;
	}
	hw_attach_prune(pin, c->perimeter.interfaces, c->perimeter.n_interfaces);
	return failed ? -ENODEV : 0;
}

static void write_status(struct agent *a, const char *status)
{
	json_t *ifs = json_array(), *rules, *stats = json_object();
	for (size_t i = 0; i < a->n_att; i++)
		json_array_append_new(ifs, json_pack("{s:s, s:s, s:I}", "name", a->att[i].ifname,
						     "mode", a->att[i].mode, "prog_id",
						     (json_int_t)a->att[i].prog_id));
	rules = json_pack("{s:I, s:I, s:I, s:I, s:I}", "allow_v4", (json_int_t)a->counts.allow_v4,
			  "deny_v4", (json_int_t)a->counts.deny_v4, "allow_v6",
			  (json_int_t)a->counts.allow_v6, "deny_v6", (json_int_t)a->counts.deny_v6,
			  "bans", (json_int_t)a->counts.bans);
	static const char *const names[HW_VERDICT_COUNT] = {"pass", "pass_allowed", "drop_deny",
							    "drop_ratelimit", "pass_unparsed"};
	struct hw_verdict_stat vs[HW_VERDICT_COUNT] = {0};
	if (a->skel)
		hw_perim_stats_read(&a->maps, vs);
	for (int v = 0; v < HW_VERDICT_COUNT; v++)
		json_object_set_new(stats, names[v],
				    json_pack("{s:I, s:I}", "packets", (json_int_t)vs[v].packets,
					      "bytes", (json_int_t)vs[v].bytes));
	char *ji = json_dumps(ifs, JSON_COMPACT), *jr = json_dumps(rules, JSON_COMPACT),
	     *js = json_dumps(stats, JSON_COMPACT);
	struct hw_agent_report st = {.node_id = a->cfg->node_id ? a->cfg->node_id : "local",
				     .version = HIWAY_VERSION,
				     .status = status,
				     .pid = (int)getpid(),
				     .generation = a->applied_gen,
				     .interfaces_json = ji ? ji : "[]",
				     .rules_json = jr ? jr : "{}",
				     .stats_json = js ? js : "{}"};
	hw_agent_store_status(a->db, &st);
	free(ji);
	free(jr);
	free(js);
	json_decref(ifs);
	json_decref(rules);
	json_decref(stats);
}

static int start(struct agent *a, bool once)
{
	const struct hw_config *c = a->cfg;
	int rc = hw_agent_store_open(c->store, c->store_options.busy_timeout_ms, &a->db);
	if (rc)
		return rc;
	if (!c->perimeter.enabled) {
		hw_log(HW_LOG_INFO, "agent: perimeter.enabled is false: idling");
		return 0;
	}
	snprintf(a->pin_dir, sizeof(a->pin_dir), "%s", c->perimeter.pin_path);
	rc = hw_attach_prepare_dir(a->pin_dir);
	if (!rc)
		rc = hw_agent_load(a->pin_dir, (uint32_t)c->perimeter.limits.max_tracked_sources,
				   &a->skel);
	if (!rc)
		rc = hw_perim_maps_init(&a->maps, a->skel->obj,
					(uint32_t)c->perimeter.limits.max_rules_per_family,
					a->pin_dir);
	/* Settings and rules go into the maps before the program is attached or swapped in, so
	 * it never runs on empty maps. */
	if (!rc)
		rc = apply_settings(a);
	if (!rc)
		rc = reconcile(a);
	if (!rc) {
		if (c->perimeter.n_interfaces == 0)
			hw_log(HW_LOG_INFO,
			       "agent: perimeter.interfaces is empty: nothing to attach");
		rc = attach_all(a);
		/* A missing interface must not take the perimeter down on the others: the
		 * foreground agent keeps running and retries; --once reports it in its exit code.
		 */
		if (rc && !once) {
			a->attach_pending = true;
			rc = 0;
		}
	}
	return rc;
}

static int reload(struct agent *a)
{
	struct hw_config *nc = NULL;
	if (load_config(a->cfg_path, &nc) < 0) {
		hw_log(HW_LOG_ERROR, "agent: reload rejected, the running configuration stays");
		return -EINVAL;
	}
	if (a->skel && strcmp(nc->perimeter.pin_path, a->pin_dir) != 0)
		hw_log(HW_LOG_WARN, "agent: perimeter.pin_path changes only on restart; %s stays",
		       a->pin_dir);
	hw_config_free(a->cfg);
	a->cfg = nc;
	apply_logging(nc);
	hw_log(HW_LOG_INFO, "agent: configuration reloaded");
	if (!a->skel)
		return 0;
	apply_settings(a);
	reconcile(a);
	a->attach_pending = attach_all(a) != 0;
	return 0;
}

static void run_loop(struct agent *a)
{
	uint64_t last_full = mono_ns(), last_status = mono_ns();
	while (!g_stop) {
		int64_t ms = a->cfg->perimeter.poll_ms > 0 ? a->cfg->perimeter.poll_ms : 250;
		struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000};
		nanosleep(&ts, NULL);
		if (g_stop)
			break;
		if (g_reload) {
			g_reload = 0;
			reload(a);
		}
		uint64_t now = mono_ns();
		if (a->skel) {
			int64_t gen = 0;
			bool changed =
			    hw_agent_store_generation(a->db, &gen) == 0 && gen != a->applied_gen;
			bool expired = a->next_expiry_ns && now >= a->next_expiry_ns;
			bool full = now - last_full >= HW_SAFETY_RECONCILE_NS;
			if (changed || expired || full)
				reconcile(a);
			/* A new generation shows in the status at once, not up to 5 s later. */
			if (changed && a->applied_gen == gen) {
				write_status(a, "running");
				last_status = now;
			}
			if (full) {
				if (a->attach_pending)
					a->attach_pending = attach_all(a) != 0;
				last_full = now;
			}
		}
		if (now - last_status >= HW_STATUS_EVERY_NS) {
			write_status(a, a->skel ? "running" : "disabled");
			last_status = now;
		}
	}
}

static void usage(FILE *f)
{
	fprintf(f, "usage: hiway-agent [--config FILE] [--once] [--detach] [--version]\n"
		   "  --config FILE  configuration (default: $HIWAY_CONFIG or ./hiway.yaml)\n"
		   "  --once         reconcile once and exit; the programs stay attached\n"
		   "  --detach       remove every attachment, program and pin, then exit\n");
}

int main(int argc, char **argv)
{
	const char *path = getenv("HIWAY_CONFIG") ? getenv("HIWAY_CONFIG") : "hiway.yaml";
	bool once = false, detach = false;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--config") == 0 && i + 1 < argc) {
			path = argv[++i];
		} else if (strcmp(argv[i], "--once") == 0) {
			once = true;
		} else if (strcmp(argv[i], "--detach") == 0) {
			detach = true;
		} else if (strcmp(argv[i], "--version") == 0) {
			printf("hiway-agent %s\n", HIWAY_VERSION);
			return 0;
		} else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			usage(stdout);
			return 0;
		} else {
			usage(stderr);
			return 2;
		}
	}
	struct agent a = {.cfg_path = path};
	if (load_config(path, &a.cfg) < 0)
		return 2;
	apply_logging(a.cfg);
	if (detach) {
		int rc = hw_attach_detach_all(a.cfg->perimeter.pin_path);
		if (!rc)
			hw_log(HW_LOG_INFO, "agent: detached; %s removed",
			       a.cfg->perimeter.pin_path);
		hw_config_free(a.cfg);
		return rc ? 1 : 0;
	}

	struct sigaction sa = {.sa_handler = on_signal};
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	int rc = start(&a, once);
	if (a.db)
		write_status(&a, rc ? "error" : (a.skel ? "running" : "disabled"));
	if (!rc && !once)
		run_loop(&a);
	if (a.db && !once && !rc)
		write_status(&a, "stopped");
	perimeter_bpf__destroy(a.skel);
	sqlite3_close(a.db);
	hw_config_free(a.cfg);
	return rc ? 1 : 0;
}
