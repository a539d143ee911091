// SPDX-License-Identifier: BSD-3-Clause
/*
 * The library's pipelined IOTLB writes to the simulator (VSIM_OP_WRITEV)
 * against one message per request, and against a daemon that predates
 * WRITEV.  A proxy thread sits between the library and a real daemon:
 *  - "old": it answers WRITEV as an older daemon does (-EINVAL, no
 *    payload, nothing done) and passes everything else on;
 *  - "new": it passes everything on.
 * The same sequence (a large commit, a commit with a device refusal
 * injected in its middle and rolled back, a sweep; per parent style) must
 * end the same way both ways: every result, the library's counters and
 * log lines, the daemon's counters and table.  And the proxy's counts say
 * the pipelining happened: "old" saw one WRITEV (the probe) and a WRITE
 * per message, "new" a WRITEV per ~1000 messages.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <cmocka.h>

#include "vdpamap.h"
#include "transport/simproto.h"

#define PAGE  4096ULL
#define IOVA0 0x40000000ULL
#define NMAP  3000
#define NFAIL 2000
#define PAGES (NMAP + NFAIL)

/* ---- the proxy */

struct proxy {
	char path[108], up[100];
	int lfd;
	int old; /* answer WRITEV as a daemon without it */
	pthread_t acceptor;
	pthread_mutex_t lock;
	unsigned long writev, write, other;
	int pumps; /* connections still being pumped */
};

struct pump {
	struct proxy *p;
	int cfd, ufd;
};

/* One packet from fd with its fds; its length, 0 at EOF, -1 on error */
static ssize_t get(int fd, uint8_t *buf, int *fds, int *nfds)
{
	union {
		char b[CMSG_SPACE(sizeof(int) * 8)];
		struct cmsghdr a;
	} cm;
	struct iovec iov = { .iov_base = buf, .iov_len = VSIM_MAX_PKT };
	struct msghdr mh = { .msg_iov = &iov,
			     .msg_iovlen = 1,
			     .msg_control = cm.b,
			     .msg_controllen = sizeof(cm.b) };
	struct cmsghdr *ch;
	ssize_t n;

	*nfds = 0;
	n = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC);
	if (n <= 0)
		return n;
	for (ch = CMSG_FIRSTHDR(&mh); ch; ch = CMSG_NXTHDR(&mh, ch))
		if (ch->cmsg_level == SOL_SOCKET &&
		    ch->cmsg_type == SCM_RIGHTS) {
			*nfds = (int)((ch->cmsg_len - CMSG_LEN(0)) /
				      sizeof(int));
			memcpy(fds, CMSG_DATA(ch), (size_t)*nfds * sizeof(int));
		}
	return n;
}

static int put(int fd, const void *buf, size_t n, const int *fds, int nfds)
{
	union {
		char b[CMSG_SPACE(sizeof(int) * 8)];
		struct cmsghdr a;
	} cm;
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = n };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };

	if (nfds) {
		struct cmsghdr *ch;

		memset(&cm, 0, sizeof(cm));
		mh.msg_control = cm.b;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)nfds);
		ch = CMSG_FIRSTHDR(&mh);
		ch->cmsg_level = SOL_SOCKET;
		ch->cmsg_type = SCM_RIGHTS;
		ch->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)nfds);
		memcpy(CMSG_DATA(ch), fds, sizeof(int) * (size_t)nfds);
	}
	return sendmsg(fd, &mh, MSG_NOSIGNAL) == (ssize_t)n ? 0 : -1;
}

/* Requests and replies alternate on a connection: one at a time. */
static void *pump_run(void *arg)
{
	struct pump *pu = arg;
	struct proxy *p = pu->p;
	uint8_t *buf = malloc(VSIM_MAX_PKT);
	int fds[8], nfds, k;
	ssize_t n;

	while (buf && (n = get(pu->cfd, buf, fds, &nfds)) > 0) {
		struct vsim_req q;

		memcpy(&q, buf, sizeof(q));
		pthread_mutex_lock(&p->lock);
		if (q.op == VSIM_OP_WRITEV)
			p->writev++;
		else if (q.op == VSIM_OP_WRITE)
			p->write++;
		else
			p->other++;
		pthread_mutex_unlock(&p->lock);
		if (p->old && q.op == VSIM_OP_WRITEV) {
			struct vsim_rep rep = { .ret = -EINVAL };

			n = put(pu->cfd, &rep, sizeof(rep), NULL, 0);
		} else if (put(pu->ufd, buf, (size_t)n, fds, nfds) < 0 ||
			   (n = get(pu->ufd, buf, fds + nfds, &k)) <= 0) {
			n = -1;
		} else {
			n = put(pu->cfd, buf, (size_t)n, NULL, 0);
		}
		for (k = 0; k < nfds; k++)
			close(fds[k]);
		if (n < 0)
			break;
	}
	free(buf);
	close(pu->cfd);
	close(pu->ufd);
	pthread_mutex_lock(&p->lock);
	p->pumps--;
	pthread_mutex_unlock(&p->lock);
	free(pu);
	return NULL;
}

