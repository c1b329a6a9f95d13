// SPDX-License-Identifier: Apache-2.0
/* hiwayd: loads the configuration, opens the store, bootstraps the first workspace,
 * starts the worker threads (HTTP and upstream), then waits for signals: SIGHUP
 * reloads what can be reloaded, SIGTERM/SIGINT drain and stop. */
#include "admin/admin.h"
#include "auth/byok_cache.h"
#include "auth/key_cache.h"
#include "common/clock.h"
#include "common/config.h"
#include "common/crypto.h"
#include "common/log.h"
#include "events/webhook_sender.h"
#include "gateway/server.h"
#include "iprules/perimeter.h"
#include "routing/catalog.h"
#include "routing/router.h"
#include "shield/audit.h"
#include "shield/scanner.h"
#include "shield/shield.h"
#include "shield/shield_audit.h"
#include "shield/shield_ws.h"
#include "store/store.h"
#include "store/usage_writer.h"
#include "money/ledger.h"
#include "guardian/guardian_worker.h"

#include <curl/curl.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define USAGE_MAX_PENDING 100000

struct snapshot_list {
	const struct hw_config *cfg;
	struct hw_catalog *catalog;
	struct hw_router *router;
	struct snapshot_list *next;
};

/* Money with its ledger journal beside the SQLite file ("<path>-ledger"). */
static struct hw_money *money_start(struct hw_store *st, const struct hw_config *cfg)
{
	const char *url = cfg->store;
	char path[4096];
	bool file = strncmp(url, "sqlite:", 7) == 0 && strcmp(url + 7, ":memory:") != 0;
	if (file)
		snprintf(path, sizeof(path), "%s-ledger", url + 7);
	bool full = cfg->store_options.sqlite_synchronous &&
		    strcmp(cfg->store_options.sqlite_synchronous, "full") == 0;
	return hw_money_start(st, file ? path : NULL, full);
}

static void usage(FILE *f)
{
	fprintf(f, "usage: hiwayd [--config FILE] [--check-config] [--version]\n"
		   "  --config FILE   configuration (default: $HIWAY_CONFIG or ./hiway.yaml)\n"
		   "  --check-config  validate the configuration and exit\n"
#ifdef HIWAY_TEST_HOOKS
		   "  --test-clock    expose POST /api/v1/_test/clock (test builds only)\n"
#endif
		   );
}

