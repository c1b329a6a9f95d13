/* SPDX-License-Identifier: Apache-2.0 */
/* Structured logging: one JSON object per line on stderr (SPEC §20.2). */
#ifndef HW_COMMON_LOG_H
#define HW_COMMON_LOG_H

#include <jansson.h>

enum hw_log_level { HW_LOG_DEBUG, HW_LOG_INFO, HW_LOG_WARN, HW_LOG_ERROR };

void hw_log_set_level(enum hw_log_level level);
int hw_log_level_parse(const char *name, enum hw_log_level *out);
int hw_log_enabled(enum hw_log_level level);

/* Writes {"ts","level","msg","request_id"?, ...fields}. `fields` is stolen (may be NULL). */
void hw_log_json(enum hw_log_level level, const char *request_id, const char *msg, json_t *fields);

/* printf-style message without extra fields. */
void hw_log(enum hw_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
