/* SPDX-License-Identifier: Apache-2.0 */
/* USD amounts in JSON (SPEC §1.3): int64 micro-dollars shown as plain decimal numbers with
 * at most 6 decimals and no exponent. jansson prints reals with %g, so amounts go in as
 * marked strings and hw_json_dumps writes them as numbers. */
#ifndef HW_COMMON_JSON_USD_H
#define HW_COMMON_JSON_USD_H

#include <jansson.h>
#include <stdint.h>

/* "0.000412", "500", "-1.5": out needs 24 bytes. */
void hw_usd_format(int64_t micro, char out[24]);
json_t *hw_json_usd(int64_t micro);
/* Compact dump, preserving order, with USD markers turned into numbers; caller frees. */
char *hw_json_dumps(const json_t *json);

#endif
