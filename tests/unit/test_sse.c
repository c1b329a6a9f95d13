// SPDX-License-Identifier: Apache-2.0
/* The incremental SSE parser: chunk boundaries, line endings, field handling, callback
 * errors, and the writer round trip. */
#include "upstream/sse.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define MAX_EVENTS 32

struct event {
	char name[64];
	char *data;
	size_t len;
};

struct sink {
	struct event ev[MAX_EVENTS];
	size_t n;
	int fail_at; /* 1-based event number whose callback fails; 0 = never */
	int fail_rc;
};

static int collect(void *arg, const char *event, const char *data, size_t len)
{
	struct sink *s = arg;
	assert_non_null(event);
	assert_non_null(data);
	assert_true(s->n < MAX_EVENTS);
	struct event *e = &s->ev[s->n++];
	snprintf(e->name, sizeof(e->name), "%s", event);
	e->data = malloc(len + 1);
	assert_non_null(e->data);
	memcpy(e->data, data, len);
	e->data[len] = '\0';
	e->len = len;
	if (s->fail_at && (int)s->n == s->fail_at)
		return s->fail_rc;
	return 0;
}

static void sink_free(struct sink *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->ev[i].data);
	memset(s, 0, sizeof(*s));
}

static void assert_event(const struct sink *s, size_t i, const char *name, const char *data)
{
	assert_true(i < s->n);
	assert_string_equal(s->ev[i].name, name);
	assert_int_equal(s->ev[i].len, strlen(data));
	assert_memory_equal(s->ev[i].data, data, strlen(data) + 1);
}

static void feed_all(const char *wire, size_t len, struct sink *s)
{
	struct hw_sse_parser p;
	memset(&p, 0, sizeof(p));
	assert_int_equal(hw_sse_feed(&p, wire, len, collect, s), 0);
	hw_sse_free(&p);
}

static void feed_str(const char *wire, struct sink *s) { feed_all(wire, strlen(wire), s); }

/* Feeds `wire` cut at the given offsets (ascending, each < len). */
static void feed_split(const char *wire, size_t len, const size_t *cuts, size_t ncuts,
		       struct sink *s)
{
	struct hw_sse_parser p;
	memset(&p, 0, sizeof(p));
	size_t at = 0;
	for (size_t i = 0; i <= ncuts; i++) {
		size_t end = i < ncuts ? cuts[i] : len;
		assert_int_equal(hw_sse_feed(&p, wire + at, end - at, collect, s), 0);
		at = end;
	}
	hw_sse_free(&p);
}

static void assert_same_events(const struct sink *a, const struct sink *b)
{
	assert_int_equal(a->n, b->n);
	for (size_t i = 0; i < a->n; i++) {
		assert_string_equal(a->ev[i].name, b->ev[i].name);
		assert_int_equal(a->ev[i].len, b->ev[i].len);
		assert_memory_equal(a->ev[i].data, b->ev[i].data, a->ev[i].len);
	}
}

static const char sample[] = "data: {\"a\":1}\n\n"
			     "event: message_start\ndata: first\ndata: second\n\n"
			     ": keep-alive comment\n\n"
			     "data:no-space\r\n\r\n"
			     "event: ping\rdata:  two spaces\r\r"
			     "id: 7\nretry: 100\ndata: [DONE]\n\n";

static void check_sample(const struct sink *s)
{
	assert_int_equal(s->n, 5);
	assert_event(s, 0, "", "{\"a\":1}");
	assert_event(s, 1, "message_start", "first\nsecond");
	assert_event(s, 2, "", "no-space");
	/* Only one space after the colon is dropped. */
	assert_event(s, 3, "ping", " two spaces");
	assert_event(s, 4, "", "[DONE]");
}

static void test_whole_buffer(void **state)
{
	struct sink s = {0};
	feed_str(sample, &s);
	check_sample(&s);
	sink_free(&s);
}

static void test_byte_by_byte(void **state)
{
	size_t len = strlen(sample);
	size_t cuts[sizeof(sample)];
	for (size_t i = 1; i < len; i++)
		cuts[i - 1] = i;
	struct sink s = {0};
	feed_split(sample, len, cuts, len - 1, &s);
	check_sample(&s);
	sink_free(&s);
}

static void test_random_splits(void **state)
{
	size_t len = strlen(sample);
	struct sink whole = {0};
	feed_str(sample, &whole);
	srand(12345);
	for (int round = 0; round < 500; round++) {
		size_t cuts[sizeof(sample)], n = 0;
		for (size_t i = 1; i < len; i++)
			if (rand() % 5 == 0)
				cuts[n++] = i;
		struct sink s = {0};
		feed_split(sample, len, cuts, n, &s);
		assert_same_events(&whole, &s);
		sink_free(&s);
	}
	/* Every single two-way split too. */
	for (size_t i = 1; i < len; i++) {
		struct sink s = {0};
		feed_split(sample, len, &i, 1, &s);
		assert_same_events(&whole, &s);
		sink_free(&s);
	}
	sink_free(&whole);
}

