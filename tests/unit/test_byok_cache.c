// SPDX-License-Identifier: Apache-2.0
/* The BYOK cache over a real SQLite store: SPEC §7.5 usability for each source, the key
 * handed upstream, in-process updates and reloads, and life without a master key. */
#include "auth/byok_cache.h"
#include "common/crypto.h"
#include "common/secretbox.h"
#include "store/store.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/crypto.h>

#define WS "01JAX3Q5ZP7K8M9N0R1S2T3V4W"
#define WS2 "01JAX3Q5ZP7K8M9N0R1S2T3V4X"
#define OWN "sk-own-0123456789"

static const char yaml_fmt[] =
	"%s"
	"providers:\n"
	"  openai: {kind: openai, api_key: \"sk-server\"}\n"
	"  mistral: {kind: mistral, api_key: \"sk-mistral\", share_key: false}\n"
	"  anthropic: {kind: anthropic, api_key: \"\"}\n"
	"  google: {kind: google, api_key: \"g\", enabled: false}\n"
	"  local: {kind: echo}\n"
	"  ollama: {kind: openai_compatible, base_url: \"http://127.0.0.1:1/v1\"}\n"
	"  vllm: {kind: openai_compatible, base_url: \"http://127.0.0.1:2/v1\", api_key: \"v\", "
	"share_key: false}\n";

struct fixture {
	char dir[64], path[96], url[128];
	struct hw_store *st;
	struct hw_config *cfg;
};

static struct hw_config *load_cfg(bool master)
{
	char yaml[1024], err[256];
	struct hw_config *cfg = NULL;
	snprintf(yaml, sizeof(yaml), yaml_fmt,
		 master ? "secrets: {master_key: \"000102030405060708090a0b0c0d0e0f"
			  "101112131415161718191a1b1c1d1e1f\"}\n"
			: "secrets: {master_key: \"\"}\n");
	assert_int_equal(hw_config_load_string(yaml, strlen(yaml), "t.yaml", &cfg, err, sizeof(err)),
			 0);
	return cfg;
}

static void add_ws(struct hw_store *st, const char *id)
{
	struct hw_workspace ws;
	memset(&ws, 0, sizeof(ws));
	snprintf(ws.id, sizeof(ws.id), "%s", id);
	strcpy(ws.name, id);
	strcpy(ws.status, "active");
	strcpy(ws.plan, "unlimited");
	strcpy(ws.routing_profile, "balanced");
	assert_int_equal(st->ops->workspace_create(st, &ws), 0);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	strcpy(f->dir, "/tmp/hw_test_byok_XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/hiway.db", f->dir);
	snprintf(f->url, sizeof(f->url), "sqlite:%s", f->path);
	assert_int_equal(hw_store_open(f->url, 5000, "normal", &f->st), 0);
	add_ws(f->st, WS);
	add_ws(f->st, WS2);
	f->cfg = load_cfg(true);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char p[128];
	hw_byok_cache_free();
	hw_config_free(f->cfg);
	f->st->ops->close(f->st);
	static const char *const suffixes[] = {"", "-wal", "-shm"};
	for (size_t i = 0; i < 3; i++) {
		snprintf(p, sizeof(p), "%s%s", f->path, suffixes[i]);
		unlink(p);
	}
	rmdir(f->dir);
	free(f);
	return 0;
}

/* A row as the management API writes it. */
static struct hw_provider_key row(const struct hw_config *cfg, const char *ws,
				  const char *provider, const char *key, bool enabled)
{
	struct hw_provider_key pk;
	memset(&pk, 0, sizeof(pk));
	snprintf(pk.workspace_id, sizeof(pk.workspace_id), "%s", ws);
	snprintf(pk.provider, sizeof(pk.provider), "%s", provider);
	if (key) {
		char hex[HW_SHA256_HEX_LEN + 1];
		assert_int_equal(hw_byok_seal(cfg->secrets.master_key_raw, ws, provider, key,
					      strlen(key), pk.ciphertext, sizeof(pk.ciphertext),
					      &pk.ciphertext_len),
				 0);
		hw_sha256_hex(key, strlen(key), hex);
		snprintf(pk.fingerprint, sizeof(pk.fingerprint), "%.8s", hex);
	}
	pk.enabled = enabled;
	pk.updated_at = 1767225600;
	return pk;
}

static const struct hw_cfg_provider *prov(const struct fixture *f, const char *id)
{
	const struct hw_cfg_provider *p = hw_config_provider(f->cfg, id);
	assert_non_null(p);
	return p;
}

