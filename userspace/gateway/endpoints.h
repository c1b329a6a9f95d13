/* SPDX-License-Identifier: Apache-2.0 */
/* Endpoint handlers. Each runs once the body is complete and answers through the
 * server's respond helpers, or suspends the connection and answers from `resume`. */
#ifndef HW_GATEWAY_ENDPOINTS_H
#define HW_GATEWAY_ENDPOINTS_H

#include "auth/key_cache.h"
#include "gateway/request.h"

enum MHD_Result hw_ep_chat(struct hw_request *req);
enum MHD_Result hw_ep_messages(struct hw_request *req);
/* Resumes either inference endpoint (chat completions or messages). */
enum MHD_Result hw_ep_chat_resume(struct hw_request *req);
/* The client went away (or the response finished); stop waiting on the client. */
void hw_ep_chat_client_gone(struct hw_request *req);

enum MHD_Result hw_ep_models(struct hw_request *req);
enum MHD_Result hw_ep_health(struct hw_request *req);
enum MHD_Result hw_ep_metrics(struct hw_request *req);
enum MHD_Result hw_ep_admin(struct hw_request *req);

/* Looks up a presented credential by its SHA-256 and applies the revoked, suspended
 * workspace and suspended key answers (SPEC §3 steps 5-6). True when it may go on;
 * otherwise the error is queued and *ret holds the MHD result. */
bool hw_authn_key(struct hw_request *req, const char *sha256_hex, struct hw_key_entry *e,
		  enum MHD_Result *ret);

/* Authenticates an inference request (SPEC §3 steps 5-6). Returns true when the request
 * may go on; otherwise the error response is queued and *ret holds the MHD result. */
bool hw_authn_inference(struct hw_request *req, enum MHD_Result *ret);

#endif
