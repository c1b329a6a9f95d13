// SPDX-License-Identifier: Apache-2.0
/* Security Shield validators (SPEC §12.2): Luhn, IBAN mod-97, SIREN/SIRET with the La Poste
 * rule and the context words. */
#include "shield/validators.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <string.h>

#include <cmocka.h>

/* The validator over the first occurrence of `number` in `text`. */
static bool check(hw_validator_fn fn, const char *text, const char *number)
{
	const char *at = strstr(text, number);
	assert_non_null(at);
	size_t from = (size_t)(at - text);
	return fn(text, strlen(text), from, from + strlen(number));
}

static void test_luhn(void **state)
{
	assert_true(check(hw_valid_luhn, "4111111111111111", "4111111111111111"));
	assert_true(check(hw_valid_luhn, "card 4111 1111 1111 1111 ok", "4111 1111 1111 1111"));
	assert_true(check(hw_valid_luhn, "5500-0000-0000-0004", "5500-0000-0000-0004"));
	assert_false(check(hw_valid_luhn, "4111111111111112", "4111111111111112"));
	/* Too short and too long for a card. */
	assert_false(check(hw_valid_luhn, "411111111111", "411111111111"));
	assert_false(check(hw_valid_luhn, "41111111111111111111", "41111111111111111111"));
	/* One repeated digit is never a card even when Luhn agrees. */
	assert_false(check(hw_valid_luhn, "0000000000000000", "0000000000000000"));
	assert_true(hw_luhn_digits("79927398713", 11));
	assert_false(hw_luhn_digits("79927398710", 11));
}

static void test_iban(void **state)
{
	assert_true(check(hw_valid_iban, "FR76 3000 6000 0112 3456 7890 189", "FR76 3000 6000 0112 3456 7890 189"));
	assert_true(check(hw_valid_iban, "de89370400440532013000", "de89370400440532013000"));
	assert_true(check(hw_valid_iban, "GB82 WEST 1234 5698 7654 32", "GB82 WEST 1234 5698 7654 32"));
	assert_true(check(hw_valid_iban, "CH93 0076 2011 6238 5295 7", "CH93 0076 2011 6238 5295 7"));
	assert_false(check(hw_valid_iban, "FR76 3000 6000 0112 3456 7890 188", "FR76 3000 6000 0112 3456 7890 188"));
	assert_false(check(hw_valid_iban, "FR7630006000", "FR7630006000"));
	assert_false(check(hw_valid_iban, "XX00-3000-6000-0112", "XX00-3000-6000-0112"));
}

static void test_siren(void **state)
{
	assert_true(check(hw_valid_siren, "SIREN 732 829 320", "732 829 320"));
	assert_true(check(hw_valid_siren, "immatriculée au RCS de Paris sous le n° 552100554", "552100554"));
	/* No context word within 30 characters. */
	assert_false(check(hw_valid_siren, "order number 732829320", "732829320"));
	assert_false(check(hw_valid_siren, "siren mentioned far away ........................ 732829320", "732829320"));
	/* Luhn fails. */
	assert_false(check(hw_valid_siren, "siren 732829321", "732829321"));
}

static void test_siret(void **state)
{
	assert_true(check(hw_valid_siret, "SIRET : 732 829 320 00074", "732 829 320 00074"));
	assert_true(check(hw_valid_siret, "siret 55210055400013", "55210055400013"));
	assert_false(check(hw_valid_siret, "siret 55210055400014", "55210055400014"));
	/* La Poste: Luhn does not apply, the digit sum must be a multiple of 5. */
	assert_true(check(hw_valid_siret, "siret 35600000049837", "35600000049837"));
	assert_false(check(hw_valid_siret, "siret 35600000000048", "35600000000048"));
	assert_false(check(hw_valid_siret, "tracking 55210055400013", "55210055400013"));
}

static void test_find(void **state)
{
	assert_ptr_equal(hw_validator_find("luhn"), hw_valid_luhn);
	assert_ptr_equal(hw_validator_find("iban"), hw_valid_iban);
	assert_ptr_equal(hw_validator_find("siren"), hw_valid_siren);
	assert_ptr_equal(hw_validator_find("siret"), hw_valid_siret);
	assert_null(hw_validator_find("crc32"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_luhn),  cmocka_unit_test(test_iban), cmocka_unit_test(test_siren),
		cmocka_unit_test(test_siret), cmocka_unit_test(test_find),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
