// SPDX-License-Identifier: Apache-2.0
/* Metric series live in an open-addressing table of atomic pointers: a series is
 * inserted once with a compare-and-swap and never removed, so readers and writers need
 * no lock. Label sets are bounded (routes, codes, configured providers and models). */
#include "gateway/metrics.h"

#include "events/webhook_sender.h"
#include "gateway/server.h"
#include "iprules/perimeter.h"
#include "upstream/breaker.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <dirent.h>
#include <unistd.h>

#define TABLE_SIZE 4096
#define MAX_BUCKETS 24

enum family {
	F_REQUESTS,
	F_DURATION,
	F_OVERHEAD,
	F_UPSTREAM_REQUESTS,
	F_GENAI_DURATION,
	F_GENAI_TOKENS,
	F_ROUTING_DECISIONS,
	F_ROUTING_DURATION,
	F_FALLBACKS,
	F_SHIELD_SCANS,
	F_SHIELD_DROPPED,
	F_SHIELD_DETECTIONS,
	F_SHIELD_DURATION,
	F_RATE_LIMITED,
	F_GUARDIAN_EVENTS,
	F__COUNT
};

struct family_def {
	const char *name;
	const char *type;
	const char *help;
	const double *bounds;
	int nbounds;
};

static const double seconds_bounds[] = {0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
					0.01,    0.025,  0.05,    0.1,    0.25,  0.5,    1,
					2.5,     5,      10,      30,     60,    120,    300};
static const double token_bounds[] = {1,    4,     16,    64,     256,     1024,
				      4096, 16384, 65536, 262144, 1048576, 4194304};
static const double routing_bounds[] = {0.000001, 0.0000025, 0.000005, 0.00001, 0.000025,
					0.00005,  0.0001,    0.00025,  0.0005,  0.001};
/* Shield scans take microseconds for a chat prompt and milliseconds for megabytes. */
static const double shield_bounds[] = {0.000001, 0.0000025, 0.000005, 0.00001, 0.000025, 0.00005,
				       0.0001,   0.00025,   0.0005,   0.001,   0.0025,   0.01,
				       0.025,    0.1};
#define NB(a) ((int)(sizeof(a) / sizeof((a)[0])))

static const struct family_def families[F__COUNT] = {
	[F_REQUESTS] = {"hiway_http_requests_total", "counter", "HTTP requests by route, method, status and code", NULL, 0},
	[F_DURATION] = {"hiway_http_request_duration_seconds", "histogram", "HTTP request duration", seconds_bounds, NB(seconds_bounds)},
	[F_OVERHEAD] = {"hiway_gateway_overhead_seconds", "histogram", "Time spent outside the upstream call", seconds_bounds, NB(seconds_bounds)},
	[F_UPSTREAM_REQUESTS] = {"hiway_upstream_requests_total", "counter", "Provider calls by outcome", NULL, 0},
	[F_GENAI_DURATION] = {"hiway_gen_ai_client_operation_duration_seconds", "histogram", "Provider call duration", seconds_bounds, NB(seconds_bounds)},
	[F_GENAI_TOKENS] = {"hiway_gen_ai_client_token_usage", "histogram", "Tokens per provider call", token_bounds, NB(token_bounds)},
	[F_ROUTING_DECISIONS] = {"hiway_routing_decisions_total", "counter", "Routing decisions by tier and mode", NULL, 0},
	[F_ROUTING_DURATION] = {"hiway_routing_duration_seconds", "histogram", "Routing decision time", routing_bounds, NB(routing_bounds)},
	[F_FALLBACKS] = {"hiway_upstream_fallbacks_total", "counter", "Attempts on a further candidate after a failure", NULL, 0},
	[F_SHIELD_SCANS] = {"hiway_shield_scans_total", "counter", "Security Shield scans by mode", NULL, 0},
	[F_SHIELD_DROPPED] = {"hiway_shield_scans_dropped_total", "counter", "Monitor-mode scans dropped on a full queue", NULL, 0},
	[F_SHIELD_DETECTIONS] = {"hiway_shield_detections_total", "counter", "Security Shield detections by threat type and action", NULL, 0},
	[F_SHIELD_DURATION] = {"hiway_shield_scan_duration_seconds", "histogram", "Security Shield scan time", shield_bounds, NB(shield_bounds)},
	[F_RATE_LIMITED] = {"hiway_rate_limited_total", "counter", "Requests refused by the per-key RPM limit", NULL, 0},
	[F_GUARDIAN_EVENTS] = {"hiway_guardian_events_total", "counter", "Guardian rule triggers by rule and action", NULL, 0},
};

