// SPDX-License-Identifier: BSD-3-Clause
/*
 * The mm keeper (see keeper.h).  FREESTANDING: this file is compiled with
 * -ffreestanding -fno-builtin -fno-stack-protector -fno-jump-tables
 * -fno-tree-loop-distribute-patterns and must not call libc, use globals,
 * string constants or anything else that lives outside its own section and
 * its stack: after the predecessor's exec, the libc of this address space
 * is code nobody will ever initialise again, its TLS belongs to a dead
 * thread and its signal handlers point at whatever.
 */
#include <asm/unistd.h>
#include <stddef.h>
#include <stdint.h>

#include "handoff/keeper/keeper.h"

#define KSEC __attribute__((section("vdpamap_keeper"), used))
#define KINL static inline __attribute__((always_inline))

#define K_EINTR		4
#define K_EAGAIN	11
#define K_EPERM		1
#define K_EINVAL	22
#define K_EPROTO	71
#define K_EBUSY		16
#define K_EOPNOTSUPP	95
#define K_PR_GET_SHADOW_STACK_STATUS 74
#define K_AT_FDCWD	(-100)
#define K_O_RDONLY_CLOEXEC 0x80000	/* O_RDONLY | O_CLOEXEC */
#define K_KCMP_VM	1
#define K_CLOCK_MONOTONIC 1
#define K_TRIM_PASSES	16
#define K_SOL_SOCKET	1
#define K_SCM_RIGHTS	1
#define K_SO_PEERCRED	17
#define K_MSG_NOSIGNAL	0x4000
#define K_MSG_CMSG_CLOEXEC 0x40000000
#define K_PROT_RW	3
#define K_MAP_SHARED	1
#define K_VSIM_MAGIC	0x7664736dU	/* simproto.h VSIM_MAGIC */
#define K_VSIM_TOKEN_OFF 8		/* offsetof(struct vsim_req, token) */

struct k_iovec {
	void *base;
	uint64_t len;
};

struct k_msghdr {
	void *name;
	int32_t namelen;
	int32_t pad;
	struct k_iovec *iov;
	uint64_t iovlen;
	void *control;
	uint64_t controllen;
	uint32_t flags;
	uint32_t pad2;
};

struct k_cmsg {
	uint64_t len;
	int32_t level;
	int32_t type;
	int32_t fd[4 + VDM_KP_MAX_KEEP];
};

struct k_ucred {
	int32_t pid;
	uint32_t uid, gid;
};

#if defined(__x86_64__)
KINL long ksys(long n, long a, long b, long c, long d, long e, long f)
{
	register long r10 __asm__("r10") = d;
	register long r8 __asm__("r8") = e;
	register long r9 __asm__("r9") = f;
	long ret;

	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8),
			   "r"(r9)
			 : "rcx", "r11", "memory");
	return ret;
}

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
KINL long ksys(long n, long a, long b, long c, long d, long e, long f)
{
	register long x8 __asm__("x8") = n;
	register long x0 __asm__("x0") = a;
	register long x1 __asm__("x1") = b;
	register long x2 __asm__("x2") = c;
	register long x3 __asm__("x3") = d;
	register long x4 __asm__("x4") = e;
	register long x5 __asm__("x5") = f;

	__asm__ volatile("svc #0"
			 : "+r"(x0)
			 : "r"(x8), "r"(x1), "r"(x2), "r"(x3), "r"(x4), "r"(x5)
			 : "memory");
	return x0;
}

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

#define S0(n) ksys(n, 0, 0, 0, 0, 0, 0)
#define S1(n, a) ksys(n, (long)(a), 0, 0, 0, 0, 0)
#define S2(n, a, b) ksys(n, (long)(a), (long)(b), 0, 0, 0, 0)
#define S3(n, a, b, c) ksys(n, (long)(a), (long)(b), (long)(c), 0, 0, 0)
#define S4(n, a, b, c, d) \
	ksys(n, (long)(a), (long)(b), (long)(c), (long)(d), 0, 0)
#define S5(n, a, b, c, d, e) \
	ksys(n, (long)(a), (long)(b), (long)(c), (long)(d), (long)(e), 0)