static void test_sources(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(hw_byok_source_of(prov(f, "openai"), false), HW_BYOK_SOURCE_SERVER);
	assert_int_equal(hw_byok_source_of(prov(f, "openai"), true), HW_BYOK_SOURCE_WORKSPACE);
	assert_int_equal(hw_byok_source_of(prov(f, "mistral"), false), HW_BYOK_SOURCE_NONE);
	assert_int_equal(hw_byok_source_of(prov(f, "anthropic"), false), HW_BYOK_SOURCE_NONE);
	assert_int_equal(hw_byok_source_of(prov(f, "local"), false), HW_BYOK_SOURCE_NOT_REQUIRED);
	assert_int_equal(hw_byok_source_of(prov(f, "ollama"), false), HW_BYOK_SOURCE_NOT_REQUIRED);
	/* An openai_compatible server with a key it does not share needs the workspace's. */
	assert_int_equal(hw_byok_source_of(prov(f, "vllm"), false), HW_BYOK_SOURCE_NONE);
	assert_string_equal(hw_byok_source_name(HW_BYOK_SOURCE_NOT_REQUIRED), "not_required");
	assert_string_equal(hw_byok_source_name(HW_BYOK_SOURCE_NONE), "none");
}

static void test_usable_and_keys(void **state)
{
	struct fixture *f = *state;
	struct hw_store *st = f->st;
	char out[64];

	assert_int_equal(hw_byok_cache_init(st, f->cfg), 0);
	/* No rows: the configuration alone decides. */
	assert_true(hw_byok_usable(WS, prov(f, "openai")));
	assert_false(hw_byok_usable(WS, prov(f, "mistral")));
	assert_false(hw_byok_usable(WS, prov(f, "anthropic")));
	assert_false(hw_byok_usable(WS, prov(f, "google")));
	assert_true(hw_byok_usable(WS, prov(f, "local")));
	assert_true(hw_byok_usable(WS, prov(f, "ollama")));
	assert_false(hw_byok_usable(WS, NULL));
	assert_int_equal(hw_byok_api_key(WS, prov(f, "openai"), out, sizeof(out)), 0);
	assert_string_equal(out, "sk-server");
	assert_int_equal(hw_byok_api_key(WS, prov(f, "mistral"), out, sizeof(out)), -ENOENT);
	assert_int_equal(hw_byok_api_key(WS, prov(f, "local"), out, sizeof(out)), -ENOENT);
	assert_int_equal(hw_byok_api_key(WS, prov(f, "openai"), out, 4), -ENOSPC);

	/* The workspace's own keys win, for its workspace only. */
	struct hw_provider_key rows[] = {
		row(f->cfg, WS, "mistral", OWN, true),
		row(f->cfg, WS, "openai", "sk-ws-openai", true),
		row(f->cfg, WS, "ollama", NULL, false),
	};
	for (size_t i = 0; i < 3; i++) {
		assert_int_equal(st->ops->provider_key_put(st, &rows[i]), 0);
		assert_int_equal(hw_byok_cache_put(&rows[i]), 0);
	}
	assert_true(hw_byok_usable(WS, prov(f, "mistral")));
	assert_false(hw_byok_usable(WS2, prov(f, "mistral")));
	assert_int_equal(hw_byok_api_key(WS, prov(f, "mistral"), out, sizeof(out)), 0);
	assert_string_equal(out, OWN);
	assert_int_equal(hw_byok_api_key(WS, prov(f, "openai"), out, sizeof(out)), 0);
	assert_string_equal(out, "sk-ws-openai");
	assert_int_equal(hw_byok_api_key(WS2, prov(f, "openai"), out, sizeof(out)), 0);
	assert_string_equal(out, "sk-server");
	/* Turned off by the workspace: not usable, no key. */
	assert_false(hw_byok_usable(WS, prov(f, "ollama")));
	assert_true(hw_byok_usable(WS2, prov(f, "ollama")));

	/* A box moved to another provider's row does not open. */
	struct hw_provider_key moved = rows[0];
	strcpy(moved.provider, "vllm");
	assert_int_equal(hw_byok_cache_put(&moved), 0);
	assert_true(hw_byok_usable(WS, prov(f, "vllm")));
	assert_int_equal(hw_byok_api_key(WS, prov(f, "vllm"), out, sizeof(out)), -EBADMSG);
	hw_byok_cache_remove(WS, "vllm");
	assert_false(hw_byok_usable(WS, prov(f, "vllm")));

	/* Remove, then a reload from the store brings the stored rows back. */
	hw_byok_cache_remove(WS, "mistral");
	assert_false(hw_byok_usable(WS, prov(f, "mistral")));
	assert_int_equal(hw_byok_cache_reload(), 0);
	assert_true(hw_byok_usable(WS, prov(f, "mistral")));
	assert_false(hw_byok_usable(WS, prov(f, "ollama")));
	OPENSSL_cleanse(out, sizeof(out));
}

