/* SPDX-License-Identifier: Apache-2.0 */
/* Identifiers: ULIDs (SPEC §1.3) and request ids (SPEC §5.1). */
#ifndef HW_COMMON_IDS_H
#define HW_COMMON_IDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HW_ULID_LEN 26
/* Longest id: an accepted client X-Request-Id is at most 128 characters. */
#define HW_REQUEST_ID_MAX 128

/* 26-character Crockford base32 ULID for `ms` since the epoch, NUL-terminated. */
void hw_ulid_at(char out[HW_ULID_LEN + 1], uint64_t ms);
void hw_ulid(char out[HW_ULID_LEN + 1]);

/* prefix + ULID ("kid_", "req_", ...) into out; returns 0 or -ENOSPC. */
int hw_id_make(char *out, size_t len, const char *prefix);

/* True when a client-supplied X-Request-Id may be kept: 1-128 of [A-Za-z0-9._:-]. */
bool hw_request_id_valid(const char *s);

#endif
