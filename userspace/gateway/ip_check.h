/* SPDX-License-Identifier: Apache-2.0 */
/* The 403 ip_denied answer of SPEC §2.2, shared by step 3 (server.c) and step 7 (authn.c). */
#ifndef HW_GATEWAY_IP_CHECK_H
#define HW_GATEWAY_IP_CHECK_H

#include "gateway/request.h"

enum MHD_Result hw_respond_ip_denied(struct hw_request *req);

#endif
