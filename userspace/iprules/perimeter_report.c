// SPDX-License-Identifier: Apache-2.0
/* What the perimeter shows outside: the /health perimeter block (SPEC §5.5) and the
 * hiway_ip_denied_total, hiway_autobans_* and hiway_perimeter_* families (§20.1). Packet
 * counters and agent liveness come from the agent rows the refresher last read (at most a
 * second old, the agent writes them every 5 s). */
#include "iprules/perimeter_internal.h"

#include "common/clock.h"

#include <stdlib.h>
#include <string.h>

static const char *const verdicts[] = {"pass", "pass_allowed", "drop_deny", "drop_ratelimit",
				       "pass_unparsed"};

static bool agent_up(const struct hw_agent_status *a, int64_t now_ms)
{
	return now_ms - a->heartbeat_at <= HW_PERIMETER_AGENT_FRESH_MS;
}

json_t *hw_perimeter_health(const struct hw_config *cfg)
{
	struct hw_agent_status *rows = NULL;
	size_t n = 0;
	const struct hw_agent_status *best = NULL;
	int64_t now = hw_clock_wall_ms();
	json_t *ifs = NULL;
	char hb[21];

	hw_perimeter_agents_copy(&rows, &n);
	for (size_t i = 0; i < n; i++)
		if (!best || rows[i].heartbeat_at > best->heartbeat_at)
			best = &rows[i];
	if (best)
		ifs = json_loads(best->interfaces, 0, NULL);
	if (!json_is_array(ifs)) {
		json_decref(ifs);
		ifs = json_array();
	}
	if (best)
		hw_clock_rfc3339(best->heartbeat_at / 1000, hb);
	const char *status = !cfg->perimeter.enabled	   ? "disabled"
			     : best && agent_up(best, now) ? "active"
							   : "inactive";
	json_t *out = json_pack("{s:s,s:o,s:o}", "status", status, "agent_heartbeat",
				best ? json_string(hb) : json_null(), "interfaces", ifs);
	free(rows);
	return out;
}

static void label_escape(char *out, size_t cap, const char *v)
{
	size_t o = 0;
	for (; *v && o + 2 < cap; v++) {
		if (*v == '"' || *v == '\\' || *v == '\n') {
			out[o++] = '\\';
			out[o++] = *v == '\n' ? 'n' : *v;
		} else {
			out[o++] = *v;
		}
	}
	out[o] = '\0';
}

static void render_agents(struct hw_buf *out)
{
	struct hw_agent_status *rows = NULL;
	size_t n = 0;
	int64_t now = hw_clock_wall_ms();
	char node[260];

	hw_perimeter_agents_copy(&rows, &n);
	hw_buf_appendf(out,
		       "# HELP hiway_perimeter_agent_up hiway-agent heartbeat younger than 15 s\n"
		       "# TYPE hiway_perimeter_agent_up gauge\n");
	if (!n) {
		label_escape(node, sizeof(node), hw_perimeter_node_id());
		hw_buf_appendf(out, "hiway_perimeter_agent_up{node=\"%s\"} 0\n", node);
	}
	for (size_t i = 0; i < n; i++) {
		label_escape(node, sizeof(node), rows[i].node_id);
		hw_buf_appendf(out, "hiway_perimeter_agent_up{node=\"%s\"} %d\n", node,
			       agent_up(&rows[i], now) ? 1 : 0);
	}
	static const char *const what[] = {"packets", "bytes"};
	for (int w = 0; w < 2; w++) {
		hw_buf_appendf(
		    out,
		    "# HELP hiway_perimeter_%s_total Perimeter %s by verdict (from the agent)\n"
		    "# TYPE hiway_perimeter_%s_total counter\n",
		    what[w], what[w], what[w]);
		for (size_t i = 0; i < n; i++) {
			json_t *stats = json_loads(rows[i].stats, 0, NULL);
			label_escape(node, sizeof(node), rows[i].node_id);
			for (size_t v = 0; v < sizeof(verdicts) / sizeof(verdicts[0]); v++) {
				json_t *val =
				    json_object_get(json_object_get(stats, verdicts[v]), what[w]);
				hw_buf_appendf(
				    out,
				    "hiway_perimeter_%s_total{verdict=\"%s\",node=\"%s\"} %lld\n",
				    what[w], verdicts[v], node,
				    (long long)(json_is_integer(val) ? json_integer_value(val)
								     : 0));
			}
			json_decref(stats);
		}
	}
	free(rows);
}

void hw_perimeter_metrics_render(struct hw_buf *out)
{
	struct hw_perimeter_counters c;
	struct hw_perimeter_counts k;

	hw_perimeter_counters_read(&c);
	hw_perimeter_counts(&k);
	hw_buf_appendf(
	    out,
	    "# HELP hiway_ip_denied_total Requests answered 403 ip_denied, by what denied them\n"
	    "# TYPE hiway_ip_denied_total counter\n"
	    "hiway_ip_denied_total{source=\"rule\"} %llu\n"
	    "hiway_ip_denied_total{source=\"ban\"} %llu\n"
	    "# HELP hiway_autobans_total Sources auto-banned by this gateway, by reason\n"
	    "# TYPE hiway_autobans_total counter\n"
	    "hiway_autobans_total{reason=\"auth_failures\"} %llu\n"
	    "hiway_autobans_total{reason=\"guardian_blocks\"} %llu\n"
	    "# HELP hiway_autobans_active Auto-bans in force\n"
	    "# TYPE hiway_autobans_active gauge\nhiway_autobans_active %lld\n"
	    "# HELP hiway_perimeter_rules Perimeter-set entries the kernel enforces (bans "
	    "count as deny)\n# TYPE hiway_perimeter_rules gauge\n"
	    "hiway_perimeter_rules{family=\"ipv4\",action=\"allow\"} %lld\n"
	    "hiway_perimeter_rules{family=\"ipv4\",action=\"deny\"} %lld\n"
	    "hiway_perimeter_rules{family=\"ipv6\",action=\"allow\"} %lld\n"
	    "hiway_perimeter_rules{family=\"ipv6\",action=\"deny\"} %lld\n",
	    (unsigned long long)c.denied_rule, (unsigned long long)c.denied_ban,
	    (unsigned long long)c.autobans[HW_AUTOBAN_AUTH_FAILURES],
	    (unsigned long long)c.autobans[HW_AUTOBAN_GUARDIAN_BLOCKS],
	    (long long)k.autobans_active, (long long)k.kernel_allow[0],
	    (long long)k.kernel_deny[0] + (long long)k.bans[0], (long long)k.kernel_allow[1],
	    (long long)k.kernel_deny[1] + (long long)k.bans[1]);
	render_agents(out);
}
