// SPDX-License-Identifier: Apache-2.0
/* The worker loop. Each iteration: let the engine run curl's timer and its sweep, wait on
 * epoll for the shorter of the engine's and MHD's deadlines, then dispatch: curl sockets to
 * the engine, the wake descriptor to the control flags, and MHD (its epoll descriptor
 * ready, a timeout, or a connection resumed by a provider answer) to MHD_run before the
 * loop sleeps again. */
#include "gateway/worker.h"

#include "common/log.h"
#include "gateway/server.h"
#include "upstream/engine.h"
#include "upstream/http1.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#define HW_EPOLL_MHD 2
#define HW_EPOLL_WAKE 3
#define MAX_EVENTS 64

static void wake(struct hw_worker *w)
{
	uint64_t one = 1;
	ssize_t n = write(w->wakefd, &one, sizeof(one));
	(void)n;
}

/* MHD moves a resumed connection back in one pass and serves it in a later one; run each
 * daemon until it reports no immediate work (bounded, so one busy daemon cannot starve
 * the engine). */
static void run_daemons(struct hw_worker *w)
{
	for (size_t i = 0; i < w->n_daemons; i++) {
		for (int pass = 0; pass < 8; pass++) {
			MHD_UNSIGNED_LONG_LONG t = 1;
			MHD_run(w->daemons[i]);
			if (MHD_get_timeout(w->daemons[i], &t) != MHD_YES || t > 0)
				break;
		}
	}
}

static long mhd_wait(struct hw_worker *w, long wait)
{
	for (size_t i = 0; i < w->n_daemons; i++) {
		MHD_UNSIGNED_LONG_LONG t;
		if (MHD_get_timeout(w->daemons[i], &t) == MHD_YES && (wait < 0 || (long long)t < wait))
			wait = (long)t;
	}
	return wait;
}

static void handle_control(struct hw_worker *w)
{
	uint64_t v;
	ssize_t n = read(w->wakefd, &v, sizeof(v));
	(void)n;
	if (atomic_exchange(&w->quiesce, false)) {
		for (size_t i = 0; i < w->n_daemons; i++) {
			MHD_socket fd = MHD_quiesce_daemon(w->daemons[i]);
			if (fd != MHD_INVALID_SOCKET)
				close(fd);
		}
	}
	if (atomic_exchange(&w->interrupt, false))
		hw_engine_interrupt(w->engine);
}

static __thread unsigned tl_resumes;

void hw_worker_note_resume(void) { tl_resumes++; }

static void *worker_main(void *arg)
{
	struct hw_worker *w = arg;
	struct epoll_event evs[MAX_EVENTS];
	while (!atomic_load(&w->stop)) {
		/* Due curl timers may finish calls and resume connections; MHD picks resumed
		 * connections up only at the start of MHD_run (their ITC signal may already
		 * be consumed), and serving them may submit calls whose 0 ms curl timer the
		 * next tick runs at once. Repeat until nothing was resumed. */
		long engine_wait = hw_engine_tick(w->engine);
		while (tl_resumes) {
			tl_resumes = 0;
			run_daemons(w);
			engine_wait = hw_engine_tick(w->engine);
		}
		long wait = mhd_wait(w, engine_wait);
		int n = epoll_wait(w->epfd, evs, MAX_EVENTS, (int)(wait < 0 || wait > 1000 ? 1000 : wait));
		bool mhd_ready = n == 0; /* a timeout may be MHD's own (idle connections) */
		for (int i = 0; i < n; i++) {
			int kind = *(int *)evs[i].data.ptr;
			if (kind == HW_EPOLL_CURL || kind == HW_EPOLL_H1) {
				hw_engine_on_event(w->engine, evs[i].data.ptr, evs[i].events);
			} else if (kind == HW_EPOLL_MHD) {
				mhd_ready = true;
			} else {
				handle_control(w);
			}
		}
		hw_engine_reap(w->engine);
		if (mhd_ready)
			tl_resumes++;
	}
	return NULL;
}

