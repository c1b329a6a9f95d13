// SPDX-License-Identifier: Apache-2.0
/* Security Shield runtime (SPEC §12.1). Block mode scans on the HTTP worker before any
 * upstream call; monitor mode hands the collected text to one worker thread through a
 * bounded ring, so the request never waits for the scan: a full ring drops the scan and
 * counts it instead of blocking. Detections go to a replaceable sink. */
#include "shield/shield.h"

#include "common/clock.h"
#include "common/log.h"
#include "gateway/metrics.h"
#include "shield/shield_ws.h"

#include <hs/hs.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

_Atomic(hw_shield_sink_fn) hw_shield_sink = hw_shield_sink_log;

static const char *const mode_names[] = {"off", "monitor", "block"};

const char *hw_shield_mode_name(enum hw_shield_mode m)
{
	return (unsigned)m < 3 ? mode_names[m] : "off";
}

static int mode_parse(const char *s)
{
	for (int m = 0; s && m < 3; m++)
		if (strcmp(s, mode_names[m]) == 0)
			return m;
	return -1;
}

enum hw_shield_mode hw_shield_mode_resolve(const char *key_mode, const char *workspace_mode,
					   const char *config_mode)
{
	int m = mode_parse(key_mode);
	if (m < 0)
		m = mode_parse(workspace_mode);
	if (m < 0)
		m = mode_parse(config_mode);
	return m < 0 ? HW_SHIELD_MONITOR : (enum hw_shield_mode)m;
}

void hw_shield_sink_log(const struct hw_shield_event *ev)
{
	char score[16];
	snprintf(score, sizeof(score), "%.2f", ev->score);
	json_t *f = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:I}", "workspace_id",
			      ev->workspace_id ? ev->workspace_id : "", "key_id", ev->key_id ? ev->key_id : "",
			      "client_ip", ev->client_ip ? ev->client_ip : "", "model", ev->model ? ev->model : "",
			      "threat_type", ev->threat_type, "score", score, "action", ev->action, "mode",
			      ev->mode, "prompt_sha256", ev->prompt_sha256, "timestamp_ms",
			      (json_int_t)ev->timestamp_ms);
	hw_log_json(HW_LOG_WARN, ev->request_id, "shield detection", f);
}

void hw_shield_scores_from_config(const struct hw_config *cfg, struct hw_shield_scores *out)
{
	out->of[HW_THREAT_PROMPT_INJECTION] = cfg->shield.scores.prompt_injection;
	out->of[HW_THREAT_PROMPT_EXTRACTION] = cfg->shield.scores.prompt_extraction;
	out->of[HW_THREAT_JAILBREAK] = cfg->shield.scores.jailbreak;
	out->of[HW_THREAT_PII] = cfg->shield.scores.pii;
	out->of[HW_THREAT_SECRETS] = cfg->shield.scores.secrets;
}

/* The active database; replaced ones are kept until stop, since a scan on another thread
 * may still read them and reloads are rare. */
#define MAX_RETIRED 64
static _Atomic(struct hw_shield_db *) active_db;
static struct hw_shield_db *retired[MAX_RETIRED];
static size_t n_retired;
static pthread_mutex_t reload_lock = PTHREAD_MUTEX_INITIALIZER;

struct job {
	char *text;
	size_t len;
	char *ctx; /* one allocation: workspace, key, request id, client ip, model */
	const char *workspace_id, *key_id, *request_id, *client_ip, *model;
	struct hw_shield_scores scores;
};

static struct {
	pthread_mutex_t lock;
	pthread_cond_t wake, idle;
	struct job *ring;
	size_t cap, head, count;
	bool busy, stopping, running;
	pthread_t thread;
} mon = {.lock = PTHREAD_MUTEX_INITIALIZER, .wake = PTHREAD_COND_INITIALIZER, .idle = PTHREAD_COND_INITIALIZER};

static void report(const struct hw_shield_request *rq, const struct hw_shield_result *res,
		   const char *action, const char *mode)
{
	struct hw_shield_event ev = {
		.workspace_id = rq->workspace_id, .key_id = rq->key_id, .request_id = rq->request_id,
		.client_ip = rq->client_ip, .model = rq->model, .threat_type = hw_threat_name(res->type),
		.score = res->score, .action = action, .mode = mode, .prompt_sha256 = res->prompt_sha256,
		.timestamp_ms = hw_clock_wall_ms(),
	};
	hw_metrics_shield_detection(ev.threat_type, action);
	hw_shield_sink_fn sink = atomic_load(&hw_shield_sink);
	if (sink)
		sink(&ev);
}

/* One pass over the built-in database, and the workspace's custom one when it has any. */
static int scan_timed(const char *mode, const struct hw_shield_ws *ws,
		      const struct hw_shield_scores *scores, const char *text, size_t len,
		      struct hw_shield_result *res)
{
	int64_t t0 = hw_clock_mono_ns();
	int rc = hw_shield_scan(atomic_load(&active_db), ws ? ws->custom : NULL, scores, text, len,
				res);
	hw_metrics_shield_scan(mode, hw_clock_mono_ns() - t0);
	return rc;
}

bool hw_shield_check(const struct hw_config *cfg, const struct hw_shield_request *rq,
		     const char *text, size_t len, struct hw_shield_result *res)
{
	struct hw_shield_scores scores;
	const struct hw_shield_ws *ws = hw_shield_ws_get(rq->workspace_id);
	double threshold = ws && ws->threshold >= 0 ? ws->threshold : cfg->shield.threshold;
	hw_shield_scores_from_config(cfg, &scores);
	if (scan_timed("block", ws, &scores, text, len, res) < 0) {
		hw_log(HW_LOG_ERROR, "shield: scan failed (request %s)", rq->request_id);
		return false;
	}
	if (res->score <= 0)
		return false;
	bool block = res->score >= threshold;
	report(rq, res, block ? "blocked" : "logged", "block");
	return block;
}

