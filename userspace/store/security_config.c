// SPDX-License-Identifier: Apache-2.0
/* Memory of struct hw_security_config, shared by every backend. */
#include "store/store.h"

#include <stdlib.h>

void hw_security_config_clear(struct hw_security_config *c)
{
	if (!c)
		return;
	free(c->custom_patterns);
	c->custom_patterns = NULL;
}

void hw_security_configs_free(struct hw_security_config *list, size_t n)
{
	for (size_t i = 0; list && i < n; i++)
		hw_security_config_clear(&list[i]);
	free(list);
}
