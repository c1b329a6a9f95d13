/* SPDX-License-Identifier: Apache-2.0 */
/* The usage record every authenticated inference request leaves (SPEC §20.2), handed to
 * the batching writer when the request is over on both sides (client and upstream). */
#ifndef HW_GATEWAY_USAGE_H
#define HW_GATEWAY_USAGE_H

#include "gateway/request.h"
#include "routing/catalog.h"

#include <stdbool.h>
#include <stdint.h>

/* What a request cost, in µ$. */
struct hw_usage_costs {
	int64_t upstream, markup, baseline;
	bool passthrough;
};

void hw_usage_record_chat(struct hw_request *req, const struct hw_model *model, const char *tier,
			  const char *reason, const char *end_user, const char *requested_model,
			  bool stream, int64_t prompt_tokens, int64_t completion_tokens,
			  int64_t cached_tokens, const struct hw_usage_costs *costs,
			  int64_t routing_ns, int64_t ttft_ns);

#endif
