// SPDX-License-Identifier: Apache-2.0
/* The webhook sender's workers (SPEC §15). Each claims one due row at a time with a lease
 * longer than an attempt can last, so a crash or kill mid-attempt only delays the row until
 * the lease runs out: at least once across restarts, and the receiver dedups by
 * X-HiWay-Delivery. Workers sleep on a condition variable that emitters signal, with a
 * short timeout so retries falling due are picked up without a signal. */
#include "events/webhook_sender.h"

#include "common/clock.h"
#include "common/crypto.h"
#include "common/log.h"
#include "common/secretbox.h"
#include "events/outbox.h"

#include <curl/curl.h>
#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define IDLE_WAIT_MS 250
/* Beyond the attempt's own timeout: time to record its outcome before the lease lapses. */
#define LEASE_SLACK_MS 5000

enum outcome { OUT_SUCCESS, OUT_RETRY, OUT_FAILED, OUT__COUNT };
static const char *const outcome_names[OUT__COUNT] = {"success", "retry", "failed"};
static _Atomic uint64_t deliveries[OUT__COUNT];
static _Atomic int64_t pending_gauge;

struct hw_webhook_sender {
	struct hw_store *st;
	int64_t timeout_s;
	int64_t *schedule_s;
	size_t n_schedule;
	bool has_master_key;
	uint8_t master[HW_SECRETBOX_KEY_LEN];
	pthread_t *threads;
	size_t n_threads;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool stopping;
	uint64_t wakeups; /* bumped by each notify, so a signal between claims is not lost */
};

/* The sender that hw_outbox_emit wakes; one per process. */
static struct hw_webhook_sender *_Atomic current;

int hw_webhook_sign(const char *secret, size_t secret_len, const char *body, size_t body_len,
		    char out[HW_WEBHOOK_SIGNATURE_LEN + 1])
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int len = 0;

	if (!HMAC(EVP_sha256(), secret, (int)secret_len, (const unsigned char *)body, body_len, mac,
		  &len) ||
	    len != 32)
		return -EIO;
	memcpy(out, "sha256=", 7);
	for (unsigned int i = 0; i < len; i++)
		snprintf(out + 7 + 2 * i, 3, "%02x", mac[i]);
	OPENSSL_cleanse(mac, sizeof(mac));
	return 0;
}

int64_t hw_webhook_retry_delay_ms(const int64_t *schedule_s, size_t n, int64_t attempts,
				  uint32_t rnd)
{
	if (attempts < 1 || (uint64_t)attempts > n)
		return -1;
	double base = (double)schedule_s[attempts - 1] * 1000.0;
	/* Spread over [0.9, 1.1] of the step: receivers that fail together retry apart. */
	double factor = 0.9 + 0.2 * ((double)rnd / (double)UINT32_MAX);
	return (int64_t)(base * factor);
}

void hw_webhook_metrics_render(struct hw_buf *out)
{
	hw_buf_appendf(out, "# HELP hiway_webhook_deliveries_total Webhook delivery attempts by "
			    "outcome\n# TYPE hiway_webhook_deliveries_total counter\n");
	for (int i = 0; i < OUT__COUNT; i++)
		hw_buf_appendf(out, "hiway_webhook_deliveries_total{outcome=\"%s\"} %llu\n",
			       outcome_names[i], (unsigned long long)atomic_load(&deliveries[i]));
	hw_buf_appendf(out,
		       "# HELP hiway_webhook_outbox_pending Webhook deliveries not yet done\n"
		       "# TYPE hiway_webhook_outbox_pending gauge\nhiway_webhook_outbox_pending %lld\n",
		       (long long)atomic_load(&pending_gauge));
}

static void notify(void)
{
	struct hw_webhook_sender *s = atomic_load(&current);

	if (!s)
		return;
	pthread_mutex_lock(&s->mu);
	s->wakeups++;
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mu);
}

static size_t discard(char *p, size_t size, size_t n, void *arg) { return size * n; }

/* The webhook's secret into `out` (NUL-terminated). */
static int secret_open(const struct hw_webhook_sender *s, const struct hw_webhook *wh,
		       char *out, size_t cap)
{
	if (!s->has_master_key)
		return -ENOKEY;
	return hw_byok_open(s->master, wh->workspace_id, wh->id, wh->secret_box,
			    wh->secret_box_len, out, cap);
}