static void *accept_run(void *arg)
{
	struct proxy *p = arg;
	int cfd;

	while ((cfd = accept4(p->lfd, NULL, NULL, SOCK_CLOEXEC)) >= 0) {
		struct sockaddr_un sa = { .sun_family = AF_UNIX };
		struct pump *pu = calloc(1, sizeof(*pu));
		pthread_t t;

		assert_non_null(pu);
		memcpy(sa.sun_path, p->up, sizeof(p->up));
		pu->p = p;
		pu->cfd = cfd;
		pu->ufd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
		if (pu->ufd < 0 ||
		    connect(pu->ufd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
			abort();
		pthread_mutex_lock(&p->lock);
		p->pumps++;
		pthread_mutex_unlock(&p->lock);
		if (pthread_create(&t, NULL, pump_run, pu))
			abort();
		pthread_detach(t);
	}
	return NULL;
}

static void proxy_start(struct proxy *p, const char *up, int old)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	memset(p, 0, sizeof(*p));
	pthread_mutex_init(&p->lock, NULL);
	p->old = old;
	assert_true(strlen(up) < sizeof(p->up));
	memcpy(p->up, up, strlen(up) + 1);
	snprintf(p->path, sizeof(p->path), "%s.proxy", p->up);
	memcpy(sa.sun_path, p->path, sizeof(p->path));
	p->lfd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	assert_true(p->lfd >= 0);
	assert_int_equal(bind(p->lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(p->lfd, 8), 0);
	assert_int_equal(pthread_create(&p->acceptor, NULL, accept_run, p), 0);
}

static void proxy_stop(struct proxy *p)
{
	int left = 1, i;

	shutdown(p->lfd, SHUT_RDWR);
	pthread_join(p->acceptor, NULL);
	close(p->lfd);
	unlink(p->path);
	/* every connection's pump ends when its client closes */
	for (i = 0; i < 400 && left; i++) {
		pthread_mutex_lock(&p->lock);
		left = p->pumps;
		pthread_mutex_unlock(&p->lock);
		if (left)
			usleep(5000);
	}
	assert_int_equal(left, 0);
	pthread_mutex_destroy(&p->lock);
}

/* ---- the sequence and what it leaves */

struct outcome {
	int r_commit, r_fail, r_sweep;
	int n_commit, n_fail, n_sweep; /* the daemon's table after each */
	struct vdpamap_stats lib;
	uint64_t sim_writes, sim_set_map, sim_dma_map;
	char log[4096];
};

static void log_fn(int level, const char *msg, void *ctx)
{
	struct outcome *o = ctx;
	size_t len = strlen(o->log);

	(void)level;
	snprintf(o->log + len, sizeof(o->log) - len, "%s\n", msg);
}

static int commit_maps(struct vdpamap *h, uint8_t *mem, uint64_t first,
		       uint64_t n)
{
	struct vdpamap_txn *t;
	uint64_t i;

	assert_int_equal(vdpamap_txn_begin(h, &t), 0);
	for (i = first; i < first + n; i++)
		assert_int_equal(vdpamap_txn_map(t, 0, IOVA0 + i * PAGE,
						 mem + i * PAGE, PAGE,
						 VDPAMAP_PERM_RW, NULL),
				 0);
	return vdpamap_txn_commit(t);
}

static void sequence(int old, uint32_t flags, struct outcome *o,
		     struct proxy *px)
{
	VDPAMAP_OPTS(vdpamap_sim_opts, so, .flags = flags,
		     .max_iotlb_entries = 1U << 20);
	VDPAMAP_OPTS(vdpamap_open_opts, oo, .log_fn = log_fn, .log_ctx = o,
		     .log_level = VDPAMAP_LOG_WARN);
	struct vdpamap_sim_stats st;
	struct vdpamap_region rg;
	char path[108];
	struct vdpamap *h;
	uint8_t *mem;
	pid_t pid;
	int mfd;

	memset(o, 0, sizeof(*o));
	assert_int_equal(vdpamap_sim_spawn(&so, path, sizeof(path), &pid), 0);
	proxy_start(px, path, old);
	mfd = memfd_create("guest", MFD_CLOEXEC);
	assert_true(mfd >= 0);
	assert_int_equal(ftruncate(mfd, PAGES * PAGE), 0);
	mem = mmap(NULL, PAGES * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, mfd,
		   0);
	assert_true(mem != MAP_FAILED);
	rg = (struct vdpamap_region){ .hva = mem,
				      .len = PAGES * PAGE,
				      .fd = mfd };

	assert_int_equal(vdpamap_open(px->path, &oo, &h), 0);
	assert_int_equal(vdpamap_region_add(h, &rg, NULL), 0);
	o->r_commit = commit_maps(h, mem, 0, NMAP);
	o->n_commit = vdpamap_sim_table(path, 0, NULL, 0);
	/* refused at message 1500 of 2002 (inside the second chunk of a
	 * pipelined run): rolled back */
	assert_int_equal(vdpamap_sim_fail_nth(path, VDPAMAP_SIM_FAIL_MSG, 1500),
			 0);
	o->r_fail = commit_maps(h, mem, NMAP, NFAIL);
	assert_int_equal(vdpamap_sim_fail_nth(path, VDPAMAP_SIM_FAIL_MSG, 0),
			 0);
	o->n_fail = vdpamap_sim_table(path, 0, NULL, 0);
	o->r_sweep = vdpamap_unmap(h, 0, IOVA0, NMAP * PAGE);
	o->n_sweep = vdpamap_sim_table(path, 0, NULL, 0);
	assert_int_equal(vdpamap_get_stats(h, &o->lib), 0);
	assert_null(vdpamap_poison_reason(h));
	vdpamap_close(h);
	assert_int_equal(vdpamap_sim_get_stats(path, &st), 0);
	o->sim_writes = st.iotlb_writes;
	o->sim_set_map = st.set_map_calls;
	o->sim_dma_map = st.dma_map_calls;
	proxy_stop(px);
	assert_int_equal(vdpamap_sim_stop(path), 0);
	munmap(mem, PAGES * PAGE);
	close(mfd);
}

static void same_both_ways(uint32_t flags)
{
	static struct outcome o_old, o_new;
	struct proxy p_old, p_new;

	sequence(1, flags, &o_old, &p_old);
	sequence(0, flags, &o_new, &p_new);

	assert_int_equal(o_old.r_commit, 0);
	assert_int_equal(o_old.n_commit, NMAP);
	assert_true(o_old.r_fail < 0);
	assert_int_equal(o_old.n_fail, NMAP);
	assert_int_equal(o_old.r_sweep, 0);
	assert_int_equal(o_old.n_sweep, 0);
	/* the same outcome, to the counter and the log line */
	assert_int_equal(o_new.r_commit, o_old.r_commit);
	assert_int_equal(o_new.n_commit, o_old.n_commit);
	assert_int_equal(o_new.r_fail, o_old.r_fail);
	assert_int_equal(o_new.n_fail, o_old.n_fail);
	assert_int_equal(o_new.r_sweep, o_old.r_sweep);
	assert_int_equal(o_new.n_sweep, o_old.n_sweep);
	assert_memory_equal(&o_new.lib, &o_old.lib, sizeof(o_old.lib));
	assert_int_equal(o_new.sim_writes, o_old.sim_writes);
	assert_int_equal(o_new.sim_set_map, o_old.sim_set_map);
	assert_int_equal(o_new.sim_dma_map, o_old.sim_dma_map);
	assert_string_equal(o_new.log, o_old.log);
	assert_non_null(strstr(o_old.log, "device refused UPDATE"));

	/* an older daemon: probed once, then one message per request */
	assert_int_equal(p_old.writev, 1);
	assert_true(p_old.write >= o_old.sim_writes);
	/* pipelined: the 10^4 messages of the sequence in a few dozen
	 * requests (a handful of single writes: the probe at open, the
	 * BATCH_END after the refusal) */
	assert_true(p_new.writev > 0 && p_new.writev < 40);
	assert_true(p_new.write < 10);
	print_message("old daemon: %lu WRITE + %lu WRITEV; new: %lu WRITE + "
		      "%lu WRITEV; %llu messages\n",
		      p_old.write, p_old.writev, p_new.write, p_new.writev,
		      (unsigned long long)o_new.sim_writes);
}

static void test_set_map(void **state)
{
	(void)state;
	same_both_ways(0);
}

static void test_per_map(void **state)
{
	(void)state;
	same_both_ways(VDPAMAP_SIM_PER_MAP);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_set_map),
		cmocka_unit_test(test_per_map),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
