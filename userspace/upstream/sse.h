/* SPDX-License-Identifier: Apache-2.0 */
/* Incremental Server-Sent Events parser: bytes in as they arrive, whole events out. */
#ifndef HW_UPSTREAM_SSE_H
#define HW_UPSTREAM_SSE_H

#include "common/buf.h"

#include <stdbool.h>
#include <stddef.h>

struct hw_sse_parser {
	struct hw_buf line;
	struct hw_buf data;
	char event[64];
	bool has_data;
	bool skip_lf; /* the previous chunk ended with CR: a leading LF belongs to it */
};

/* Called once per event with its `event:` name ("" when absent) and joined `data:` lines.
 * A negative return stops parsing and is returned by hw_sse_feed. */
typedef int (*hw_sse_event_fn)(void *arg, const char *event, const char *data, size_t len);

int hw_sse_feed(struct hw_sse_parser *p, const char *buf, size_t len, hw_sse_event_fn fn, void *arg);
/* True when bytes of an unfinished event are buffered. */
bool hw_sse_pending(const struct hw_sse_parser *p);
void hw_sse_free(struct hw_sse_parser *p);

/* Appends one event in wire form: optional "event: NAME\n", "data: ...\n", blank line. */
int hw_sse_write(struct hw_buf *out, const char *event, const char *data, size_t len);

#endif