static int load_config(const char *path, bool explicit_path, struct hw_config **out)
{
	char err[512];
	if (!explicit_path && access(path, F_OK) != 0) {
		/* No file at the default place: run on the built-in defaults. */
		return hw_config_load_string("", 0, path, out, err, sizeof(err)) < 0 ? -EINVAL : 0;
	}
	if (hw_config_load(path, out, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s\n", err);
		return -EINVAL;
	}
	return 0;
}

static void apply_logging(const struct hw_config *cfg)
{
	enum hw_log_level lvl = HW_LOG_INFO;
	if (cfg->logging.level && hw_log_level_parse(cfg->logging.level, &lvl) == 0)
		hw_log_set_level(lvl);
}

static int admin_token_hash(struct hw_server *srv, const struct hw_config *cfg)
{
	if (cfg->admin.token && cfg->admin.token[0]) {
		hw_sha256_hex(cfg->admin.token, strlen(cfg->admin.token), srv->admin_token_sha256);
		return 0;
	}
	int rc = srv->store->ops->setting_get(srv->store, "admin_token_sha256", srv->admin_token_sha256,
					      sizeof(srv->admin_token_sha256));
	if (rc == -ENOENT) {
		srv->admin_token_sha256[0] = '\0';
		return 0;
	}
	return rc;
}

static void warn_restart_needed(const struct hw_config *old, const struct hw_config *cur)
{
	bool listen_changed = old->server.n_listen != cur->server.n_listen;
	for (size_t i = 0; !listen_changed && i < cur->server.n_listen; i++)
		listen_changed = strcmp(old->server.listen[i], cur->server.listen[i]) != 0;
	if (listen_changed || old->server.threads != cur->server.threads ||
	    strcmp(old->store, cur->store) != 0)
		hw_log(HW_LOG_WARN, "server.listen, server.threads, store and secrets need a restart; "
				    "the running values are kept");
}

static void reload(struct hw_server *srv, const char *path, bool explicit_path,
		   struct snapshot_list **kept)
{
	struct hw_config *cfg = NULL;
	struct hw_catalog *cat = NULL;
	struct hw_router *router = NULL;
	if (load_config(path, explicit_path, &cfg) < 0) {
		hw_log(HW_LOG_ERROR, "reload rejected: the configuration is invalid; keeping the running one");
		return;
	}
	if (hw_catalog_build(cfg, &cat) < 0 || hw_router_build(cfg, cat, &router) < 0) {
		hw_log(HW_LOG_ERROR, "reload rejected: the catalog or routing tables cannot be built");
		hw_catalog_free(cat);
		hw_config_free(cfg);
		return;
	}
	char err[512];
	if (hw_shield_reload(cfg, err, sizeof(err)) < 0) {
		hw_log(HW_LOG_ERROR, "reload rejected: %s", err);
		hw_router_free(router);
		hw_catalog_free(cat);
		hw_config_free(cfg);
		return;
	}
	const struct hw_config *old = hw_server_cfg(srv);
	warn_restart_needed(old, cfg);
	/* Settings that need a restart keep their running values. */
	cfg->server.threads = old->server.threads;
	struct snapshot_list *node = calloc(1, sizeof(*node));
	if (!node) {
		hw_router_free(router);
		hw_catalog_free(cat);
		hw_config_free(cfg);
		return;
	}
	node->cfg = old;
	node->catalog = atomic_load(&srv->catalog);
	node->router = atomic_load(&srv->router);
	node->next = *kept;
	*kept = node;
	atomic_store(&srv->catalog, cat);
	atomic_store(&srv->router, router);
	atomic_store(&srv->cfg, cfg);
	apply_logging(cfg);
	hw_log(HW_LOG_INFO, "configuration reloaded");
}

/* The perimeter follows the running configuration (trusted proxies, auto-ban settings). */
static const struct hw_config *running_cfg(void *arg) { return hw_server_cfg(arg); }

/* Guardian's worker stored a key suspension: step 6 must see it on the next request. */
static void keys_changed(void *arg)
{
	struct hw_server *srv = arg;
	hw_key_cache_reload(srv->keys);
}

/* The audit retention job reads the running configuration, reloads included. */
static int64_t audit_retention_days(void *arg)
{
	return hw_server_cfg(arg)->shield.retention_days;
}

int main(int argc, char **argv)
{
	const char *path = getenv("HIWAY_CONFIG");
	bool explicit_path = path != NULL, check_only = false, test_clock = false;
	static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
					     {"check-config", no_argument, NULL, 'k'},
					     {"version", no_argument, NULL, 'v'},
					     {"help", no_argument, NULL, 'h'},
#ifdef HIWAY_TEST_HOOKS
					     {"test-clock", no_argument, NULL, 't'},
#endif
					     {NULL, 0, NULL, 0}};
	int opt;
	while ((opt = getopt_long(argc, argv, "c:", opts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			path = optarg;
			explicit_path = true;
			break;
		case 'k':
			check_only = true;
			break;
		case 'v':
			printf("hiwayd %s\n", HIWAY_VERSION);
			return 0;
		case 't':
			test_clock = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (!path)
		path = "hiway.yaml";

	struct hw_config *cfg = NULL;
	if (load_config(path, explicit_path, &cfg) < 0)
		return 1;
	if (check_only) {
		/* The Shield's pattern files are part of the configuration: a pattern Hyperscan
		 * cannot compile would stop the start, so it stops the check too. */
		char perr[512] = "";
		struct hw_shield_db *db = NULL;
		int prc = hw_shield_db_load(cfg->shield.patterns_dir, &db, perr, sizeof(perr));
		hw_shield_db_free(db);
		if (prc < 0)
			fprintf(stderr, "%s: shield patterns: %s\n", path, perr);
		else
			printf("%s: ok\n", path);
		hw_config_free(cfg);
		return prc < 0 ? 1 : 0;
	}
	apply_logging(cfg);

	/* Signals are taken synchronously by the main thread; block them before any thread
	 * starts so every thread inherits the mask. */
	sigset_t sigs;
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);
	curl_global_init(CURL_GLOBAL_DEFAULT);

	int rc = 1;
	struct hw_server srv;
	memset(&srv, 0, sizeof(srv));
	struct hw_catalog *cat = NULL;
	struct hw_router *router = NULL;
	struct snapshot_list *kept = NULL;
	struct hw_webhook_sender *hooks = NULL;
	struct hw_audit_retention *retention = NULL;
	atomic_store(&srv.cfg, cfg);
	srv.test_clock = test_clock;
	if (hw_store_open(cfg->store, cfg->store_options.busy_timeout_ms,
			  cfg->store_options.sqlite_synchronous, &srv.store) < 0) {
		hw_log(HW_LOG_ERROR, "cannot open the store %s", cfg->store);
		goto out;
	}
	if (hw_admin_bootstrap(srv.store, cfg) < 0 || admin_token_hash(&srv, cfg) < 0) {
		hw_log(HW_LOG_ERROR, "bootstrap failed");
		goto out;
	}
	if (hw_key_cache_new(srv.store, &srv.keys) < 0 || hw_byok_cache_init(srv.store, cfg) < 0 ||
	    hw_catalog_build(cfg, &cat) < 0 || hw_router_build(cfg, cat, &router) < 0) {
		hw_log(HW_LOG_ERROR, "cannot load keys, provider keys, catalog or routing tables");
		hw_catalog_free(cat);
		goto out;
	}
	atomic_store(&srv.catalog, cat);
	atomic_store(&srv.router, router);
	char err[512];
	if (hw_shield_start(cfg, err, sizeof(err)) < 0) {
		hw_log(HW_LOG_ERROR, "%s", err);
		goto out;
	}
	if (hw_shield_ws_load(srv.store) < 0) {
		hw_log(HW_LOG_ERROR, "cannot load the workspaces' security settings");
		goto out;
	}
	hw_shield_audit_attach(srv.store);
	if (hw_perimeter_start(srv.store, running_cfg, &srv) < 0) {
		hw_log(HW_LOG_ERROR, "cannot start the IP rules and bans refresher");
		goto out;
	}
	srv.usage = hw_usage_writer_start(srv.store, USAGE_MAX_PENDING);
	/* Reservations of an earlier run were in memory only: a restart released them. */
	if (cfg->money.enabled && !(srv.money = money_start(srv.store, cfg)))
		goto out;
	struct hw_gd_limits gd_limits;
	hw_gd_limits_from_config(cfg, &gd_limits);
	srv.guardian = hw_guardian_new(&gd_limits);
	if (!srv.guardian || hw_guardian_settings_reload(srv.guardian, cfg, srv.store) < 0 ||
	    !(srv.gd_worker = hw_gd_worker_start(srv.store, srv.guardian,
						 cfg->guardian.limits.event_queue, keys_changed,
						 &srv))) {
		hw_log(HW_LOG_ERROR, "cannot start Guardian");
		goto out;
	}
	if (!srv.usage || !(hooks = hw_webhook_sender_start(srv.store, cfg)) ||
	    hw_server_start(&srv) < 0)
		goto out;
	retention = hw_audit_retention_start(srv.store, audit_retention_days, &srv);
	if (!retention)
		goto out;

	for (;;) {
		int sig = 0;
		if (sigwait(&sigs, &sig) != 0)
			continue;
		if (sig == SIGHUP) {
			reload(&srv, path, explicit_path, &kept);
			continue;
		}
		hw_log(HW_LOG_INFO, "draining");
		hw_server_drain(&srv, (int)hw_server_cfg(&srv)->server.drain_timeout_s);
		break;
	}
	rc = 0;
out:
	hw_audit_retention_stop(retention);
	hw_server_stop(&srv);
	hw_money_stop(srv.money);
	hw_perimeter_stop();
	hw_gd_worker_stop(srv.gd_worker);
	hw_guardian_free(srv.guardian);
	hw_webhook_sender_stop(hooks);
	hw_shield_stop();
	hw_shield_ws_free_all();
	hw_shield_audit_attach(NULL);
	if (srv.usage)
		hw_usage_writer_stop(srv.usage);
	hw_key_cache_free(srv.keys);
	hw_byok_cache_free();
	hw_router_free(atomic_load(&srv.router));
	hw_catalog_free(atomic_load(&srv.catalog));
	hw_config_free((struct hw_config *)hw_server_cfg(&srv));
	while (kept) {
		struct snapshot_list *next = kept->next;
		hw_router_free(kept->router);
		hw_catalog_free(kept->catalog);
		hw_config_free((struct hw_config *)kept->cfg);
		free(kept);
		kept = next;
	}
	if (srv.store)
		srv.store->ops->close(srv.store);
	curl_global_cleanup();
	hw_log(HW_LOG_INFO, "stopped");
	return rc;
}