static int listen_socket(const struct sockaddr_storage *ss, socklen_t len)
{
	int fd = socket(ss->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	/* One listener per worker on the same address: the kernel spreads connections. */
	setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
	if (ss->ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, (const struct sockaddr *)ss, len) < 0 || listen(fd, 1024) < 0) {
		int err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

static int add_daemon(struct hw_worker *w, const char *spec, unsigned n_workers)
{
	const struct hw_config *cfg = hw_server_cfg(w->srv);
	struct sockaddr_storage ss;
	socklen_t sl = 0;
	if (hw_server_parse_listen(spec, &ss, &sl) < 0) {
		hw_log(HW_LOG_ERROR, "bad listen address %s", spec);
		return -EINVAL;
	}
	int fd = listen_socket(&ss, sl);
	if (fd < 0) {
		hw_log(HW_LOG_ERROR, "cannot listen on %s: %s", spec, strerror(-fd));
		return fd;
	}
	unsigned per_worker = (unsigned)((cfg->server.max_connections + n_workers - 1) / n_workers);
	unsigned per_ip = (unsigned)((cfg->server.max_connections_per_ip + n_workers - 1) / n_workers);
	/* MHD keeps headers and the send buffer in one per-connection pool (zeroed between
	 * keep-alive requests). Its read buffer grows by halves, so twice max_header_bytes
	 * plus a margin lets our own JSON 431, not MHD's HTML one, answer oversized headers. */
	size_t pool = (size_t)cfg->server.max_header_bytes * 2 + (size_t)8 * 1024;
	unsigned flags = MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ITC | MHD_USE_ERROR_LOG;
	if (ss.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	struct MHD_Daemon *d = hw_server_daemon_new(w, flags, fd, per_worker, per_ip, pool);
	if (!d) {
		close(fd);
		hw_log(HW_LOG_ERROR, "cannot start the HTTP server on %s", spec);
		return -EIO;
	}
	const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_EPOLL_FD);
	struct hw_epoll_tag *tag = &w->daemon_tags[w->n_daemons];
	tag->kind = HW_EPOLL_MHD;
	tag->fd = info->epoll_fd;
	tag->daemon = d;
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = tag};
	if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, tag->fd, &ev) < 0) {
		MHD_stop_daemon(d);
		return -errno;
	}
	w->daemons[w->n_daemons++] = d;
	return 0;
}

int hw_worker_start(struct hw_worker *w, struct hw_server *srv, unsigned index, unsigned n_workers)
{
	const struct hw_config *cfg = hw_server_cfg(srv);
	w->srv = srv;
	w->index = index;
	w->epfd = epoll_create1(EPOLL_CLOEXEC);
	w->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (w->epfd < 0 || w->wakefd < 0)
		return -errno;
	w->wake_tag.kind = HW_EPOLL_WAKE;
	w->wake_tag.fd = w->wakefd;
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &w->wake_tag};
	if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, w->wakefd, &ev) < 0)
		return -errno;
	int rc = hw_engine_new(w->epfd, &w->engine);
	if (rc < 0)
		return rc;
	for (size_t i = 0; i < cfg->server.n_listen && i < HW_MAX_LISTEN; i++) {
		rc = add_daemon(w, cfg->server.listen[i], n_workers);
		if (rc < 0)
			return rc;
	}
	if (pthread_create(&w->thread, NULL, worker_main, w) != 0)
		return -EAGAIN;
	w->started = true;
	return 0;
}

void hw_worker_quiesce(struct hw_worker *w)
{
	atomic_store(&w->quiesce, true);
	wake(w);
}

void hw_worker_interrupt(struct hw_worker *w)
{
	atomic_store(&w->interrupt, true);
	wake(w);
}

void hw_worker_stop(struct hw_worker *w)
{
	if (w->started) {
		atomic_store(&w->stop, true);
		wake(w);
		pthread_join(w->thread, NULL);
		w->started = false;
	}
	/* The engine first: finishing its calls resumes the connections MHD must not hold
	 * suspended when it stops. */
	if (w->engine)
		hw_engine_interrupt(w->engine);
	run_daemons(w);
	for (size_t i = 0; i < w->n_daemons; i++)
		MHD_stop_daemon(w->daemons[i]);
	w->n_daemons = 0;
	hw_engine_free(w->engine);
	w->engine = NULL;
	if (w->epfd >= 0)
		close(w->epfd);
	if (w->wakefd >= 0)
		close(w->wakefd);
	w->epfd = w->wakefd = -1;
}
