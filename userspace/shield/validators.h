/* SPDX-License-Identifier: Apache-2.0 */
/* Security Shield validators (SPEC §12.2): checks run on a pattern's match span after
 * Hyperscan reports it, so that number-shaped patterns (cards, IBANs, SIREN/SIRET) only
 * count when the number is a real one. Each takes the whole scanned buffer and the span,
 * because the SIREN/SIRET rule also looks at the text before the number. */
#ifndef HW_SHIELD_VALIDATORS_H
#define HW_SHIELD_VALIDATORS_H

#include <stdbool.h>
#include <stddef.h>

typedef bool (*hw_validator_fn)(const char *buf, size_t len, size_t from, size_t to);

/* Luhn over the digits of the span (spaces and dashes skipped); 13-19 digits, the first
 * 3-6 (card networks). */
bool hw_valid_luhn(const char *buf, size_t len, size_t from, size_t to);
/* ISO 13616: country letters, check digits, 11-30 alphanumerics (single spaces allowed);
 * mod 97 == 1. The IBAN starts at `from` and may run past `to`. */
bool hw_valid_iban(const char *buf, size_t len, size_t from, size_t to);
/* 9 digits passing Luhn, preceded within 30 characters by siren, siret or rcs. */
bool hw_valid_siren(const char *buf, size_t len, size_t from, size_t to);
/* 14 digits passing Luhn (La Poste 356000000...: digit sum divisible by 5), with the same
 * context rule as hw_valid_siren. */
bool hw_valid_siret(const char *buf, size_t len, size_t from, size_t to);

/* Luhn checksum over a digit string (no separators). */
bool hw_luhn_digits(const char *digits, size_t n);

/* The validator named `name` (luhn, iban, siren, siret), NULL when unknown. */
hw_validator_fn hw_validator_find(const char *name);

#endif
