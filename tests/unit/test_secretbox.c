// SPDX-License-Identifier: Apache-2.0
/* HKDF-SHA256 against RFC 5869 and AES-256-GCM boxes: round trips and tamper detection. */
#include "common/secretbox.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

static const uint8_t master[32] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
				   17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32};
#define WS "01JAX3Q5ZP7K8M9N0R1S2T3V4W"
#define SECRET "sk-proj-abcdefghijklmnopqrstuvwxyz0123456789"

/* RFC 5869 appendix A.1 (test case 1). */
static void test_hkdf_rfc5869_case1(void **state)
{
	static const uint8_t okm[42] = {
		0x3c, 0xb2, 0x5f, 0x25, 0xfa, 0xac, 0xd5, 0x7a, 0x90, 0x43, 0x4f, 0x64, 0xd0, 0x36,
		0x2f, 0x2a, 0x2d, 0x2d, 0x0a, 0x90, 0xcf, 0x1a, 0x5a, 0x4c, 0x5d, 0xb0, 0x2d, 0x56,
		0xec, 0xc4, 0xc5, 0xbf, 0x34, 0x00, 0x72, 0x08, 0xd5, 0xb8, 0x87, 0x18, 0x58, 0x65};
	uint8_t ikm[22], salt[13], info[10], out[42];

	(void)state;
	memset(ikm, 0x0b, sizeof(ikm));
	for (size_t i = 0; i < sizeof(salt); i++)
		salt[i] = (uint8_t)i;
	for (size_t i = 0; i < sizeof(info); i++)
		info[i] = (uint8_t)(0xf0 + i);
	assert_int_equal(hw_hkdf_sha256(ikm, sizeof(ikm), salt, sizeof(salt), info, sizeof(info),
					out, sizeof(out)),
			 0);
	assert_memory_equal(out, okm, sizeof(okm));
	assert_int_equal(hw_hkdf_sha256(ikm, sizeof(ikm), salt, sizeof(salt), info, sizeof(info),
					out, 0),
			 -EINVAL);
}

static void seal(uint8_t *box, size_t *len)
{
	assert_int_equal(hw_byok_seal(master, WS, "openai", SECRET, strlen(SECRET), box, 256, len),
			 0);
	assert_int_equal(*len, strlen(SECRET) + HW_SECRETBOX_OVERHEAD);
}

static void test_round_trip_and_layout(void **state)
{
	uint8_t box[256], box2[256];
	size_t len = 0, len2 = 0;
	char out[128];

	(void)state;
	seal(box, &len);
	assert_int_equal(box[0], HW_SECRETBOX_VERSION);
	assert_null(memmem(box, len, SECRET, strlen(SECRET)));
	assert_int_equal(hw_byok_open(master, WS, "openai", box, len, out, sizeof(out)), 0);
	assert_string_equal(out, SECRET);
	/* A fresh nonce per seal: the same secret never gives the same box. */
	seal(box2, &len2);
	assert_memory_not_equal(box + 1, box2 + 1, HW_SECRETBOX_NONCE_LEN);
}

static void test_any_flipped_byte_fails(void **state)
{
	uint8_t box[256];
	size_t len = 0;
	char out[128];

	(void)state;
	seal(box, &len);
	for (size_t i = 0; i < len; i++) {
		for (int bit = 0; bit < 8; bit++) {
			box[i] ^= (uint8_t)(1u << bit);
			memset(out, 'x', sizeof(out));
			assert_int_equal(hw_byok_open(master, WS, "openai", box, len, out, sizeof(out)),
					 -EBADMSG);
			/* Nothing unverified is left behind. */
			assert_null(memchr(out, 's', sizeof(out)));
			box[i] ^= (uint8_t)(1u << bit);
		}
	}
	assert_int_equal(hw_byok_open(master, WS, "openai", box, len, out, sizeof(out)), 0);
	/* Truncated boxes fail too. */
	for (size_t cut = 0; cut < len; cut++)
		assert_int_equal(hw_byok_open(master, WS, "openai", box, cut, out, sizeof(out)),
				 -EBADMSG);
}

static void test_wrong_context_fails(void **state)
{
	uint8_t box[256], other[32];
	size_t len = 0;
	char out[128];

	(void)state;
	seal(box, &len);
	/* Another provider (AAD), another workspace (key and AAD), another master key. */
	assert_int_equal(hw_byok_open(master, WS, "mistral", box, len, out, sizeof(out)), -EBADMSG);
	assert_int_equal(hw_byok_open(master, "01JAX3Q5ZP7K8M9N0R1S2T3V4X", "openai", box, len,
				      out, sizeof(out)),
			 -EBADMSG);
	memcpy(other, master, sizeof(other));
	other[31] ^= 1;
	assert_int_equal(hw_byok_open(other, WS, "openai", box, len, out, sizeof(out)), -EBADMSG);
	/* The separator keeps "ab"/"c" and "a"/"bc" apart. */
	assert_int_equal(hw_byok_seal(master, "ab", "c", SECRET, strlen(SECRET), box, sizeof(box),
				      &len),
			 0);
	assert_int_equal(hw_byok_open(master, "ab", "c", box, len, out, sizeof(out)), 0);
	assert_int_equal(hw_byok_open(master, "a", "bc", box, len, out, sizeof(out)), -EBADMSG);
}

static void test_generic_box_aad(void **state)
{
	uint8_t key[32] = {0}, box[64], out[32];
	size_t len = 0, n = 0;

	(void)state;
	assert_int_equal(hw_secretbox_seal(key, "aad", 3, "hello", 5, box, sizeof(box), &len), 0);
	assert_int_equal(hw_secretbox_open(key, "aad", 3, box, len, out, sizeof(out), &n), 0);
	assert_int_equal(n, 5);
	assert_memory_equal(out, "hello", 5);
	assert_int_equal(hw_secretbox_open(key, "aae", 3, box, len, out, sizeof(out), &n), -EBADMSG);
	assert_int_equal(hw_secretbox_open(key, NULL, 0, box, len, out, sizeof(out), &n), -EBADMSG);
}

static void test_sizes(void **state)
{
	uint8_t box[256];
	size_t len = 0;
	char small[8];

	(void)state;
	assert_int_equal(hw_byok_seal(master, WS, "openai", SECRET, strlen(SECRET), box,
				      strlen(SECRET) + HW_SECRETBOX_OVERHEAD - 1, &len),
			 -ENOSPC);
	seal(box, &len);
	assert_int_equal(hw_byok_open(master, WS, "openai", box, len, small, sizeof(small)),
			 -ENOSPC);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hkdf_rfc5869_case1),
		cmocka_unit_test(test_round_trip_and_layout),
		cmocka_unit_test(test_any_flipped_byte_fails),
		cmocka_unit_test(test_wrong_context_fails),
		cmocka_unit_test(test_generic_box_aad),
		cmocka_unit_test(test_sizes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
