/* SPDX-License-Identifier: Apache-2.0 */
/* Security Shield in the request pipeline (SPEC §3 step 11, §12.1): the active pattern
 * database, the mode of a request, the block-mode scan, the monitor-mode worker that scans
 * off the request path, and the sink that receives every detection. */
#ifndef HW_SHIELD_SHIELD_H
#define HW_SHIELD_SHIELD_H

#include "common/config.h"
#include "shield/scanner.h"

#include <stdbool.h>
#include <stdint.h>

enum hw_shield_mode { HW_SHIELD_OFF, HW_SHIELD_MONITOR, HW_SHIELD_BLOCK };

const char *hw_shield_mode_name(enum hw_shield_mode m);
/* A key's shield_mode when set ("" = inherit), else the workspace's (NULL or "" = inherit),
 * else the configured default; unknown values fall through to the next level. */
enum hw_shield_mode hw_shield_mode_resolve(const char *key_mode, const char *workspace_mode,
					   const char *config_mode);

/* One detection (score > 0), for the audit trail and the log. */
struct hw_shield_event {
	const char *workspace_id, *key_id, *request_id, *client_ip;
	const char *model;       /* the requested model string */
	const char *threat_type; /* prompt_injection | prompt_extraction | jailbreak | pii | secrets */
	double score;
	const char *action;      /* blocked | logged */
	const char *mode;        /* monitor | block */
	const char *prompt_sha256;
	int64_t timestamp_ms;    /* wall clock, Unix milliseconds */
};

/* Receives every detection, from HTTP workers (block mode) and the monitor worker; must be
 * thread-safe and should not block long. The strings live only during the call. */
typedef void (*hw_shield_sink_fn)(const struct hw_shield_event *ev);
extern _Atomic(hw_shield_sink_fn) hw_shield_sink;
/* The default sink: one JSON log line, msg "shield detection". */
void hw_shield_sink_log(const struct hw_shield_event *ev);

/* Starts the Shield: compiles the patterns of cfg->shield.patterns_dir and starts the
 * monitor worker with a queue of cfg->shield.monitor_queue scans. -1 with `err` set when
 * the CPU lacks what Hyperscan needs (SSSE3) or a pattern does not compile. */
int hw_shield_start(const struct hw_config *cfg, char *err, size_t errlen);
/* Recompiles the patterns (SIGHUP); the previous database stays on failure. */
int hw_shield_reload(const struct hw_config *cfg, char *err, size_t errlen);
/* Drains the queue, stops the worker, frees the databases. */
void hw_shield_stop(void);

/* The scores of cfg->shield.scores. */
void hw_shield_scores_from_config(const struct hw_config *cfg, struct hw_shield_scores *out);

/* The context of a scanned request (copied by hw_shield_monitor_submit). */
struct hw_shield_request {
	const char *workspace_id, *key_id, *request_id, *client_ip, *model;
};

/* Block mode: scans `text` now with the active database and the workspace's custom
 * patterns (shield_ws.h); on a detection reports it to the sink with action blocked (score
 * >= the workspace's threshold, else shield.threshold) or logged, and counts metrics.
 * Returns true when the request must be blocked; `res` holds the result. */
bool hw_shield_check(const struct hw_config *cfg, const struct hw_shield_request *rq,
		     const char *text, size_t len, struct hw_shield_result *res);

/* Monitor mode: queues a scan of `text` (taken over: freed by the worker, or here when the
 * queue is full, which counts a dropped scan). Never blocks. The worker scans with the
 * workspace's custom patterns as they are when the scan runs. */
void hw_shield_monitor_submit(const struct hw_config *cfg, const struct hw_shield_request *rq,
			      char *text, size_t len);
/* Waits until the monitor queue is empty and its worker idle (tests). */
void hw_shield_monitor_flush(void);

#endif
