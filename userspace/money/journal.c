// SPDX-License-Identifier: Apache-2.0
#include "money/journal.h"

#include "common/log.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The file is emptied only past this size: truncating is a metadata write that would hold
 * appenders up if it followed every batch. */
#define TRIM_BYTES (4 << 20)

struct hw_journal {
	int fd;
	bool sync_each;
	pthread_mutex_t mu;
	int64_t next_seq;
	int64_t bytes; /* appended since the file was last emptied */
};

int hw_journal_open(const char *path, bool sync_each, int64_t next_seq, struct hw_journal **out)
{
	struct hw_journal *j = calloc(1, sizeof(*j));
	if (!j)
		return -ENOMEM;
	j->fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if (j->fd < 0) {
		int err = -errno;
		hw_log(HW_LOG_ERROR, "money: cannot open the ledger journal %s: %s", path, strerror(-err));
		free(j);
		return err;
	}
	j->sync_each = sync_each;
	j->next_seq = next_seq;
	pthread_mutex_init(&j->mu, NULL);
	*out = j;
	return 0;
}

void hw_journal_close(struct hw_journal *j)
{
	if (!j)
		return;
	close(j->fd);
	pthread_mutex_destroy(&j->mu);
	free(j);
}

/* Whether `s` can go between JSON quotes as it is (ids, months and codes always can). */
static bool plain(const char *s)
{
	for (; *s; s++)
		if (*s == '"' || *s == '\\' || (unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f)
			return false;
	return true;
}

/* A settlement without events, written directly: the same JSON as below at a fifth of
 * jansson's cost, since it runs on every answer. NULL when a field needs escaping. */
static char *encode_plain(const struct hw_money_commit *c)
{
	if (!plain(c->workspace_id) || !plain(c->month) || !plain(c->request_id) || !plain(c->pt_cut))
		return NULL;
	char *line = NULL;
	int n = asprintf(&line,
			 "{\"seq\":%lld,\"ws\":\"%s\",\"month\":\"%s\",\"req\":\"%s\",\"at\":%lld,"
			 "\"markup\":%lld,\"up\":%lld,\"used\":%lld,\"over\":%lld,\"mf\":%s,\"ba\":%lld,"
			 "\"wf\":%s,\"la\":%lld,\"pts\":%lld,\"ptt\":%lld,\"ptw\":%s,\"ptr\":%s,"
			 "\"ptc\":\"%s\",\"ev\":[]}\n",
			 (long long)c->seq, c->workspace_id, c->month, c->request_id, (long long)c->at_ms,
			 (long long)c->markup, (long long)c->upstream, (long long)c->used_delta,
			 (long long)c->overage_delta, c->month_flags ? "true" : "false",
			 (long long)c->budget_alerts, c->wallet_flags ? "true" : "false",
			 (long long)c->low_alerts, (long long)c->pt_since_s, (long long)c->pt_tokens,
			 c->pt_warned ? "true" : "false", c->pt_rejected ? "true" : "false", c->pt_cut);
	return n < 0 ? NULL : line;
}

char *hw_journal_encode(const struct hw_money_job *job)
{
	if (job->n_events == 0) {
		char *line = encode_plain(&job->c);
		if (line)
			return line;
	}
	const struct hw_money_commit *c = &job->c;
	json_t *ev = json_array();
	for (size_t i = 0; i < job->n_events; i++)
		json_array_append_new(ev, json_pack("{s:s,s:O}", "e", job->event[i], "d", job->data[i]));
	json_t *o = json_pack("{s:I,s:s,s:s,s:s,s:I,s:I,s:I,s:I,s:I,s:b,s:I,s:b,s:I,s:I,s:I,s:b,s:b,s:s,s:o}",
			      "seq", (json_int_t)c->seq, "ws", c->workspace_id, "month", c->month, "req",
			      c->request_id, "at", (json_int_t)c->at_ms, "markup", (json_int_t)c->markup, "up",
			      (json_int_t)c->upstream, "used", (json_int_t)c->used_delta, "over",
			      (json_int_t)c->overage_delta, "mf", c->month_flags, "ba",
			      (json_int_t)c->budget_alerts, "wf", c->wallet_flags, "la", (json_int_t)c->low_alerts,
			      "pts", (json_int_t)c->pt_since_s, "ptt", (json_int_t)c->pt_tokens, "ptw",
			      c->pt_warned, "ptr", c->pt_rejected, "ptc", c->pt_cut, "ev", ev);
	char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	if (!text)
		return NULL;
	size_t n = strlen(text);
	char *line = realloc(text, n + 2);
	if (!line) {
		free(text);
		return NULL;
	}
	line[n] = '\n';
	line[n + 1] = '\0';
	return line;
}

static void copy_str(json_t *o, const char *k, char *out, size_t cap)
{
	snprintf(out, cap, "%s", json_string_value(json_object_get(o, k)) ?: "");
}

static int64_t num(json_t *o, const char *k) { return json_integer_value(json_object_get(o, k)); }

struct hw_money_job *hw_journal_decode(const char *line, size_t len)
{
	json_t *o = json_loadb(line, len, 0, NULL);
	if (!json_is_object(o) || !json_is_integer(json_object_get(o, "seq"))) {
		json_decref(o);
		return NULL;
	}
	struct hw_money_job *job = calloc(1, sizeof(*job));
	if (!job) {
		json_decref(o);
		return NULL;
	}
	struct hw_money_commit *c = &job->c;
	c->seq = num(o, "seq");
	copy_str(o, "ws", c->workspace_id, sizeof(c->workspace_id));
	copy_str(o, "month", c->month, sizeof(c->month));
	copy_str(o, "req", c->request_id, sizeof(c->request_id));
	c->at_ms = num(o, "at");
	c->markup = num(o, "markup");
	c->upstream = num(o, "up");
	c->used_delta = num(o, "used");
	c->overage_delta = num(o, "over");
	c->month_flags = json_is_true(json_object_get(o, "mf"));
	c->budget_alerts = (uint32_t)num(o, "ba");
	c->wallet_flags = json_is_true(json_object_get(o, "wf"));
	c->low_alerts = (uint32_t)num(o, "la");
	c->pt_since_s = num(o, "pts");
	c->pt_tokens = num(o, "ptt");
	c->pt_warned = json_is_true(json_object_get(o, "ptw"));
	c->pt_rejected = json_is_true(json_object_get(o, "ptr"));
	copy_str(o, "ptc", c->pt_cut, sizeof(c->pt_cut));
	size_t i;
	json_t *e;
	json_array_foreach(json_object_get(o, "ev"), i, e)
	{
		if (job->n_events == HW_MONEY_JOB_EVENTS)
			break;
		copy_str(e, "e", job->event[job->n_events], sizeof(job->event[0]));
		job->data[job->n_events++] = json_incref(json_object_get(e, "d"));
	}
	json_decref(o);
	return job;
}

int hw_journal_append(struct hw_journal *j, struct hw_money_job *job)
{
	pthread_mutex_lock(&j->mu);
	job->c.seq = j->next_seq;
	char *line = hw_journal_encode(job);
	int rc = line ? 0 : -ENOMEM;
	size_t len = line ? strlen(line) : 0, off = 0;
	while (rc == 0 && off < len) {
		ssize_t w = write(j->fd, line + off, len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			rc = -errno ?: -EIO;
		else
			off += (size_t)w;
	}
	if (rc == 0 && j->sync_each && fdatasync(j->fd) < 0)
		rc = -errno;
	if (rc == 0) {
		j->next_seq++;
		j->bytes += (int64_t)len;
	}
	pthread_mutex_unlock(&j->mu);
	free(line);
	return rc;
}

void hw_journal_trim(struct hw_journal *j, int64_t applied)
{
	pthread_mutex_lock(&j->mu);
	/* Every numbered record is in SQLite: nothing in the file is needed any more. */
	if (applied < 0 || (applied >= j->next_seq - 1 && j->bytes >= TRIM_BYTES)) {
		if (ftruncate(j->fd, 0) < 0)
			hw_log(HW_LOG_WARN, "money: cannot trim the ledger journal: %s", strerror(errno));
		else
			j->bytes = 0;
	}
	pthread_mutex_unlock(&j->mu);
}

int hw_journal_replay(const char *path, int64_t after,
		      int (*apply)(void *arg, struct hw_money_job *job), void *arg, int64_t *last)
{
	*last = after;
	FILE *f = fopen(path, "re");
	if (!f)
		return errno == ENOENT ? 0 : -errno;
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	int rc = 0;
	while (rc == 0 && (n = getline(&line, &cap, f)) > 0) {
		struct hw_money_job *job = line[n - 1] == '\n' ? hw_journal_decode(line, (size_t)n - 1) : NULL;
		if (!job) {
			hw_log(HW_LOG_WARN, "money: the ledger journal ends with a damaged record; ignored");
			break;
		}
		if (job->c.seq > *last)
			*last = job->c.seq;
		if (job->c.seq <= after) {
			for (size_t i = 0; i < job->n_events; i++)
				json_decref(job->data[i]);
			free(job);
			continue;
		}
		rc = apply(arg, job);
	}
	free(line);
	fclose(f);
	return rc;
}
