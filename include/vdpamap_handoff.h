/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libvdpamap, exec handoff: the calls of the section below.  Conventions
 * are those of vdpamap.h, which includes this header; it may also be
 * included on its own (to fill the open options vdpamap_handoff_adopt()
 * and _reattach() take, or to read a region or vring back after the
 * adopt, include vdpamap.h).
 */
#ifndef VDPAMAP_PUBLIC_HANDOFF_H
#define VDPAMAP_PUBLIC_HANDOFF_H

#include "vdpamap_common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- exec handoff (live update): pass the device, maps intact, to the
 * image this process execs into.  See docs/handoff.md.
 *
 * Predecessor: vdpamap_handoff_prepare() suspends the device (DRIVER_OK is
 * kept), writes a versioned, checksummed description of the handle to a
 * sealed memfd and clears FD_CLOEXEC on exactly the fds the successor
 * needs: the device fd (not for REBUILD), the keeper socket (KEEPER), the
 * fd of every region, the kick/call eventfds of every vring set with
 * vdpamap_vring_set(), opts->extra_fds and the state memfd itself.  Then
 * the caller execs, passing the state fd number (argument, or the
 * environment variable VDPAMAP_HANDOFF_ENV).  If the exec fails, or the
 * caller changes its mind, vdpamap_handoff_cancel() resumes the device,
 * restores FD_CLOEXEC and the handle carries on.  Between prepare and
 * cancel/exec, every call that would change the device, the mirror or what
 * the description says fails with -EBUSY, logged (naming the call and the
 * state fd), nothing changed: vdpamap_txn_begin() and with it every map and
 * unmap, vdpamap_region_add/_del(), vdpamap_flip/_unflip(), vdpamap_reset(),
 * vdpamap_set_status/_features/_config(), vdpamap_set_group_asid(),
 * vdpamap_vring_set/_enable(), vdpamap_suspend/_resume() and
 * vdpamap_handoff_rebuild(); a second prepare is -EALREADY.  Queries and
 * lookups (get_*, vdpamap_vring_get_base(), translate, foreach, stats,
 * handoff get_info, region_get/_ids, vring_get), the dirty log (the
 * library's own: not in the description), cancel and close keep working.
 *
 * Successor: vdpamap_handoff_adopt() parses the description (untrusted
 * input: a corrupt description is a precise error and changes nothing),
 * maps every region's fd again (new HVAs: vdpamap_region_get()), rebuilds
 * the mirror and resumes the device.  The inherited fds are the caller's
 * (the library sets FD_CLOEXEC on them again and closes only the state
 * fd); so are the new region mappings, which stay after vdpamap_close().
 *
 * Strategies (VDPAMAP_HANDOFF_*), chosen by AUTO in this order:
 *  NEW_OWNER  the kernel moves ownership (unmerged "vdpa live update"
 *             proposal); only in a build with -Dnew_owner=enabled and a
 *             device offering both of its backend bits (9 NEW_OWNER, 10
 *             IOTLB_REMAP).  The successor calls VHOST_NEW_OWNER, sets
 *             the vrings again and sends one IOTLB REMAP (the new uaddr)
 *             per mirror entry, batched per ASID: no UPDATE, no
 *             INVALIDATE (vdpamap_stats.iotlb_remaps counts them).
 *  KEEPER     stock kernels, x86-64 and aarch64: a CLONE_VM helper keeps
 *             the old address space (ownership, pins) alive and performs
 *             the successor's owner-only requests: no IOTLB write at all.
 *             Its death poisons the handle (-EOWNERDEAD from the call that
 *             noticed, vdpamap_poison_reason() says so); then
 *             vdpamap_handoff_rebuild() reopens the device.
 *  REBUILD    close, reopen, pre-fault in parallel and re-map everything,
 *             restore vring state: slow, correct everywhere.
 * Every region must be backed by an fd (a memfd) for any strategy. */
#define VDPAMAP_HANDOFF_ENV	  "VDPAMAP_HANDOFF_FD"
#define VDPAMAP_HANDOFF_AUTO	  0
#define VDPAMAP_HANDOFF_NEW_OWNER 1
#define VDPAMAP_HANDOFF_KEEPER	  2
#define VDPAMAP_HANDOFF_REBUILD	  3
/* bytes of a keeper's re-attach credential (vdpamap_handoff_info) */
#define VDPAMAP_HANDOFF_CRED_LEN 16

struct vdpamap_handoff_opts {
	size_t sz;
	uint32_t strategy;     /* VDPAMAP_HANDOFF_*; 0: AUTO */
	uint32_t flags;	       /* none defined: must be 0 */
	const int *extra_fds;  /* more fds to pass (CLOEXEC cleared) */
	uint32_t nr_extra_fds; /* at most 32 */
	/* KEEPER: how long the keeper waits for vdpamap_handoff_reattach()
	 * after its successor died before it exits (closing the device);
	 * 0 means 30000 */
	uint32_t reattach_grace_ms;
	size_t : 0;
};

/* Prepare the handoff; *ret_state_fd is the sealed state memfd (without
 * FD_CLOEXEC).  Errors (nothing changed): -EINVAL (bad opts, a region
 * without fd: the log names it, an extra fd not open, a region's fd mapped
 * at its hva at another offset than fd_offset), -EBADF (a region's fd was
 * closed since region_add, or is not the file mapped at its hva any more:
 * closed and its number reused; the successor would map other memory),
 * -E2BIG (opts tail),
 * -EOPNOTSUPP (the strategy asked for is not available here: NEW_OWNER not
 * built or offered, KEEPER on another architecture), -EALREADY (already
 * prepared), -EAGAIN (could not create the keeper), -EADDRINUSE (KEEPER:
 * its socket name is taken by another process; the log names it),
 * -EMFILE (no fd for the state memfd or the keeper's socket), -ENOMEM,
 * any device error of SUSPEND or GET_VRING_BASE, -ENODEV (the device is
 * gone: a simulator daemon that exited; there is nothing to hand over,
 * and cancel, rebuild and reattach say -ENODEV too: close the handle).
 * Not concurrent with anything on h.  Once prepared, the handle's other
 * calls refuse changes until cancel: see above. */
VDPAMAP_API int vdpamap_handoff_prepare(struct vdpamap *h,
					const struct vdpamap_handoff_opts *o,
					int *ret_state_fd);
/* Undo a prepare (after a failed exec): resume, restore FD_CLOEXEC, close
 * the state fd, stop a keeper the prepare created; the handle accepts
 * changes again.  -EALREADY if nothing is prepared. */
VDPAMAP_API int vdpamap_handoff_cancel(struct vdpamap *h);

/* Adopt in the successor.  state_fd -1: take the number from the
 * environment variable VDPAMAP_HANDOFF_ENV.  opts: log settings and
 * prefault_threads (REBUILD) are used, the rest is what the description
 * says.  Errors, nothing changed (no fd closed, nothing mapped):
 *  -EBADF      state_fd (or the variable) is not an open fd
 *  -EPERM      the memfd is not sealed against writes
 *  -EMSGSIZE   truncated (or trailing bytes)
 *  -EBADMSG    not a description, or its checksum is wrong
 *  -EPROTONOSUPPORT another version of the format
 *  -ERANGE, -EINVAL, -ENOENT, -EFAULT, -EEXIST: a field out of range, an
 *              entry naming no region, outside its region or the IOVA
 *              range, overlapping entries
 *  -ENODEV     the device fd is not the device the description is about
 *  -EBADF      the keeper socket it names is not an open socket, or a
 *              region's fd is not open or not the file (inode) it names
 * A refused description (-EMSGSIZE to -EBADF here, and -EOPNOTSUPP) is
 * logged through opts->log_fn (VDPAMAP_LOG_ERR) naming the field, as
 * "handoff: adopt: description of N bytes refused (-22): regions[0].fd:
 * negative".
 *  -E2BIG, -ENOMEM, the errors of mmap() of a region, of vdpamap_open()
 *              (REBUILD), or of RESUME.
 *  -ECOMM      RESUME's error (the device stays suspended): retry the
 *              adopt.  (KEEPER adopt asks the keeper nothing: its pidfd
 *              says whether it lives, and the trim after the first frame
 *              checks that it answers.)
 * A KEEPER description whose keeper is dead, or a lost reply of the device
 * (simulator), gives a poisoned handle (see vdpamap_handoff_rebuild()).
 * NEW_OWNER: -EOPNOTSUPP in a build without it, or VHOST_NEW_OWNER's
 * error (-ENOMEM: RLIMIT_MEMLOCK below what the device pins, -EBUSY,
 * -EINVAL), nothing changed.  An entry
 * whose REMAP is refused is re-created (INVALIDATE + UPDATE, logged); a
 * failure past that gives a poisoned handle (vdpamap_poison_reason()). */
VDPAMAP_API int vdpamap_handoff_adopt(int state_fd,
				      const struct vdpamap_open_opts *opts,
				      struct vdpamap **ret);

/* Reattach to a KEEPER handoff whose successor died.  The new handle is
 * as vdpamap_handoff_adopt() would give, with the state as of the dead
 * successor's last change.  What it takes (struct vdpamap_reattach_opts,
 * from vdpamap_handoff_info as the predecessor or successor saw it):
 * keeper_pid, keeper_cred, keeper_sock_tag; open: log settings and
 * prefault_threads, as adopt's.  Before sending the credential it checks
 * that the socket's server is keeper_pid of its own uid (SO_PEERCRED),
 * and after, that the state received is the one of this credential.
 * Errors (nothing taken; logged through open's log_fn):
 *  -ENOKEY       no credential (all zero)
 *  -ECONNREFUSED no keeper listens under that tag, or it serves a live
 *                successor (which holds the only attachment)
 *  -EPERM        the socket is served by another process than keeper_pid,
 *                or by another uid (a squatter: the credential was not
 *                sent), or the state received is not this handoff's
 *  -EACCES       the keeper refused the credential (it keeps waiting)
 *  -EPROTO       the keeper's reply is malformed
 *  -EINVAL, -E2BIG (opts), -ENOMEM, or the errors of
 *  vdpamap_handoff_adopt() about the description received. */
struct vdpamap_reattach_opts {
	size_t sz;
	const struct vdpamap_open_opts *open; /* NULL: defaults */
	int32_t keeper_pid;		      /* info.keeper_pid */
	uint32_t flags;			      /* none defined: must be 0 */
	uint8_t keeper_cred[VDPAMAP_HANDOFF_CRED_LEN]; /* info.keeper_cred */
	uint64_t keeper_sock_tag; /* info.keeper_sock_tag */
	size_t : 0;
};
VDPAMAP_API int
vdpamap_handoff_reattach_with(const struct vdpamap_reattach_opts *o,
			      struct vdpamap **ret);
/* The first interface, without the credential: every keeper requires one
 * now, so this logs how to give it and returns -ENOKEY (-EINVAL for a bad
 * argument).  Use vdpamap_handoff_reattach_with(). */
VDPAMAP_API int vdpamap_handoff_reattach(pid_t keeper_pid,
					 const struct vdpamap_open_opts *opts,
					 struct vdpamap **ret);

/* After keeper death (or another poison of a KEEPER handle: a live keeper
 * is told to exit): close the device (the kernel drops every map) and
 * rebuild the handle on it as REBUILD does (reopen, re-map, restore ring
 * state from each used ring), keeping the handle pointer and region ids.
 * Clears the poison on success.  -EALREADY: the keeper is alive and the
 * handle not poisoned (nothing done); -EBUSY: a handoff is prepared;
 * -EOPNOTSUPP: the parent cannot continue the rings (no GET_VRING_BASE,
 * or no ring position but 0); the errors of vdpamap_open() (reopen and
 * re-map); -ENOMEM.  On any failure but the first two the device stays
 * closed and the handle poisoned. */
VDPAMAP_API int vdpamap_handoff_rebuild(struct vdpamap *h);

struct vdpamap_handoff_info {
	uint32_t strategy;	     /* VDPAMAP_HANDOFF_* used */
	uint32_t keeper_alive;	     /* 1: an mm keeper serves the handle */
	int32_t keeper_pid;	     /* 0: none */
	uint32_t adopted;	     /* 1 in the successor */
	uint64_t suspend_ns;	     /* CLOCK_MONOTONIC at SUSPEND */
	uint64_t prepare_ns;	     /* cost of prepare */
	uint64_t adopt_ns;	     /* cost of adopt */
	uint64_t adopted_ns;	     /* CLOCK_MONOTONIC when adopt returned */
	uint64_t adopt_iotlb_writes; /* IOTLB messages adopt sent */
	/* KEEPER successor: what the keeper unmapped of the old address
	 * space after the adopt (0: not trimmed, or the trim has not ended
	 * yet: it runs in the keeper once vdpamap_handoff_first_frame() or
	 * this call started it; never waited for here) */
	uint64_t keeper_trimmed_bytes;
	uint32_t keeper_vmas_before; /* mappings before the trim */
	uint32_t keeper_vmas_kept;   /* mappings left */
	/* KEEPER (predecessor after prepare, successor): what
	 * vdpamap_handoff_reattach_with() needs if the successor dies: the
	 * keeper's re-attach credential (random, made at prepare) and the
	 * random part of its socket's name.  A secret: whoever has it and
	 * the uid may take the device and guest memory; a management layer
	 * persists it like a key (docs/threat-model.md).  Zero without a
	 * keeper.  (Former reserved[0..2]: the struct keeps its size.) */
	uint8_t keeper_cred[VDPAMAP_HANDOFF_CRED_LEN];
	uint64_t keeper_sock_tag;
	uint64_t reserved[3];
};
/* -ENOENT: the handle was neither prepared nor adopted. */
VDPAMAP_API int vdpamap_handoff_get_info(struct vdpamap *h,
					 struct vdpamap_handoff_info *info);

/* The downtime of a handoff by phase, as the library measured it (ns;
 * CLOCK_MONOTONIC is system-wide, so the predecessor's times cross the
 * exec in the description).  0: the phase did not happen here, or not
 * yet.  They partition the downtime: suspend + predecessor + exec + adopt
 * + first_frame = downtime; the library's share is everything but exec
 * and first_frame (library_ns).  A sized struct: set sz
 * (VDPAMAP_OPTS(vdpamap_handoff_phases, p)); a larger one gets its tail
 * zeroed, a smaller one what fits. */
struct vdpamap_handoff_phases {
	size_t sz;
	uint64_t suspend_ns;	 /* SUSPEND (and the rings' positions) */
	uint64_t predecessor_ns; /* after SUSPEND to prepare's last step */
	uint64_t exec_ns;	 /* prepare's last step to adopt's entry:
				    the caller's exec and start, not the
				    library's */
	uint64_t adopt_ns;	 /* adopt's entry to its return, the sum
				    of the next four */
	uint64_t parse_ns;	 /* reading and checking the description */
	uint64_t map_ns;	 /* the fds checked, the regions mapped */
	uint64_t takeover_ns;	 /* the handle made, the device taken over
				    (KEEPER: the keeper's link; NEW_OWNER:
				    VHOST_NEW_OWNER and the REMAPs; REBUILD:
				    reopen and re-map, its RESUME too) */
	uint64_t resume_ns;	 /* RESUME (KEEPER) */
	uint64_t first_frame_ns; /* adopt's return to the application's
				    mark, vdpamap_handoff_first_frame() */
	uint64_t library_ns;	 /* suspend + predecessor + adopt */
	uint64_t downtime_ns;	 /* SUSPEND's start to the mark (0 until
				    the mark) */
	size_t : 0;
};
/* The phases of the handoff h was prepared for (the predecessor's two) or
 * adopted from.  -EINVAL: p NULL or p->sz below its first field; -ENOENT:
 * the handle was neither prepared nor adopted. */
VDPAMAP_API int vdpamap_handoff_get_phases(struct vdpamap *h,
					   struct vdpamap_handoff_phases *p);
/* The successor's mark: its first frame after the adopt went through the
 * device (the end of the downtime).  The library records the time and
 * then does what it keeps off the downtime (KEEPER: the keeper's trim of
 * the old address space, which vdpamap_handoff_get_info() also starts).
 * -ENOENT: h was not adopted; -EALREADY: marked already. */
VDPAMAP_API int vdpamap_handoff_first_frame(struct vdpamap *h);

#ifdef __cplusplus
}
#endif

#endif /* VDPAMAP_PUBLIC_HANDOFF_H */
