// SPDX-License-Identifier: BSD-3-Clause
/*
 * Opening a socket whose server never answers (issue 16, misuse 9): open,
 * adopt_fd and the simulator's control calls give -ETIMEDOUT within their
 * timeout (vdpamap_open_opts.connect_timeout_ms, 5 s by default) and leave
 * no fd behind, whether the server never accepts (its backlog full: the
 * connect waits), accepts nothing yet (the HELLO waits) or accepts and
 * stays silent.  Before, each of them waited for ever.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "vdpamap.h"

#define SHORT_MS 200
/* how late a timed-out call may return: a loaded machine, sanitizers */
#define SLACK_MS 2000

static char dir[64], path[96];
static char last_err[512];

static void log_cb(int level, const char *msg, void *ctx)
{
	(void)ctx;
	if (level <= VDPAMAP_LOG_ERR)
		snprintf(last_err, sizeof(last_err), "%s", msg);
}

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/vdpamap-timeout.XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(path, sizeof(path), "%s/sock", dir);
	last_err[0] = '\0';
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	unlink(path);
	return rmdir(dir);
}

static int64_t now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static int nr_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	int n = 0;

	assert_non_null(d);
	while ((de = readdir(d)))
		n += de->d_name[0] != '.';
	closedir(d);
	return n;
}

/* A SOCK_SEQPACKET listener at path that nobody serves. */
static int listen_silent(int backlog)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(fd, backlog), 0);
	return fd;
}

/* One connection to path, never HELLO'd: it fills a backlog of 0. */
static int connect_raw(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

/* vdpamap_open(path) with timeout_ms (0: opts NULL, the default) must give
 * -ETIMEDOUT, no earlier than the timeout and not much later, logged, with
 * no fd left behind (checked here unless the server is ours to count:
 * check_fds false). */
static void open_times_out(uint32_t timeout_ms, bool check_fds)
{
	VDPAMAP_OPTS(vdpamap_open_opts, o, .log_fn = log_cb,
		     .connect_timeout_ms = timeout_ms);
	uint32_t want = timeout_ms ? timeout_ms : 5000;
	struct vdpamap *h = NULL;
	int fds = nr_fds(), r;
	int64_t t0 = now_ms(), dt;

	r = vdpamap_open(path, timeout_ms ? &o : NULL, &h);
	dt = now_ms() - t0;
	assert_int_equal(r, -ETIMEDOUT);
	assert_null(h);
	assert_true(dt >= want - want / 10);
	assert_true(dt <= want + SLACK_MS);
	if (check_fds)
		assert_int_equal(nr_fds(), fds);
	if (timeout_ms)
		assert_non_null(strstr(last_err, "no answer within"));
}

/* The server's backlog has room: the connect succeeds and the HELLO
 * waits for an answer that never comes. */
static void test_open_hello_unanswered(void **state)
{
	int lfd = listen_silent(8);

	(void)state;
	open_times_out(SHORT_MS, true);
	close(lfd);
}

/* The server never accepts and its backlog is full: connect() itself
 * waits. */
static void test_open_backlog_full(void **state)
{
	int lfd = listen_silent(0), c = connect_raw();

	(void)state;
	open_times_out(SHORT_MS, true);
	close(c);
	close(lfd);
}

struct acceptor {
	int lfd, stop[2], conns[8], n;
};

/* Accepts every connection and keeps it, silent, until told to stop. */
static void *acceptor_main(void *arg)
{
	struct acceptor *a = arg;

	for (;;) {
		struct pollfd p[2] = { { .fd = a->lfd, .events = POLLIN },
				       { .fd = a->stop[0], .events = POLLIN } };

		if (poll(p, 2, -1) < 0 || p[1].revents)
			break;
		if ((p[0].revents & POLLIN) && a->n < 8)
			a->conns[a->n++] =
				accept4(a->lfd, NULL, NULL, SOCK_CLOEXEC);
	}
	return NULL;
}

/* The server accepts and never answers. */
static void test_open_accepted_silent(void **state)
{
	struct acceptor a = { .lfd = listen_silent(8) };
	pthread_t th;
	int i, fds;

	(void)state;
	assert_int_equal(pipe2(a.stop, O_CLOEXEC), 0);
	fds = nr_fds();
	assert_int_equal(pthread_create(&th, NULL, acceptor_main, &a), 0);
	/* the server's accepted end is an fd of this process too */
	open_times_out(SHORT_MS, false);
	assert_int_equal(write(a.stop[1], "x", 1), 1);
	pthread_join(th, NULL);
	assert_int_equal(a.n, 1);
	for (i = 0; i < a.n; i++)
		close(a.conns[i]);
	assert_int_equal(nr_fds(), fds);
	close(a.stop[0]);
	close(a.stop[1]);
	close(a.lfd);
}

/* No options: the default timeout (5 s) applies. */
static void test_open_default_timeout(void **state)
{
	int lfd = listen_silent(8);

	(void)state;
	open_times_out(0, true);
	close(lfd);
}

/* adopt_fd of a connected socket whose peer never answers: -ETIMEDOUT,
 * and the fd stays the caller's, open. */
static void test_adopt_unanswered(void **state)
{
	VDPAMAP_OPTS(vdpamap_open_opts, o, .log_fn = log_cb,
		     .connect_timeout_ms = SHORT_MS);
	struct vdpamap *h = NULL;
	int64_t t0, dt;
	int sp[2];

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0,
				    sp),
			 0);
	t0 = now_ms();
	assert_int_equal(vdpamap_adopt_fd(sp[0], &o, &h), -ETIMEDOUT);
	dt = now_ms() - t0;
	assert_null(h);
	assert_true(dt >= SHORT_MS - SHORT_MS / 10);
	assert_true(dt <= SHORT_MS + SLACK_MS);
	assert_true(fcntl(sp[0], F_GETFD) >= 0);
	assert_non_null(strstr(last_err, "did not answer"));
	close(sp[0]);
	close(sp[1]);
}

/* The simulator's control calls on a socket nobody answers: the default
 * timeout, whether the connect or the HELLO waits. */
static void test_sim_calls_unanswered(void **state)
{
	struct vdpamap_sim_stats st;
	struct vdpamap_sim_entry e;
	int lfd = listen_silent(0), fds;
	int64_t t0, dt;

	(void)state;
	fds = nr_fds();
	t0 = now_ms();
	/* the backlog has room for this one: its HELLO waits */
	assert_int_equal(vdpamap_sim_get_stats(path, &st), -ETIMEDOUT);
	dt = now_ms() - t0;
	assert_true(dt >= 4500 && dt <= 5000 + SLACK_MS);
	assert_int_equal(nr_fds(), fds);
	/* now the backlog of 0 is full (the connection above stays queued
	 * until accepted): the connect waits */
	t0 = now_ms();
	assert_int_equal(vdpamap_sim_table(path, 0, &e, 1), -ETIMEDOUT);
	dt = now_ms() - t0;
	assert_true(dt >= 4500 && dt <= 5000 + SLACK_MS);
	assert_int_equal(nr_fds(), fds);
	close(lfd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_open_hello_unanswered,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_backlog_full, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_open_accepted_silent,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_default_timeout,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_adopt_unanswered, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_sim_calls_unanswered,
						setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
