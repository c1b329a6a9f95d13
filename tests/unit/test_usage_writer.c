// SPDX-License-Identifier: Apache-2.0
/* The batching usage writer over a real SQLite file, and over a store that fails on demand. */
#include "store/store.h"
#include "store/usage_writer.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#define THREADS 8
#define PER_THREAD 3000

/* A store whose writes fail while `fail` is set; everything else is the real store. */
struct flaky_store {
	struct hw_store base;
	struct hw_store_ops ops;
	struct hw_store *real;
	atomic_bool fail;
	atomic_int calls;
};

struct fixture {
	char dir[64];
	char path[96];
	struct hw_store *st;
	struct hw_usage_writer *w; /* stopped by teardown when a failed assertion skipped it */
	struct flaky_store flaky;  /* outlives a writer left running by a failed test */
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	char url[128];
	assert_non_null(f);
	strcpy(f->dir, "/tmp/hw_test_usage_XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/hiway.db", f->dir);
	snprintf(url, sizeof(url), "sqlite:%s", f->path);
	assert_int_equal(hw_store_open(url, 5000, "normal", &f->st), 0);

	struct hw_workspace ws;
	memset(&ws, 0, sizeof(ws));
	strcpy(ws.id, "01A");
	strcpy(ws.name, "a");
	strcpy(ws.status, "active");
	strcpy(ws.plan, "unlimited");
	strcpy(ws.routing_profile, "balanced");
	assert_int_equal(f->st->ops->workspace_create(f->st, &ws), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char p[128];
	hw_usage_writer_stop(f->w);
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

static void create_key(struct hw_store *st, const char *id)
{
	struct hw_key k;
	memset(&k, 0, sizeof(k));
	snprintf(k.id, sizeof(k.id), "%s", id);
	strcpy(k.workspace_id, "01A");
	snprintf(k.name, sizeof(k.name), "%s", id);
	strcpy(k.prefix, "hw_live_3f2a");
	memset(k.hash, 'b', sizeof(k.hash) - 1);
	strcpy(k.role, "inference");
	strcpy(k.status, "active");
	k.rpm_limit = -1;
	strcpy(k.source, "api");
	k.created_at = 1;
	assert_int_equal(st->ops->key_create(st, &k), 0);
}

static int64_t last_used(struct hw_store *st, const char *id)
{
	struct hw_key k;
	assert_int_equal(st->ops->key_get(st, id, &k), 0);
	return k.last_used_at;
}

static int64_t rows(struct hw_store *st)
{
	int64_t n = -1;
	assert_int_equal(st->ops->usage_count(st, "01A", 0, INT64_MAX, &n), 0);
	return n;
}

static void sleep_ms(long ms) { nanosleep(&(struct timespec){.tv_nsec = ms * 1000000}, NULL); }

/* Polls `cond` every 10 ms; the generous bound only matters on a badly overloaded host. */
#define WAIT_UNTIL(cond)                                                                           \
	do {                                                                                       \
		for (int i_ = 0; i_ < 6000 && !(cond); i_++)                                       \
			sleep_ms(10);                                                              \
		assert_true(cond);                                                                 \
	} while (0)

static struct hw_usage_record make_usage(int thread, int i)
{
	struct hw_usage_record r;
	memset(&r, 0, sizeof(r));
	snprintf(r.request_id, sizeof(r.request_id), "req_%d_%d", thread, i);
	r.ts_ms = 1000 + i;
	strcpy(r.workspace_id, "01A");
	strcpy(r.key_id, "kid_01");
	strcpy(r.route, "chat");
	r.score = -1;
	r.status = 200;
	return r;
}

struct submitter {
	struct hw_usage_writer *w;
	int index;
};

static void *submit_many(void *p)
{
	struct submitter *s = p;
	for (int i = 0; i < PER_THREAD; i++) {
		struct hw_usage_record r = make_usage(s->index, i);
		char chain[64];
		snprintf(chain, sizeof(chain), "[\"t%d-%d\"]", s->index, i);
		r.fallback_chain = i % 3 == 0 ? chain : NULL;
		if (hw_usage_writer_submit(s->w, &r) != 0)
			return (void *)1;
		hw_usage_writer_touch_key(s->w, "kid_01", 1000 + i);
	}
	return NULL;
}

static void test_many_threads(void **state)
{
	struct fixture *f = *state;
	pthread_t threads[THREADS];
	struct submitter args[THREADS];

	create_key(f->st, "kid_01");
	struct hw_usage_writer *w = f->w = hw_usage_writer_start(f->st, 100000);
	assert_non_null(w);
	for (int i = 0; i < THREADS; i++) {
		args[i] = (struct submitter){.w = w, .index = i};
		assert_int_equal(pthread_create(&threads[i], NULL, submit_many, &args[i]), 0);
	}
	for (int i = 0; i < THREADS; i++) {
		void *ret = NULL;
		pthread_join(threads[i], &ret);
		assert_null(ret);
	}
	assert_int_equal(hw_usage_writer_dropped(w), 0);
	hw_usage_writer_stop(w);
	f->w = NULL;

	assert_int_equal(rows(f->st), THREADS * PER_THREAD);
	/* The last touch (1000 + PER_THREAD - 1) was skipped only if a value within the
	 * interval before it had been written. */
	int64_t at = last_used(f->st, "kid_01");
	assert_true(at <= 1000 + PER_THREAD - 1);
	assert_true(at > 1000 + PER_THREAD - 1 - HW_USAGE_WRITER_TOUCH_INTERVAL_S);
}

static void test_stop_flushes_and_copies(void **state)
{
	struct fixture *f = *state;
	struct hw_usage_writer *w = f->w = hw_usage_writer_start(f->st, 1000);
	assert_non_null(w);

	for (int i = 0; i < 10; i++) {
		struct hw_usage_record r = make_usage(0, i);
		r.fallback_chain = strdup("[{\"model\":\"openai/gpt-4o\"}]");
		assert_int_equal(hw_usage_writer_submit(w, &r), 0);
		/* The writer holds its own copy. */
		memset(r.fallback_chain, 'x', strlen(r.fallback_chain));
		free(r.fallback_chain);
	}
	WAIT_UNTIL(hw_usage_writer_written(w) == 10);
	hw_usage_writer_stop(w);
	f->w = NULL;
	assert_int_equal(rows(f->st), 10);

	sqlite3 *db = NULL;
	sqlite3_stmt *s = NULL;
	assert_int_equal(sqlite3_open_v2(f->path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db,
					    "SELECT count(*) FROM usage_records WHERE "
					    "fallback_chain = '[{\"model\":\"openai/gpt-4o\"}]'",
					    -1, &s, NULL),
			 SQLITE_OK);
	assert_int_equal(sqlite3_step(s), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int(s, 0), 10);
	sqlite3_finalize(s);
	sqlite3_close(db);
}

static void test_touch_coalescing(void **state)
{
	struct fixture *f = *state;
	const int64_t t = 1767225600;

	create_key(f->st, "kid_01");
	struct hw_usage_writer *w = f->w = hw_usage_writer_start(f->st, 1000);
	assert_non_null(w);

	hw_usage_writer_touch_key(w, "kid_01", t);
	WAIT_UNTIL(last_used(f->st, "kid_01") == t);

	hw_usage_writer_touch_key(w, "kid_01", t + 30);
	hw_usage_writer_touch_key(w, "kid_01", t + 59);
	sleep_ms(5 * HW_USAGE_WRITER_TICK_MS);
	assert_int_equal(last_used(f->st, "kid_01"), t);

	hw_usage_writer_touch_key(w, "kid_01", t + 60);
	WAIT_UNTIL(last_used(f->st, "kid_01") == t + 60);

	/* Within the minute again, then a touch at stop time that must still land. */
	hw_usage_writer_touch_key(w, "kid_01", t + 100);
	hw_usage_writer_touch_key(w, "kid_01", t + 125);
	hw_usage_writer_stop(w);
	f->w = NULL;
	assert_int_equal(last_used(f->st, "kid_01"), t + 125);
}

static void test_touch_many_keys(void **state)
{
	struct fixture *f = *state;
	char id[HW_ID_MAX];

	for (int i = 0; i < 300; i++) {
		snprintf(id, sizeof(id), "kid_%04d", i);
		create_key(f->st, id);
	}
	struct hw_usage_writer *w = f->w = hw_usage_writer_start(f->st, 1000);
	assert_non_null(w);
	for (int i = 0; i < 300; i++) {
		snprintf(id, sizeof(id), "kid_%04d", i);
		hw_usage_writer_touch_key(w, id, 5000 + i);
		hw_usage_writer_touch_key(w, id, 5001 + i);
	}
	/* Not ids: ignored. */
	hw_usage_writer_touch_key(w, "", 1);
	hw_usage_writer_touch_key(w, "kid_0123456789012345678901234567890123456789", 1);
	hw_usage_writer_stop(w);
	f->w = NULL;
	for (int i = 0; i < 300; i++) {
		snprintf(id, sizeof(id), "kid_%04d", i);
		assert_int_equal(last_used(f->st, id), 5000 + i);
	}
}

static int flaky_flush(struct hw_store *st, const struct hw_usage_record *recs, size_t n,
		       const char *const *ids, const int64_t *at, size_t m)
{
	struct flaky_store *fs = (struct flaky_store *)st;
	atomic_fetch_add(&fs->calls, 1);
	if (atomic_load(&fs->fail))
		return -EIO;
	return fs->real->ops->usage_flush(fs->real, recs, n, ids, at, m);
}

static void flaky_init(struct flaky_store *fs, struct hw_store *real)
{
	memset(fs, 0, sizeof(*fs));
	fs->ops.usage_flush = flaky_flush;
	fs->base.ops = &fs->ops;
	fs->base.backend = "flaky";
	fs->real = real;
}

static void test_drops_and_retries(void **state)
{
	struct fixture *f = *state;
	struct flaky_store *fs = &f->flaky;

	create_key(f->st, "kid_01");
	flaky_init(fs, f->st);
	atomic_store(&fs->fail, true);
	struct hw_usage_writer *w = f->w = hw_usage_writer_start(&fs->base, 4);
	assert_non_null(w);

	/* The store refuses everything, so nothing leaves: four wait, the rest are dropped. */
	for (int i = 0; i < 10; i++) {
		struct hw_usage_record r = make_usage(0, i);
		assert_int_equal(hw_usage_writer_submit(w, &r), i < 4 ? 0 : -ENOBUFS);
	}
	hw_usage_writer_touch_key(w, "kid_01", 42);
	assert_int_equal(hw_usage_writer_dropped(w), 6);
	WAIT_UNTIL(atomic_load(&fs->calls) >= 2);
	struct hw_usage_record late = make_usage(1, 0);
	assert_int_equal(hw_usage_writer_submit(w, &late), -ENOBUFS);
	assert_int_equal(hw_usage_writer_dropped(w), 7);
	assert_int_equal(hw_usage_writer_written(w), 0);
	assert_int_equal(rows(f->st), 0);

	/* The kept batch and its touch land once the store is back; room frees up. */
	atomic_store(&fs->fail, false);
	WAIT_UNTIL(hw_usage_writer_written(w) == 4);
	assert_int_equal(last_used(f->st, "kid_01"), 42);
	for (int i = 0; i < 2; i++) {
		struct hw_usage_record r = make_usage(2, i);
		assert_int_equal(hw_usage_writer_submit(w, &r), 0);
	}
	hw_usage_writer_stop(w);
	f->w = NULL;
	assert_int_equal(rows(f->st), 6);
}

static void test_stop_with_failing_store(void **state)
{
	struct fixture *f = *state;
	struct flaky_store *fs = &f->flaky;

	flaky_init(fs, f->st);
	atomic_store(&fs->fail, true);
	struct hw_usage_writer *w = f->w = hw_usage_writer_start(&fs->base, 100);
	assert_non_null(w);
	for (int i = 0; i < 3; i++) {
		struct hw_usage_record r = make_usage(0, i);
		r.fallback_chain = "[]";
		assert_int_equal(hw_usage_writer_submit(w, &r), 0);
	}
	/* Stop gives up after a few attempts instead of hanging; the records are freed. */
	int before = atomic_load(&fs->calls);
	hw_usage_writer_stop(w);
	f->w = NULL;
	assert_true(atomic_load(&fs->calls) - before >= 3);
	assert_int_equal(rows(f->st), 0);
}

static void test_start_invalid(void **state)
{
	struct fixture *f = *state;
	assert_null(hw_usage_writer_start(NULL, 10));
	assert_null(hw_usage_writer_start(f->st, 0));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_many_threads, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stop_flushes_and_copies, setup, teardown),
		cmocka_unit_test_setup_teardown(test_touch_coalescing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_touch_many_keys, setup, teardown),
		cmocka_unit_test_setup_teardown(test_drops_and_retries, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stop_with_failing_store, setup, teardown),
		cmocka_unit_test_setup_teardown(test_start_invalid, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