struct series {
	enum family fam;
	char labels[512];
	_Atomic uint64_t count;
	_Atomic uint64_t sum_micro; /* histogram sum in millionths of the unit */
	_Atomic uint64_t buckets[MAX_BUCKETS];
};

static _Atomic(struct series *) table[TABLE_SIZE];
static _Atomic int in_flight[HW_ROUTE__COUNT];

static const char *const route_names[HW_ROUTE__COUNT] = {
	[HW_ROUTE_UNKNOWN] = "unknown", [HW_ROUTE_CHAT] = "/v1/chat/completions",
	[HW_ROUTE_MESSAGES] = "/v1/messages", [HW_ROUTE_MODELS] = "/v1/models",
	[HW_ROUTE_HEALTH] = "/health", [HW_ROUTE_METRICS] = "/metrics",
	[HW_ROUTE_ADMIN] = "/api/v1",
};

const char *hw_route_name(enum hw_route route)
{
	return (unsigned)route < HW_ROUTE__COUNT ? route_names[route] : "unknown";
}

static uint64_t hash_series(enum family fam, const char *labels)
{
	uint64_t h = 1469598103934665603ULL ^ (uint64_t)fam;
	for (const char *p = labels; *p; p++)
		h = (h ^ (unsigned char)*p) * 1099511628211ULL;
	return h;
}

static struct series *series_get(enum family fam, const char *labels)
{
	uint64_t h = hash_series(fam, labels);
	for (size_t probe = 0; probe < TABLE_SIZE; probe++) {
		size_t i = (h + probe) & (TABLE_SIZE - 1);
		struct series *s = atomic_load_explicit(&table[i], memory_order_acquire);
		if (!s) {
			struct series *fresh = calloc(1, sizeof(*fresh));
			if (!fresh)
				return NULL;
			fresh->fam = fam;
			snprintf(fresh->labels, sizeof(fresh->labels), "%s", labels);
			struct series *expected = NULL;
			if (atomic_compare_exchange_strong(&table[i], &expected, fresh))
				return fresh;
			free(fresh);
			s = expected;
		}
		if (s->fam == fam && strcmp(s->labels, labels) == 0)
			return s;
	}
	return NULL; /* table full: the sample is dropped rather than blocking */
}

static void observe(enum family fam, const char *labels, double value)
{
	struct series *s = series_get(fam, labels);
	if (!s)
		return;
	const struct family_def *f = &families[fam];
	atomic_fetch_add_explicit(&s->count, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&s->sum_micro, (uint64_t)(value * 1e6), memory_order_relaxed);
	for (int b = 0; b < f->nbounds; b++) {
		if (value <= f->bounds[b]) {
			atomic_fetch_add_explicit(&s->buckets[b], 1, memory_order_relaxed);
			break;
		}
	}
}

static void count(enum family fam, const char *labels)
{
	struct series *s = series_get(fam, labels);
	if (s)
		atomic_fetch_add_explicit(&s->count, 1, memory_order_relaxed);
}

/* Label values here come from our own tables, config ids and model ids; quote and
 * backslash are escaped anyway so a strange model id cannot break the exposition. */
static void label_value(char *out, size_t len, const char *v)
{
	size_t j = 0;
	for (const char *p = v ? v : ""; *p && j + 3 < len; p++) {
		if (*p == '"' || *p == '\\')
			out[j++] = '\\';
		if (*p == '\n') {
			out[j++] = '\\';
			out[j++] = 'n';
			continue;
		}
		out[j++] = *p;
	}
	out[j] = '\0';
}

void hw_metrics_request(enum hw_route route, const char *method, int status, const char *code,
			int64_t duration_ns, int64_t upstream_ns)
{
	char labels[512], m[16];
	label_value(m, sizeof(m), method);
	snprintf(labels, sizeof(labels), "route=\"%s\",method=\"%s\",status=\"%d\",code=\"%s\"",
		 hw_route_name(route), m, status, code ? code : "ok");
	count(F_REQUESTS, labels);
	snprintf(labels, sizeof(labels), "route=\"%s\"", hw_route_name(route));
	observe(F_DURATION, labels, (double)duration_ns / 1e9);
	int64_t overhead = duration_ns - upstream_ns;
	observe(F_OVERHEAD, labels, (double)(overhead > 0 ? overhead : 0) / 1e9);
}

