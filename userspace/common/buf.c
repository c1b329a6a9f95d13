// SPDX-License-Identifier: Apache-2.0
#include "common/buf.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int reserve(struct hw_buf *b, size_t extra)
{
	if (b->len + extra + 1 <= b->cap)
		return 0;
	size_t cap = b->cap ? b->cap : 256;
	while (cap < b->len + extra + 1)
		cap *= 2;
	char *p = realloc(b->data, cap);
	if (!p)
		return -ENOMEM;
	b->data = p;
	b->cap = cap;
	return 0;
}

int hw_buf_append(struct hw_buf *b, const void *data, size_t len)
{
	if (reserve(b, len) < 0)
		return -ENOMEM;
	memcpy(b->data + b->len, data, len);
	b->len += len;
	b->data[b->len] = '\0';
	return 0;
}

int hw_buf_appendf(struct hw_buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	/* va_start is right above; clang-analyzer misreads it. */
	// NOLINTNEXTLINE(clang-analyzer-valist.Uninitialized)
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || reserve(b, (size_t)n) < 0)
		return -ENOMEM;
	va_start(ap, fmt);
	/* va_start is right above; clang-analyzer misreads it. */
	// NOLINTNEXTLINE(clang-analyzer-valist.Uninitialized)
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return 0;
}

void hw_buf_compact(struct hw_buf *b)
{
	if (b->off == 0 || b->off < b->len / 2)
		return;
	memmove(b->data, b->data + b->off, b->len - b->off);
	b->len -= b->off;
	b->off = 0;
	b->data[b->len] = '\0';
}

void hw_buf_reset(struct hw_buf *b)
{
	b->len = 0;
	b->off = 0;
	if (b->data)
		b->data[0] = '\0';
}

void hw_buf_free(struct hw_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->off = b->cap = 0;
}
