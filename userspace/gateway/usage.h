/* SPDX-License-Identifier: Apache-2.0 */
/* The usage record every authenticated inference request leaves (SPEC §20.2), handed to
 * the batching writer when the request is over on both sides (client and upstream). */
#ifndef HW_GATEWAY_USAGE_H
#define HW_GATEWAY_USAGE_H

#include "gateway/request.h"
#include "routing/catalog.h"

#include <stdbool.h>
#include <stdint.h>

void hw_usage_record_chat(struct hw_request *req, const struct hw_model *model, const char *tier,
			  const char *reason, const char *end_user, const char *requested_model,
			  bool stream, int64_t prompt_tokens, int64_t completion_tokens,
			  int64_t cached_tokens, int64_t upstream_cost, int64_t baseline_cost,
			  int64_t routing_ns, int64_t ttft_ns);

#endif
