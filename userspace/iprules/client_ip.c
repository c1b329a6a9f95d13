// SPDX-License-Identifier: Apache-2.0
/* X-Forwarded-For is client-controlled on its left side: only the hops our own trusted
 * proxies appended (the right side) are believed, and the first address they did not
 * append themselves is as far as trust reaches. */
#include "iprules/client_ip.h"

#include <string.h>

#define XFF_MAX_ENTRIES 64 /* a longer chain is not a real proxy path: treated as malformed */

struct span {
	const char *p;
	size_t n;
};

/* Splits on ',' and trims blanks; false when an entry is empty or there are too many. */
static bool split(const char *xff, struct span *out, size_t *n)
{
	*n = 0;
	for (const char *p = xff;;) {
		const char *comma = strchr(p, ',');
		const char *end = comma ? comma : p + strlen(p);
		while (p < end && (*p == ' ' || *p == '\t'))
			p++;
		while (end > p && (end[-1] == ' ' || end[-1] == '\t'))
			end--;
		if (end == p || *n == XFF_MAX_ENTRIES)
			return false;
		out[*n].p = p;
		out[*n].n = (size_t)(end - p);
		(*n)++;
		if (!comma)
			return true;
		p = comma + 1;
	}
}

void hw_client_ip_resolve(const struct hw_ipaddr *peer, const char *xff,
			  const struct hw_netset *trusted, struct hw_ipaddr *out)
{
	struct span spans[XFF_MAX_ENTRIES];
	struct hw_ipaddr hops[XFF_MAX_ENTRIES];
	size_t n;

	*out = *peer;
	if (!xff || !xff[0] || !hw_netset_contains(trusted, peer) || !split(xff, spans, &n))
		return;
	for (size_t i = 0; i < n; i++)
		if (hw_ip_parse_n(spans[i].p, spans[i].n, &hops[i]) < 0)
			return;
	for (size_t i = n; i-- > 0;) {
		if (!hw_netset_contains(trusted, &hops[i]) || i == 0) {
			*out = hops[i];
			return;
		}
	}
}
