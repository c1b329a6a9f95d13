/* SPDX-License-Identifier: Apache-2.0 */
/* In-memory snapshot of every key and its workspace's status, looked up by the key's
 * SHA-256 on every request; rebuilt from the store after each change so a revocation
 * takes effect on the next request (SPEC §4.1). */
#ifndef HW_AUTH_KEY_CACHE_H
#define HW_AUTH_KEY_CACHE_H

#include "store/store.h"

#include <stdbool.h>

struct hw_key_cache;

struct hw_key_entry {
	struct hw_key key;
	bool workspace_suspended;
	char workspace_suspended_reason[256];
	bool workspace_has_reason;
	/* The workspace's routing settings (SPEC §16.2), "" when unset. */
	char routing_profile[16];
	char allowed_regions[256];
	char default_model[128];
};

int hw_key_cache_new(struct hw_store *store, struct hw_key_cache **out);
void hw_key_cache_free(struct hw_key_cache *cache);
/* Rebuilds the snapshot from the store; the old one stays in use on failure. */
int hw_key_cache_reload(struct hw_key_cache *cache);
/* Copies the entry for a key hash into *out; false when unknown. */
bool hw_key_cache_lookup(struct hw_key_cache *cache, const char *sha256_hex,
			 struct hw_key_entry *out);

#endif