#define S6(n, a, b, c, d, e, f) \
	ksys(n, (long)(a), (long)(b), (long)(c), (long)(d), (long)(e), (long)(f))

KSEC static void k_zero(void *p, uint64_t n)
{
	volatile uint8_t *q = p;

	while (n--)
		*q++ = 0;
}

KSEC static void k_close(int32_t *fd)
{
	if (*fd >= 0)
		S1(__NR_close, *fd);
	*fd = -1;
}

/* recvmsg with at most one fd (more are closed); *fd = -1 if none. */
KSEC static long k_recv(int sock, void *buf, uint64_t len, int32_t *fd)
{
	struct k_iovec iov;
	struct k_msghdr mh;
	struct k_cmsg cm;
	long n;
	uint64_t i, nfds;

	*fd = -1;
	for (;;) {
		iov.base = buf;
		iov.len = len;
		k_zero(&mh, sizeof(mh));
		k_zero(&cm, sizeof(cm));
		mh.iov = &iov;
		mh.iovlen = 1;
		mh.control = &cm;
		mh.controllen = sizeof(cm);
		n = S3(__NR_recvmsg, sock, &mh, K_MSG_CMSG_CLOEXEC);
		if (n != -K_EINTR)
			break;
	}
	if (n >= 0 && mh.controllen >= 20 && cm.level == K_SOL_SOCKET &&
	    cm.type == K_SCM_RIGHTS) {
		nfds = (cm.len - 16) / 4;
		for (i = 0; i < nfds && i < 4; i++) {
			if (i == 0)
				*fd = cm.fd[0];
			else
				S1(__NR_close, cm.fd[i]);
		}
	}
	return n;
}

/* sendmsg of two pieces and nfd fds. */
KSEC static long k_send(int sock, const void *a, uint64_t alen, const void *b,
			uint64_t blen, const int32_t *fds, int nfd)
{
	struct k_iovec iov[2];
	struct k_msghdr mh;
	struct k_cmsg cm;
	long n;
	int i;

	k_zero(&mh, sizeof(mh));
	k_zero(&cm, sizeof(cm));
	iov[0].base = (void *)a;
	iov[0].len = alen;
	iov[1].base = (void *)b;
	iov[1].len = blen;
	mh.iov = iov;
	mh.iovlen = blen ? 2 : 1;
	if (nfd > 0) {
		cm.len = 16 + 4 * (uint64_t)nfd;
		cm.level = K_SOL_SOCKET;
		cm.type = K_SCM_RIGHTS;
		for (i = 0; i < nfd; i++)
			cm.fd[i] = fds[i];
		mh.control = &cm;
		mh.controllen = (cm.len + 7) & ~7ULL;
	}
	do {
		n = S3(__NR_sendmsg, sock, &mh, K_MSG_NOSIGNAL);
	} while (n == -K_EINTR);
	return n;
}

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

KSEC static void k_reply(struct vdm_keeper_args *a, struct vdm_kp_msg *m,
			 long ret, int64_t val, uint32_t len)
{
	m->ret = (int32_t)ret;
	m->val = val;
	m->len = len;
	k_send(a->sock, m, sizeof(*m), m + 1, len, (int32_t *)0, 0);
}

/* One simproto request: our token, our copy of the device socket. */
KSEC static void k_sim_proxy(struct vdm_keeper_args *a, long n, int32_t fd)
{
	uint8_t *b = a->buf;
	uint64_t *tok = (uint64_t *)(b + K_VSIM_TOKEN_OFF);
	int32_t dummy = -1;
	long r;

	*tok = a->token;
	r = k_send(a->dev_fd, b, (uint64_t)n, (void *)0, 0, &fd,
		   fd >= 0 ? 1 : 0);
	if (fd >= 0)
		S1(__NR_close, fd);
	if (r >= 0)
		r = k_recv(a->dev_fd, b, VDM_KP_BUF, &dummy);
	if (dummy >= 0)
		S1(__NR_close, dummy);
	if (r <= 0) {
		/* the device connection broke: say so in simproto terms */
		int32_t rep[2];

		rep[0] = r < 0 ? (int32_t)r : -K_EPROTO;
		rep[1] = 0;
		k_send(a->sock, rep, sizeof(rep), (void *)0, 0, (int32_t *)0,
		       0);
		return;
	}
	k_send(a->sock, b, (uint64_t)r, (void *)0, 0, (int32_t *)0, 0);
}

