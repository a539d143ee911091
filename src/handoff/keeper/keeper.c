// SPDX-License-Identifier: BSD-3-Clause
/*
 * The mm keeper (see keeper.h): its entry, the clone trampoline, the
 * request loop and the re-attach wait; the socket helpers are msg.c's,
 * the trim trim.c's (ksys.h).  FREESTANDING: this file is compiled with
 * -ffreestanding -fno-builtin -fno-stack-protector -fno-jump-tables
 * -fno-tree-loop-distribute-patterns and must not call libc, use globals,
 * string constants or anything else that lives outside its own section and
 * its stack: after the predecessor's exec, the libc of this address space
 * is code nobody will ever initialise again, its TLS belongs to a dead
 * thread and its signal handlers point at whatever.
 */
#include "handoff/keeper/ksys.h"
#include "transport/simproto.h"

#if defined(__x86_64__)
/* clone(flags, newsp, 0, 0, 0); child: vdm_keeper_main(args), exit_group */
__asm__(".pushsection vdpamap_keeper,\"ax\",@progbits\n"
	".globl vdm_keeper_clone\n"
	".type vdm_keeper_clone,@function\n"
	"vdm_keeper_clone:\n"
	"	mov %rdx, %r9\n"
	"	xor %edx, %edx\n"
	"	xor %r10d, %r10d\n"
	"	xor %r8d, %r8d\n"
	"	mov $56, %eax\n"
	"	syscall\n"
	"	test %rax, %rax\n"
	"	jnz 1f\n"
	"	xor %ebp, %ebp\n"
	"	and $-16, %rsp\n"
	"	mov %r9, %rdi\n"
	"	call vdm_keeper_main\n"
	"	mov $231, %eax\n"
	"	xor %edi, %edi\n"
	"	syscall\n"
	"	hlt\n"
	"1:	ret\n"
	".size vdm_keeper_clone, .-vdm_keeper_clone\n"
	".popsection\n");
#elif defined(__aarch64__)
/* clone(flags, newsp, 0, 0, 0) (arm64 order: ptid, tls, ctid) */
__asm__(".pushsection vdpamap_keeper,\"ax\",@progbits\n"
	".globl vdm_keeper_clone\n"
	".type vdm_keeper_clone,%function\n"
	"vdm_keeper_clone:\n"
	"	mov x9, x2\n"
	"	mov x2, xzr\n"
	"	mov x3, xzr\n"
	"	mov x4, xzr\n"
	"	mov x8, #220\n"
	"	svc #0\n"
	"	cbnz x0, 1f\n"
	"	mov x29, xzr\n"
	"	mov x30, xzr\n"
	"	mov x0, x9\n"
	"	bl vdm_keeper_main\n"
	"	mov x0, xzr\n"
	"	mov x8, #94\n"
	"	svc #0\n"
	"1:	ret\n"
	".size vdm_keeper_clone, .-vdm_keeper_clone\n"
	".popsection\n");
#endif

#if VDM_KEEPER_SUPPORTED

/* Close every fd but the ones in keep[0..n) (sorted here). */
KSEC static void k_close_others(int32_t *keep, int n)
{
	int i, j;
	long lo = 0;

	for (i = 1; i < n; i++)
		for (j = i; j > 0 && keep[j - 1] > keep[j]; j--) {
			int32_t t = keep[j];

			keep[j] = keep[j - 1];
			keep[j - 1] = t;
		}
	for (i = 0; i < n; i++) {
		if (keep[i] < 0)
			continue;
		if (keep[i] > lo)
			S3(__NR_close_range, lo, keep[i] - 1, 0);
		lo = keep[i] + 1;
	}
	S3(__NR_close_range, lo, ~0U, 0);
}

/* One simproto request: our token, our copy of the device socket. */
KSEC static void k_sim_proxy(struct vdm_keeper_args *a, long n, int32_t fd)
{
	uint8_t *b = a->buf;
	uint64_t *tok = (uint64_t *)(b + offsetof(struct vsim_req, token));
	int32_t dummy = -1;
	long r;

	*tok = a->token;
	r = vdm_k_send(a->dev_fd, b, (uint64_t)n, (void *)0, 0, &fd,
		       fd >= 0 ? 1 : 0);
	if (fd >= 0)
		S1(__NR_close, fd);
	if (r >= 0)
		r = vdm_k_recv(a->dev_fd, b, VDM_KP_BUF, &dummy);
	if (dummy >= 0)
		S1(__NR_close, dummy);
	if (r <= 0) {
		/* the device connection broke: say so in simproto terms */
		int32_t rep[2];

		rep[0] = r < 0 ? (int32_t)r : -K_EPROTO;
		rep[1] = 0;
		vdm_k_send(a->sock, rep, sizeof(rep), (void *)0, 0,
			   (int32_t *)0, 0);
		return;
	}
	vdm_k_send(a->sock, b, (uint64_t)r, (void *)0, 0, (int32_t *)0, 0);
}

