/* SPDX-License-Identifier: Apache-2.0 */
/* Time sources. Wall time can be shifted by the test clock (SPEC §19, HIWAY_TEST_HOOKS);
 * monotonic time never is. */
#ifndef HW_COMMON_CLOCK_H
#define HW_COMMON_CLOCK_H

#include <stddef.h>
#include <stdint.h>

int64_t hw_clock_wall_ms(void);
int64_t hw_clock_wall_s(void);
int64_t hw_clock_mono_ns(void);
/* Shift applied to wall time (test hook). */
void hw_clock_set_offset_ms(int64_t offset);
int64_t hw_clock_offset_ms(void);

/* RFC 3339 UTC with second precision, "2026-05-01T00:00:00Z"; out needs 21 bytes. */
void hw_clock_rfc3339(int64_t unix_s, char out[21]);
/* Parses "YYYY-MM-DDTHH:MM:SSZ" (or with fractional seconds); returns 0 or -EINVAL. */
int hw_clock_parse_rfc3339(const char *s, int64_t *unix_s);

#endif