/* Wait on the re-attach socket for a same-uid process that asks. */
KSEC static int k_wait_attach(struct vdm_keeper_args *a)
{
	struct vdm_kp_msg m;
	struct k_ucred cr;
	int32_t sp[2], fds[3 + VDM_KP_MAX_KEEP], fd;
	uint32_t crlen;
	long c, n;
	int i;

	for (;;) {
		struct {
			int32_t fd;
			int16_t events, revents;
		} p;
		struct {
			int64_t s, ns;
		} ts;

		p.fd = a->listen_fd;
		p.events = 1;	/* POLLIN */
		p.revents = 0;
		ts.s = a->grace_ms / 1000;
		ts.ns = (a->grace_ms % 1000) * 1000000;
		n = S5(__NR_ppoll, &p, 1, &ts, 0, 8);
		if (n == -K_EINTR)
			continue;
		if (n <= 0)
			return -1;	/* nobody came: let the device go */
		c = S4(__NR_accept4, a->listen_fd, 0, 0, 0x80000 /* CLOEXEC */);
		if (c == -K_EINTR || c == -K_EAGAIN)
			continue;
		if (c < 0)
			return -1;
		crlen = sizeof(cr);
		if (S5(__NR_getsockopt, c, K_SOL_SOCKET, K_SO_PEERCRED, &cr,
		       &crlen) < 0 ||
		    cr.uid != (uint32_t)S0(__NR_getuid)) {
			S1(__NR_close, c);
			continue;
		}
		n = k_recv((int)c, &m, sizeof(m), &fd);
		if (fd >= 0)
			S1(__NR_close, fd);
		if (n != sizeof(m) || m.magic != VDM_KP_MAGIC ||
		    m.op != VDM_KP_ATTACH) {
			S1(__NR_close, c);
			continue;
		}
		if (S4(__NR_socketpair, 1 /* AF_UNIX */,
		       5 /* SOCK_SEQPACKET */ | 0x80000, 0, sp) < 0) {
			S1(__NR_close, c);
			continue;
		}
		fds[0] = a->dev_fd;
		fds[1] = sp[1];
		fds[2] = a->state_fd;
		m.ret = 0;
		m.val = S0(__NR_getpid);
		m.len = 0;
		for (i = 0; i < a->nkeep; i++)
			fds[3 + i] = a->keep[i];
		n = a->state_fd >= 0 ? 3 + a->nkeep : 2;
		n = k_send((int)c, &m, sizeof(m), (void *)0, 0, fds, (int)n);
		S1(__NR_close, sp[1]);
		S1(__NR_close, c);
		if (n < 0) {
			S1(__NR_close, sp[0]);
			continue;
		}
		a->sock = sp[0];
		a->peer_pid = cr.pid;
		return 0;
	}
}

/* ---- trim (see keeper.h) */

struct k_keep {
	uint64_t lo, hi;	/* [lo, hi) */
};

KINL uint64_t k_pc(void)
{
	uint64_t pc;

#if defined(__x86_64__)
	__asm__ volatile("lea 0(%%rip), %0" : "=r"(pc));
#else
	__asm__ volatile("adr %0, ." : "=r"(pc));
#endif
	return pc;
}

/* The shadow stack pointer, 0 without one.  RDSSP is a NOP where shadow
 * stacks are off (or unknown to the CPU), leaving the 0. */
KINL uint64_t k_ssp(void)
{
	uint64_t ssp = 0;

#if defined(__x86_64__)
	__asm__ volatile("rdsspq %0" : "+r"(ssp));
#endif
	return ssp;
}

