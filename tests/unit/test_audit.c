// SPDX-License-Identifier: Apache-2.0
/* The audit trail's hash chain: canonical bytes and a hash computed independently, chains
 * built through the real SQLite store, each kind of tampering named by verify, the purge
 * anchor, and appends from several threads that must never fork a chain. */
#include "shield/audit.h"
#include "store/store.h"

#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#define WS "01JAX3Q5ZP7K8M9N0R1S2T3V4W"

struct fixture {
	char dir[64];
	char path[96];
	struct hw_store *st;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	char url[128];
	assert_non_null(f);
	strcpy(f->dir, "/tmp/hw_test_audit_XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/hiway.db", f->dir);
	snprintf(url, sizeof(url), "sqlite:%s", f->path);
	assert_int_equal(hw_store_open(url, 5000, "normal", &f->st), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	static const char *const suffixes[] = {"", "-wal", "-shm"};
	char p[128];
	f->st->ops->close(f->st);
	for (size_t i = 0; i < 3; i++) {
		snprintf(p, sizeof(p), "%s%s", f->path, suffixes[i]);
		unlink(p);
	}
	rmdir(f->dir);
	free(f);
	return 0;
}

static void event_init(struct hw_audit_event *ev, int64_t ts_ms)
{
	memset(ev, 0, sizeof(*ev));
	strcpy(ev->workspace_id, WS);
	strcpy(ev->key_id, "kid_A");
	strcpy(ev->request_id, "req_1");
	strcpy(ev->client_ip, "127.0.0.1");
	strcpy(ev->model, "gpt-4o");
	strcpy(ev->threat_type, "secrets");
	ev->score = 0.949;
	strcpy(ev->action, "blocked");
	strcpy(ev->mode, "block");
	memset(ev->prompt_sha256, 'a', 64);
	ev->timestamp_ms = ts_ms;
}

static int64_t may_first_ms(void)
{
	int64_t ms = 0;
	assert_int_equal(hw_audit_time_parse("2026-05-01T00:00:00.123Z", &ms), 0);
	return ms;
}

/* Appends n rows and returns the workspace's rows from the store. */
static struct hw_audit_row *chain(struct hw_store *st, int n, int64_t ts_ms, size_t *len)
{
	struct hw_audit_event ev;
	struct hw_audit_row *rows = NULL;
	event_init(&ev, ts_ms);
	for (int i = 0; i < n; i++)
		assert_int_equal(hw_audit_append(st, &ev, NULL, NULL), 0);
	assert_int_equal(st->ops->audit_list(st, WS, INT64_MIN, 0, 100000, &rows, len), 0);
	return rows;
}

static void expect_verdict(const struct hw_audit_row *rows, size_t n, bool from_store,
			   int64_t bad_seq, const char *problem)
{
	struct hw_audit_verdict v;
	hw_audit_verify(rows, n, from_store, 0, NULL, &v);
	assert_false(v.ok);
	assert_int_equal(v.first_bad_seq, bad_seq);
	assert_string_equal(v.problem, problem);
}

static void test_canonical_and_hash(void **state)
{
	struct fixture *f = *state;
	/* Computed outside hiway: sha256(64 zeros ‖ the netstrings below). */
	static const char canon[] =
	    "1:1,1:1,24:2026-05-01T00:00:00.123Z,26:" WS ",6:threat,5:kid_A,5:req_1,"
	    "9:127.0.0.1,7:secrets,4:0.95,7:blocked,64:"
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa,6:gpt-4o,5:block,0:,";
	size_t n = 0;
	int64_t seq = 0;
	char hash[65], buf[1024];
	struct hw_audit_event ev;
	event_init(&ev, may_first_ms());
	assert_int_equal(hw_audit_append(f->st, &ev, &seq, hash), 0);
	assert_int_equal(seq, 1);
	assert_string_equal(hash,
			    "a0d32c58b8a57a4b92469e9ab5a4e6890cfd47954e27c4c6965cd25e3d5c0d2c");
	struct hw_audit_row *rows = chain(f->st, 0, 0, &n);
	assert_int_equal(n, 1);
	assert_int_equal(hw_audit_canonical(&rows[0], buf, sizeof(buf)), (int)strlen(canon));
	assert_string_equal(buf, canon);
	assert_string_equal(rows[0].prev_hash,
			    "0000000000000000000000000000000000000000000000000000000000000000");
	assert_string_equal(rows[0].score, "0.95");
	assert_int_equal(hw_audit_canonical(&rows[0], buf, 16), -ENOSPC);
	free(rows);
}

static void test_chain_verifies(void **state)
{
	struct fixture *f = *state;
	size_t n = 0;
	struct hw_audit_row *rows = chain(f->st, 20, may_first_ms(), &n);
	struct hw_audit_verdict v;
	assert_int_equal(n, 20);
	for (size_t i = 1; i < n; i++)
		assert_string_equal(rows[i].prev_hash, rows[i - 1].row_hash);
	hw_audit_verify(rows, n, true, 0, NULL, &v);
	assert_true(v.ok);
	assert_int_equal(v.rows, 20);
	assert_int_equal(v.head_seq, 20);
	assert_string_equal(v.head_hash, rows[19].row_hash);
	/* An export that starts mid-chain verifies from its own first prev_hash. */
	hw_audit_verify(rows + 5, n - 5, false, 0, NULL, &v);
	assert_true(v.ok);
	hw_audit_verify(rows + 5, n - 5, true, 0, NULL, &v);
	assert_false(v.ok);
	assert_string_equal(v.problem, "missing");
	assert_int_equal(v.first_bad_seq, 1);
	free(rows);
}

static void test_tampering_named(void **state)
{
	struct fixture *f = *state;
	size_t n = 0;
	struct hw_audit_row *rows = chain(f->st, 10, may_first_ms(), &n);
	struct hw_audit_row *t = malloc(sizeof(*t) * (n + 1));
	assert_non_null(t);

	memcpy(t, rows, sizeof(*t) * n);
	strcpy(t[3].score, "0.10");
	expect_verdict(t, n, true, 4, "modified");

	memcpy(t, rows, sizeof(*t) * n);
	t[6].ts_ms += 1;
	expect_verdict(t, n, true, 7, "modified");

	/* Delete seq 5. */
	memcpy(t, rows, sizeof(*t) * 4);
	memcpy(t + 4, rows + 5, sizeof(*t) * (n - 5));
	expect_verdict(t, n - 1, true, 5, "missing");
	/* Delete the first row. */
	expect_verdict(rows + 1, n - 1, true, 1, "missing");

	/* Insert a well-formed forged row as seq 4 ahead of the real one. */
	memcpy(t, rows, sizeof(*t) * 3);
	t[3] = rows[3];
	strcpy(t[3].request_id, "req_forged");
	assert_int_equal(hw_audit_row_hash(&t[3], t[3].row_hash), 0);
	memcpy(t + 4, rows + 3, sizeof(*t) * (n - 3));
	expect_verdict(t, n + 1, true, 4, "inserted_or_reordered");

	/* Reorder seq 6 and 7. */
	memcpy(t, rows, sizeof(*t) * n);
	t[5] = rows[6];
	t[6] = rows[5];
	expect_verdict(t, n, true, 6, "inserted_or_reordered");

	/* Swap the contents of 6 and 7 keeping seq order, as an UPDATE of seq would. */
	memcpy(t, rows, sizeof(*t) * n);
	t[5] = rows[6];
	t[5].seq = 6;
	t[6] = rows[5];
	t[6].seq = 7;
	expect_verdict(t, n, true, 6, "inserted_or_reordered");
	free(t);
	free(rows);
}

static void test_purge_and_anchor(void **state)
{
	struct fixture *f = *state;
	struct hw_audit_event ev;
	struct hw_audit_verdict v;
	int64_t deleted = -1, day = 86400000LL, now = 0;
	size_t n = 0;
	struct hw_audit_row *rows = chain(f->st, 5, 1000, &n); /* 1970: older than any retention */
	free(rows);
	event_init(&ev, 0);
	for (int i = 0; i < 3; i++)
		assert_int_equal(hw_audit_append(f->st, &ev, NULL, NULL), 0);
	assert_int_equal(f->st->ops->audit_list(f->st, WS, INT64_MIN, 0, 100000, &rows, &n), 0);
	char anchor[65];
	strcpy(anchor, rows[4].row_hash);
	now = rows[5].ts_ms;
	free(rows);
	assert_int_equal(hw_audit_purge(f->st, WS, 90, &deleted), 0);
	assert_int_equal(deleted, 5);
	/* Nothing older is left: a second purge chains nothing. */
	assert_int_equal(hw_audit_purge(f->st, WS, 90, &deleted), 0);
	assert_int_equal(deleted, 0);

	assert_int_equal(f->st->ops->audit_list(f->st, WS, INT64_MIN, 0, 100000, &rows, &n), 0);
	assert_int_equal(n, 4);
	assert_int_equal(rows[0].seq, 6);
	assert_string_equal(rows[3].kind, "retention_purge");
	assert_int_equal(rows[3].seq, 9);
	assert_true(rows[3].ts_ms >= now - day);
	char detail[160];
	snprintf(detail, sizeof(detail), "deleted_through_seq=5;deleted_count=5;anchor=%s", anchor);
	assert_string_equal(rows[3].detail, detail);
	hw_audit_verify(rows, n, true, 0, NULL, &v);
	assert_true(v.ok);
	assert_int_equal(v.head_seq, 9);

	/* A purge row rewritten to point at another anchor, rehashed so it checks itself. */
	strcpy(rows[3].detail, "deleted_through_seq=5;deleted_count=5;anchor="
			       "1111111111111111111111111111111111111111111111111111111111111111");
	assert_int_equal(hw_audit_row_hash(&rows[3], rows[3].row_hash), 0);
	expect_verdict(rows, n, true, 6, "anchor_mismatch");
	free(rows);

	/* The store refuses UPDATE and DELETE outside the purge. */
	sqlite3 *db = NULL;
	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	sqlite3_busy_timeout(db, 5000);
	assert_int_not_equal(
	    sqlite3_exec(db, "UPDATE security_events SET score = '0.01'", NULL, NULL, NULL),
	    SQLITE_OK);
	assert_int_not_equal(sqlite3_exec(db, "DELETE FROM security_events", NULL, NULL, NULL),
			     SQLITE_OK);
	sqlite3_close(db);
}

static void test_purge_everything(void **state)
{
	struct fixture *f = *state;
	struct hw_audit_verdict v;
	int64_t deleted = 0;
	size_t n = 0;
	struct hw_audit_row *rows = chain(f->st, 3, 1000, &n);
	char head[65];
	strcpy(head, rows[2].row_hash);
	free(rows);
	assert_int_equal(hw_audit_purge(f->st, WS, 1, &deleted), 0);
	assert_int_equal(deleted, 3);
	assert_int_equal(f->st->ops->audit_list(f->st, WS, INT64_MIN, 0, 100000, &rows, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(rows[0].seq, 4);
	assert_string_equal(rows[0].prev_hash, head);
	hw_audit_verify(rows, n, true, 0, NULL, &v);
	assert_true(v.ok);
	free(rows);
}

static void test_expect_head(void **state)
{
	struct fixture *f = *state;
	struct hw_audit_verdict v;
	size_t n = 0;
	struct hw_audit_row *rows = chain(f->st, 6, may_first_ms(), &n);
	char head[65];
	strcpy(head, rows[3].row_hash);
	hw_audit_verify(rows, n, true, 4, head, &v);
	assert_true(v.ok);
	/* Rewrite the whole chain from seq 2 on: it verifies by itself, not against the head. */
	strcpy(rows[1].model, "other");
	for (size_t i = 1; i < n; i++) {
		strcpy(rows[i].prev_hash, rows[i - 1].row_hash);
		assert_int_equal(hw_audit_row_hash(&rows[i], rows[i].row_hash), 0);
	}
	hw_audit_verify(rows, n, true, 0, NULL, &v);
	assert_true(v.ok);
	hw_audit_verify(rows, n, true, 4, head, &v);
	assert_false(v.ok);
	assert_int_equal(v.first_bad_seq, 4);
	assert_string_equal(v.problem, "modified");
	/* Cut back below the head written down. */
	hw_audit_verify(rows, 3, true, 4, head, &v);
	assert_false(v.ok);
	assert_string_equal(v.problem, "missing");
	free(rows);
}

#define THREADS 8
#define PER_THREAD 25

static void *append_many(void *arg)
{
	struct hw_store *st = arg;
	struct hw_audit_event ev;
	event_init(&ev, 0);
	for (int i = 0; i < PER_THREAD; i++)
		if (hw_audit_append(st, &ev, NULL, NULL) != 0)
			return (void *)1;
	return NULL;
}

static void test_concurrent_appends(void **state)
{
	struct fixture *f = *state;
	pthread_t th[THREADS];
	struct hw_audit_verdict v;
	struct hw_audit_row *rows = NULL;
	struct hw_store *other = NULL;
	char url[128];
	size_t n = 0;
	/* Half the threads on a second store over the same file, as another process would be:
	 * the transaction, not the in-process mutex, must keep the chain single. */
	snprintf(url, sizeof(url), "sqlite:%s", f->path);
	assert_int_equal(hw_store_open(url, 5000, "normal", &other), 0);
	for (int i = 0; i < THREADS; i++)
		assert_int_equal(pthread_create(&th[i], NULL, append_many, i % 2 ? other : f->st),
				 0);
	for (int i = 0; i < THREADS; i++) {
		void *ret = NULL;
		pthread_join(th[i], &ret);
		assert_null(ret);
	}
	other->ops->close(other);
	assert_int_equal(f->st->ops->audit_list(f->st, WS, INT64_MIN, 0, 100000, &rows, &n), 0);
	assert_int_equal(n, THREADS * PER_THREAD);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(rows[i].seq, (int64_t)i + 1);
	hw_audit_verify(rows, n, true, 0, NULL, &v);
	assert_true(v.ok);
	free(rows);
}

/* The verifier fed page by page, as the API does, gives what it gives over the array. */
static void test_paged_verify(void **state)
{
	struct fixture *f = *state;
	struct hw_audit_verifier vf;
	struct hw_audit_verdict v;
	int64_t after = 0;
	size_t n = 0, pages = 0;
	free(chain(f->st, 25, may_first_ms(), &n));
	hw_audit_verify_begin(&vf, true, 0, NULL);
	do {
		struct hw_audit_row *rows = NULL;
		assert_int_equal(f->st->ops->audit_list(f->st, WS, INT64_MIN, after, 7, &rows, &n),
				 0);
		for (size_t i = 0; i < n; i++)
			hw_audit_verify_step(&vf, &rows[i]);
		if (n)
			after = rows[n - 1].seq;
		free(rows);
		pages++;
	} while (n == 7);
	hw_audit_verify_end(&vf, &v);
	assert_int_equal(pages, 4);
	assert_true(v.ok);
	assert_int_equal(v.rows, 25);
	assert_int_equal(v.head_seq, 25);
}

static void test_bad_event(void **state)
{
	struct fixture *f = *state;
	struct hw_audit_event ev;
	event_init(&ev, 0);
	strcpy(ev.action, "dropped");
	assert_int_equal(hw_audit_append(f->st, &ev, NULL, NULL), -EINVAL);
	event_init(&ev, 0);
	ev.score = 1.5;
	assert_int_equal(hw_audit_append(f->st, &ev, NULL, NULL), -EINVAL);
}

static void test_time_format(void **state)
{
	char buf[25];
	int64_t ms = 0;
	(void)state;
	hw_audit_time(1777593600123LL, buf);
	assert_string_equal(buf, "2026-05-01T00:00:00.123Z");
	assert_int_equal(hw_audit_time_parse(buf, &ms), 0);
	assert_int_equal(ms, 1777593600123LL);
	assert_int_equal(hw_audit_time_parse("2026-05-01T00:00:00Z", &ms), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_canonical_and_hash, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_chain_verifies, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_tampering_named, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_purge_and_anchor, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_purge_everything, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_expect_head, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_concurrent_appends, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_paged_verify, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bad_event, setup, teardown),
	    cmocka_unit_test(test_time_format),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