/* One POST of the row's body; the HTTP status, or 0 when no answer came. */
static long attempt(const struct hw_webhook_sender *s, CURL *curl, const struct hw_webhook *wh,
		    const struct hw_outbox_row *row)
{
	char secret[HW_WEBHOOK_SECRET_MAX + 1];
	char sig[HW_WEBHOOK_SIGNATURE_LEN + 1];
	char line[160];
	struct curl_slist *hdrs = NULL;
	size_t body_len = strlen(row->body);
	long status = 0;
	int rc = secret_open(s, wh, secret, sizeof(secret));

	if (rc == 0)
		rc = hw_webhook_sign(secret, strlen(secret), row->body, body_len, sig);
	OPENSSL_cleanse(secret, sizeof(secret));
	if (rc < 0) {
		hw_log_json(HW_LOG_ERROR, NULL, "webhooks: cannot sign",
			    json_pack("{s:s,s:s,s:i}", "webhook_id", wh->id, "delivery_id",
				      row->delivery_id, "errno", -rc));
		return 0;
	}
	hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
	hdrs = curl_slist_append(hdrs, "User-Agent: hiway-webhooks/1");
	snprintf(line, sizeof(line), "X-HiWay-Event: %s", row->event);
	hdrs = curl_slist_append(hdrs, line);
	snprintf(line, sizeof(line), "X-HiWay-Delivery: %s", row->delivery_id);
	hdrs = curl_slist_append(hdrs, line);
	snprintf(line, sizeof(line), "X-HiWay-Timestamp: %lld", (long long)hw_clock_wall_s());
	hdrs = curl_slist_append(hdrs, line);
	snprintf(line, sizeof(line), "X-HiWay-Signature: %s", sig);
	hdrs = curl_slist_append(hdrs, line);
	/* Without "Expect: 100-continue" curl would wait on large bodies for a reply first. */
	hdrs = curl_slist_append(hdrs, "Expect:");

	curl_easy_reset(curl);
	curl_easy_setopt(curl, CURLOPT_URL, wh->url);
	curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT, (long)s->timeout_s);
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(curl, CURLOPT_POSTFIELDS, row->body);
	curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, discard);
	if (curl_easy_perform(curl) == CURLE_OK)
		curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
	curl_slist_free_all(hdrs);
	return status;
}

/* Delivers one claimed row and records the outcome. */
static void deliver(struct hw_webhook_sender *s, CURL *curl, struct hw_outbox_row *row)
{
	struct hw_webhook *wh = calloc(1, sizeof(*wh));
	enum outcome out = OUT_FAILED;
	long status = 0;
	uint32_t rnd = 0;
	int rc = wh ? s->st->ops->hooks.webhook_get(s->st, row->workspace_id, row->webhook_id, wh)
		    : -ENOMEM;

	row->attempts++;
	if (rc == 0 && row->body)
		status = attempt(s, curl, wh, row);
	if (status >= 200 && status < 300) {
		out = OUT_SUCCESS;
		snprintf(row->status, sizeof(row->status), "delivered");
	} else if (rc == -ENOENT || !row->body) {
		/* The webhook is gone (or the row unreadable): nobody to retry for. */
		snprintf(row->status, sizeof(row->status), "failed");
	} else {
		hw_random_bytes(&rnd, sizeof(rnd));
		int64_t delay = hw_webhook_retry_delay_ms(s->schedule_s, s->n_schedule,
							  row->attempts, rnd);
		if (delay >= 0) {
			out = OUT_RETRY;
			row->next_attempt_at_ms = hw_clock_wall_ms() + delay;
		} else {
			snprintf(row->status, sizeof(row->status), "failed");
		}
	}
	row->last_status = status;
	atomic_fetch_add(&deliveries[out], 1);
	rc = s->st->ops->hooks.outbox_finish(s->st, row);
	hw_log_json(out == OUT_SUCCESS ? HW_LOG_INFO : HW_LOG_WARN, NULL, "webhooks: attempt",
		    json_pack("{s:s,s:s,s:s,s:I,s:i,s:s,s:b}", "delivery_id", row->delivery_id,
			      "webhook_id", row->webhook_id, "event", row->event, "attempts",
			      (json_int_t)row->attempts, "status", (int)status, "outcome",
			      outcome_names[out], "recorded", rc == 0));
	if (wh)
		OPENSSL_cleanse(wh, sizeof(*wh));
	free(wh);
}

