/* SPDX-License-Identifier: Apache-2.0 */
/* A worker thread: one epoll loop driving this thread's libmicrohttpd daemons (external
 * epoll mode, SO_REUSEPORT listeners) and its upstream engine, so a request and its
 * provider call never leave the thread that accepted the connection. */
#ifndef HW_GATEWAY_WORKER_H
#define HW_GATEWAY_WORKER_H

#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

struct hw_server;
struct hw_engine;

#define HW_MAX_LISTEN 8

struct hw_epoll_tag {
	int kind; /* HW_EPOLL_MHD or HW_EPOLL_WAKE (HW_EPOLL_CURL belongs to the engine) */
	int fd;
	struct MHD_Daemon *daemon;
};

struct hw_worker {
	struct hw_server *srv;
	unsigned index;
	pthread_t thread;
	bool started;
	int epfd, wakefd;
	struct MHD_Daemon *daemons[HW_MAX_LISTEN];
	struct hw_epoll_tag daemon_tags[HW_MAX_LISTEN];
	struct hw_epoll_tag wake_tag;
	size_t n_daemons;
	struct hw_engine *engine;
	atomic_bool stop, quiesce, interrupt;
};

/* Creates the listeners and daemons of one worker and starts its thread. */
int hw_worker_start(struct hw_worker *w, struct hw_server *srv, unsigned index, unsigned n_workers);
/* Thread-safe requests, carried out by the worker's own thread. */
void hw_worker_quiesce(struct hw_worker *w);
void hw_worker_interrupt(struct hw_worker *w);
/* Called after MHD_resume_connection on a worker thread: MHD picks resumed connections up
 * only at the start of MHD_run, so the loop runs its daemons again before it sleeps. */
void hw_worker_note_resume(void);
/* Stops the thread and frees its daemons and engine. */
void hw_worker_stop(struct hw_worker *w);

#endif
