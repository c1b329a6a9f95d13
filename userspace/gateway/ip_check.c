// SPDX-License-Identifier: Apache-2.0
/* 403 ip_denied with the client IP the rules were checked against (§13.1), so an operator
 * reading the error sees which address to allow. */
#include "gateway/ip_check.h"

#include "gateway/server.h"

enum MHD_Result hw_respond_ip_denied(struct hw_request *req)
{
	return hw_respond_error(req, HW_ERR_IP_DENIED, "Access from this IP address is denied.",
				json_pack("{s:s}", "client_ip", req->client_ip));
}