/* CLOCK_MONOTONIC in nanoseconds. */
KSEC static int64_t k_now_ns(void)
{
	struct {
		int64_t s, ns;
	} ts;

	ts.s = ts.ns = 0;
	S2(__NR_clock_gettime, K_CLOCK_MONOTONIC, &ts);
	return ts.s * (int64_t)K_NSEC_PER_SEC + ts.ns;
}

/* 1 if the credential is the one made at prepare, comparing every byte
 * whatever the first difference (no early exit: how long it takes says
 * nothing about how much of it was right); an all-zero args credential
 * (none set) matches nothing. */
KSEC static int k_cred_ok(const struct vdm_keeper_args *a, const uint8_t *c)
{
	volatile uint8_t diff = 0, any = 0;
	int i;

	for (i = 0; i < VDM_KP_CRED_LEN; i++) {
		diff |= (uint8_t)(a->cred[i] ^ c[i]);
		any |= a->cred[i];
	}
	return (diff == 0) & (any != 0);
}

/* Refuse a re-attach attempt: reply err without any fd, count it. */
KSEC static void k_refuse(struct vdm_keeper_args *a, long c,
			  struct vdm_kp_msg *m, int32_t pid, long err)
{
	m->magic = VDM_KP_MAGIC;
	m->ret = (int32_t)err;
	m->val = 0;
	m->len = 0;
	vdm_k_send((int)c, m, sizeof(*m), (void *)0, 0, (int32_t *)0, 0);
	S1(__NR_close, c);
	a->refused++;
	a->refused_pid = pid;
}

/* One accepted connection c: 0 and a->sock set if it re-attached, else
 * -1 (refused: the wait goes on). */
KSEC static int k_attach_one(struct vdm_keeper_args *a, long c)
{
	struct {
		struct vdm_kp_msg m;
		uint8_t cred[VDM_KP_CRED_LEN];
		uint8_t more[8]; /* a longer message is refused */
	} q;
	struct vdm_kp_msg *m = &q.m; /* the reply, too */
	struct k_ucred cr;
	int32_t sp[2], fds[3 + VDM_KP_MAX_KEEP], fd;
	uint32_t crlen = sizeof(cr);
	long n;
	int i;

	if (S5(__NR_getsockopt, c, K_SOL_SOCKET, K_SO_PEERCRED, &cr, &crlen) <
		    0 ||
	    /* getsockopt() filled cr through a raw syscall (inline asm), which
	 * the analyser does not model:
	 * NOLINTNEXTLINE(clang-analyzer-core.UndefinedBinaryOperatorResult) */
	    cr.uid != (uint32_t)S0(__NR_getuid)) {
		S1(__NR_close, c);
		return -1;
	}
	/* a peer that connects and says nothing must not hold the wait */
	{
		struct {
			int32_t fd;
			int16_t events, revents;
		} p;
		struct {
			int64_t s, ns;
		} ts;

		p.fd = (int32_t)c;
		p.events = K_POLLIN;
		p.revents = 0;
		ts.s = 1;
		ts.ns = 0;
		if (S5(__NR_ppoll, &p, 1, &ts, 0, K_SIGSET_SIZE) != 1) {
			S1(__NR_close, c);
			return -1;
		}
	}
	n = vdm_k_recv((int)c, &q, sizeof(q), &fd);
	if (fd >= 0)
		S1(__NR_close, fd);
	if (n < (long)sizeof(q.m) || q.m.magic != VDM_KP_MAGIC ||
	    q.m.op != VDM_KP_ATTACH) {
		S1(__NR_close, c);
		return -1;
	}
	if (n != (long)(sizeof(q.m) + VDM_KP_CRED_LEN) ||
	    q.m.len != VDM_KP_CRED_LEN) {
		vdm_k_zero(q.cred, sizeof(q.cred) + sizeof(q.more));
		k_refuse(a, c, m, cr.pid, -K_ENOKEY);
		return -1;
	}
	n = k_cred_ok(a, q.cred);
	vdm_k_zero(q.cred, sizeof(q.cred));
	if (!n) {
		k_refuse(a, c, m, cr.pid, -K_EACCES);
		return -1;
	}
	if (S4(__NR_socketpair, K_AF_UNIX, K_SOCK_SEQPACKET | K_SOCK_CLOEXEC, 0,
	       sp) < 0) {
		S1(__NR_close, c);
		return -1;
	}
	fds[0] = a->dev_fd;
	fds[1] = sp[1];
	fds[2] = a->state_fd;
	m->ret = 0;
	m->val = S0(__NR_getpid);
	m->len = 0;
	m->arg = a->refused;
	m->arg2 = (uint64_t)(int64_t)a->refused_pid;
	for (i = 0; i < a->nkeep; i++)
		fds[3 + i] = a->keep[i];
	n = a->state_fd >= 0 ? 3 + a->nkeep : 2;
	n = vdm_k_send((int)c, m, sizeof(*m), (void *)0, 0, fds, (int)n);
	S1(__NR_close, sp[1]);
	S1(__NR_close, c);
	if (n < 0) {
		S1(__NR_close, sp[0]);
		return -1;
	}
	a->sock = sp[0];
	a->peer_pid = cr.pid;
	a->refused = 0;
	a->refused_pid = 0;
	return 0;
}

