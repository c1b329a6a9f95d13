/* SPDX-License-Identifier: Apache-2.0 */
/* hiway API key format (SPEC §4.1): minting, shape checks, hashing, display prefix. */
#ifndef HW_AUTH_KEYS_H
#define HW_AUTH_KEYS_H

#include <stdbool.h>
#include <stddef.h>

#define HW_KEY_LIVE_PREFIX "hw_live_"
#define HW_KEY_LIVE_LEN 40
#define HW_KEY_LEGACY_PREFIX "hwy_"
#define HW_KEY_LEGACY_LEN 51
#define HW_KEY_DISPLAY_PREFIX_LEN 12
#define HW_ADMIN_TOKEN_PREFIX "hw_admin_"
#define HW_ADMIN_TOKEN_LEN 73

enum hw_key_shape { HW_KEY_SHAPE_INVALID, HW_KEY_SHAPE_LIVE, HW_KEY_SHAPE_LEGACY };

/* Classifies a presented key without touching the store. */
enum hw_key_shape hw_key_shape(const char *key);

/* Mints "hw_live_" + 32 lowercase hex from 16 CSPRNG bytes; out needs 41 bytes. */
int hw_key_generate(char out[HW_KEY_LIVE_LEN + 1]);

/* Mints an admin token "hw_admin_" + 64 hex; out needs 74 bytes. */
int hw_admin_token_generate(char out[HW_ADMIN_TOKEN_LEN + 1]);

/* First 12 characters, for display. */
void hw_key_display_prefix(const char *key, char out[HW_KEY_DISPLAY_PREFIX_LEN + 1]);

/* Extracts the credential from Authorization (Bearer, scheme case-insensitive) or
 * x-api-key; Authorization wins. Returns NULL when neither carries one. The result points
 * into the given header value. */
const char *hw_key_from_headers(const char *authorization, const char *x_api_key);

#endif