static void test_line_endings(void **state)
{
	static const char *const wires[] = {
		"event: e\ndata: a\ndata: b\n\n",
		"event: e\r\ndata: a\r\ndata: b\r\n\r\n",
		"event: e\rdata: a\rdata: b\r\r",
		"event: e\r\ndata: a\rdata: b\n\r\n",
	};
	for (size_t i = 0; i < sizeof(wires) / sizeof(wires[0]); i++) {
		struct sink s = {0};
		feed_str(wires[i], &s);
		assert_int_equal(s.n, 1);
		assert_event(&s, 0, "e", "a\nb");
		sink_free(&s);
	}
}

/* A CRLF split between two chunks is one line end, not a line end plus a blank line. */
static void test_crlf_across_chunks(void **state)
{
	struct hw_sse_parser p;
	memset(&p, 0, sizeof(p));
	struct sink s = {0};
	assert_int_equal(hw_sse_feed(&p, "data: a\r", 8, collect, &s), 0);
	assert_int_equal(hw_sse_feed(&p, "\ndata: b\r", 9, collect, &s), 0);
	assert_int_equal(s.n, 0);
	assert_int_equal(hw_sse_feed(&p, "\n\r", 2, collect, &s), 0);
	assert_int_equal(s.n, 1);
	assert_event(&s, 0, "", "a\nb");
	/* The LF after that last CR belongs to it: no second dispatch, nothing pending. */
	assert_int_equal(hw_sse_feed(&p, "\n", 1, collect, &s), 0);
	assert_int_equal(s.n, 1);
	assert_false(hw_sse_pending(&p));
	hw_sse_free(&p);
	sink_free(&s);
}

/* A CR at the end of a chunk followed by a chunk that does not start with LF: the CR was a
 * line end of its own. */
static void test_cr_then_other_chunk(void **state)
{
	struct hw_sse_parser p;
	memset(&p, 0, sizeof(p));
	struct sink s = {0};
	assert_int_equal(hw_sse_feed(&p, "data: x\r", 8, collect, &s), 0);
	assert_int_equal(hw_sse_feed(&p, "\r", 1, collect, &s), 0);
	assert_int_equal(s.n, 1);
	assert_event(&s, 0, "", "x");
	assert_int_equal(hw_sse_feed(&p, "data: y\r", 8, collect, &s), 0);
	assert_int_equal(hw_sse_feed(&p, "data: z\n\n", 9, collect, &s), 0);
	assert_int_equal(s.n, 2);
	assert_event(&s, 1, "", "y\nz");
	hw_sse_free(&p);
	sink_free(&s);
}

/* An empty chunk between the CR and the LF of one CRLF changes nothing. */
static void test_crlf_with_empty_chunk_between(void **state)
{
	struct hw_sse_parser p;
	memset(&p, 0, sizeof(p));
	struct sink s = {0};
	assert_int_equal(hw_sse_feed(&p, "data: a\r", 8, collect, &s), 0);
	assert_int_equal(hw_sse_feed(&p, "", 0, collect, &s), 0);
	assert_int_equal(hw_sse_feed(&p, "\ndata: b\n\n", 10, collect, &s), 0);
	assert_int_equal(s.n, 1);
	assert_event(&s, 0, "", "a\nb");
	hw_sse_free(&p);
	sink_free(&s);
}

static void test_fields(void **state)
{
	struct sink s = {0};
	feed_str(": comment only\n"
		 ":\n"
		 "data\n"
		 "\n"
		 "event: named\n"
		 "data: x\n"
		 ": a comment inside an event\n"
		 "unknown: field\n"
		 "data: y\n"
		 "\n"
		 "data:\n"
		 "data:\n"
		 "\n",
		 &s);
	assert_int_equal(s.n, 3);
	/* "data" without a colon is a data field with an empty value. */
	assert_event(&s, 0, "", "");
	assert_event(&s, 1, "named", "x\ny");
	assert_event(&s, 2, "", "\n");
	sink_free(&s);
}

static void test_event_name_reset_between_events(void **state)
{
	struct sink s = {0};
	feed_str("event: one\ndata: 1\n\ndata: 2\n\n", &s);
	assert_int_equal(s.n, 2);
	assert_event(&s, 0, "one", "1");
	assert_event(&s, 1, "", "2");
	sink_free(&s);
}

static void test_blank_without_data(void **state)
{
	struct sink s = {0};
	/* Blank lines alone, and an event name with no data, dispatch nothing; the name does
	 * not leak into the next event. */
	feed_str("\n\n\r\n\revent: lonely\n\ndata: later\n\n", &s);
	assert_int_equal(s.n, 1);
	assert_event(&s, 0, "", "later");
	sink_free(&s);
}

static void test_callback_error_stops(void **state)
{
	struct hw_sse_parser p;
	memset(&p, 0, sizeof(p));
	struct sink s = {0};
	s.fail_at = 2;
	s.fail_rc = -42;
	const char *wire = "data: 1\n\ndata: 2\n\ndata: 3\n\n";
	assert_int_equal(hw_sse_feed(&p, wire, strlen(wire), collect, &s), -42);
	assert_int_equal(s.n, 2);
	assert_event(&s, 0, "", "1");
	assert_event(&s, 1, "", "2");
	hw_sse_free(&p);
	sink_free(&s);
}

