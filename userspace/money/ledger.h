/* SPDX-License-Identifier: Apache-2.0 */
/* Workspace money in memory (SPEC §10): one account per workspace, loaded from the store
 * on first use, behind its own mutex, so admission, reservation, settlement and release
 * are each one atomic step without a lock shared by all workspaces. Reservations live only
 * here (a single SQLite node; a crash releases them by construction, §10.8); settlements
 * and state changes go to the store through the ledger writer, and a settlement's caller
 * is told when it is durable. */
#ifndef HW_MONEY_LEDGER_H
#define HW_MONEY_LEDGER_H

#include "common/config.h"
#include "common/errors.h"
#include "money/money_calc.h"
#include "store/store.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

struct hw_money;
struct hw_account;

/* One request's reservation; zero-initialised by its owner. */
struct hw_money_res {
	struct hw_account *acct;
	bool admitted;	  /* passed admission: holds nothing yet */
	bool active;	  /* holds a reservation: ends in exactly one settle or release */
	bool passthrough; /* admitted in passthrough: no markup, no wallet */
	enum hw_money_verdict verdict;
	int64_t rate_bp;
	int64_t worst_up, worst_markup;
	/* Set by hw_money_settle. */
	int64_t markup_cost;
};

/* Why a step refused: the error and its extra fields (owned by the caller). */
struct hw_money_refusal {
	enum hw_err err;
	char msg[256];
	json_t *extra;
};

/* Applies what the ledger journal at `journal_path` holds beyond the store (a previous run
 * that died before its ledger writer caught up), then starts. `journal_path` NULL = no
 * journal (an in-memory store): changes are durable only once the writer committed them. */
struct hw_money *hw_money_start(struct hw_store *st, const char *journal_path, bool sync_each);
/* Commits everything pending and frees every account. */
void hw_money_stop(struct hw_money *m);

/* SPEC §3 step 12: loads the account, rolls its month, decides the wallet state (opening a
 * passthrough cycle when it is empty, cutting it at the grace cap), the quota and the
 * Budget Control verdict. 0, -EPERM with `why` filled, or -EIO (store unreachable: 503). */
int hw_money_admit(struct hw_money *m, const struct hw_config *cfg, const char *workspace_id,
		   struct hw_money_res *res, struct hw_money_refusal *why);

/* SPEC §3 step 14 and §10.2: reserves the worst case of `worst_up` all or nothing (quota
 * slot, remaining cap, wallet markup). Called again before a fallback attempt, it grows
 * the reservation to a dearer candidate's worst case with the same checks and never
 * shrinks it. 0 or -EPERM with `why`. */
int hw_money_reserve(struct hw_money *m, const struct hw_config *cfg, struct hw_money_res *res,
		     int64_t worst_up, struct hw_money_refusal *why);

/* Ends a reservation without a charge (failure before any response). No-op when none. */
void hw_money_release(struct hw_money *m, struct hw_money_res *res);

struct hw_money_usage {
	int64_t upstream_cost; /* µ$, at the answering model's prices */
	int64_t tokens;	       /* prompt + completion, for the passthrough cycle */
	bool counts;	       /* a 2xx answer: counts toward the month's requests */
	const char *request_id;
	int64_t baseline_cost; /* for the cost counters of /metrics only */
};

/* SPEC §10.3: charges the actual cost (markup capped at the reservation), refunds the rest,
 * emits the events it triggers; the change is in the ledger journal (durable) when this
 * returns and in SQLite soon after. res->markup_cost is set. 0, or -EINVAL without an
 * active reservation. */
int hw_money_settle(struct hw_money *m, const struct hw_config *cfg, struct hw_money_res *res,
		    const struct hw_money_usage *u);

/* Management (SPEC §16.2). Each reads or changes one workspace's account; -ENOENT when the
 * workspace does not exist, -EIO when the store fails. */
struct hw_money_view {
	struct hw_money_state s;
	int64_t reserved_markup, reserved_upstream, in_flight;
	int64_t rate_bp;
	int64_t cap; /* effective: the workspace's or the default */
	struct hw_money_thresholds th;
	int64_t included_requests; /* effective; -1 = unlimited */
	bool overage_enabled;
	int64_t overage_per_100k;
	char plan[32];
	enum hw_money_verdict verdict;
	/* Settled since this process started, for hiway_cost_usd_total. */
	int64_t total_upstream, total_markup, total_baseline;
};
int hw_money_view(struct hw_money *m, const struct hw_config *cfg, const char *workspace_id,
		  struct hw_money_view *out);
/* Credits the wallet (kind "topup" or "initial_credit"); -EALREADY returns the original
 * entry of a repeated reference with the same amount, -EEXIST another amount. */
int hw_money_topup(struct hw_money *m, const struct hw_config *cfg, const char *workspace_id,
		   int64_t amount, const char *reference, struct hw_ledger_entry *out);
int hw_money_set_budget(struct hw_money *m, const char *workspace_id, int64_t cap,
			const struct hw_money_thresholds *th);
/* `plan_name` (NULL: unchanged) is the preset the values came from, shown as the plan. */
int hw_money_set_plan(struct hw_money *m, const char *workspace_id, const char *plan_name,
		      int64_t included, bool overage_enabled, int64_t overage_per_100k);

/* Waits until every change made so far is in SQLite (the ledger writer gathers changes
 * for a few milliseconds): for reads of the store, such as the ledger listing. */
int hw_money_flush(struct hw_money *m);

/* Every loaded account, for the money gauges of /metrics. */
void hw_money_foreach(struct hw_money *m, const struct hw_config *cfg,
		      void (*fn)(void *arg, const char *workspace_id, const struct hw_money_view *v),
		      void *arg);

/* Money counters for /metrics. */
struct hw_money_totals {
	uint64_t overrun;    /* µ$ of actual upstream cost above the reservation */
	uint64_t rejections[6]; /* by HW_MONEY_REJ_* */
};
enum { HW_MONEY_REJ_INSUFFICIENT, HW_MONEY_REJ_BUDGET, HW_MONEY_REJ_QUOTA, HW_MONEY_REJ_GRACE_TIME,
       HW_MONEY_REJ_GRACE_TOKENS, HW_MONEY_REJ_HARD_CUT };
void hw_money_totals(struct hw_money *m, struct hw_money_totals *out);

#endif
