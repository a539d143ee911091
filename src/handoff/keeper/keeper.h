/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * keeper: the mm keeper of an exec handoff on a stock kernel (see
 * docs/handoff.md, "The mm keeper", and docs/uapi-matrix.md: no released
 * kernel can hand ownership over).  A process created
 * with clone(CLONE_VM | SIGCHLD) on its own stack shares the predecessor's
 * address space; when the predecessor execs, the keeper keeps that address
 * space alive, and with it device ownership, the old HVAs and every pinned
 * page.  It then performs the owner-only requests of the successor, which
 * reach it over a SOCK_SEQPACKET socket (transport/keeper.c).
 *
 * keeper.c (entry, request loop, re-attach), msg.c (sockets) and trim.c
 * are freestanding (ksys.h): raw syscalls (x86-64, aarch64), no libc, no
 * globals, no string constants, no jump tables, no stack protector; all
 * their code lives in one section (a trim keeps the pages it spans).  It
 * never returns into libc.
 *
 * Protocol (one request packet, one reply packet):
 *  - a simproto request (first u32 VSIM_MAGIC, simulator devices): the
 *    keeper patches in its own address-space token, sends it with the fd
 *    that came with it on its copy of the device socket and relays the
 *    reply packet verbatim;
 *  - struct vdm_kp_msg (first u32 VDM_KP_MAGIC) + len payload bytes, an
 *    optional fd with SCM_RIGHTS; the reply is a vdm_kp_msg with ret (>= 0
 *    or -errno), val and len payload bytes (IOCTL: the argument after the
 *    ioctl).
 *
 * Trim (VDM_KP_TRIM): once the successor has adopted, the predecessor's
 * image is gone and the old address space holds its heap, libraries,
 * thread stacks and the like for nobody.  The successor sends the ranges
 * of its regions in the old address space (dev_base, len) and one end of
 * a socket pair; the keeper replies at once (val: its pid, which the
 * successor checks in place of a PING; the device runs meanwhile),
 * unmaps every mapping but its own area, the pages of its code section,
 * those ranges (in VA mode the device reaches guest memory through this
 * address space) and, on x86-64, the shadow stack it runs on if any, then
 * sends the result (struct vdm_kp_trim) on that socket and closes it.  A
 * sender sharing the keeper's address space (kcmp KCMP_VM: the
 * predecessor before its exec) is refused with -EBUSY.  The keeper reads
 * /proc/self/maps into its buffer, whole lines only, and repeats until a
 * pass unmaps nothing.  A keeper without trimming answers -EINVAL.
 *
 * Re-attach: the keeper listens on the abstract unix socket
 * "\0vdpamap-keeper-<tag>" (tag: 16 hex digits of a random u64 made at
 * prepare and carried in the state; the predecessor binds it, so that a
 * squatter is seen as EADDRINUSE there, and the keeper calls listen(), so
 * that a client's SO_PEERCRED names the keeper).  When the successor's
 * socket closes (it died) the keeper waits there until grace_ms have
 * passed since (a deadline: connections do not extend it; then it exits,
 * which closes the device); a process of the same uid that connects and
 * sends VDM_KP_ATTACH with the credential (compared in constant time)
 * gets, with SCM_RIGHTS, the device fd, a fresh socket to the keeper, the
 * latest state memfd and the region memfds.  A wrong or missing
 * credential is answered -EACCES / -ENOKEY without any fd, counted, and
 * the wait goes on; the rightful re-attach learns the count (the library
 * logs it: the keeper cannot).
 *
 * May include: transport/keeper_proto.h and transport/simproto.h (wire
 * protocols, plain C types), freestanding headers; the handoff module's
 * keeper_ctl.c creates the keeper and talks to it.
 */
#ifndef VDPAMAP_KEEPER_H
#define VDPAMAP_KEEPER_H

#include <stdint.h>

#include "transport/keeper_proto.h"

#if defined(__x86_64__) || defined(__aarch64__)
#define VDM_KEEPER_SUPPORTED 1
#else
#define VDM_KEEPER_SUPPORTED 0
#endif

#define VDM_KP_MAX_KEEP 16
#define VDM_KP_AREA	(512ul * 1024ul) /* stack + args + buffer */

/* Lives at the bottom of the keeper's area; filled in before the clone. */
struct vdm_keeper_args {
	int32_t sock; /* to the successor */
	int32_t dev_fd;
	int32_t listen_fd; /* re-attach socket, -1: none */
	int32_t state_fd;  /* for re-attach, -1: none */
	int32_t is_sim;
	int32_t nkeep; /* more fds to keep open */
	int32_t keep[VDM_KP_MAX_KEEP];
	uint64_t token;	  /* the address-space token (simulator) */
	int64_t grace_ms; /* wait this long for a re-attach, then exit */
	uint8_t *buf;	  /* VDM_KP_BUF bytes */
	uint64_t code_lo; /* the vdpamap_keeper section, 0: unknown */
	uint64_t code_hi;
	uint64_t page_size; /* 0: unknown */
	/* what a re-attach must send (all zero: every re-attach refused) */
	uint8_t cred[VDM_KP_CRED_LEN];
	/* the keeper's own */
	int32_t peer_pid;    /* SO_PEERCRED of sock's other end */
	uint32_t refused;    /* re-attach attempts refused */
	int32_t refused_pid; /* the last refused peer */
	int32_t pad;
	struct vdm_kp_trim trim;
};

/* The section the keeper's code lives in (defined by the linker; only the
 * library refers to them, never the keeper's own files). */
/* the linker's name for the section's start:
 * NOLINTNEXTLINE(bugprone-reserved-identifier) */
extern char __start_vdpamap_keeper[] __attribute__((visibility("hidden")));
/* the linker's name for the section's end:
 * NOLINTNEXTLINE(bugprone-reserved-identifier) */
extern char __stop_vdpamap_keeper[] __attribute__((visibility("hidden")));

/* The trampoline: clone(flags, stack_top) whose child calls
 * vdm_keeper_main(a) and exits; returns the child's pid or -errno. */
long vdm_keeper_clone(unsigned long flags, void *stack_top,
		      struct vdm_keeper_args *a);
__attribute__((noreturn)) void vdm_keeper_main(struct vdm_keeper_args *a);

#endif
