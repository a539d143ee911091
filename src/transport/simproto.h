/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * simproto: the wire protocol between the library's simulator transport
 * (transport/sim.c) and the simulator daemon (src/sim/).
 *
 * One SOCK_SEQPACKET unix socket connection per open.  The first message on
 * a connection is HELLO with arg = VSIM_KIND_DEVICE (an open of the device:
 * exclusive, EBUSY if another device connection is open) or
 * VSIM_KIND_CONTROL (test/debug hooks, any number).  Every request is one
 * packet: struct vsim_req followed by len payload bytes, optionally with
 * SCM_RIGHTS fds; the daemon sets SO_PASSCRED so it learns the sender's
 * pid per packet.  Every request gets exactly one reply packet: struct
 * vsim_rep followed by len payload bytes.  The connection closing (every
 * fd of it, in every process) is close() of the device.
 *
 * The protocol grows by new ops only, so that a library and a daemon of
 * different versions still talk: a daemon answers an op it does not know
 * with ret -EINVAL and no payload, having done nothing, and every op added
 * after the first version (WRITEV) always replies with a payload, so that
 * its client can tell "not known here" from the op's own answer and fall
 * back to the older ops.  An older client never sends a newer op.
 *
 * token identifies the sender's address space, the way the kernel compares
 * current->mm with the owner's mm: it is a random per-image value that
 * exec re-initialises (the library is loaded anew) and fork's child
 * regenerates, and that a CLONE_VM helper shares.
 *
 * Depends on: nothing.
 */
#ifndef VDPAMAP_SIMPROTO_H
#define VDPAMAP_SIMPROTO_H

#include <stdint.h>

#define VSIM_MAGIC   0x7664736dU      /* "vdsm" */
#define VSIM_MAX_PKT (128ul * 1024ul) /* largest packet either way */

enum {
	VSIM_OP_HELLO = 1, /* arg: VSIM_KIND_* ; reply ret 0 / -EBUSY */
	/* device connection */
	VSIM_OP_IOCTL = 2,  /* arg: ioctl request number.  Payload: the
				   _IOC_SIZE input bytes if _IOC_WRITE (for
				   VHOST_VDPA_SET_CONFIG: the vhost_vdpa_config
				   header and its len bytes; for GET_CONFIG:
				   the header).  fd-carrying requests
				   (SET_VRING_KICK/CALL/ERR, SET_CONFIG_CALL)
				   pass the fd with SCM_RIGHTS, fd field -1 in
				   the payload means "none".  Reply: ret = the
				   ioctl's return (>= 0) or -errno; payload:
				   the _IOC_SIZE output bytes if _IOC_READ
				   (GET_CONFIG: header + len bytes). */
	VSIM_OP_WRITE = 3,  /* payload: the bytes of one write(); reply
				   ret = bytes consumed or -errno */
	VSIM_OP_WRITEV = 4, /* arg: bytes per write (1..VSIM_WRITEV_REC_MAX),
				   arg2: how many writes; payload: arg2 records
				   of arg bytes.  Each record is one write(),
				   in order, exactly as WRITE would do it; the
				   first one not consumed whole (a refusal)
				   ends the packet.  Reply ret 0, payload
				   struct vsim_writev_rep; a malformed request
				   gets -EINVAL with no payload, like an older
				   daemon's answer (nothing written). */
	/* control connection */
	VSIM_OP_TABLE = 10,    /* arg: asid, arg2: max entries; reply ret:
				   total entries, payload: up to arg2 struct
				   vdpamap_sim_entry (as many as fit) */
	VSIM_OP_FAIL_NTH = 11, /* arg: VDPAMAP_SIM_FAIL_*, arg2: nth */
	VSIM_OP_STATS = 12,    /* reply payload: struct vdpamap_sim_stats */
	VSIM_OP_STOP = 13,     /* daemon replies 0 then exits */
	VSIM_OP_PINNED = 14,   /* reply payload: u64 bytes pinned by the
				   owner of the device (PA mode) */
	VSIM_OP_LIMITS = 15,   /* reply payload: struct vdpamap_sim_limits
				   (vdpamap_sim_get_limits()) */
	VSIM_OP_STATE = 16,    /* reply payload: struct vdpamap_sim_state
				   (vdpamap_sim_get_state()); not a use of
				   the daemon (its idle time goes on) */
};

#define VSIM_KIND_DEVICE  1
#define VSIM_KIND_CONTROL 2

struct vsim_req {
	uint32_t magic;
	uint32_t op;
	uint64_t token;
	uint64_t arg;
	uint32_t arg2;
	uint32_t len; /* payload bytes that follow */
};

struct vsim_rep {
	int32_t ret;
	uint32_t len; /* payload bytes that follow */
};

#define VSIM_WRITEV_REC_MAX 256

/* The reply payload of VSIM_OP_WRITEV */
struct vsim_writev_rep {
	uint32_t done; /* writes consumed whole, from the first */
	uint32_t reserved;
	int64_t ret; /* done < arg2: what write number done returned
			(bytes consumed, or -errno) */
};

#endif
