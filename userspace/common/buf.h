/* SPDX-License-Identifier: Apache-2.0 */
/* A growable byte buffer with a read offset, for request bodies and stream output. */
#ifndef HW_COMMON_BUF_H
#define HW_COMMON_BUF_H

#include <stddef.h>

struct hw_buf {
	char *data;
	size_t len; /* bytes written */
	size_t off; /* bytes consumed */
	size_t cap;
};

/* Appends; returns 0 or -ENOMEM. Keeps a NUL after the data for string use. */
int hw_buf_append(struct hw_buf *b, const void *data, size_t len);
int hw_buf_appendf(struct hw_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Drops consumed bytes when that frees at least half the buffer. */
void hw_buf_compact(struct hw_buf *b);
static inline size_t hw_buf_pending(const struct hw_buf *b) { return b->len - b->off; }
void hw_buf_reset(struct hw_buf *b);
void hw_buf_free(struct hw_buf *b);

#endif