/* Wait on the re-attach socket, until grace_ms from now, for a same-uid
 * process that brings the credential; a refused attempt does not end the
 * wait, nor extend it. */
KSEC static int k_wait_attach(struct vdm_keeper_args *a)
{
	int64_t end = k_now_ns() + a->grace_ms * K_NSEC_PER_MSEC, left;
	long c, n;

	for (;;) {
		struct {
			int32_t fd;
			int16_t events, revents;
		} p;
		struct {
			int64_t s, ns;
		} ts;

		left = end - k_now_ns();
		if (left <= 0)
			return -1; /* nobody came: let the device go */
		p.fd = a->listen_fd;
		p.events = K_POLLIN;
		p.revents = 0;
		ts.s = left / (int64_t)K_NSEC_PER_SEC;
		ts.ns = left % (int64_t)K_NSEC_PER_SEC;
		n = S5(__NR_ppoll, &p, 1, &ts, 0, K_SIGSET_SIZE);
		if (n == -K_EINTR || n == 0)
			continue; /* the deadline decides */
		if (n < 0)
			return -1;
		c = S4(__NR_accept4, a->listen_fd, 0, 0, K_SOCK_CLOEXEC);
		if (c == -K_EINTR || c == -K_EAGAIN)
			continue;
		if (c < 0)
			return -1;
		if (k_attach_one(a, c) == 0)
			return 0;
	}
}

/* VDM_KP_MMAP: map fd in the keeper's space; the fd is kept for a
 * re-attach while there is room. */
KSEC static void k_mmap(struct vdm_keeper_args *a, struct vdm_kp_msg *m,
			int32_t fd)
{
	long r;
	int failed;

	if (fd < 0) {
		vdm_k_reply(a, m, -K_EINVAL, 0, 0);
		return;
	}
	r = S6(__NR_mmap, 0, m->arg, K_PROT_RW, K_MAP_SHARED, fd, m->arg2);
	failed = r < 0 && r >= -K_MAX_ERRNO;
	if (r >= 0 && a->nkeep < VDM_KP_MAX_KEEP)
		a->keep[a->nkeep++] = fd;
	else
		S1(__NR_close, fd);
	vdm_k_reply(a, m, failed ? r : 0, failed ? 0 : r, 0);
}

/* VDM_KP_SETSTATE: arg 1 the listening socket, else the state memfd. */
KSEC static void k_setstate(struct vdm_keeper_args *a, struct vdm_kp_msg *m,
			    int32_t fd)
{
	if (fd < 0) {
		vdm_k_reply(a, m, -K_EINVAL, 0, 0);
		return;
	}
	if (m->arg == 1) { /* the re-attach socket, bound */
		long r = S2(__NR_listen, fd, 4);

		if (r < 0) {
			vdm_k_close(&fd);
			vdm_k_reply(a, m, r, 0, 0);
			return;
		}
		vdm_k_close(&a->listen_fd);
		a->listen_fd = fd;
	} else {
		vdm_k_close(&a->state_fd);
		a->state_fd = fd;
	}
	vdm_k_reply(a, m, 0, 0, 0);
}

/* One well-formed vdm_kp_msg request m (with fd, or -1) answered; returns
 * 1 after VDM_KP_EXIT. */