void hw_metrics_in_flight(enum hw_route route, int delta)
{
	if ((unsigned)route < HW_ROUTE__COUNT)
		atomic_fetch_add_explicit(&in_flight[route], delta, memory_order_relaxed);
}

void hw_metrics_upstream(const char *provider, const char *request_model,
			 const char *response_model, const char *outcome, int64_t duration_ns,
			 int64_t input_tokens, int64_t output_tokens)
{
	char p[64], rq[128], rs[128], labels[512];
	label_value(p, sizeof(p), provider);
	label_value(rq, sizeof(rq), request_model);
	label_value(rs, sizeof(rs), response_model);
	snprintf(labels, sizeof(labels), "provider=\"%s\",model=\"%s\",outcome=\"%s\"", p, rq, outcome);
	count(F_UPSTREAM_REQUESTS, labels);
	const char *err = strcmp(outcome, "ok") == 0 ? "" : outcome;
	snprintf(labels, sizeof(labels),
		 "gen_ai_operation_name=\"chat\",gen_ai_provider_name=\"%s\",gen_ai_request_model=\"%s\","
		 "gen_ai_response_model=\"%s\",error_type=\"%s\"",
		 p, rq, rs, err);
	observe(F_GENAI_DURATION, labels, (double)duration_ns / 1e9);
	if (input_tokens < 0 || output_tokens < 0 || *err)
		return;
	snprintf(labels, sizeof(labels),
		 "gen_ai_operation_name=\"chat\",gen_ai_provider_name=\"%s\",gen_ai_request_model=\"%s\","
		 "gen_ai_response_model=\"%s\",gen_ai_token_type=\"input\"",
		 p, rq, rs);
	observe(F_GENAI_TOKENS, labels, (double)input_tokens);
	snprintf(labels, sizeof(labels),
		 "gen_ai_operation_name=\"chat\",gen_ai_provider_name=\"%s\",gen_ai_request_model=\"%s\","
		 "gen_ai_response_model=\"%s\",gen_ai_token_type=\"output\"",
		 p, rq, rs);
	observe(F_GENAI_TOKENS, labels, (double)output_tokens);
}

void hw_metrics_routing(const char *tier, const char *mode, int64_t duration_ns)
{
	char labels[128];
	snprintf(labels, sizeof(labels), "tier=\"%s\",mode=\"%s\"", tier, mode);
	count(F_ROUTING_DECISIONS, labels);
	observe(F_ROUTING_DURATION, labels, (double)duration_ns / 1e9);
}

void hw_metrics_fallback(const char *tier)
{
	char labels[64];
	snprintf(labels, sizeof(labels), "tier=\"%s\"", tier);
	count(F_FALLBACKS, labels);
}

void hw_metrics_shield_scan(const char *mode, int64_t duration_ns)
{
	char labels[32];
	snprintf(labels, sizeof(labels), "mode=\"%s\"", mode);
	count(F_SHIELD_SCANS, labels);
	observe(F_SHIELD_DURATION, "", (double)duration_ns / 1e9);
}

void hw_metrics_shield_dropped(void)
{
	count(F_SHIELD_DROPPED, "");
}

void hw_metrics_shield_detection(const char *threat_type, const char *action)
{
	char labels[96];
	snprintf(labels, sizeof(labels), "threat_type=\"%s\",action=\"%s\"", threat_type, action);
	count(F_SHIELD_DETECTIONS, labels);
}

void hw_metrics_rate_limited(void)
{
	count(F_RATE_LIMITED, "");
}

void hw_metrics_guardian_event(const char *rule, const char *action)
{
	char labels[64];
	snprintf(labels, sizeof(labels), "rule=\"%s\",action=\"%s\"", rule, action);
	count(F_GUARDIAN_EVENTS, labels);
}

static void render_breaker(void *arg, const char *model_id, enum hw_breaker_state st)
{
	/* The catalog id is provider/model: the provider is the part before the first '/'. */
	char provider[64], model[128];
	const char *slash = strchr(model_id, '/');
	size_t plen = slash ? (size_t)(slash - model_id) : 0;
	snprintf(provider, sizeof(provider), "%.*s", (int)plen, model_id);
	label_value(model, sizeof(model), slash ? slash + 1 : model_id);
	hw_buf_appendf(arg, "hiway_circuit_breaker_state{provider=\"%s\",model=\"%s\"} %d\n",
		       provider, model, (int)st);
}