static void test_many_rows_grow(void **state)
{
	struct fixture *f = *state;
	char provider[16];
	assert_int_equal(hw_byok_cache_init(f->st, f->cfg), 0);
	for (int i = 0; i < 500; i++) {
		snprintf(provider, sizeof(provider), "p%d", i);
		struct hw_provider_key pk = row(f->cfg, WS, provider, NULL, i % 2 == 0);
		assert_int_equal(hw_byok_cache_put(&pk), 0);
	}
	struct hw_cfg_provider p = *prov(f, "local");
	for (int i = 0; i < 500; i++) {
		snprintf(provider, sizeof(provider), "p%d", i);
		p.id = provider;
		assert_int_equal(hw_byok_usable(WS, &p), i % 2 == 0);
	}
}

struct reader_arg {
	const struct hw_cfg_provider *p;
	atomic_bool *stop;
	long opened;
};

static void *reader(void *arg)
{
	struct reader_arg *r = arg;
	char out[64];
	while (!atomic_load(r->stop)) {
		hw_byok_usable(WS, r->p);
		if (hw_byok_api_key(WS, r->p, out, sizeof(out)) == 0 && strcmp(out, OWN) == 0)
			r->opened++;
	}
	OPENSSL_cleanse(out, sizeof(out));
	return NULL;
}

/* Readers keep looking up while the row is replaced and removed: under ASan this shows
 * that no reader ever touches a freed row. */
static void test_concurrent_updates(void **state)
{
	struct fixture *f = *state;
	struct hw_provider_key pk = row(f->cfg, WS, "mistral", OWN, true);
	atomic_bool stop = false;
	pthread_t th[4];
	struct reader_arg args[4];

	assert_int_equal(hw_byok_cache_init(f->st, f->cfg), 0);
	for (int i = 0; i < 4; i++) {
		args[i] = (struct reader_arg){prov(f, "mistral"), &stop, 0};
		assert_int_equal(pthread_create(&th[i], NULL, reader, &args[i]), 0);
	}
	for (int i = 0; i < 2000; i++) {
		assert_int_equal(hw_byok_cache_put(&pk), 0);
		if (i % 3 == 0)
			hw_byok_cache_remove(WS, "mistral");
		if (i % 500 == 0)
			assert_int_equal(hw_byok_cache_reload(), 0);
	}
	atomic_store(&stop, true);
	long opened = 0;
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		opened += args[i].opened;
	}
	assert_true(opened > 0);
}

static void test_without_master_key(void **state)
{
	struct fixture *f = *state;
	struct hw_provider_key pk = row(f->cfg, WS, "mistral", OWN, true);
	struct hw_config *bare = load_cfg(false);
	char out[64];

	assert_int_equal(f->st->ops->provider_key_put(f->st, &pk), 0);
	assert_int_equal(hw_byok_cache_init(f->st, bare), 0);
	/* The stored key cannot be opened, so it does not count; server keys still work. */
	assert_false(hw_byok_usable(WS, hw_config_provider(bare, "mistral")));
	assert_int_equal(hw_byok_api_key(WS, hw_config_provider(bare, "mistral"), out, sizeof(out)),
			 -ENOENT);
	assert_int_equal(hw_byok_api_key(WS, hw_config_provider(bare, "openai"), out, sizeof(out)),
			 0);
	assert_string_equal(out, "sk-server");
	hw_byok_cache_free();
	hw_config_free(bare);
	/* Not initialised: only the configuration counts. */
	assert_true(hw_byok_usable(WS, prov(f, "openai")));
	assert_false(hw_byok_usable(WS, prov(f, "mistral")));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_sources, setup, teardown),
		cmocka_unit_test_setup_teardown(test_usable_and_keys, setup, teardown),
		cmocka_unit_test_setup_teardown(test_many_rows_grow, setup, teardown),
		cmocka_unit_test_setup_teardown(test_concurrent_updates, setup, teardown),
		cmocka_unit_test_setup_teardown(test_without_master_key, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
