// SPDX-License-Identifier: Apache-2.0
/* Follows the WHATWG event-stream rules that matter for provider streams: LF, CRLF or CR
 * line ends, `data:` lines joined with LF, one optional space after the colon, comment
 * lines starting with ':' ignored, a blank line dispatching the event. */
#include "upstream/sse.h"

#include <string.h>

static int dispatch(struct hw_sse_parser *p, hw_sse_event_fn fn, void *arg)
{
	int rc = 0;
	if (p->has_data)
		rc = fn(arg, p->event, p->data.data ? p->data.data : "", p->data.len);
	hw_buf_reset(&p->data);
	p->event[0] = '\0';
	p->has_data = false;
	return rc;
}

static int process_line(struct hw_sse_parser *p, const char *line, size_t len, hw_sse_event_fn fn,
			void *arg)
{
	if (len == 0)
		return dispatch(p, fn, arg);
	if (line[0] == ':')
		return 0;
	const char *colon = memchr(line, ':', len);
	size_t nlen = colon ? (size_t)(colon - line) : len;
	const char *v = colon ? colon + 1 : line + len;
	size_t vlen = (size_t)(line + len - v);
	if (vlen > 0 && *v == ' ') {
		v++;
		vlen--;
	}
	if (nlen == 4 && memcmp(line, "data", 4) == 0) {
		if (p->has_data && hw_buf_append(&p->data, "\n", 1) < 0)
			return -1;
		if (hw_buf_append(&p->data, v, vlen) < 0)
			return -1;
		p->has_data = true;
	} else if (nlen == 5 && memcmp(line, "event", 5) == 0) {
		size_t n = vlen < sizeof(p->event) - 1 ? vlen : sizeof(p->event) - 1;
		memcpy(p->event, v, n);
		p->event[n] = '\0';
	}
	return 0;
}

int hw_sse_feed(struct hw_sse_parser *p, const char *buf, size_t len, hw_sse_event_fn fn, void *arg)
{
	size_t i = 0;
	if (len == 0)
		return 0; /* an empty read must not forget a pending CR */
	if (p->skip_lf && buf[0] == '\n')
		i = 1;
	p->skip_lf = false;
	size_t start = i;
	for (; i < len; i++) {
		char ch = buf[i];
		if (ch != '\n' && ch != '\r')
			continue;
		const char *line = buf + start;
		size_t llen = i - start;
		if (p->line.len > 0) {
			if (hw_buf_append(&p->line, buf + start, i - start) < 0)
				return -1;
			line = p->line.data;
			llen = p->line.len;
		}
		int rc = process_line(p, line, llen, fn, arg);
		hw_buf_reset(&p->line);
		if (rc < 0)
			return rc;
		if (ch == '\r') {
			if (i + 1 < len && buf[i + 1] == '\n')
				i++;
			else if (i + 1 == len)
				p->skip_lf = true;
		}
		start = i + 1;
	}
	if (start < len && hw_buf_append(&p->line, buf + start, len - start) < 0)
		return -1;
	return 0;
}

bool hw_sse_pending(const struct hw_sse_parser *p) { return p->line.len > 0 || p->has_data; }

void hw_sse_free(struct hw_sse_parser *p)
{
	hw_buf_free(&p->line);
	hw_buf_free(&p->data);
}

int hw_sse_write(struct hw_buf *out, const char *event, const char *data, size_t len)
{
	if (event && *event && hw_buf_appendf(out, "event: %s\n", event) < 0)
		return -1;
	/* A data payload with newlines becomes several data: lines. */
	size_t start = 0;
	for (size_t i = 0; i <= len; i++) {
		if (i < len && data[i] != '\n')
			continue;
		if (hw_buf_append(out, "data: ", 6) < 0 || hw_buf_append(out, data + start, i - start) < 0 ||
		    hw_buf_append(out, "\n", 1) < 0)
			return -1;
		start = i + 1;
	}
	return hw_buf_append(out, "\n", 1);
}
