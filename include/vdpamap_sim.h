/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libvdpamap, the simulator: start, stop and inspect a userspace
 * vhost-vdpa device (vdpa_sim_net's behaviour) that vdpamap_open() reaches
 * through its socket path.  Conventions are those of vdpamap.h, which
 * includes this header; it may also be included on its own.
 *
 * The calls that talk to a daemon at path (vdpamap_sim_stop(), _table(),
 * _fail_nth(), _get_stats(), _get_limits()) connect to it, and so may
 * return: -ENOENT (nothing at path), -EACCES, -ENAMETOOLONG (path does not
 * fit in sun_path), -ECONNREFUSED (a socket nobody serves), -EMFILE,
 * -EPROTO or -ETIMEDOUT (what answers does not answer as our simulator
 * does, or not in time), -EPIPE or -ECONNRESET (the daemon closed the
 * connection before or under the request).
 */
#ifndef VDPAMAP_PUBLIC_SIM_H
#define VDPAMAP_PUBLIC_SIM_H

#include "vdpamap_common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- the simulator: a userspace vhost-vdpa + vdpa_sim_net in its own
 * process, reached through a unix socket path, that outlives its clients'
 * exec like a kernel device.  See README "Simulator". */

/* vdpamap_sim_opts.flags */
#define VDPAMAP_SIM_PA	    (1U << 0) /* PA mode (pins; memlock) */
#define VDPAMAP_SIM_PER_MAP (1U << 1) /* .dma_map parent, not .set_map */
/* The daemon's socket is created owner-only (mode 0600, whatever the
 * umask) and the daemon refuses a peer of another uid than its own
 * (SO_PEERCRED, logged); with ANY_UID the socket is 0666 and any uid may
 * connect (a device shared between users on purpose). */
#define VDPAMAP_SIM_ANY_UID (1U << 2)

struct vdpamap_sim_opts {
	size_t sz;
	uint64_t backend_features; /* offered; 0 means 0x17e */
	uint32_t flags;
	uint32_t nr_as;	     /* 0 means 2 */
	uint32_t nr_groups;  /* 0 means 2 */
	uint32_t nr_vqs;     /* 0 means 3 (rx, tx, ctrl) */
	uint64_t iova_first; /* with iova_last == 0: [0, 2^64-1] */
	uint64_t iova_last;
	const char *dir; /* socket dir; NULL: $TMPDIR or /tmp */
	/* "KERNEL" or "KERNEL/PARENT": linux-5.10, linux-6.1, linux-6.12,
	 * linux-6.12.95, linux-7.3; vdpa_sim (the default parent),
	 * vdpa_sim-permap, vp_vdpa, vduse (docs/sim-profiles.md).  The
	 * fields above, when non-zero, override the profile's.  NULL:
	 * the default, linux-7.3 (the newest kernel: IOTLB caps 2048,
	 * group ASIDs frozen at DRIVER_OK); linux-6.12.95 is the default
	 * of earlier versions (no cap, ASIDs changed in place). */
	const char *profile;
	/* IOTLB entries per address space, vhost_vdpa's and the parent's
	 * caps alike (as both module parameters raised); 0: the profile's */
	uint32_t max_iotlb_entries;
	/* the parent's own cap alone (vdpa_sim's, VDUSE's parameter), e.g.
	 * below vhost_vdpa's; 0: as max_iotlb_entries */
	uint32_t parent_max_iotlb_entries;
	/* How long the daemon waits once nobody uses it, then removes its
	 * socket (if the path still names it) and exits 0: below; 0 means
	 * VDPAMAP_SIM_IDLE_DEFAULT_MS, VDPAMAP_SIM_IDLE_NEVER never */
	uint32_t idle_timeout_ms;
	size_t : 0;
};

/* The daemon is in use, and never exits idle, while a client holds the
 * device open (an exec handoff keeps it open: the successor inherits the
 * device's fd, or the mm keeper holds it), while any address space has
 * an IOTLB entry, and while any connection to it is open; its idle time
 * counts from the last of these and from the last request, but for
 * vdpamap_sim_get_state()'s.  60 s: a program that closes the device and
 * opens it again (a REBUILD handoff's exec between) finds it still there,
 * and a daemon whose clients crashed is gone within a minute. */
#define VDPAMAP_SIM_IDLE_DEFAULT_MS 60000U
#define VDPAMAP_SIM_IDLE_NEVER	    UINT32_MAX

/* Start a simulator daemon (a forked, detached child process) and return
 * its socket path (NUL-terminated, at most len bytes) and pid.  Call before
 * creating threads.  Stop it with vdpamap_sim_stop().  -EINVAL: path NULL,
 * len 0, bad opts or an unknown profile (-E2BIG: an unknown opts tail);
 * -ERANGE: the path does not fit in len, -ENAMETOOLONG: not in sun_path;
 * the socket's: -ENOENT (no such directory), -EACCES, -EADDRINUSE,
 * -EMFILE; -EAGAIN (fork), -ENOMEM; -ECHILD: the daemon did not start. */
VDPAMAP_API int vdpamap_sim_spawn(const struct vdpamap_sim_opts *opts,
				  char *path, size_t len, pid_t *ret_pid);
/* Run the simulator in the calling process until stopped (tools use it).
 * -EINVAL, -E2BIG, -ENAMETOOLONG, -ENOENT, -EACCES, -EADDRINUSE, -EMFILE
 * as vdpamap_sim_spawn(), -ENOMEM. */
VDPAMAP_API int vdpamap_sim_serve(const char *path,
				  const struct vdpamap_sim_opts *opts);
/* Ask the daemon at path to exit and wait for it to go; its socket is
 * gone on return.  Only a socket a simulator of ours serves is touched:
 * -ENOENT nothing at path, -ENOTSOCK not a socket (a file, a device node:
 * left as it is), -ECONNREFUSED a socket nobody serves (left as it is),
 * -EPROTO or -ETIMEDOUT something that does not answer as our simulator
 * does, -EINVAL path NULL. */
VDPAMAP_API int vdpamap_sim_stop(const char *path);

/* Test and debugging hooks of the simulator, through its control socket.
 * Each connects to the daemon at path anew: -ENOENT (nothing there),
 * -ECONNREFUSED (a socket nobody serves), -ETIMEDOUT (a server that did
 * not accept or answer within 5 s), -EPROTO (an answer that is not our
 * protocol's). */
struct vdpamap_sim_entry {
	uint64_t iova;
	uint64_t size;
	uint64_t uaddr;
	uint32_t perm;
	uint32_t reserved0;
};
/* Copy the simulator's own table of asid (vhost-vdpa's, not the library's)
 * into ents (at most n); returns the number of entries it has.  -EINVAL:
 * path NULL, ents NULL with n, asid out of range. */
VDPAMAP_API int vdpamap_sim_table(const char *path, uint32_t asid,
				  struct vdpamap_sim_entry *ents, size_t n);

#define VDPAMAP_SIM_FAIL_MSG   1 /* the nth IOTLB write from now */
#define VDPAMAP_SIM_FAIL_IOCTL 2 /* the nth ioctl from now */
/* (since 0.2) at the nth IOTLB write or ioctl from now, counted together,
 * the daemon exits before it does it and without answering, as a crash
 * (SIGKILL) would: every connection to it ends, the device and its table
 * go; only its socket is removed, which a crashed daemon leaves behind.
 * A daemon of 0.1 refuses this kind (-EINVAL). */
#define VDPAMAP_SIM_FAIL_EXIT 3
/* Make the nth (1-based) event of kind fail (0 disarms).  -EINVAL: path
 * NULL or kind unknown. */
VDPAMAP_API int vdpamap_sim_fail_nth(const char *path, uint32_t kind,
				     uint32_t nth);

struct vdpamap_sim_stats {
	uint64_t iotlb_writes;
	uint64_t set_map_calls; /* batch-style parent map pushes */
	uint64_t dma_map_calls; /* per-map parent map calls */
	uint64_t pinned_bytes;
	uint64_t rx_frames; /* frames looped TX -> RX */
	uint64_t tx_frames;
	uint64_t dma_errors; /* accesses that did not translate */
	uint64_t rx_drops;   /* frames dropped (no buffer, MAC) */
	uint64_t reserved[6];
};
/* The daemon's counters.  -EINVAL: path or st NULL. */
VDPAMAP_API int vdpamap_sim_get_stats(const char *path,
				      struct vdpamap_sim_stats *st);

/* What the daemon at path plays, and its IOTLB entry caps as the kernel
 * shows them in /sys/module/{vhost_vdpa,PARENT}/parameters/
 * max_iotlb_entries (0: no such parameter).  A kernel enforces caps only
 * where vhost_vdpa has one; then the parent's is enforced too.  -EINVAL:
 * path or ret NULL; -EPROTO also from a daemon of another version (a
 * reply of another size). */
struct vdpamap_sim_limits {
	uint32_t vhost_max_iotlb_entries;
	uint32_t parent_max_iotlb_entries;
	char kernel[24];	   /* "linux-7.3" (the default's too) */
	char parent[24];	   /* "vdpa_sim", ... */
	uint64_t backend_features; /* offered */
	uint32_t flags;		   /* VDPAMAP_SIM_PA, _PER_MAP */
	uint32_t nr_as;
	uint32_t nr_groups;
	uint32_t nr_vqs;
	uint64_t iova_first;
	uint64_t iova_last;
	uint64_t reserved[8];
};
VDPAMAP_API int vdpamap_sim_get_limits(const char *path,
				       struct vdpamap_sim_limits *ret);

/* Whether the daemon at path is in use (what keeps it from exiting idle,
 * vdpamap_sim_opts.idle_timeout_ms), asked in 1 s at most.  Asking does
 * not count as a use. */
#define VDPAMAP_SIM_BUSY_DEVICE (1U << 0) /* a client holds the device */
#define VDPAMAP_SIM_BUSY_MAPS	(1U << 1) /* IOTLB entries exist */
#define VDPAMAP_SIM_BUSY_CONNS	(1U << 2) /* another connection is open */
struct vdpamap_sim_state {
	int32_t pid;		  /* the daemon's */
	uint32_t busy;		  /* VDPAMAP_SIM_BUSY_*; 0: unused */
	uint32_t idle_timeout_ms; /* resolved; VDPAMAP_SIM_IDLE_NEVER */
	uint32_t connections;	  /* open, but the asker's (device's too) */
	uint64_t idle_ms;	  /* unused for (0 while DEVICE or MAPS) */
	uint64_t iotlb_entries;	  /* in every address space */
	char kernel[24];	  /* what it plays, as in vdpamap_sim_limits */
	char parent[24];
	uint64_t reserved[4];
};
/* 0, -EINVAL (ret NULL), -EOPNOTSUPP (a daemon that predates it), the
 * control connection's errors (-ENOENT, -ECONNREFUSED: no daemon there;
 * -ETIMEDOUT: no answer within 1 s; -EPROTO: not our simulator). */
VDPAMAP_API int vdpamap_sim_get_state(const char *path,
				      struct vdpamap_sim_state *ret);

#ifdef __cplusplus
}
#endif

#endif /* VDPAMAP_PUBLIC_SIM_H */
