// SPDX-License-Identifier: Apache-2.0
/* Hooks other modules provide (SPEC §13.3): a weak no-op here, so Guardian builds and runs
 * alone; a strong definition elsewhere (the auto-ban counter) replaces it at link time. */
#include "guardian/guardian.h"

__attribute__((weak)) void hw_guardian_note_block(const char *client_ip)
{
	(void)client_ip;
}
