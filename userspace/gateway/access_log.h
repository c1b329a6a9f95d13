/* SPDX-License-Identifier: Apache-2.0 */
/* End of a request on the client side: metrics and the access log line (SPEC §20). */
#ifndef HW_GATEWAY_ACCESS_LOG_H
#define HW_GATEWAY_ACCESS_LOG_H

#include "gateway/request.h"

#include <stdbool.h>

void hw_access_finish(struct hw_request *req, bool completed);

#endif
