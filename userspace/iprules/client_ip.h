/* SPDX-License-Identifier: Apache-2.0 */
/* The client IP of SPEC §13.1: the socket peer, unless the peer is a trusted proxy, in
 * which case X-Forwarded-For is read right to left. */
#ifndef HW_IPRULES_CLIENT_IP_H
#define HW_IPRULES_CLIENT_IP_H

#include "iprules/cidr.h"
#include "iprules/netset.h"

/* `xff` is every X-Forwarded-For value joined with ',' (NULL or "" = none). When the peer is
 * in `trusted`, the entries are read from the right, trusted ones skipped, and the first
 * other one is the client (the leftmost when all are trusted). An entry that is not a bare
 * address, or an empty one, makes the header malformed: the peer is kept. */
void hw_client_ip_resolve(const struct hw_ipaddr *peer, const char *xff,
			  const struct hw_netset *trusted, struct hw_ipaddr *out);

#endif
