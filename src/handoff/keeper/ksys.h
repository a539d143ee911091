/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ksys: what the keeper's freestanding files share (keeper.h says what the
 * keeper is).  Raw system calls (x86-64, aarch64), the kernel's constants
 * and structs the keeper needs, spelled out here because no libc header
 * may be trusted to be free of code or data, and the socket helpers of
 * msg.c.
 *
 * Every function of the keeper is KSEC: it lives in the section
 * vdpamap_keeper, whatever file it is in.  The linker gathers the section
 * of every object of keeper_lib into one output section, and
 * __start_vdpamap_keeper/__stop_vdpamap_keeper bound all of it: a trim
 * keeps exactly those pages (trim.c), so a keeper function outside the
 * section would be unmapped under the keeper's feet.  The files are built
 * with the flags of meson.build (no jump tables, no builtins, no stack
 * protector, no PIC), so that nothing of the compiler's lands in .rodata
 * or .text either; calls between them are direct (hidden symbols).
 *
 * May include: handoff/keeper/keeper.h, transport/keeper_proto.h,
 * transport/simproto.h, <asm/unistd.h>, <stddef.h>, <stdint.h>; nothing
 * with code or data.
 */
#ifndef VDPAMAP_KEEPER_KSYS_H
#define VDPAMAP_KEEPER_KSYS_H

#include <asm/unistd.h>
#include <stddef.h>
#include <stdint.h>

#include "handoff/keeper/keeper.h"

#define KSEC __attribute__((section("vdpamap_keeper"), used))
#define KINL static inline __attribute__((always_inline))

/* errno values (asm-generic, the same on x86-64 and arm64) */
#define K_EPERM	     1
#define K_EINTR	     4
#define K_EACCES     13
#define K_EAGAIN     11
#define K_EBUSY	     16
#define K_EINVAL     22
#define K_EPROTO     71
#define K_EOPNOTSUPP 95
#define K_ENOKEY     126
/* a raw syscall returning an address fails in [-K_MAX_ERRNO, -1] */
#define K_MAX_ERRNO 4095

#define K_PR_GET_SHADOW_STACK_STATUS 74
#define K_AT_FDCWD		     (-100)
#define K_O_CLOEXEC		     0x80000
#define K_O_RDONLY_CLOEXEC	     K_O_CLOEXEC /* O_RDONLY is 0 */
#define K_KCMP_VM		     1
#define K_CLOCK_MONOTONIC	     1
#define K_NSEC_PER_SEC		     1000000000ULL
#define K_NSEC_PER_MSEC		     1000000LL
#define K_MSEC_PER_SEC		     1000LL
#define K_AF_UNIX		     1
#define K_SOCK_SEQPACKET	     5
#define K_SOCK_CLOEXEC		     K_O_CLOEXEC
#define K_SOL_SOCKET		     1
#define K_SCM_RIGHTS		     1
#define K_SO_PEERCRED		     17
#define K_MSG_NOSIGNAL		     0x4000
#define K_MSG_CMSG_CLOEXEC	     0x40000000
#define K_POLLIN		     1
#define K_SIG_BLOCK		     0
#define K_NSIG			     64 /* signals 1..64 */
#define K_SIGSET_SIZE		     8	/* the kernel's sigset_t: 64 bits */
#define K_PROT_RW		     3	/* PROT_READ | PROT_WRITE */
#define K_MAP_SHARED		     1

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

/* A cmsghdr (len, level, type: K_CMSG_HDR bytes) and its SCM_RIGHTS fds. */
#define K_CMSG_HDR 16
#define K_CMSG_FDS (4 + VDM_KP_MAX_KEEP)
struct k_cmsg {
	uint64_t len;
	int32_t level;
	int32_t type;
	int32_t fd[K_CMSG_FDS];
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
#endif

#if VDM_KEEPER_SUPPORTED

#define S0(n)	       ksys(n, 0, 0, 0, 0, 0, 0)
#define S1(n, a)       ksys(n, (long)(a), 0, 0, 0, 0, 0)
#define S2(n, a, b)    ksys(n, (long)(a), (long)(b), 0, 0, 0, 0)
#define S3(n, a, b, c) ksys(n, (long)(a), (long)(b), (long)(c), 0, 0, 0)
#define S4(n, a, b, c, d) \
	ksys(n, (long)(a), (long)(b), (long)(c), (long)(d), 0, 0)
#define S5(n, a, b, c, d, e) \
	ksys(n, (long)(a), (long)(b), (long)(c), (long)(d), (long)(e), 0)
#define S6(n, a, b, c, d, e, f)                                        \
	ksys(n, (long)(a), (long)(b), (long)(c), (long)(d), (long)(e), \
	     (long)(f))

/* ---- msg.c: memory and sockets */
void vdm_k_zero(void *p, uint64_t n);
/* close *fd if open; *fd = -1 */
void vdm_k_close(int32_t *fd);
/* recvmsg with at most one fd (more are closed); *fd = -1 if none. */
long vdm_k_recv(int sock, void *buf, uint64_t len, int32_t *fd);
/* sendmsg of two pieces (blen 0: one) and nfd fds. */
long vdm_k_send(int sock, const void *a, uint64_t alen, const void *b,
		uint64_t blen, const int32_t *fds, int nfd);
/* Reply to request m on the successor's socket: ret, val and len payload
 * bytes after m. */
void vdm_k_reply(struct vdm_keeper_args *a, struct vdm_kp_msg *m, long ret,
		 int64_t val, uint32_t len);

/* ---- trim.c */
/* VDM_KP_TRIM: reply to m at once, then trim and send the result on fd
 * (keeper.h, "Trim"). */
void vdm_k_trim(struct vdm_keeper_args *a, struct vdm_kp_msg *m, int32_t fd);

#endif /* VDM_KEEPER_SUPPORTED */

#endif
