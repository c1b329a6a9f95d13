// SPDX-License-Identifier: Apache-2.0
/* Identifiers (SPEC §1.3, §5.1): ULIDs, prefixed ids, client request ids. */
#include "common/ids.h"

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static const char crockford[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

static void assert_ulid(const char *u)
{
	assert_int_equal(strlen(u), 26);
	for (size_t i = 0; i < 26; i++)
		assert_non_null(memchr(crockford, u[i], 32));
	/* 48-bit time: the first character is at most '7'. */
	assert_true(u[0] >= '0' && u[0] <= '7');
}

static void test_ulid_shape(void **state)
{
	for (int i = 0; i < 200; i++) {
		char u[HW_ULID_LEN + 1];
		memset(u, '!', sizeof(u));
		hw_ulid(u);
		assert_ulid(u);
	}
}

static void test_ulid_time_part(void **state)
{
	char u[HW_ULID_LEN + 1];
	hw_ulid_at(u, 0);
	assert_ulid(u);
	assert_memory_equal(u, "0000000000", 10);
	hw_ulid_at(u, 1);
	assert_memory_equal(u, "0000000001", 10);
	hw_ulid_at(u, 32);
	assert_memory_equal(u, "0000000010", 10);
	/* 2^48 - 1, the largest ULID time. */
	hw_ulid_at(u, 281474976710655ULL);
	assert_memory_equal(u, "7ZZZZZZZZZ", 10);
	/* 1469918176385 ms, the timestamp of the ULID spec's example "01ARYZ6S41...". */
	hw_ulid_at(u, 1469918176385ULL);
	assert_memory_equal(u, "01ARYZ6S41", 10);
}

static void test_ulid_time_ordered(void **state)
{
	char prev[HW_ULID_LEN + 1], cur[HW_ULID_LEN + 1];
	uint64_t ms = 1767225600000ULL; /* 2026-01-01T00:00:00Z */
	hw_ulid_at(prev, ms);
	for (int i = 1; i < 2000; i++) {
		ms += (uint64_t)(i % 7 == 0 ? 1 : i); /* steps of 1 ms and larger */
		hw_ulid_at(cur, ms);
		assert_true(strcmp(prev, cur) < 0);
		memcpy(prev, cur, sizeof(cur));
	}
}

static void test_ulid_random_part(void **state)
{
	char a[HW_ULID_LEN + 1], b[HW_ULID_LEN + 1];
	hw_ulid_at(a, 1767225600000ULL);
	hw_ulid_at(b, 1767225600000ULL);
	/* Same millisecond, different randomness. */
	assert_memory_equal(a, b, 10);
	assert_memory_not_equal(a + 10, b + 10, 16);
}

static void test_id_make(void **state)
{
	char out[64];
	static const char *const prefixes[] = {"kid_", "req_", "ipr_", "ban_", "wh_", "evt_",
					       "dlv_", "led_"};
	for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
		size_t pl = strlen(prefixes[i]);
		assert_int_equal(hw_id_make(out, sizeof(out), prefixes[i]), 0);
		assert_int_equal(strlen(out), pl + 26);
		assert_memory_equal(out, prefixes[i], pl);
		assert_ulid(out + pl);
	}
	/* Exactly enough room: 4 + 26 + NUL. */
	char exact[31];
	assert_int_equal(hw_id_make(exact, sizeof(exact), "req_"), 0);
	assert_int_equal(strlen(exact), 30);
	/* One byte short. */
	char small[30];
	assert_int_equal(hw_id_make(small, sizeof(small), "req_"), -ENOSPC);
	/* Empty prefix: a bare ULID. */
	assert_int_equal(hw_id_make(out, sizeof(out), ""), 0);
	assert_ulid(out);
}

static void test_request_id_valid(void **state)
{
	assert_true(hw_request_id_valid("a"));
	assert_true(hw_request_id_valid("req_01JAX3Q5ZP7K8M9N0R1S2T3V4W"));
	assert_true(hw_request_id_valid("ABC-xyz.09_:-"));
	assert_true(hw_request_id_valid("550e8400-e29b-41d4-a716-446655440000"));

	char s[200];
	memset(s, 'x', sizeof(s));
	s[128] = '\0';
	assert_true(hw_request_id_valid(s)); /* 128 characters */
	s[128] = 'x';
	s[129] = '\0';
	assert_false(hw_request_id_valid(s)); /* 129 characters */
	s[127] = '\0';
	assert_true(hw_request_id_valid(s));

	assert_false(hw_request_id_valid(""));
	assert_false(hw_request_id_valid("has space"));
	assert_false(hw_request_id_valid(" "));
	assert_false(hw_request_id_valid("tab\t"));
	assert_false(hw_request_id_valid("slash/"));
	assert_false(hw_request_id_valid("plus+"));
	assert_false(hw_request_id_valid("semi;colon"));
	assert_false(hw_request_id_valid("quote\""));
	assert_false(hw_request_id_valid("new\nline"));
	assert_false(hw_request_id_valid("caf\xc3\xa9"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ulid_shape),
		cmocka_unit_test(test_ulid_time_part),
		cmocka_unit_test(test_ulid_time_ordered),
		cmocka_unit_test(test_ulid_random_part),
		cmocka_unit_test(test_id_make),
		cmocka_unit_test(test_request_id_valid),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