/* An arm64 Guarded Control Stack (Linux 6.13+): its VMA is not found as
 * safely as x86's shadow stack (GCSPR_EL0 may trap), so such a keeper
 * does not trim.  Older kernels: EINVAL, no GCS. */
KSEC static int k_gcs_on(void)
{
#if defined(__aarch64__)
	uint64_t st = 0;

	return S5(__NR_prctl, K_PR_GET_SHADOW_STACK_STATUS, &st, 0, 0, 0) ==
		       0 &&
	       (st & 1);
#else
	return 0;
#endif
}

KSEC static uint64_t k_now_ns(void)
{
	struct {
		int64_t s, ns;
	} ts;

	ts.s = ts.ns = 0;
	S2(__NR_clock_gettime, K_CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.s * 1000000000ULL + (uint64_t)ts.ns;
}

/* "/proc/self/maps", one byte at a time: no string constant */
KSEC static void k_maps_path(char *p)
{
	volatile char *q = p;

	q[0] = '/';
	q[1] = 'p';
	q[2] = 'r';
	q[3] = 'o';
	q[4] = 'c';
	q[5] = '/';
	q[6] = 's';
	q[7] = 'e';
	q[8] = 'l';
	q[9] = 'f';
	q[10] = '/';
	q[11] = 'm';
	q[12] = 'a';
	q[13] = 'p';
	q[14] = 's';
	q[15] = 0;
}

KSEC static uint64_t k_hex(const uint8_t **pp, const uint8_t *end)
{
	const uint8_t *p = *pp;
	uint64_t v = 0;

	for (; p < end; p++) {
		if (*p >= '0' && *p <= '9')
			v = v * 16 + (uint64_t)(*p - '0');
		else if (*p >= 'a' && *p <= 'f')
			v = v * 16 + (uint64_t)(*p - 'a' + 10);
		else
			break;
	}
	*pp = p;
	return v;
}

/* Unmap [s, e) but the kept ranges (sorted by lo); returns how many
 * pieces went. */
KSEC static int k_unmap_gaps(uint64_t s, uint64_t e, const struct k_keep *k,
			     int nk, uint64_t *bytes)
{
	uint64_t cur = s;
	int i, did = 0;

	for (i = 0; i <= nk && cur < e; i++) {
		uint64_t lo = i < nk ? k[i].lo : e;

		if (i < nk && k[i].hi <= cur)
			continue;
		if (lo > e)
			lo = e;
		if (lo > cur && S2(__NR_munmap, cur, lo - cur) == 0) {
			*bytes += lo - cur;
			did++;
		}
		if (i < nk && k[i].hi > cur)
			cur = k[i].hi;
	}
	return did;
}

/* One pass over /proc/self/maps (whole lines that fit the buffer).
 * Returns the pieces unmapped or -errno; *nvma: the lines seen. */
KSEC static long k_trim_pass(struct vdm_keeper_args *a, const struct k_keep *k,
			     int nk, uint64_t whole1, uint64_t whole2,
			     uint64_t *bytes, uint32_t *nvma)
{
	const uint8_t *p, *q, *end;
	char path[16];
	uint64_t len = 0, s, e;
	long fd, r = 0, did = 0;

	k_maps_path(path);
	fd = S4(__NR_openat, K_AT_FDCWD, path, K_O_RDONLY_CLOEXEC, 0);
	if (fd < 0)
		return fd;
	while (len < VDM_KP_BUF) {
		r = S3(__NR_read, fd, a->buf + len, VDM_KP_BUF - len);
		if (r == -K_EINTR)
			continue;
		if (r <= 0)
			break;
		len += (uint64_t)r;
	}
	S1(__NR_close, fd);
	if (r < 0)
		return r;
	*nvma = 0;
	for (p = a->buf, end = a->buf + len; p < end; p = q + 1) {
		for (q = p; q < end && *q != '\n'; q++)
			;
		if (q == end)
			break;		/* cut by the buffer: next pass */
		s = k_hex(&p, q);
		if (p == q || *p != '-')
			continue;
		p++;
		e = k_hex(&p, q);
		(*nvma)++;
		if (e <= s || (whole1 >= s && whole1 < e) ||
		    (whole2 >= s && whole2 < e))
			continue;
		did += k_unmap_gaps(s, e, k, nk, bytes);
	}
	return did;
}

/* Same address space as the peer (the predecessor before its exec)?
 * kcmp() unavailable or refused: trust the request. */
KSEC static int k_same_mm(struct vdm_keeper_args *a)
{
	if (a->peer_pid <= 0)
		return 0;
	return S5(__NR_kcmp, S0(__NR_getpid), a->peer_pid, K_KCMP_VM, 0,
		  0) == 0;
}

KSEC __attribute__((noinline)) static void k_trim(struct vdm_keeper_args *a,
						  struct vdm_kp_msg *m, int32_t fd)
{
	struct k_keep k[VDM_KP_MAX_RANGES + 2], t;
	const struct vdm_kp_range *rg = (const struct vdm_kp_range *)(m + 1);
	uint64_t ps = a->page_size, pc = k_pc(), whole = 0, bytes = 0, t0;
	uint32_t nvma = 0, first = 0;
	int nk = 0, i, j, pass;
	long r = 0;

	if (m->len % sizeof(*rg) || m->len / sizeof(*rg) > VDM_KP_MAX_RANGES) {
		r = -K_EINVAL;
	} else if (k_same_mm(a)) {
		r = -K_EBUSY;
	} else if (k_gcs_on()) {
		r = -K_EOPNOTSUPP;
	}
	if (r < 0) {
		if (fd >= 0)
			S1(__NR_close, fd);
		k_reply(a, m, r, 0, 0);
		return;
	}
	if (ps < 4096 || ps > (1ULL << 20) || (ps & (ps - 1)))
		ps = 1ULL << 16;	/* the largest base page there is */
	/* our area: args, buffer, stack */
	k[nk].lo = (uint64_t)(uintptr_t)a;
	k[nk++].hi = (uint64_t)(uintptr_t)a + VDM_KP_AREA;
	/* our code: the section's pages, or the whole VMA if unsure */
	if (a->code_lo && a->code_lo <= pc && pc < a->code_hi) {
		k[nk].lo = a->code_lo & ~(ps - 1);
		k[nk++].hi = (a->code_hi + ps - 1) & ~(ps - 1);
	} else {
		whole = pc;
	}
	for (i = 0; i < (int)(m->len / sizeof(*rg)); i++) {
		uint64_t lo = rg[i].start & ~(ps - 1);
		uint64_t hi = (rg[i].start + rg[i].len + ps - 1) & ~(ps - 1);

		if (!rg[i].len || hi <= lo)
			continue;
		k[nk].lo = lo;
		k[nk++].hi = hi;
	}
	for (i = 1; i < nk; i++)
		for (j = i; j > 0 && k[j - 1].lo > k[j].lo; j--) {
			t = k[j];
			k[j] = k[j - 1];
			k[j - 1] = t;
		}
	k_reply(a, m, 0, 0, 0);

	t0 = k_now_ns();
	for (pass = 0; pass < K_TRIM_PASSES; pass++) {
		r = k_trim_pass(a, k, nk, whole, k_ssp(), &bytes, &nvma);
		if (r < 0)
			break;
		if (!pass)
			first = nvma;
		if (!r)
			break;
	}
	if (!a->trim.trims)
		a->trim.vmas_before = first;
	a->trim.trims++;
	a->trim.bytes += bytes;
	a->trim.vmas_kept = nvma;
	a->trim.err = r < 0 ? (int32_t)r : 0;
	a->trim.ns = k_now_ns() - t0;
	if (fd >= 0) {
		k_send(fd, &a->trim, sizeof(a->trim), (void *)0, 0,
		       (int32_t *)0, 0);
		S1(__NR_close, fd);
	}
}

KSEC static void k_serve(struct vdm_keeper_args *a)
{
	struct vdm_kp_msg *m = (struct vdm_kp_msg *)a->buf;
	uint8_t *pl = a->buf + sizeof(*m);
	int32_t fd;
	long n, r;

	for (;;) {
		n = k_recv(a->sock, a->buf, VDM_KP_BUF, &fd);
		if (n <= 0) {
			/* the successor is gone (or the socket broke) */
			if (fd >= 0)
				S1(__NR_close, fd);
			k_close(&a->sock);
			if (a->listen_fd < 0 || k_wait_attach(a) < 0)
				return;
			continue;
		}
		if (n >= 4 && *(uint32_t *)a->buf == K_VSIM_MAGIC && a->is_sim &&
		    n >= 32) {
			k_sim_proxy(a, n, fd);
			continue;
		}
		if ((uint64_t)n < sizeof(*m) || m->magic != VDM_KP_MAGIC ||
		    m->len != (uint64_t)n - sizeof(*m)) {
			if (fd >= 0)
				S1(__NR_close, fd);
			m->magic = VDM_KP_MAGIC;
			k_reply(a, m, -K_EPROTO, 0, 0);
			continue;
		}
		switch (m->op) {
		case VDM_KP_IOCTL:
			if (fd >= 0 && m->arg2 + 4 <= m->len)
				*(int32_t *)(pl + m->arg2) = fd;
			r = S3(__NR_ioctl, a->dev_fd, m->arg, pl);
			if (fd >= 0)
				S1(__NR_close, fd);
			k_reply(a, m, r, 0, m->len);
			break;
		case VDM_KP_WRITE:
			do {
				r = S3(__NR_write, a->dev_fd, pl, m->len);
			} while (r == -K_EINTR);
			if (fd >= 0)
				S1(__NR_close, fd);
			k_reply(a, m, r, 0, 0);
			break;
		case VDM_KP_MMAP:
			if (fd < 0) {
				k_reply(a, m, -K_EINVAL, 0, 0);
				break;
			}
			r = S6(__NR_mmap, 0, m->arg, K_PROT_RW, K_MAP_SHARED,
			       fd, m->arg2);
			/* kept for a re-attach, while there is room */
			if (r >= 0 && a->nkeep < VDM_KP_MAX_KEEP)
				a->keep[a->nkeep++] = fd;
			else
				S1(__NR_close, fd);
			k_reply(a, m, r < 0 && r > -4096 ? r : 0,
				r < 0 && r > -4096 ? 0 : r, 0);
			break;
		case VDM_KP_MUNMAP:
			if (fd >= 0)
				S1(__NR_close, fd);
			r = S2(__NR_munmap, m->arg, m->arg2);
			k_reply(a, m, r, 0, 0);
			break;
		case VDM_KP_SETSTATE:
			if (fd < 0) {
				k_reply(a, m, -K_EINVAL, 0, 0);
				break;
			}
			if (m->arg == 1) {	/* the listening socket */
				k_close(&a->listen_fd);
				a->listen_fd = fd;
			} else {
				k_close(&a->state_fd);
				a->state_fd = fd;
			}
			k_reply(a, m, 0, 0, 0);
			break;
		case VDM_KP_TRIM:
			k_trim(a, m, fd);
			break;
		case VDM_KP_EXIT:
			if (fd >= 0)
				S1(__NR_close, fd);
			k_reply(a, m, 0, 0, 0);
			return;
		case VDM_KP_PING:
		default:
			if (fd >= 0)
				S1(__NR_close, fd);
			if (m->op == VDM_KP_PING)
				k_reply(a, m, 0, S0(__NR_getpid), 0);
			else
				k_reply(a, m, -K_EINVAL, 0, 0);
			break;
		}
	}
}

KSEC __attribute__((noreturn)) void vdm_keeper_main(struct vdm_keeper_args *a)
{
	uint64_t all = ~0ULL;
	unsigned long sa[4];
	int32_t keep[VDM_KP_MAX_KEEP + 4];
	int i, n = 0;

	/* signals first: the inherited handlers point into libc */
	S4(__NR_rt_sigprocmask, 0 /* SIG_BLOCK */, &all, 0, 8);
	for (i = 1; i <= 64; i++) {
		k_zero(sa, sizeof(sa));		/* SIG_DFL */
		S4(__NR_rt_sigaction, i, sa, 0, 8);
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
