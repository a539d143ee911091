/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libvdpamap: own a vhost-vdpa device and make guest-memory mapping cheap.
 *
 * One opaque handle (struct vdpamap) owns one vhost-vdpa device (a kernel
 * char device /dev/vhost-vdpa-N, or the libvdpamap simulator reached through
 * a unix socket path).  The handle keeps an exact per-ASID mirror of the
 * device IOTLB and issues batched IOTLB messages for it.
 *
 * Conventions, for every function below:
 *  - Return value >= 0 is success, a negative errno is failure.  errno is
 *    never touched; out-parameters are untouched on failure.
 *  - A failed call changes nothing: neither the mirror nor the device.
 *  - A NULL handle gives -EINVAL (vdpamap_close() accepts it; the calls
 *    that return no errno answer 0 or NULL).
 *  - Every call that takes a struct vdpamap * may run concurrently with any
 *    other such call on the same handle from another thread, except
 *    vdpamap_close(): calls that change device state are serialised on a
 *    per-handle mutex (a transaction holds it from begin to commit/abort:
 *    another thread's calls wait for its end, and its own thread's calls
 *    that change something fail with -EDEADLK, logged, while its queries
 *    answer with the committed state: every call below that only reads,
 *    get_info, get_stats, get_status, get_features, get_config, the
 *    group and vring getters, region_get/_ids, foreach_entry,
 *    entry_count, iova_find, handoff_get_info);
 *    the lookups vdpamap_translate()/vdpamap_reverse() never take it and
 *    never wait for it: they read RCU-published copy-on-write trees
 *    (liburcu-bp: no thread registration needed) and may run on datapath
 *    threads.  liburcu starts its call_rcu thread at the first open.
 *  - A handle is bound to the process that created it: called from a forked
 *    child, every function returns -ECHILD (except vdpamap_close() and the
 *    calls on a transaction: vdpamap_txn_begin() checked it).
 *  - A handle whose mirror could not be kept equal to the device (a failed
 *    rollback, a lost reply of the device) is poisoned: every further call
 *    returns -ENOTRECOVERABLE except queries, vdpamap_close() and
 *    vdpamap_reset() (which rebuilds).
 *  - A handle whose device is gone (a simulator daemon that exited or was
 *    killed: its connection closed) stays so: every call that needs the
 *    device returns -ENODEV at once and sends nothing, vdpamap_reset()
 *    and the handoff calls too; queries of what the handle holds, the
 *    lookups and vdpamap_close() (which frees everything) still work.
 *    One line is logged (VDPAMAP_LOG_ERR), when it is found; the call
 *    that found it returns -ENODEV.  The mirror, and what the lookups
 *    see, is what the device acknowledged before it went: a commit cut
 *    short keeps the messages answered before, no others, and is not
 *    rolled back.  vdpamap_health() says -ENODEV.  A kernel char device's
 *    own errors are passed through as the kernel gives them (a removed
 *    device's ENODEV or EIO): they do not make a handle gone.
 *  - Between vdpamap_handoff_prepare() and its cancel, every call that
 *    would change the handle returns -EBUSY (vdpamap_handoff.h).
 *  - A call that touches the device may also get what the device answers
 *    that the library cannot foresee: -EIO (a parent's own failure, the
 *    simulator's injected one), -EPIPE (a KEEPER successor's requests
 *    through its keeper when the simulator behind went away; elsewhere
 *    that is -ENODEV), -ENODEV (the device is gone: sticky, above),
 *    -EOWNERDEAD (the mm keeper of a KEEPER handoff died: poisoned, see
 *    vdpamap_handoff_rebuild()).
 *  - docs/errno.table lists every errno of every function, with its
 *    reason; the man pages' ERRORS sections are made from it.
 *  - Options structs are size-prefixed (declare them with VDPAMAP_OPTS());
 *    NULL means defaults; a struct from a newer header whose unknown tail is
 *    non-zero gives -E2BIG, one whose sz does not even cover sz -EINVAL.
 *
 * This header is the core: the handle, open/close, features, device status
 * and config, vrings, groups and ASIDs, regions, maps, transactions,
 * lookups, counters, reset, logging.  The other parts have headers of their
 * own, each of which may be included alone, and which this one includes at
 * its end: vdpamap_migrate.h (SVQ flip, dirty log), vdpamap_handoff.h (exec
 * handoff), vdpamap_sim.h (the simulator), vdpamap_mgmt.h (vdpa netlink
 * management).  vdpamap_common.h holds what they all share.
 */
#ifndef VDPAMAP_H
#define VDPAMAP_H

#include "vdpamap_common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- backend features (same bit numbers as the kernel's VHOST_BACKEND_F_*) */
#define VDPAMAP_F_IOTLB_MSG_V2		 (1ULL << 1)
#define VDPAMAP_F_IOTLB_BATCH		 (1ULL << 2)
#define VDPAMAP_F_IOTLB_ASID		 (1ULL << 3)
#define VDPAMAP_F_SUSPEND		 (1ULL << 4)
#define VDPAMAP_F_RESUME		 (1ULL << 5)
#define VDPAMAP_F_ENABLE_AFTER_DRIVER_OK (1ULL << 6)
#define VDPAMAP_F_DESC_ASID		 (1ULL << 7)
#define VDPAMAP_F_IOTLB_PERSIST		 (1ULL << 8)
/* every feature this version of the library knows how to use */
#define VDPAMAP_F_KNOWN                                                \
	(VDPAMAP_F_IOTLB_MSG_V2 | VDPAMAP_F_IOTLB_BATCH |              \
	 VDPAMAP_F_IOTLB_ASID | VDPAMAP_F_SUSPEND | VDPAMAP_F_RESUME | \
	 VDPAMAP_F_ENABLE_AFTER_DRIVER_OK | VDPAMAP_F_DESC_ASID |      \
	 VDPAMAP_F_IOTLB_PERSIST)

/* Name of a single backend feature bit ("IOTLB_BATCH"), or NULL. */
VDPAMAP_API const char *vdpamap_feature_name(uint64_t feature);

/* ---- memory */
#define VDPAMAP_PERM_RO 1 /* device reads */
#define VDPAMAP_PERM_WO 2 /* device writes */
#define VDPAMAP_PERM_RW 3

/* "pick a free IOVA for me" */
#define VDPAMAP_IOVA_ANY UINT64_MAX

/* A piece of the caller's address space that maps may point into.  fd is
 * the file that backs it (a memfd for guest RAM) with fd_offset the offset
 * of hva in it, or -1 for anonymous memory (VA-mode devices silently ignore
 * private memory: region_add refuses it there, -EINVAL).  The fd is not
 * duplicated: it must stay open while the region is registered. */
struct vdpamap_region {
	void *hva;
	uint64_t len;
	uint64_t fd_offset;
	int32_t fd;
	uint32_t perm; /* for the pre-map at open; 0 means RW */
	uint64_t iova; /* for the pre-map at open (ASID 0);
				   VDPAMAP_IOVA_ANY: allocate */
};

/* How PA-mode (pinning) is detected. */
#define VDPAMAP_MEMMODE_AUTO 0 /* probe at open (one page) */
#define VDPAMAP_MEMMODE_PA   1 /* pins, charges RLIMIT_MEMLOCK */
#define VDPAMAP_MEMMODE_VA   2 /* no pinning (VDUSE, vdpa_sim use_va) */

/* vdpamap_open_opts.flags (ALLOW_UNALIGNED, like a page_size below the
 * system page, is for VA-mode devices: PA-mode maps stay aligned to the
 * system page, since the kernel pins whole pages) */
#define VDPAMAP_OPEN_ALLOW_UNALIGNED  (1U << 0) /* no page-alignment check */
#define VDPAMAP_OPEN_NO_MEMLOCK_CHECK (1U << 1)

struct vdpamap_open_opts {
	size_t sz;
	/* backend features to negotiate: want & offered must include
	 * require, else -EOPNOTSUPP naming the missing one.
	 * want 0 means VDPAMAP_F_KNOWN; require 0 means IOTLB_MSG_V2. */
	uint64_t want_features;
	uint64_t require_features;
	vdpamap_log_fn log_fn;
	void *log_ctx;
	int log_level; /* 0 means VDPAMAP_LOG_WARN */
	uint32_t flags;
	uint32_t mem_mode;   /* VDPAMAP_MEMMODE_* */
	uint32_t nr_regions; /* regions to register and pre-map */
	const struct vdpamap_region *regions;
	uint32_t prefault_threads; /* 0: no pre-fault; else threads */
	uint32_t page_size;	   /* alignment unit; 0 means sysconf */
	/* (since 0.2) a simulator socket: connect() and the daemon's answer
	 * to the open must come within this many ms, else -ETIMEDOUT (a
	 * socket nobody serves, a listener that never answers); 0 means
	 * 5000.  A char device's open() does not wait for anybody. */
	uint32_t connect_timeout_ms;
	size_t : 0;
};

/* Open a device by path and take ownership (SET_OWNER): a char device
 * (/dev/vhost-vdpa-N) or the socket of a libvdpamap simulator; the file
 * type decides.  Negotiates backend features, reads everything the device
 * reports, registers opts->regions and maps them in one batch (after an
 * optional parallel pre-fault).  The device fd is O_CLOEXEC.
 * Errors: -EINVAL (bad opts: sz too small, a flag or mem_mode unknown,
 * page_size not a power of two, regions NULL with nr_regions; refused
 * before a handle exists, so nothing is logged; or a region malformed as
 * vdpamap_region_add() says), -E2BIG (unknown non-zero opts tail);
 * opening: -ENOENT, -EACCES, -ENAMETOOLONG, -ELOOP, -ENOTDIR (the path),
 * -EMFILE/-ENFILE (no fd), -EBUSY (another owner: the device is
 * exclusive), -ECONNREFUSED (a socket nobody serves), -ECOMM (its server
 * closed the connection in the handshake), -ETIMEDOUT (a simulator
 * socket whose server did not accept or answer within
 * opts->connect_timeout_ms, default 5 s: logged, nothing left open),
 * -ENOTTY (neither a char device nor a socket);
 * -EOPNOTSUPP (a required feature is not offered), -EPROTO (the device
 * reports no vq, group or ASID, or too many), -ENOSPC (no IOVA page for
 * the memory-mode probe); the regions: -EEXIST, -EBADF, -EFAULT as
 * vdpamap_region_add(), and the pre-map's -ERANGE, -EOVERFLOW, -ENOSPC,
 * -ENOMEM as vdpamap_map(); -ENOMEM. */
VDPAMAP_API int vdpamap_open(const char *path,
			     const struct vdpamap_open_opts *opts,
			     struct vdpamap **ret);

/* As vdpamap_open() on an fd the caller already opened (kernel char device
 * or connected simulator socket), with its errors (-EBADF also: fd is not
 * open; -EINVAL: fd negative).  On success the handle owns fd (and
 * vdpamap_close() closes it); on failure fd is left open, the caller's.
 * If the caller already did SET_OWNER it is detected (EBUSY) and
 * accepted.  The device must hold no IOTLB entries the caller made
 * itself.  A socket's server must answer the open within
 * opts->connect_timeout_ms (default 5 s), else -ETIMEDOUT and the
 * connection is out of step: the caller's to close. */
VDPAMAP_API int vdpamap_adopt_fd(int fd, const struct vdpamap_open_opts *opts,
				 struct vdpamap **ret);

/* Close the device (the kernel drops every map and unpins) and free the
 * handle.  Accepts NULL.  Returns NULL.  Not concurrent with anything.
 * A transaction still open is aborted (nothing of it is sent; a warning
 * is logged); its struct stays the caller's: calls on it return -EBADF
 * and its vdpamap_txn_commit() or vdpamap_txn_abort() frees it.
 * On return the device is released, on a simulator too (its daemon is
 * asked once, 2 s at most): every map, pin and the ownership are gone and
 * an open, in any process, finds the device free.  Nothing is released
 * while another process still holds the fd (a fork's child, an exec's
 * successor, a handoff's mm keeper), as on a kernel.  A process that exits
 * or crashes with a device open: the kernel releases it as the exit closes
 * the fd; a simulator daemon releases it when it sees the connection
 * close, and always before it answers any request made after the exit
 * (an open, a vdpamap_sim_* call): an open after waitpid() never gets
 * -EBUSY. */
VDPAMAP_API struct vdpamap *vdpamap_close(struct vdpamap *h);

/* The device fd (for poll()ing nothing in particular; do not write to it),
 * or -EINVAL for a NULL handle. */
VDPAMAP_API int vdpamap_fd(const struct vdpamap *h);

/* ---- what the device reports */
struct vdpamap_info {
	uint32_t device_id;
	uint32_t nr_vqs;
	uint32_t nr_groups;
	uint32_t nr_as;
	uint32_t config_size;
	uint32_t max_vring_num;
	uint64_t device_features; /* virtio features offered */
	uint64_t backend_offered;
	uint64_t backend_acked;
	uint64_t iova_first; /* inclusive */
	uint64_t iova_last;  /* inclusive */
	uint32_t mem_mode;   /* VDPAMAP_MEMMODE_PA or _VA */
	uint32_t is_sim;     /* 1 if the transport is the simulator */
	/* IOTLB entry caps per address space, read at open (since 0.2,
	 * in what was reserved tail; docs/iotlb-caps.md): vhost_vdpa's
	 * max_iotlb_entries (valid with VDPAMAP_CAPS_ENFORCED: the kernel
	 * has the parameter and enforces every cap) and the parent's own
	 * (valid with VDPAMAP_CAPS_PARENT_KNOWN) */
	uint32_t max_iotlb_entries;
	uint32_t parent_max_iotlb_entries;
	uint32_t caps_flags; /* VDPAMAP_CAPS_* */
	uint32_t reserved0;
	char parent[16]; /* the parent's module ("vdpa_sim",
					   "vduse", "mlx5_vdpa"); "" unknown */
	uint64_t reserved[4];
};

/* vdpamap_info.caps_flags */
#define VDPAMAP_CAPS_ENFORCED (1U << 0) /* max_iotlb_entries applies */
#define VDPAMAP_CAPS_PARENT_KNOWN \
	(1U << 1) /* parent_max_iotlb_entries
					      applies */
#define VDPAMAP_CAPS_SET_MAP \
	(1U << 2) /* the parent takes the whole
					      table (set_map): its refusal
					      inside a batch is silent */
#define VDPAMAP_CAPS_COUNT_UNKNOWN \
	(1U << 3) /* PA mode, 4 KiB pages, no
					      PFNs in /proc/self/pagemap:
					      entry counts are unknown */

/* Fill *info (all fields; reserved zeroed).  Fails only on a NULL
 * argument (-EINVAL) or in a forked child (-ECHILD); inside the caller's
 * own transaction it answers too, as every query. */
VDPAMAP_API int vdpamap_get_info(struct vdpamap *h, struct vdpamap_info *info);

/* 1 if every bit of feature was negotiated, 0 if not. */
VDPAMAP_API int vdpamap_has_feature(const struct vdpamap *h, uint64_t feature);

/* The vq group of vq.  -EINVAL: vq >= nr_vqs. */
VDPAMAP_API int vdpamap_vq_group(struct vdpamap *h, uint32_t vq,
				 uint32_t *ret_group);

/* The descriptor group of vq (asked of the device).  -EOPNOTSUPP without
 * DESC_ASID, -EINVAL: vq >= nr_vqs. */
VDPAMAP_API int vdpamap_vq_desc_group(struct vdpamap *h, uint32_t vq,
				      uint32_t *ret_group);

/* ---- virtio device control */
/* The virtio status, as the device reports it (an ioctl). */
VDPAMAP_API int vdpamap_get_status(struct vdpamap *h, uint8_t *ret_status);

/* Set the virtio status.  Setting 0 is vdpamap_reset(h, NULL).  Setting
 * DRIVER_OK first checks that every enabled vring's desc/avail/used is
 * mapped in its group's ASID (-EFAULT naming the vring otherwise): a PA-mode
 * device started on unmapped rings reads raw physical memory.  -EINVAL:
 * the device refused the status (a bit cleared without a reset). */
VDPAMAP_API int vdpamap_set_status(struct vdpamap *h, uint8_t status);

/* The virtio features the device offers (an ioctl). */
VDPAMAP_API int vdpamap_get_features(struct vdpamap *h, uint64_t *ret);
/* Set the driver's virtio features.  -EINVAL: a feature the device does
 * not offer; -EBUSY: the device is past FEATURES_OK (reset first). */
VDPAMAP_API int vdpamap_set_features(struct vdpamap *h, uint64_t features);

/* Read/write len bytes of device config at off.  -EINVAL: buf NULL, len 0
 * or past config_size; -ENOMEM. */
VDPAMAP_API int vdpamap_get_config(struct vdpamap *h, uint32_t off, void *buf,
				   uint32_t len);
VDPAMAP_API int vdpamap_set_config(struct vdpamap *h, uint32_t off,
				   const void *buf, uint32_t len);

/* A virtqueue as the driver sets it up.  Addresses are IOVAs in the ASID of
 * the vq's group. kick_fd/call_fd are eventfds (-1: none); the library
 * neither dups nor closes them. */
struct vdpamap_vring {
	uint32_t num;
	uint32_t base; /* next avail index */
	uint64_t desc;
	uint64_t avail;
	uint64_t used;
	int32_t kick_fd;
	int32_t call_fd;
	uint64_t reserved[4];
};

/* Configure vq idx (NUM, BASE, ADDR, KICK, CALL).  -EINVAL: idx, num not a
 * power of two or above max_vring_num; or the device refused the size,
 * misaligned rings, or new rings on a started device that is not
 * suspended; -EOPNOTSUPP: a parent that takes no ring position but a
 * fresh ring's 0 (vp_vdpa). */
VDPAMAP_API int vdpamap_vring_set(struct vdpamap *h, uint32_t idx,
				  const struct vdpamap_vring *vring);
/* Enable or disable vq idx.  -EINVAL: idx >= nr_vqs. */
VDPAMAP_API int vdpamap_vring_enable(struct vdpamap *h, uint32_t idx,
				     int enable);
/* Next avail index of vq idx as the device sees it (suspend first).
 * -EINVAL: idx >= nr_vqs; -EOPNOTSUPP: the parent cannot tell (vp_vdpa). */
VDPAMAP_API int vdpamap_vring_get_base(struct vdpamap *h, uint32_t idx,
				       uint32_t *ret_base);
/* The vring as last set with vdpamap_vring_set() (base: as set, or as
 * read by prepare).  -ENOENT: never set; -EINVAL: idx. */
VDPAMAP_API int vdpamap_vring_get(struct vdpamap *h, uint32_t idx,
				  struct vdpamap_vring *out);

/* Suspend the device.  -EOPNOTSUPP unless SUSPEND was negotiated. */
VDPAMAP_API int vdpamap_suspend(struct vdpamap *h);
/* Resume the device.  -EOPNOTSUPP unless RESUME was negotiated.  After a
 * flip, an unflip or vdpamap_set_group_asid_opts() that went through a
 * reset and left DRIVER_OK to the caller (VDPAMAP_FLIP_INFO_DEFERRED),
 * it sets DRIVER_OK instead, RESUME negotiated or not; its errors are then
 * those of vdpamap_set_status() (-EFAULT: an enabled ring is not mapped
 * in its group's ASID). */
VDPAMAP_API int vdpamap_resume(struct vdpamap *h);

/* Bind vq group to asid; remembered and re-applied after every reset.
 * -EOPNOTSUPP without IOTLB_ASID (for asid != 0), -EINVAL group or asid out
 * of range, -EBUSY the kernel's answer on a started device where group
 * ASIDs are frozen at DRIVER_OK (Linux >= 7.0): nothing is reset behind
 * the caller's back, see vdpamap_set_group_asid_opts(); -EIO another
 * refusal of the device. */
VDPAMAP_API int vdpamap_set_group_asid(struct vdpamap *h, uint32_t group,
				       uint32_t asid);

/* vdpamap_group_asid_opts.flags */
#define VDPAMAP_GROUP_ASID_RESET \
	(1U << 0) /* a started device whose group
					      ASIDs are frozen: go through
					      a reset that keeps the maps */
#define VDPAMAP_GROUP_ASID_REPLAY \
	(1U << 1) /* ... without IOTLB_PERSIST:
					      reset and re-send every map
					      of every ASID */

struct vdpamap_group_asid_opts {
	size_t sz;
	uint32_t flags;		       /* VDPAMAP_GROUP_ASID_* */
	vdpamap_restart_fn restart_fn; /* may be NULL */
	void *restart_ctx;
	size_t : 0;
};

/* vdpamap_set_group_asid() with options (NULL: the same call).  With
 * VDPAMAP_GROUP_ASID_RESET a started device that answers EBUSY (or that
 * cannot resume) is moved through a reset that keeps the maps: SUSPEND,
 * GET_VRING_BASE of every vq, status 0 with IOTLB_PERSIST, features,
 * every group's ASID, every vq set with vdpamap_vring_set() set again
 * (NUM, BASE, ADDR, KICK, CALL, enable), DRIVER_OK; see vdpamap_flip() for
 * the control vq (restart_fn) and DRIVER_OK left to vdpamap_resume().
 * Errors: those of vdpamap_set_group_asid(), and -EINVAL (unknown flags),
 * -E2BIG, -EOPNOTSUPP (the reset path lacks SUSPEND, GET_VRING_BASE or
 * IOTLB_PERSIST without REPLAY: the log names it), -EAGAIN (a vq has
 * buffers in flight: its used index is not where the device stopped),
 * -EFAULT (an enabled ring of the group is not mapped in asid),
 * -ECANCELED (restart_fn failed; undone), -ENOTRECOVERABLE (the undo
 * failed too: poisoned), -ENOMEM; -EBUSY also when the reset path is not
 * asked for.  Vqs not set through vdpamap_vring_set() are not known to
 * the library and stay reset: the caller sets them again. */
VDPAMAP_API int
vdpamap_set_group_asid_opts(struct vdpamap *h, uint32_t group, uint32_t asid,
			    const struct vdpamap_group_asid_opts *opts);
/* The ASID group is bound to, as the library set it.  -EINVAL: group >=
 * nr_groups. */
VDPAMAP_API int vdpamap_get_group_asid(struct vdpamap *h, uint32_t group,
				       uint32_t *ret_asid);

/* ---- reset */
#define VDPAMAP_RESET_PERSIST 1 /* IOTLB_PERSIST kept the maps */
#define VDPAMAP_RESET_RESYNC  2 /* batched INVALIDATE+UPDATE of all */

struct vdpamap_reset_info {
	uint32_t path;		 /* VDPAMAP_RESET_* */
	uint32_t groups_rebound; /* SET_GROUP_ASID re-issued */
	uint64_t entries;	 /* mirror entries kept valid */
	uint64_t iotlb_msgs;	 /* IOTLB messages written */
	uint64_t ns;		 /* wall time of the whole reset */
	uint64_t reserved[4];
};

/* Reset the device (status 0) and leave every map and group binding valid:
 * with IOTLB_PERSIST nothing is re-sent; without it every entry of every
 * ASID is invalidated and re-added in one batch per ASID.  info may be
 * NULL.  On a poisoned handle, rebuilds the device table from the mirror
 * and, on success, clears the poison.  -EFAULT: the device refused an
 * entry of the resync (-ENOSPC: its IOTLB entry cap explains it; the
 * handle stays poisoned), -ENOMEM. */
VDPAMAP_API int vdpamap_reset(struct vdpamap *h,
			      struct vdpamap_reset_info *info);

/* ---- regions */
/* Register a region.  -EINVAL: NULL/zero-length/unaligned/overflowing,
 * or on a VA-mode device private memory (MAP_PRIVATE, anonymous private:
 * the device would silently map nothing; log names the part), -EEXIST:
 * overlaps a registered region (log names it), -EBADF: fd given but not
 * open, or not the file mapped at hva (-EINVAL: mapped there at another
 * offset than fd_offset), -EFAULT: not mapped in this process (all or a
 * part), -ENOMEM.  Cost: one mincore() per 16 MiB (it faults nothing
 * in) and one read of /proc/self/maps.  *ret_id identifies it. */
VDPAMAP_API int vdpamap_region_add(struct vdpamap *h,
				   const struct vdpamap_region *r,
				   uint32_t *ret_id);
/* Unregister.  -EBUSY while any map points into it, -ENOENT unknown id.
 * Both: -EBUSY while an exec handoff is prepared (vdpamap_handoff_*). */
VDPAMAP_API int vdpamap_region_del(struct vdpamap *h, uint32_t id);
/* A registered region as the handle has it now (after adopt: the new
 * hva).  -ENOENT unknown id. */
VDPAMAP_API int vdpamap_region_get(struct vdpamap *h, uint32_t id,
				   struct vdpamap_region *out);
/* Ids of the registered regions, in ascending order: up to n into ids;
 * returns how many there are. */
VDPAMAP_API int vdpamap_region_ids(struct vdpamap *h, uint32_t *ids,
				   uint32_t n);

/* ---- maps: one call is a transaction of one */
/* Map [hva, hva+size) at [iova, iova+size) of asid with perm.  The hva range
 * must lie inside one registered region.  Errors (nothing is sent):
 *  -EINVAL    size 0, perm not RO/WO/RW, misaligned, asid >= nr_as; on a
 *             PA-mode device not aligned to the system page, whatever
 *             ALLOW_UNALIGNED or page_size say (the kernel pins whole
 *             pages: it would hold more than the mirror)
 *  -EOVERFLOW iova + size - 1 wraps past 2^64-1
 *  -ERANGE    outside the device's IOVA range
 *  -EEXIST    overlaps an entry of asid (log names it)
 *  -EOPNOTSUPP asid != 0 without IOTLB_ASID (the kernel would silently put
 *             it in ASID 0)
 *  -EFAULT    hva range not inside a registered region, or not mapped in
 *             this process any more (mincore(), one call per 16 MiB)
 *  -ENOMEM    PA mode: RLIMIT_MEMLOCK budget exceeded (log: needed/free)
 *  -ENOSPC    the IOTLB entry cap of asid (vdpamap_info.max_iotlb_entries,
 *             parent_max_iotlb_entries): known not to fit, refused before
 *             anything is sent; or the device's EFAULT when the library's
 *             own checks rule out every other cause (PA counts unknown).
 *             The log names the cap, the ASID, the count and the remedies
 *             (raise max_iotlb_entries at module load; PA: huge pages).
 *             docs/iotlb-caps.md
 *  -EBUSY     an exec handoff is prepared (vdpamap_handoff_prepare(): so
 *             for every map, unmap and transaction until the cancel)
 *  -EIO       the device refused it (its own EFAULT) for another reason
 *  -ENODEV    the device is gone (a simulator daemon that exited): see the
 *             conventions at the top; from then on at once, nothing sent */
VDPAMAP_API int vdpamap_map(struct vdpamap *h, uint32_t asid, uint64_t iova,
			    void *hva, uint64_t size, uint32_t perm);

/* Map at a free IOVA of asid inside the device range, aligned to align (0:
 * page size, else a power of two), found in O(log n).  The errors of
 * vdpamap_map() (-EIO too), and -EINVAL: ret_iova NULL or align not a
 * power of two, -ENOSPC: no hole
 * (log: "no hole"), or the IOTLB entry cap as for vdpamap_map() (log: the
 * cap and the remedies). */
VDPAMAP_API int vdpamap_map_alloc(struct vdpamap *h, uint32_t asid, void *hva,
				  uint64_t size, uint32_t perm, uint64_t align,
				  uint64_t *ret_iova);

/* Remove every entry of asid inside [iova, iova+size); the range must cover
 * whole entries.  -ENOENT: nothing mapped there, -EINVAL: an entry crosses
 * the range boundary (log names it), size 0, misaligned or asid >= nr_as;
 * -EOVERFLOW, -ERANGE, -EOPNOTSUPP as vdpamap_map(); -EIO: the device
 * refused it; -ENOMEM. */
VDPAMAP_API int vdpamap_unmap(struct vdpamap *h, uint32_t asid, uint64_t iova,
			      uint64_t size);

/* Find (not reserve) a hole of size bytes aligned to align in asid.
 * -EINVAL: asid >= nr_as, size 0, align not a power of two; -ENOSPC: no
 * hole (this call sends nothing, so never the entry cap).
 * Inside the caller's own transaction it sees the committed entries, not
 * the queued maps: vdpamap_txn_map() with VDPAMAP_IOVA_ANY allocates
 * there. */
VDPAMAP_API int vdpamap_iova_find(struct vdpamap *h, uint32_t asid,
				  uint64_t size, uint64_t align,
				  uint64_t *ret_iova);

/* ---- transactions: any number of maps and unmaps, any ASIDs, all or none */
/* Open a transaction: the handle is the caller's thread's until its commit
 * or abort (see the conventions above).  -ENOMEM. */
VDPAMAP_API int vdpamap_txn_begin(struct vdpamap *h, struct vdpamap_txn **ret);
/* Queue a map; validated at once against the mirror as the earlier queued
 * operations will leave it (the errors of vdpamap_map(); -EEXIST also
 * against the queued maps).  iova may be VDPAMAP_IOVA_ANY: then *ret_iova
 * (may be NULL otherwise) gets the one chosen (-ENOSPC: no hole).  The
 * IOTLB entry cap, and that the memory is still mapped in this process,
 * are checked at commit.  -EINVAL: t NULL; -EBADF and -ECHILD: see
 * vdpamap_txn_commit(). */
VDPAMAP_API int vdpamap_txn_map(struct vdpamap_txn *t, uint32_t asid,
				uint64_t iova, void *hva, uint64_t size,
				uint32_t perm, uint64_t *ret_iova);
/* Queue an unmap, validated at once as vdpamap_unmap() (-ENOENT, -EINVAL,
 * -EOVERFLOW, -ERANGE, -EOPNOTSUPP, -ENOMEM); -EBADF and -ECHILD as
 * vdpamap_txn_map(). */
VDPAMAP_API int vdpamap_txn_unmap(struct vdpamap_txn *t, uint32_t asid,
				  uint64_t iova, uint64_t size);
/* Send everything (batched per ASID when BATCH is negotiated).  -ENOSPC:
 * an ASID would pass its IOTLB entry cap (nothing sent), or the device's
 * EFAULT was the cap (see vdpamap_map()); -EFAULT: a map's memory is not
 * mapped in this process any more (nothing sent); -EIO: the device refused a
 * message for another reason; -ENOMEM: PA mode, the RLIMIT_MEMLOCK budget
 * at the transaction's peak, or out of memory; -EINVAL: t NULL.  On failure
 * whatever was applied is rolled back; if the rollback fails the handle is
 * poisoned (-ENOTRECOVERABLE).  -ENODEV: the device went away during the
 * commit (or before): nothing is rolled back, the mirror and the lookups
 * keep exactly the messages the device acknowledged before, and the
 * handle is gone (the conventions at the top).  Frees t in every case
 * but -ECHILD.  vdpamap_txn_map(), _unmap() and _commit() of a t whose
 * handle was closed return -EBADF, logging nothing (the log callback went
 * with the handle); commit and abort still free it.  In a forked child,
 * which inherits the parent's open t, the three return -ECHILD and send
 * nothing (the child's copy of t is the parent's: not freed). */
VDPAMAP_API int vdpamap_txn_commit(struct vdpamap_txn *t);
/* Drop t without sending anything.  Accepts NULL, returns NULL. */
VDPAMAP_API struct vdpamap_txn *vdpamap_txn_abort(struct vdpamap_txn *t);

/* ---- lookups */
/* iova -> hva in asid; *ret_len (may be NULL) is the bytes left in that
 * entry.  -ENOENT: not mapped, -EINVAL: asid out of range, -ECHILD: in a
 * forked child.  O(log n), lock-free: safe from any thread, concurrently
 * with every call but vdpamap_close(); it never waits for a writer, even
 * one holding the handle for a whole transaction.  It sees the mirror as
 * of the last completed call that changed it (a transaction's maps appear
 * when it commits).  The application needs no RCU registration. */
VDPAMAP_API int vdpamap_translate(struct vdpamap *h, uint32_t asid,
				  uint64_t iova, void **ret_hva,
				  uint64_t *ret_len);
/* hva -> iova in asid (when the same memory is mapped more than once: the
 * entry whose HVA range starts closest below hva), O(log n), lock-free as
 * vdpamap_translate().
 * -ENOENT, -EINVAL, -ECHILD. */
VDPAMAP_API int vdpamap_reverse(struct vdpamap *h, uint32_t asid,
				const void *hva, uint64_t *ret_iova,
				uint64_t *ret_len);

struct vdpamap_entry {
	uint64_t iova;
	uint64_t size;
	void *hva;
	uint32_t perm;
	uint32_t asid;
	uint32_t region_id;
	uint32_t reserved0;
	uint64_t reserved[2];
};
/* Call fn for every entry of asid in IOVA order; fn returning non-zero
 * stops the walk and is returned.  -EINVAL: asid >= nr_as or fn NULL.  fn must not call into the handle. */
VDPAMAP_API int vdpamap_foreach_entry(struct vdpamap *h, uint32_t asid,
				      int (*fn)(const struct vdpamap_entry *e,
						void *ctx),
				      void *ctx);
/* Number of entries in asid (0 for an unknown asid, a NULL handle or a
 * forked child).  Inside the caller's own transaction: the committed
 * entries, as every query. */
VDPAMAP_API uint64_t vdpamap_entry_count(struct vdpamap *h, uint32_t asid);

/* ---- counters (since open) */
struct vdpamap_stats {
	uint64_t iotlb_writes; /* every message written */
	uint64_t iotlb_updates;
	uint64_t iotlb_invalidates;
	uint64_t iotlb_batches; /* BATCH_BEGIN..END pairs */
	uint64_t ioctls;
	uint64_t pinned_bytes; /* PA mode: bytes the mirror pins */
	uint64_t iotlb_remaps; /* REMAPs (exec handoff NEW_OWNER) */
	uint64_t reserved[7];
};
VDPAMAP_API int vdpamap_get_stats(struct vdpamap *h, struct vdpamap_stats *st);

/* A short text for a poisoned handle, or one whose device is gone
 * ("device gone: ..."), or NULL if it is healthy.  The text is the
 * handle's: valid until the poison is cleared (vdpamap_reset()) or the
 * handle is closed. */
VDPAMAP_API const char *vdpamap_poison_reason(struct vdpamap *h);

/* (since 0.2) What a call that needs the device would get from the
 * handle's state alone: 0 (usable), -ENODEV (the device is gone, for
 * good: close the handle), -ENOTRECOVERABLE (poisoned:
 * vdpamap_poison_reason() says why, vdpamap_reset() may recover it);
 * -EINVAL (NULL), -ECHILD (a forked child).  A query: sends nothing, and
 * answers inside the caller's own transaction too. */
VDPAMAP_API int vdpamap_health(struct vdpamap *h);

#ifdef __cplusplus
}
#endif

/* The other parts of the API, so that including vdpamap.h is enough. */
#include "vdpamap_migrate.h"
#include "vdpamap_handoff.h"
#include "vdpamap_sim.h"
#include "vdpamap_mgmt.h"

#endif /* VDPAMAP_H */
