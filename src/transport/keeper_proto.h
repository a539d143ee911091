/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * keeper_proto: the wire protocol between the library and the mm keeper of
 * an exec handoff (src/handoff/keeper/keeper.h says what the keeper is).
 * One request packet, one reply packet, on a SOCK_SEQPACKET socket; the
 * library side is transport/keeper.c, the keeper side is freestanding
 * (handoff/keeper/keeper.c), so this header holds plain C types only.
 *
 * Depends on: <stdint.h>.
 */
#ifndef VDPAMAP_TRANSPORT_KEEPER_PROTO_H
#define VDPAMAP_TRANSPORT_KEEPER_PROTO_H

#include <stdint.h>

#define VDM_KP_MAGIC 0x6b656570u      /* "keep" */
#define VDM_KP_BUF   (160ul * 1024ul) /* >= VSIM_MAX_PKT */

enum {
	VDM_KP_IOCTL = 1,    /* arg: request; arg2: offset of an int fd
				   field in the payload (~0: none); payload:
				   the ioctl argument */
	VDM_KP_WRITE = 2,    /* payload: one write() */
	VDM_KP_MMAP = 3,     /* fd; arg: length, arg2: file offset; val:
				   the address in the keeper's space */
	VDM_KP_MUNMAP = 4,   /* arg: address, arg2: length */
	VDM_KP_PING = 5,     /* val: the keeper's pid */
	VDM_KP_EXIT = 6,     /* reply, then exit (device close) */
	VDM_KP_SETSTATE = 7, /* fd: the latest state memfd for re-attach;
				   arg 1: fd is the bound re-attach socket,
				   the keeper calls listen() (so that its
				   peers see the keeper's pid) */
	VDM_KP_ATTACH = 8,   /* on the listening socket only; payload:
				   the credential (VDM_KP_CRED_LEN bytes);
				   reply: ret 0 and val the keeper's pid,
				   arg the attempts refused before, arg2
				   the last refused pid, with the fds; or
				   ret -EACCES (wrong credential) /
				   -ENOKEY (none), without fds */
	VDM_KP_TRIM = 9,     /* payload: struct vdm_kp_range[] to keep
				   besides the keeper's own; fd: where the
				   result goes; reply, then trim */
};

#define VDM_KP_MAX_RANGES 256
/* The re-attach credential: random bytes made at prepare (getrandom),
 * carried in the state, compared by the keeper in constant time. */
#define VDM_KP_CRED_LEN 16

struct vdm_kp_range {
	uint64_t start; /* in the old address space */
	uint64_t len;
};

struct vdm_kp_trim {
	uint64_t bytes;	      /* unmapped so far, every trim together */
	uint64_t ns;	      /* the last trim took */
	uint32_t vmas_before; /* VMAs before the first trim */
	uint32_t vmas_kept;   /* VMAs after the last trim */
	uint32_t trims;	      /* trims done */
	int32_t err;	      /* of the last trim: 0 or -errno */
};

struct vdm_kp_msg {
	uint32_t magic;
	uint32_t op;
	uint64_t arg;
	uint64_t arg2;
	uint32_t len; /* payload bytes that follow */
	int32_t ret;  /* reply */
	int64_t val;  /* reply */
};

#endif