static void refresh_gauge(struct hw_store *st)
{
	int64_t n = 0;

	if (st->ops->hooks.outbox_pending(st, &n) == 0)
		atomic_store(&pending_gauge, n);
}

/* Waits until notified, stopped, or IDLE_WAIT_MS passed. Caller holds s->mu. */
static void idle_wait(struct hw_webhook_sender *s, uint64_t seen)
{
	struct timespec until;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_nsec += IDLE_WAIT_MS * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	while (!s->stopping && s->wakeups == seen)
		if (pthread_cond_timedwait(&s->cv, &s->mu, &until) != 0)
			break;
}

static void *worker(void *arg)
{
	struct hw_webhook_sender *s = arg;
	CURL *curl = curl_easy_init();
	int64_t lease_ms = s->timeout_s * 1000 + LEASE_SLACK_MS;

	if (!curl) {
		hw_log(HW_LOG_ERROR, "webhooks: cannot create a curl handle; worker stopped");
		return NULL;
	}
	pthread_mutex_lock(&s->mu);
	while (!s->stopping) {
		uint64_t seen = s->wakeups;
		struct hw_outbox_row *rows = NULL;
		size_t n = 0;

		pthread_mutex_unlock(&s->mu);
		if (s->st->ops->hooks.outbox_claim(s->st, hw_clock_wall_ms(), lease_ms, 1, &rows,
						   &n) == 0 &&
		    n)
			deliver(s, curl, &rows[0]);
		hw_outbox_rows_free(rows, n);
		refresh_gauge(s->st);
		pthread_mutex_lock(&s->mu);
		/* A row was there: another may be due at once, so look again before sleeping. */
		if (n == 0)
			idle_wait(s, seen);
	}
	pthread_mutex_unlock(&s->mu);
	curl_easy_cleanup(curl);
	return NULL;
}

struct hw_webhook_sender *hw_webhook_sender_start(struct hw_store *st,
						  const struct hw_config *cfg)
{
	struct hw_webhook_sender *s = calloc(1, sizeof(*s));
	size_t workers = cfg->webhooks.workers > 0 ? (size_t)cfg->webhooks.workers : 1;

	if (!s)
		return NULL;
	s->st = st;
	s->timeout_s = cfg->webhooks.timeout_s > 0 ? cfg->webhooks.timeout_s : 10;
	s->n_schedule = cfg->webhooks.n_retry_schedule_s;
	s->schedule_s = calloc(s->n_schedule ? s->n_schedule : 1, sizeof(*s->schedule_s));
	s->threads = calloc(workers, sizeof(*s->threads));
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->cv, NULL);
	if (!s->schedule_s || !s->threads)
		goto fail;
	if (s->n_schedule)
		memcpy(s->schedule_s, cfg->webhooks.retry_schedule_s,
		       s->n_schedule * sizeof(*s->schedule_s));
	s->has_master_key = cfg->secrets.has_master_key;
	if (s->has_master_key)
		memcpy(s->master, cfg->secrets.master_key_raw, sizeof(s->master));
	hw_outbox_set_max_pending(cfg->webhooks.max_pending);
	for (; s->n_threads < workers; s->n_threads++)
		if (pthread_create(&s->threads[s->n_threads], NULL, worker, s) != 0)
			goto fail;
	atomic_store(&current, s);
	hw_outbox_set_notify(notify);
	return s;
fail:
	hw_log(HW_LOG_ERROR, "webhooks: cannot start the sender");
	hw_webhook_sender_stop(s);
	return NULL;
}

void hw_webhook_sender_stop(struct hw_webhook_sender *s)
{
	if (!s)
		return;
	hw_outbox_set_notify(NULL);
	atomic_store(&current, NULL);
	pthread_mutex_lock(&s->mu);
	s->stopping = true;
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mu);
	for (size_t i = 0; i < s->n_threads; i++)
		pthread_join(s->threads[i], NULL);
	pthread_mutex_destroy(&s->mu);
	pthread_cond_destroy(&s->cv);
	OPENSSL_cleanse(s->master, sizeof(s->master));
	free(s->schedule_s);
	free(s->threads);
	free(s);
}