static void render_family(struct hw_buf *out, enum family fam)
{
	const struct family_def *f = &families[fam];
	hw_buf_appendf(out, "# HELP %s %s\n# TYPE %s %s\n", f->name, f->help, f->name, f->type);
	bool hist = f->nbounds > 0;
	/* Histogram series share the family name without the _total-like suffix. */
	for (size_t i = 0; i < TABLE_SIZE; i++) {
		struct series *s = atomic_load_explicit(&table[i], memory_order_acquire);
		if (!s || s->fam != fam)
			continue;
		uint64_t n = atomic_load_explicit(&s->count, memory_order_relaxed);
		/* A family without labels (shield duration and drops) prints no braces. */
		const char *sep = s->labels[0] ? "," : "";
		if (!hist) {
			if (s->labels[0])
				hw_buf_appendf(out, "%s{%s} %llu\n", f->name, s->labels, (unsigned long long)n);
			else
				hw_buf_appendf(out, "%s %llu\n", f->name, (unsigned long long)n);
			continue;
		}
		uint64_t cum = 0;
		for (int b = 0; b < f->nbounds; b++) {
			cum += atomic_load_explicit(&s->buckets[b], memory_order_relaxed);
			hw_buf_appendf(out, "%s_bucket{%s%sle=\"%g\"} %llu\n", f->name, s->labels, sep,
				       f->bounds[b], (unsigned long long)cum);
		}
		hw_buf_appendf(out, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", f->name, s->labels, sep,
			       (unsigned long long)n);
		hw_buf_appendf(out, "%s_sum%s%s%s %.6f\n", f->name, sep[0] ? "{" : "", s->labels,
			       sep[0] ? "}" : "",
			       (double)atomic_load_explicit(&s->sum_micro, memory_order_relaxed) / 1e6);
		hw_buf_appendf(out, "%s_count%s%s%s %llu\n", f->name, sep[0] ? "{" : "", s->labels,
			       sep[0] ? "}" : "", (unsigned long long)n);
	}
}

static long count_open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	if (!d)
		return -1;
	long n = 0;
	while (readdir(d))
		n++;
	closedir(d);
	return n - 3; /* ".", ".." and the directory's own descriptor */
}

static void render_process(struct hw_server *srv, struct hw_buf *out)
{
	long rss_pages = 0;
	FILE *f = fopen("/proc/self/statm", "r");
	if (f) {
		long size;
		if (fscanf(f, "%ld %ld", &size, &rss_pages) != 2)
			rss_pages = 0;
		fclose(f);
	}
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	double cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
		     (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
	hw_buf_appendf(out,
		       "# TYPE process_resident_memory_bytes gauge\nprocess_resident_memory_bytes %ld\n"
		       "# TYPE process_cpu_seconds_total counter\nprocess_cpu_seconds_total %.3f\n"
		       "# TYPE process_open_fds gauge\nprocess_open_fds %ld\n"
		       "# TYPE process_start_time_seconds gauge\nprocess_start_time_seconds %lld\n",
		       rss_pages * sysconf(_SC_PAGESIZE), cpu, count_open_fds(),
		       (long long)srv->started_s);
}

void hw_metrics_render(struct hw_server *srv, struct hw_buf *out)
{
	for (int fam = 0; fam < F__COUNT; fam++)
		render_family(out, (enum family)fam);
	hw_buf_appendf(out, "# HELP hiway_http_requests_in_flight Requests being served\n"
			    "# TYPE hiway_http_requests_in_flight gauge\n");
	for (int r = 1; r < HW_ROUTE__COUNT; r++)
		hw_buf_appendf(out, "hiway_http_requests_in_flight{route=\"%s\"} %d\n", route_names[r],
			       atomic_load_explicit(&in_flight[r], memory_order_relaxed));
	hw_buf_appendf(out,
		       "# HELP hiway_http_connections Open client connections\n"
		       "# TYPE hiway_http_connections gauge\nhiway_http_connections %d\n"
		       "# HELP hiway_build_info Build version\n# TYPE hiway_build_info gauge\n"
		       "hiway_build_info{version=\"%s\"} 1\n",
		       atomic_load(&srv->connections), HIWAY_VERSION);
	hw_buf_appendf(out, "# HELP hiway_circuit_breaker_state Circuit per provider and model (0 closed, "
			    "1 half-open, 2 open)\n# TYPE hiway_circuit_breaker_state gauge\n");
	hw_breaker_foreach(render_breaker, out);
	hw_webhook_metrics_render(out);
	hw_metrics_money_render(srv, out);
	hw_perimeter_metrics_render(out);
	render_process(srv, out);
}
