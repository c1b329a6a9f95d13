// SPDX-License-Identifier: Apache-2.0
/* Key format (SPEC §4.1): minting, shape checks, display prefix, header extraction; and
 * the crypto helpers behind them. */
#include "auth/keys.h"
#include "common/crypto.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static bool lower_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

static int cmp_str(const void *a, const void *b) { return strcmp((const char *)a, (const char *)b); }

static void test_generate_shape_and_unique(void **state)
{
	enum { N = 1000 };
	char(*keys)[HW_KEY_LIVE_LEN + 1] = calloc(N, sizeof(*keys));
	assert_non_null(keys);
	for (size_t i = 0; i < N; i++) {
		memset(keys[i], 'X', sizeof(keys[i]));
		assert_int_equal(hw_key_generate(keys[i]), 0);
		assert_int_equal(strlen(keys[i]), 40);
		assert_memory_equal(keys[i], "hw_live_", 8);
		assert_true(lower_hex(keys[i] + 8, 32));
		assert_int_equal(hw_key_shape(keys[i]), HW_KEY_SHAPE_LIVE);
	}
	qsort(keys, N, sizeof(*keys), cmp_str);
	for (size_t i = 1; i < N; i++)
		assert_string_not_equal(keys[i - 1], keys[i]);
	free(keys);
}

static void test_admin_token_shape(void **state)
{
	char a[HW_ADMIN_TOKEN_LEN + 1], b[HW_ADMIN_TOKEN_LEN + 1];
	assert_int_equal(hw_admin_token_generate(a), 0);
	assert_int_equal(hw_admin_token_generate(b), 0);
	assert_int_equal(strlen(a), 73);
	assert_memory_equal(a, "hw_admin_", 9);
	assert_true(lower_hex(a + 9, 64));
	assert_string_not_equal(a, b);
	/* An admin token is not an API key shape. */
	assert_int_equal(hw_key_shape(a), HW_KEY_SHAPE_INVALID);
}

static void test_shape_live(void **state)
{
	assert_int_equal(hw_key_shape("hw_live_0123456789abcdef0123456789abcdef"), HW_KEY_SHAPE_LIVE);
	assert_int_equal(hw_key_shape("hw_live_ffffffffffffffffffffffffffffffff"), HW_KEY_SHAPE_LIVE);
	/* 31 and 33 hex characters. */
	assert_int_equal(hw_key_shape("hw_live_0123456789abcdef0123456789abcde"), HW_KEY_SHAPE_INVALID);
	assert_int_equal(hw_key_shape("hw_live_0123456789abcdef0123456789abcdef0"),
			 HW_KEY_SHAPE_INVALID);
	/* Uppercase hex, a non-hex letter, wrong prefixes. */
	assert_int_equal(hw_key_shape("hw_live_0123456789ABCDEF0123456789abcdef"), HW_KEY_SHAPE_INVALID);
	assert_int_equal(hw_key_shape("hw_live_0123456789abcdeg0123456789abcdef"), HW_KEY_SHAPE_INVALID);
	assert_int_equal(hw_key_shape("hw_test_0123456789abcdef0123456789abcdef"), HW_KEY_SHAPE_INVALID);
	assert_int_equal(hw_key_shape("HW_LIVE_0123456789abcdef0123456789abcdef"), HW_KEY_SHAPE_INVALID);
	assert_int_equal(hw_key_shape("sk-live_0123456789abcdef0123456789abcdef"), HW_KEY_SHAPE_INVALID);
	assert_int_equal(hw_key_shape("hw_live_0123456789abcdef0123456789abcde "), HW_KEY_SHAPE_INVALID);
	assert_int_equal(hw_key_shape(""), HW_KEY_SHAPE_INVALID);
	assert_int_equal(hw_key_shape("hw_live_"), HW_KEY_SHAPE_INVALID);
	assert_int_equal(hw_key_shape(NULL), HW_KEY_SHAPE_INVALID);
}

static void test_shape_legacy(void **state)
{
	/* hwy_ + 47 alphanumerics = 51 characters. */
	const char *ok = "hwy_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789abcdefghijk";
	assert_int_equal(strlen(ok), 51);
	assert_int_equal(hw_key_shape(ok), HW_KEY_SHAPE_LEGACY);
	assert_int_equal(hw_key_shape("hwy_00000000000000000000000000000000000000000000000"),
			 HW_KEY_SHAPE_LEGACY);
	/* 46 and 48 characters after the prefix. */
	assert_int_equal(hw_key_shape("hwy_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789abcdefghij"),
			 HW_KEY_SHAPE_INVALID);
	assert_int_equal(hw_key_shape("hwy_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789abcdefghijkl"),
			 HW_KEY_SHAPE_INVALID);
	/* A non-alphanumeric character, a wrong prefix. */
	assert_int_equal(hw_key_shape("hwy_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789abcdefghi-k"),
			 HW_KEY_SHAPE_INVALID);
	assert_int_equal(hw_key_shape("hwy-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789abcdefghijk"),
			 HW_KEY_SHAPE_INVALID);
	assert_int_equal(hw_key_shape("HWY_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789abcdefghijk"),
			 HW_KEY_SHAPE_INVALID);
}

static void test_display_prefix(void **state)
{
	char out[HW_KEY_DISPLAY_PREFIX_LEN + 1];
	hw_key_display_prefix("hw_live_3f2a0123456789abcdef0123456789ab", out);
	assert_string_equal(out, "hw_live_3f2a");
	assert_int_equal(strlen(out), 12);
	hw_key_display_prefix("hwy_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789abcdefghijk", out);
	assert_string_equal(out, "hwy_AbCdEfGh");
	hw_key_display_prefix("short", out);
	assert_string_equal(out, "short");
}

