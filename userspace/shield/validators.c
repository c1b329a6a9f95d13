// SPDX-License-Identifier: Apache-2.0
/* Checksums behind the Security Shield's number patterns (SPEC §12.2). The patterns find
 * number shapes quickly; these reject the many digit runs that are not cards, IBANs or
 * French company numbers, which keeps the false-positive rate of the pii type low. */
#include "shield/validators.h"

#include <ctype.h>
#include <string.h>

#define MAX_DIGITS 34

/* Copies the span's digits, skipping the separators the patterns allow; -1 on any other
 * character or too many digits. */
static int span_digits(const char *buf, size_t from, size_t to, char *out, size_t cap)
{
	size_t n = 0;
	for (size_t i = from; i < to; i++) {
		unsigned char ch = (unsigned char)buf[i];
		if (ch == ' ' || ch == '-')
			continue;
		if (!isdigit(ch) || n >= cap)
			return -1;
		out[n++] = (char)ch;
	}
	return (int)n;
}

bool hw_luhn_digits(const char *digits, size_t n)
{
	unsigned sum = 0;
	bool dbl = false;
	for (size_t i = n; i-- > 0;) {
		unsigned d = (unsigned)(digits[i] - '0');
		if (dbl) {
			d *= 2;
			if (d > 9)
				d -= 9;
		}
		sum += d;
		dbl = !dbl;
	}
	return n > 0 && sum % 10 == 0;
}

bool hw_valid_luhn(const char *buf, size_t len, size_t from, size_t to)
{
	char d[MAX_DIGITS];
	int n = span_digits(buf, from, to, d, sizeof(d));
	if (n < 13 || n > 19 || d[0] < '3' || d[0] > '6')
		return false;
	/* A run of one repeated digit passes Luhn for some lengths and is never a card. */
	size_t same = 1;
	for (int i = 1; i < n; i++)
		same += d[i] == d[0];
	return same != (size_t)n && hw_luhn_digits(d, (size_t)n);
}

/* ISO 13616 mod 97 of an IBAN's characters (uppercase, no spaces): the first four move to
 * the end, letters count as 10..35, and the remainder is folded one digit at a time so no
 * big integer is needed. */
static bool iban_mod97(const char *s, size_t n)
{
	unsigned rem = 0;
	for (size_t k = 0; k < n; k++) {
		char ch = s[(k + 4) % n];
		if (isdigit((unsigned char)ch))
			rem = (rem * 10 + (unsigned)(ch - '0')) % 97;
		else
			rem = (rem * 100 + (unsigned)(ch - 'A' + 10)) % 97;
	}
	return rem == 1;
}

bool hw_valid_iban(const char *buf, size_t len, size_t from, size_t to)
{
	/* The pattern only finds an IBAN's first 15 characters (a long bounded repeat slows the
	 * whole database down), so the number is read on from `from`: every length that ends
	 * at a word end is a candidate. */
	char s[MAX_DIGITS + 1];
	size_t n = 0;
	for (size_t i = from; i < len && n < MAX_DIGITS; i++) {
		unsigned char ch = (unsigned char)buf[i];
		if (ch == ' ' && n > 0 && i + 1 < len && isalnum((unsigned char)buf[i + 1]) &&
		    isalnum((unsigned char)buf[i - 1]))
			continue;
		if (!isalnum(ch))
			break;
		s[n++] = (char)toupper(ch);
		if (n < 4 && !(n <= 2 ? isalpha(ch) : isdigit(ch)))
			return false;
		if (n == 4 && !isdigit(ch))
			return false;
		bool word_end = i + 1 >= len || !isalnum((unsigned char)buf[i + 1]);
		if (n >= 15 && word_end && iban_mod97(s, n))
			return true;
	}
	return false;
}

/* "siren", "siret" or "rcs" (any case) in the 30 characters before the number. */
static bool company_context(const char *buf, size_t from)
{
	size_t start = from > 30 ? from - 30 : 0;
	for (size_t i = start; i < from; i++) {
		size_t left = from - i;
		if (left >= 5 && (strncasecmp(buf + i, "siren", 5) == 0 || strncasecmp(buf + i, "siret", 5) == 0))
			return true;
		if (left >= 3 && strncasecmp(buf + i, "rcs", 3) == 0)
			return true;
	}
	return false;
}

bool hw_valid_siren(const char *buf, size_t len, size_t from, size_t to)
{
	char d[MAX_DIGITS];
	int n = span_digits(buf, from, to, d, sizeof(d));
	return n == 9 && hw_luhn_digits(d, 9) && company_context(buf, from);
}

bool hw_valid_siret(const char *buf, size_t len, size_t from, size_t to)
{
	char d[MAX_DIGITS];
	int n = span_digits(buf, from, to, d, sizeof(d));
	if (n != 14 || !company_context(buf, from))
		return false;
	/* La Poste's establishments share one SIREN and do not follow Luhn. */
	if (memcmp(d, "356000000", 9) == 0) {
		unsigned sum = 0;
		for (int i = 0; i < 14; i++)
			sum += (unsigned)(d[i] - '0');
		return sum % 5 == 0;
	}
	return hw_luhn_digits(d, 14);
}

hw_validator_fn hw_validator_find(const char *name)
{
	static const struct {
		const char *name;
		hw_validator_fn fn;
	} table[] = {
		{"luhn", hw_valid_luhn},
		{"iban", hw_valid_iban},
		{"siren", hw_valid_siren},
		{"siret", hw_valid_siret},
	};
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
		if (strcmp(table[i].name, name) == 0)
			return table[i].fn;
	return NULL;
}
