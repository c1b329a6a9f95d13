// SPDX-License-Identifier: Apache-2.0
/* JSON-lines logger. A line is formatted in full, then written with one write(2) so lines
 * from concurrent threads never interleave. */
#include "common/log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static atomic_int g_level = HW_LOG_INFO;
static const char *const level_names[] = {"debug", "info", "warn", "error"};

void hw_log_set_level(enum hw_log_level level) { atomic_store(&g_level, (int)level); }

int hw_log_enabled(enum hw_log_level level) { return (int)level >= atomic_load(&g_level); }

int hw_log_level_parse(const char *name, enum hw_log_level *out)
{
	for (int i = 0; i < 4; i++) {
		if (strcmp(name, level_names[i]) == 0) {
			*out = (enum hw_log_level)i;
			return 0;
		}
	}
	return -1;
}

static void format_ts(char *buf, size_t len)
{
	struct timespec ts;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	size_t n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + n, len - n, ".%03ldZ", ts.tv_nsec / 1000000);
}

void hw_log_json(enum hw_log_level level, const char *request_id, const char *msg, json_t *fields)
{
	if (!hw_log_enabled(level)) {
		json_decref(fields);
		return;
	}
	char ts[40];
	format_ts(ts, sizeof(ts));
	json_t *line = json_object();
	json_object_set_new(line, "ts", json_string(ts));
	json_object_set_new(line, "level", json_string(level_names[level]));
	json_object_set_new(line, "msg", json_string(msg ? msg : ""));
	if (request_id)
		json_object_set_new(line, "request_id", json_string(request_id));
	if (fields) {
		json_object_update(line, fields);
		json_decref(fields);
	}
	char *text = json_dumps(line, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(6));
	json_decref(line);
	if (!text)
		return;
	size_t n = strlen(text);
	text[n] = '\n';
	/* json_dumps' buffer has room for the NUL we overwrite; write the newline with it. */
	ssize_t w = write(STDERR_FILENO, text, n + 1);
	(void)w;
	free(text);
}

void hw_log(enum hw_log_level level, const char *fmt, ...)
{
	if (!hw_log_enabled(level))
		return;
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	/* va_start is right above; clang-analyzer misreads it. */
	// NOLINTNEXTLINE(clang-analyzer-valist.Uninitialized)
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	hw_log_json(level, NULL, msg, NULL);
}