static void test_pending(void **state)
{
	struct hw_sse_parser p;
	memset(&p, 0, sizeof(p));
	struct sink s = {0};
	assert_false(hw_sse_pending(&p));
	assert_int_equal(hw_sse_feed(&p, "da", 2, collect, &s), 0);
	assert_true(hw_sse_pending(&p));
	assert_int_equal(hw_sse_feed(&p, "ta: x\n", 6, collect, &s), 0);
	/* A complete data line without its blank line is still an unfinished event. */
	assert_true(hw_sse_pending(&p));
	assert_int_equal(hw_sse_feed(&p, "\n", 1, collect, &s), 0);
	assert_false(hw_sse_pending(&p));
	assert_int_equal(s.n, 1);
	assert_event(&s, 0, "", "x");
	/* A lone comment line leaves nothing pending. */
	assert_int_equal(hw_sse_feed(&p, ": ping\n", 7, collect, &s), 0);
	assert_false(hw_sse_pending(&p));
	hw_sse_free(&p);
	sink_free(&s);
}

static void test_long_line_across_chunks(void **state)
{
	char big[5000 + 16];
	memcpy(big, "data: ", 6);
	for (size_t i = 0; i < 5000; i++)
		big[6 + i] = (char)('a' + i % 26);
	memcpy(big + 5006, "\n\n", 3);
	size_t len = strlen(big);
	size_t cuts[] = {3, 7, 1000, 4096, 5005, 5006, 5007};
	struct sink s = {0};
	feed_split(big, len, cuts, sizeof(cuts) / sizeof(cuts[0]), &s);
	assert_int_equal(s.n, 1);
	assert_int_equal(s.ev[0].len, 5000);
	assert_memory_equal(s.ev[0].data, big + 6, 5000);
	sink_free(&s);
}

static void test_write_plain(void **state)
{
	struct hw_buf out = {0};
	assert_int_equal(hw_sse_write(&out, NULL, "[DONE]", 6), 0);
	assert_string_equal(out.data, "data: [DONE]\n\n");
	hw_buf_reset(&out);
	assert_int_equal(hw_sse_write(&out, "", "x", 1), 0);
	assert_string_equal(out.data, "data: x\n\n");
	hw_buf_reset(&out);
	assert_int_equal(hw_sse_write(&out, "message_stop", "{\"type\":\"message_stop\"}", 23), 0);
	assert_string_equal(out.data, "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n");
	hw_buf_reset(&out);
	assert_int_equal(hw_sse_write(&out, NULL, "a\nb\n", 4), 0);
	assert_string_equal(out.data, "data: a\ndata: b\ndata: \n\n");
	hw_buf_free(&out);
}

static void test_write_round_trip(void **state)
{
	static const char *const payloads[] = {
		"{\"choices\":[]}", "line1\nline2", "\nleading", "trailing\n", "", " spaced ", "a\n\nb",
	};
	static const char *const names[] = {NULL, "content_block_delta", NULL, "e", NULL, NULL, "x"};
	size_t n = sizeof(payloads) / sizeof(payloads[0]);
	struct hw_buf out = {0};
	for (size_t i = 0; i < n; i++)
		assert_int_equal(hw_sse_write(&out, names[i], payloads[i], strlen(payloads[i])), 0);
	struct sink s = {0};
	feed_all(out.data, out.len, &s);
	assert_int_equal(s.n, n);
	for (size_t i = 0; i < n; i++)
		assert_event(&s, i, names[i] ? names[i] : "", payloads[i]);
	/* And the same wire fed byte by byte. */
	struct sink b = {0};
	struct hw_sse_parser p;
	memset(&p, 0, sizeof(p));
	for (size_t i = 0; i < out.len; i++)
		assert_int_equal(hw_sse_feed(&p, out.data + i, 1, collect, &b), 0);
	assert_false(hw_sse_pending(&p));
	assert_same_events(&s, &b);
	hw_sse_free(&p);
	sink_free(&s);
	sink_free(&b);
	hw_buf_free(&out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_whole_buffer),
		cmocka_unit_test(test_byte_by_byte),
		cmocka_unit_test(test_random_splits),
		cmocka_unit_test(test_line_endings),
		cmocka_unit_test(test_crlf_across_chunks),
		cmocka_unit_test(test_cr_then_other_chunk),
		cmocka_unit_test(test_crlf_with_empty_chunk_between),
		cmocka_unit_test(test_fields),
		cmocka_unit_test(test_event_name_reset_between_events),
		cmocka_unit_test(test_blank_without_data),
		cmocka_unit_test(test_callback_error_stops),
		cmocka_unit_test(test_pending),
		cmocka_unit_test(test_long_line_across_chunks),
		cmocka_unit_test(test_write_plain),
		cmocka_unit_test(test_write_round_trip),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
