/* SPDX-License-Identifier: Apache-2.0 */
/* Which provider keys a workspace may use (SPEC §7.5, §16.3), answered from memory on the
 * request path. The process holds one cache: loaded from the store at start, updated by the
 * management API after each write in this process, and rebuilt whole by a reload. Lookups
 * take the read side of one of several rwlocks, picked per thread; they never touch the
 * store. Stored keys stay sealed in memory; hw_byok_api_key opens one per call. */
#ifndef HW_AUTH_BYOK_CACHE_H
#define HW_AUTH_BYOK_CACHE_H

#include "common/config.h"
#include "store/store.h"

#include <stdbool.h>
#include <stddef.h>

/* Where a workspace's key for a provider comes from (the `source` of SPEC §16.2). */
enum hw_byok_source {
	HW_BYOK_SOURCE_NONE,
	HW_BYOK_SOURCE_WORKSPACE,    /* its own key */
	HW_BYOK_SOURCE_SERVER,       /* the configuration's api_key, with share_key: true */
	HW_BYOK_SOURCE_NOT_REQUIRED, /* echo; openai_compatible without api_key */
};

/* "none", "workspace", "server", "not_required". */
const char *hw_byok_source_name(enum hw_byok_source s);

/* The source for provider `p` when the workspace has (`own_key`) or lacks a usable key of
 * its own; the workspace's key wins over the others. */
enum hw_byok_source hw_byok_source_of(const struct hw_cfg_provider *p, bool own_key);

/* Loads every provider_keys row. Keeps a copy of secrets.master_key (needs a restart to
 * change, SPEC §18); without one, stored keys count as absent. 0 or a negative errno
 * (-EALREADY when the cache is loaded already). */
int hw_byok_cache_init(struct hw_store *store, const struct hw_config *cfg);
/* Frees the cache and wipes the master key copy; lookups then see no workspace rows. */
void hw_byok_cache_free(void);
/* Rebuilds from the store; the current contents stay in use on failure. */
int hw_byok_cache_reload(void);
/* Replaces the cached row of (pk->workspace_id, pk->provider) after the store wrote it. */
int hw_byok_cache_put(const struct hw_provider_key *pk);
/* Forgets the row after the store deleted it. */
void hw_byok_cache_remove(const char *workspace_id, const char *provider);

/* SPEC §7.5: `p` is enabled, the workspace has not turned it off, and a key exists (the
 * workspace's own, the server's shared one, or none needed). Whether this build speaks
 * the provider's wire format is routing's question, not this one. */
bool hw_byok_usable(const char *workspace_id, const struct hw_cfg_provider *p);

/* The key to send upstream for `p`, NUL-terminated in `out`: the workspace's own (opened
 * here), else the server's shared one. 0; -ENOENT when there is none to send (including a
 * provider that needs none, or that the workspace turned off); -ENOSPC when `out` is too
 * small; -EBADMSG when the stored key does not open (the master key changed), logged
 * without the key. The caller wipes `out` after use, on every outcome. */
int hw_byok_api_key(const char *workspace_id, const struct hw_cfg_provider *p, char *out,
		    size_t out_len);

#endif