KSEC static int k_request(struct vdm_keeper_args *a, struct vdm_kp_msg *m,
			  int32_t fd)
{
	uint8_t *pl = (uint8_t *)(m + 1);
	long r;

	switch (m->op) {
	case VDM_KP_IOCTL:
		if (fd >= 0 && m->arg2 + sizeof(int32_t) <= m->len)
			*(int32_t *)(pl + m->arg2) = fd;
		r = S3(__NR_ioctl, a->dev_fd, m->arg, pl);
		vdm_k_close(&fd);
		vdm_k_reply(a, m, r, 0, m->len);
		return 0;
	case VDM_KP_WRITE:
		do {
			r = S3(__NR_write, a->dev_fd, pl, m->len);
		} while (r == -K_EINTR);
		vdm_k_close(&fd);
		vdm_k_reply(a, m, r, 0, 0);
		return 0;
	case VDM_KP_MMAP:
		k_mmap(a, m, fd);
		return 0;
	case VDM_KP_MUNMAP:
		vdm_k_close(&fd);
		r = S2(__NR_munmap, m->arg, m->arg2);
		vdm_k_reply(a, m, r, 0, 0);
		return 0;
	case VDM_KP_SETSTATE:
		k_setstate(a, m, fd);
		return 0;
	case VDM_KP_TRIM:
		vdm_k_trim(a, m, fd);
		return 0;
	case VDM_KP_EXIT:
		vdm_k_close(&fd);
		vdm_k_reply(a, m, 0, 0, 0);
		return 1;
	case VDM_KP_PING:
		vdm_k_close(&fd);
		vdm_k_reply(a, m, 0, S0(__NR_getpid), 0);
		return 0;
	default:
		vdm_k_close(&fd);
		vdm_k_reply(a, m, -K_EINVAL, 0, 0);
		return 0;
	}
}

KSEC static void k_serve(struct vdm_keeper_args *a)
{
	struct vdm_kp_msg *m = (struct vdm_kp_msg *)a->buf;
	int32_t fd;
	long n;

	for (;;) {
		n = vdm_k_recv(a->sock, a->buf, VDM_KP_BUF, &fd);
		if (n <= 0) {
			/* the successor is gone (or the socket broke) */
			vdm_k_close(&fd);
			vdm_k_close(&a->sock);
			if (a->listen_fd < 0 || k_wait_attach(a) < 0)
				return;
			continue;
		}
		if (a->is_sim && n >= (long)sizeof(struct vsim_req) &&
		    *(uint32_t *)a->buf == VSIM_MAGIC) {
			k_sim_proxy(a, n, fd);
			continue;
		}
		if ((uint64_t)n < sizeof(*m) || m->magic != VDM_KP_MAGIC ||
		    m->len != (uint64_t)n - sizeof(*m)) {
			vdm_k_close(&fd);
			m->magic = VDM_KP_MAGIC;
			vdm_k_reply(a, m, -K_EPROTO, 0, 0);
			continue;
		}
		if (k_request(a, m, fd))
			return;
	}
}

KSEC __attribute__((noreturn)) void vdm_keeper_main(struct vdm_keeper_args *a)
{
	uint64_t all = ~0ULL;
	unsigned long sa[4];
	int32_t keep[VDM_KP_MAX_KEEP + 4];
	int i, n = 0;

	/* signals first: the inherited handlers point into libc */
	S4(__NR_rt_sigprocmask, K_SIG_BLOCK, &all, 0, K_SIGSET_SIZE);
	for (i = 1; i <= K_NSIG; i++) {
		vdm_k_zero(sa, sizeof(sa)); /* SIG_DFL */
		S4(__NR_rt_sigaction, i, sa, 0, K_SIGSET_SIZE);
	}
	keep[n++] = a->sock;
	keep[n++] = a->dev_fd;
	keep[n++] = a->listen_fd;
	keep[n++] = a->state_fd;
	for (i = 0; i < a->nkeep && i < VDM_KP_MAX_KEEP; i++)
		keep[n++] = a->keep[i];
	k_close_others(keep, n);
	S0(__NR_setsid);
	/* who created the socket pair: the predecessor (kcmp in k_trim) */
	{
		struct k_ucred cr;
		uint32_t crlen = sizeof(cr);

		cr.pid = 0;
		if (S5(__NR_getsockopt, a->sock, K_SOL_SOCKET, K_SO_PEERCRED,
		       &cr, &crlen) == 0)
			a->peer_pid = cr.pid;
	}

	k_serve(a);
	S1(__NR_exit_group, 0);
	for (;;)
		;
}

#endif /* VDM_KEEPER_SUPPORTED */
