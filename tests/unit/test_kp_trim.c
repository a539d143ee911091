// SPDX-License-Identifier: BSD-3-Clause
/*
 * The successor's TRIM request on the mm keeper link (src/transport/
 * keeper.c, vdm_kp_trim(); src/handoff/keeper/keeper.h, "Trim").  The
 * keeper's reply carries its pid: the successor's only check that the
 * socket it inherited is served by the keeper the description names (the
 * adopt sends no PING).  A reply of another pid means that nobody here
 * owns the device: the link is dead, lost() says why (the handoff module
 * poisons the handle there) and no request goes out after it.
 *
 * The keeper's side is played on the other end of a socket pair: a
 * SOCK_SEQPACKET reply written before the call is the one the call reads,
 * so no thread or process is needed.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "transport/keeper_proto.h"
#include "transport/transport.h"

static char lost_why[256];
static int nlost;

static void lost(void *ctx, const char *why)
{
	(void)ctx;
	nlost++;
	snprintf(lost_why, sizeof(lost_why), "%s", why);
}

struct fx {
	struct vdm_kp_link kl;
	int peer; /* the keeper's end */
};

static void fx_init(struct fx *f)
{
	int sp[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0,
				    sp),
			 0);
	vdm_kp_link_init(&f->kl);
	f->kl.sock = sp[0];
	f->kl.pid = 4242; /* the keeper the description names */
	f->kl.lost = lost;
	f->peer = sp[1];
	nlost = 0;
	lost_why[0] = 0;
}

static void fx_fini(struct fx *f)
{
	if (f->kl.trim_fd >= 0)
		close(f->kl.trim_fd);
	close(f->kl.sock);
	close(f->peer);
}

/* The keeper's reply to the next request: ret 0, val pid. */
static void reply(struct fx *f, int64_t pid)
{
	struct vdm_kp_msg m = { .magic = VDM_KP_MAGIC,
				.op = VDM_KP_TRIM,
				.val = pid };

	assert_int_equal(send(f->peer, &m, sizeof(m), 0), (ssize_t)sizeof(m));
}

/* The request the keeper got: a TRIM of one range, with an fd. */
static void expect_trim_sent(struct fx *f)
{
	struct {
		struct vdm_kp_msg m;
		struct vdm_kp_range r;
	} req;
	union {
		struct cmsghdr c;
		char b[CMSG_SPACE(sizeof(int))];
	} cm;
	struct iovec iov = { .iov_base = &req, .iov_len = sizeof(req) };
	struct msghdr mh = { .msg_iov = &iov,
			     .msg_iovlen = 1,
			     .msg_control = cm.b,
			     .msg_controllen = sizeof(cm.b) };
	struct cmsghdr *c;
	int fd;

	assert_int_equal(recvmsg(f->peer, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC),
			 (ssize_t)sizeof(req));
	assert_int_equal(req.m.op, VDM_KP_TRIM);
	assert_int_equal(req.m.len, sizeof(req.r));
	assert_int_equal(req.r.start, 0x7f0000000000ULL);
	c = CMSG_FIRSTHDR(&mh);
	if (!c) {
		fail_msg("no fd came with the TRIM");
		return;
	}
	memcpy(&fd, CMSG_DATA(c), sizeof(fd));
	close(fd);
}

static void trim(struct fx *f)
{
	struct vdm_kp_range r = { .start = 0x7f0000000000ULL, .len = 4096 };

	vdm_kp_trim(&f->kl, &r, 1);
}

/* The keeper's own pid: the trim result is awaited, the link lives. */
static void test_trim_reply_keeper_pid(void **state)
{
	struct fx f;

	(void)state;
	fx_init(&f);
	reply(&f, 4242);
	trim(&f);
	expect_trim_sent(&f);
	assert_int_equal(f.kl.dead, 0);
	assert_int_equal(nlost, 0);
	assert_int_equal(f.kl.trim_pending, 1);
	assert_true(f.kl.trim_fd >= 0);
	assert_int_equal(vdm_kp_check(&f.kl), 0);
	fx_fini(&f);
}

/* Another pid: whoever serves the socket is not the keeper; the link is
 * dead, lost() names both pids, and the next request is refused unsent. */
static void test_trim_reply_other_pid(void **state)
{
	int64_t val = 0;
	struct fx f;
	char b;

	(void)state;
	fx_init(&f);
	reply(&f, 4343);
	trim(&f);
	expect_trim_sent(&f);
	assert_int_equal(f.kl.dead, 1);
	assert_int_equal(nlost, 1);
	assert_non_null(strstr(lost_why, "served by pid 4343, not by keeper "
					 "4242"));
	assert_int_equal(f.kl.trim_pending, 0);
	assert_int_equal(f.kl.trim_fd, -1);
	assert_int_equal(vdm_kp_call(&f.kl, VDM_KP_PING, 0, 0, NULL, 0, -1,
				     &val),
			 -EOWNERDEAD);
	assert_int_equal(recv(f.peer, &b, 1, MSG_DONTWAIT), -1);
	assert_int_equal(errno, EAGAIN);
	fx_fini(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_trim_reply_keeper_pid),
		cmocka_unit_test(test_trim_reply_other_pid),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