static void job_free(struct job *j)
{
	free(j->text);
	free(j->ctx);
}

static void *monitor_main(void *arg)
{
	pthread_mutex_lock(&mon.lock);
	for (;;) {
		while (!mon.count && !mon.stopping)
			pthread_cond_wait(&mon.wake, &mon.lock);
		if (!mon.count)
			break;
		struct job j = mon.ring[mon.head];
		mon.head = (mon.head + 1) % mon.cap;
		mon.count--;
		mon.busy = true;
		pthread_mutex_unlock(&mon.lock);

		struct hw_shield_result res;
		/* The workspace's patterns as they are now: a change applies to queued scans. */
		const struct hw_shield_ws *ws = hw_shield_ws_get(j.workspace_id);
		if (scan_timed("monitor", ws, &j.scores, j.text, j.len, &res) == 0 && res.score > 0) {
			struct hw_shield_request rq = {j.workspace_id, j.key_id, j.request_id, j.client_ip, j.model};
			report(&rq, &res, "logged", "monitor");
		}
		job_free(&j);

		pthread_mutex_lock(&mon.lock);
		mon.busy = false;
		if (!mon.count)
			pthread_cond_broadcast(&mon.idle);
	}
	pthread_mutex_unlock(&mon.lock);
	hw_shield_thread_release();
	return NULL;
}

/* Copies the request context into one allocation owned by the job. */
static int job_fill(struct job *j, const struct hw_shield_request *rq)
{
	const char *src[5] = {rq->workspace_id, rq->key_id, rq->request_id, rq->client_ip, rq->model};
	size_t total = 0;
	for (int i = 0; i < 5; i++)
		total += strlen(src[i] ? src[i] : "") + 1;
	j->ctx = malloc(total);
	if (!j->ctx)
		return -1;
	const char **dst[5] = {&j->workspace_id, &j->key_id, &j->request_id, &j->client_ip, &j->model};
	char *p = j->ctx;
	for (int i = 0; i < 5; i++) {
		size_t n = strlen(src[i] ? src[i] : "") + 1;
		memcpy(p, src[i] ? src[i] : "", n);
		*dst[i] = p;
		p += n;
	}
	return 0;
}

void hw_shield_monitor_submit(const struct hw_config *cfg, const struct hw_shield_request *rq,
			      char *text, size_t len)
{
	struct job j = {.text = text, .len = len};
	hw_shield_scores_from_config(cfg, &j.scores);
	if (job_fill(&j, rq) < 0) {
		job_free(&j);
		hw_metrics_shield_dropped();
		return;
	}
	pthread_mutex_lock(&mon.lock);
	bool queued = mon.running && !mon.stopping && mon.count < mon.cap;
	if (queued) {
		mon.ring[(mon.head + mon.count) % mon.cap] = j;
		mon.count++;
		pthread_cond_signal(&mon.wake);
	}
	pthread_mutex_unlock(&mon.lock);
	if (!queued) {
		job_free(&j);
		hw_metrics_shield_dropped();
	}
}

void hw_shield_monitor_flush(void)
{
	pthread_mutex_lock(&mon.lock);
	while (mon.running && (mon.count || mon.busy))
		pthread_cond_wait(&mon.idle, &mon.lock);
	pthread_mutex_unlock(&mon.lock);
}

int hw_shield_reload(const struct hw_config *cfg, char *err, size_t errlen)
{
	struct hw_shield_db *db;
	if (hw_shield_db_load(cfg->shield.patterns_dir, &db, err, errlen) < 0)
		return -1;
	pthread_mutex_lock(&reload_lock);
	struct hw_shield_db *old = atomic_exchange(&active_db, db);
	if (old && n_retired < MAX_RETIRED)
		retired[n_retired++] = old;
	else if (old)
		hw_log(HW_LOG_WARN, "shield: too many reloads kept, one pattern database leaked");
	pthread_mutex_unlock(&reload_lock);
	return 0;
}

int hw_shield_start(const struct hw_config *cfg, char *err, size_t errlen)
{
	if (hs_valid_platform() != HS_SUCCESS) {
		snprintf(err, errlen,
			 "Security Shield: this CPU lacks SSSE3, which Hyperscan requires; "
			 "run hiwayd on an x86-64 CPU with SSSE3 or later");
		return -1;
	}
	if (hw_shield_reload(cfg, err, errlen) < 0)
		return -1;
	mon.cap = cfg->shield.monitor_queue > 0 ? (size_t)cfg->shield.monitor_queue : 1;
	mon.ring = calloc(mon.cap, sizeof(*mon.ring));
	if (!mon.ring) {
		snprintf(err, errlen, "Security Shield: out of memory");
		return -1;
	}
	mon.head = mon.count = 0;
	mon.stopping = false;
	if (pthread_create(&mon.thread, NULL, monitor_main, NULL) != 0) {
		snprintf(err, errlen, "Security Shield: cannot start the monitor worker");
		free(mon.ring);
		mon.ring = NULL;
		return -1;
	}
	mon.running = true;
	return 0;
}

void hw_shield_stop(void)
{
	pthread_mutex_lock(&mon.lock);
	bool running = mon.running;
	mon.stopping = true;
	pthread_cond_broadcast(&mon.wake);
	pthread_mutex_unlock(&mon.lock);
	if (running)
		pthread_join(mon.thread, NULL);
	mon.running = false;
	free(mon.ring);
	mon.ring = NULL;
	hw_shield_db_free(atomic_exchange(&active_db, NULL));
	for (size_t i = 0; i < n_retired; i++)
		hw_shield_db_free(retired[i]);
	n_retired = 0;
}