static const char KEY[] = "hw_live_0123456789abcdef0123456789abcdef";
static const char OTHER[] = "hw_live_ffffffffffffffffffffffffffffffff";

static void test_from_headers(void **state)
{
	const char *k;
	k = hw_key_from_headers("Bearer hw_live_0123456789abcdef0123456789abcdef", NULL);
	assert_non_null(k);
	assert_string_equal(k, KEY);
	/* The scheme is case-insensitive. */
	k = hw_key_from_headers("bearer hw_live_0123456789abcdef0123456789abcdef", NULL);
	assert_non_null(k);
	assert_string_equal(k, KEY);
	k = hw_key_from_headers("BEARER hw_live_0123456789abcdef0123456789abcdef", NULL);
	assert_non_null(k);
	assert_string_equal(k, KEY);
	k = hw_key_from_headers("BeArEr hw_live_0123456789abcdef0123456789abcdef", NULL);
	assert_non_null(k);
	assert_string_equal(k, KEY);
	/* Extra spaces around the scheme. */
	k = hw_key_from_headers("Bearer    hw_live_0123456789abcdef0123456789abcdef", NULL);
	assert_non_null(k);
	assert_string_equal(k, KEY);
	k = hw_key_from_headers("  Bearer hw_live_0123456789abcdef0123456789abcdef", NULL);
	assert_non_null(k);
	assert_string_equal(k, KEY);
	k = hw_key_from_headers("Bearer\thw_live_0123456789abcdef0123456789abcdef", NULL);
	assert_non_null(k);
	assert_string_equal(k, KEY);
	/* x-api-key alone. */
	k = hw_key_from_headers(NULL, KEY);
	assert_non_null(k);
	assert_string_equal(k, KEY);
	/* Authorization wins over x-api-key. */
	k = hw_key_from_headers("Bearer hw_live_ffffffffffffffffffffffffffffffff", KEY);
	assert_non_null(k);
	assert_string_equal(k, OTHER);
	/* The result points into the header value. */
	const char *authz = "Bearer hw_live_0123456789abcdef0123456789abcdef";
	assert_ptr_equal(hw_key_from_headers(authz, NULL), authz + 7);
	assert_ptr_equal(hw_key_from_headers(NULL, KEY), KEY);
}

static void test_from_headers_none(void **state)
{
	/* Authorization without the Bearer scheme carries no credential. */
	assert_null(hw_key_from_headers("hw_live_0123456789abcdef0123456789abcdef", NULL));
	assert_null(hw_key_from_headers("Basic dXNlcjpwYXNz", NULL));
	assert_null(hw_key_from_headers("Token hw_live_0123456789abcdef0123456789abcdef", NULL));
	assert_null(hw_key_from_headers("Bearerhw_live_0123456789abcdef0123456789abcdef", NULL));
	/* Bearer with nothing after it. */
	assert_null(hw_key_from_headers("Bearer", NULL));
	assert_null(hw_key_from_headers("Bearer ", NULL));
	assert_null(hw_key_from_headers("Bearer    ", NULL));
	/* Empty or absent. */
	assert_null(hw_key_from_headers("", NULL));
	assert_null(hw_key_from_headers(NULL, ""));
	assert_null(hw_key_from_headers(NULL, NULL));
	/* A present but unusable Authorization still wins: x-api-key is not consulted. */
	assert_null(hw_key_from_headers("Basic dXNlcjpwYXNz", KEY));
}

static void test_sha256_vectors(void **state)
{
	char out[HW_SHA256_HEX_LEN + 1];
	hw_sha256_hex("", 0, out);
	assert_string_equal(out, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	hw_sha256_hex("abc", 3, out);
	assert_string_equal(out, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
	hw_sha256_hex(two, strlen(two), out);
	assert_string_equal(out, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
	/* Only `len` bytes count. */
	hw_sha256_hex("abcdef", 3, out);
	assert_string_equal(out, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

static void test_random_hex(void **state)
{
	char a[65], b[65];
	assert_int_equal(hw_random_hex(a, 32), 0);
	assert_int_equal(hw_random_hex(b, 32), 0);
	assert_int_equal(strlen(a), 64);
	assert_true(lower_hex(a, 64));
	assert_string_not_equal(a, b);
}

static void test_ct_streq(void **state)
{
	assert_true(hw_ct_streq("", ""));
	assert_true(hw_ct_streq("abc", "abc"));
	assert_true(hw_ct_streq(KEY, "hw_live_0123456789abcdef0123456789abcdef"));
	assert_false(hw_ct_streq("abc", "abd"));
	assert_false(hw_ct_streq("abc", "ab"));
	assert_false(hw_ct_streq("ab", "abc"));
	assert_false(hw_ct_streq("", "a"));
	assert_false(hw_ct_streq("abc", "ABC"));
	assert_false(hw_ct_streq(KEY, OTHER));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_generate_shape_and_unique),
		cmocka_unit_test(test_admin_token_shape),
		cmocka_unit_test(test_shape_live),
		cmocka_unit_test(test_shape_legacy),
		cmocka_unit_test(test_display_prefix),
		cmocka_unit_test(test_from_headers),
		cmocka_unit_test(test_from_headers_none),
		cmocka_unit_test(test_sha256_vectors),
		cmocka_unit_test(test_random_hex),
		cmocka_unit_test(test_ct_streq),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
