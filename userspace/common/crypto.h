/* SPDX-License-Identifier: Apache-2.0 */
/* Thin wrappers over OpenSSL for the few primitives the gateway needs. */
#ifndef HW_COMMON_CRYPTO_H
#define HW_COMMON_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HW_SHA256_HEX_LEN 64

/* Lowercase hex SHA-256 of `len` bytes into out[65] (NUL-terminated). */
void hw_sha256_hex(const void *data, size_t len, char out[HW_SHA256_HEX_LEN + 1]);

/* CSPRNG bytes; returns 0 or -EIO. */
int hw_random_bytes(void *buf, size_t len);

/* `nbytes` random bytes as lowercase hex into out (2*nbytes+1). */
int hw_random_hex(char *out, size_t nbytes);

/* Constant-time equality of two equal-length strings (false when lengths differ). */
bool hw_ct_streq(const char *a, const char *b);

#endif
