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
 *  - Every call that takes a struct vdpamap * may run concurrently with any
 *    other such call on the same handle from another thread, except
 *    vdpamap_close(): calls that change device state are serialised on a
 *    per-handle mutex (a transaction holds it from begin to commit/abort);
 *    the lookups vdpamap_translate()/vdpamap_reverse() never take it and
 *    never wait for it: they read an RCU-published snapshot (liburcu-bp:
 *    no thread registration needed) and may run on datapath threads.
 *  - A handle is bound to the process that created it: called from a forked
 *    child, every function returns -ECHILD (except vdpamap_close()).
 *  - A handle whose mirror could not be kept equal to the device (a failed
 *    rollback) is poisoned: every further call returns -ENOTRECOVERABLE
 *    except queries, vdpamap_close() and vdpamap_reset() (which rebuilds).
 *  - Options structs are size-prefixed (declare them with VDPAMAP_OPTS());
 *    NULL means defaults; a struct from a newer header whose unknown tail is
 *    non-zero gives -E2BIG.
 */
#ifndef VDPAMAP_H
#define VDPAMAP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#ifndef VDPAMAP_API
#define VDPAMAP_API __attribute__((visibility("default")))
#endif

#define VDPAMAP_VERSION_MAJOR 0
#define VDPAMAP_VERSION_MINOR 1

/* Declare and zero an options struct with its size set:
 *   VDPAMAP_OPTS(vdpamap_open_opts, o, .want_features = ...); */
#define VDPAMAP_OPTS(TYPE, NAME, ...)                                        \
	struct TYPE NAME = ({                                                \
		struct TYPE __##NAME##_o;                                    \
		__builtin_memset(&__##NAME##_o, 0, sizeof(__##NAME##_o));    \
		__##NAME##_o = (struct TYPE){ .sz = sizeof(struct TYPE),     \
					      __VA_ARGS__ };                 \
		__##NAME##_o;                                                \
	})

struct vdpamap;
struct vdpamap_txn;

/* ---- backend features (same bit numbers as the kernel's VHOST_BACKEND_F_*) */
#define VDPAMAP_F_IOTLB_MSG_V2		(1ULL << 1)
#define VDPAMAP_F_IOTLB_BATCH		(1ULL << 2)
#define VDPAMAP_F_IOTLB_ASID		(1ULL << 3)
#define VDPAMAP_F_SUSPEND		(1ULL << 4)
#define VDPAMAP_F_RESUME		(1ULL << 5)
#define VDPAMAP_F_ENABLE_AFTER_DRIVER_OK (1ULL << 6)
#define VDPAMAP_F_DESC_ASID		(1ULL << 7)
#define VDPAMAP_F_IOTLB_PERSIST		(1ULL << 8)
/* every feature this version of the library knows how to use */
#define VDPAMAP_F_KNOWN                                                      \
	(VDPAMAP_F_IOTLB_MSG_V2 | VDPAMAP_F_IOTLB_BATCH |                   \
	 VDPAMAP_F_IOTLB_ASID | VDPAMAP_F_SUSPEND | VDPAMAP_F_RESUME |       \
	 VDPAMAP_F_ENABLE_AFTER_DRIVER_OK | VDPAMAP_F_DESC_ASID |           \
	 VDPAMAP_F_IOTLB_PERSIST)

/* Name of a single backend feature bit ("IOTLB_BATCH"), or NULL. */
VDPAMAP_API const char *vdpamap_feature_name(uint64_t feature);

/* ---- logging */
#define VDPAMAP_LOG_ERR		3
#define VDPAMAP_LOG_WARN	4
#define VDPAMAP_LOG_INFO	6
#define VDPAMAP_LOG_DEBUG	7

/* Called with a complete, newline-free message.  May be called from any
 * thread that calls into the handle; must not call back into the library. */
typedef void (*vdpamap_log_fn)(int level, const char *msg, void *ctx);

/* ---- memory */
#define VDPAMAP_PERM_RO		1	/* device reads */
#define VDPAMAP_PERM_WO		2	/* device writes */
#define VDPAMAP_PERM_RW		3

/* "pick a free IOVA for me" */
#define VDPAMAP_IOVA_ANY	UINT64_MAX

/* A piece of the caller's address space that maps may point into.  fd is
 * the file that backs it (a memfd for guest RAM) with fd_offset the offset
 * of hva in it, or -1 for anonymous memory (VA-mode devices silently ignore
 * anonymous private memory: the library logs a warning).  The fd is not
 * duplicated: it must stay open while the region is registered. */
struct vdpamap_region {
	void *hva;
	uint64_t len;
	uint64_t fd_offset;
	int32_t fd;
	uint32_t perm;		/* for the pre-map at open; 0 means RW */
	uint64_t iova;		/* for the pre-map at open (ASID 0);
				   VDPAMAP_IOVA_ANY: allocate */
};

/* How PA-mode (pinning) is detected. */
#define VDPAMAP_MEMMODE_AUTO	0	/* probe at open (one page) */
#define VDPAMAP_MEMMODE_PA	1	/* pins, charges RLIMIT_MEMLOCK */
#define VDPAMAP_MEMMODE_VA	2	/* no pinning (VDUSE, vdpa_sim use_va) */

/* vdpamap_open_opts.flags */
#define VDPAMAP_OPEN_ALLOW_UNALIGNED	(1U << 0) /* no page-alignment check */
#define VDPAMAP_OPEN_NO_MEMLOCK_CHECK	(1U << 1)

struct vdpamap_open_opts {
	size_t sz;
	/* backend features to negotiate: want & offered must include
	 * require, else -EOPNOTSUPP naming the missing one.
	 * want 0 means VDPAMAP_F_KNOWN; require 0 means IOTLB_MSG_V2. */
	uint64_t want_features;
	uint64_t require_features;
	vdpamap_log_fn log_fn;
	void *log_ctx;
	int log_level;			/* 0 means VDPAMAP_LOG_WARN */
	uint32_t flags;
	uint32_t mem_mode;		/* VDPAMAP_MEMMODE_* */
	uint32_t nr_regions;		/* regions to register and pre-map */
	const struct vdpamap_region *regions;
	uint32_t prefault_threads;	/* 0: no pre-fault; else threads */
	uint32_t page_size;		/* alignment unit; 0 means sysconf */
	size_t :0;
};

/* Open a device by path and take ownership (SET_OWNER): a char device
 * (/dev/vhost-vdpa-N) or the socket of a libvdpamap simulator; the file
 * type decides.  Negotiates backend features, reads everything the device
 * reports, registers opts->regions and maps them in one batch (after an
 * optional parallel pre-fault).  The device fd is O_CLOEXEC.
 * Errors: -EINVAL (bad opts: sz too small, a flag or mem_mode unknown,
 * regions NULL with nr_regions; refused before a handle exists, so nothing
 * is logged), -E2BIG (unknown non-zero opts tail), -ENOENT/-EACCES/-EBUSY
 * (open, exclusive),
 * -ENOTTY (not a vhost-vdpa device), -EOPNOTSUPP (a required feature is not
 * offered), any error of vdpamap_map() for the pre-map, -ENOMEM. */
VDPAMAP_API int vdpamap_open(const char *path,
			     const struct vdpamap_open_opts *opts,
			     struct vdpamap **ret);

/* As vdpamap_open() on an fd the caller already opened (kernel char device
 * or connected simulator socket).  The handle owns fd from then on, also on
 * failure it is left open for the caller.  If the caller already did
 * SET_OWNER it is detected (EBUSY) and accepted.  The device must hold no
 * IOTLB entries the caller made itself. */
VDPAMAP_API int vdpamap_adopt_fd(int fd, const struct vdpamap_open_opts *opts,
				 struct vdpamap **ret);

/* Close the device (the kernel drops every map and unpins) and free the
 * handle.  Accepts NULL.  Returns NULL.  Not concurrent with anything. */
VDPAMAP_API struct vdpamap *vdpamap_close(struct vdpamap *h);

/* The device fd (for poll()ing nothing in particular; do not write to it). */
VDPAMAP_API int vdpamap_fd(const struct vdpamap *h);

/* ---- what the device reports */
struct vdpamap_info {
	uint32_t device_id;
	uint32_t nr_vqs;
	uint32_t nr_groups;
	uint32_t nr_as;
	uint32_t config_size;
	uint32_t max_vring_num;
	uint64_t device_features;	/* virtio features offered */
	uint64_t backend_offered;
	uint64_t backend_acked;
	uint64_t iova_first;		/* inclusive */
	uint64_t iova_last;		/* inclusive */
	uint32_t mem_mode;		/* VDPAMAP_MEMMODE_PA or _VA */
	uint32_t is_sim;		/* 1 if the transport is the simulator */
	uint64_t reserved[8];
};

/* Fill *info (all fields; reserved zeroed).  Never fails on a valid handle. */
VDPAMAP_API int vdpamap_get_info(struct vdpamap *h, struct vdpamap_info *info);

/* 1 if every bit of feature was negotiated, 0 if not. */
VDPAMAP_API int vdpamap_has_feature(const struct vdpamap *h, uint64_t feature);

/* The vq group of vq.  -EINVAL: vq >= nr_vqs. */
VDPAMAP_API int vdpamap_vq_group(struct vdpamap *h, uint32_t vq,
				 uint32_t *ret_group);

/* The descriptor group of vq.  -EOPNOTSUPP without DESC_ASID, -EINVAL. */
VDPAMAP_API int vdpamap_vq_desc_group(struct vdpamap *h, uint32_t vq,
				      uint32_t *ret_group);

/* ---- virtio device control */
VDPAMAP_API int vdpamap_get_status(struct vdpamap *h, uint8_t *ret_status);

/* Set the virtio status.  Setting 0 is vdpamap_reset(h, NULL).  Setting
 * DRIVER_OK first checks that every enabled vring's desc/avail/used is
 * mapped in its group's ASID (-EFAULT naming the vring otherwise): a PA-mode
 * device started on unmapped rings reads raw physical memory. */
VDPAMAP_API int vdpamap_set_status(struct vdpamap *h, uint8_t status);

VDPAMAP_API int vdpamap_get_features(struct vdpamap *h, uint64_t *ret);
VDPAMAP_API int vdpamap_set_features(struct vdpamap *h, uint64_t features);

/* Read/write len bytes of device config at off.  -EINVAL past config_size. */
VDPAMAP_API int vdpamap_get_config(struct vdpamap *h, uint32_t off, void *buf,
				   uint32_t len);
VDPAMAP_API int vdpamap_set_config(struct vdpamap *h, uint32_t off,
				   const void *buf, uint32_t len);

/* A virtqueue as the driver sets it up.  Addresses are IOVAs in the ASID of
 * the vq's group. kick_fd/call_fd are eventfds (-1: none); the library
 * neither dups nor closes them. */
struct vdpamap_vring {
	uint32_t num;
	uint32_t base;			/* next avail index */
	uint64_t desc;
	uint64_t avail;
	uint64_t used;
	int32_t kick_fd;
	int32_t call_fd;
	uint64_t reserved[4];
};

/* Configure vq idx (NUM, BASE, ADDR, KICK, CALL).  -EINVAL: idx, num not a
 * power of two or above max_vring_num. */
VDPAMAP_API int vdpamap_vring_set(struct vdpamap *h, uint32_t idx,
				  const struct vdpamap_vring *vring);
VDPAMAP_API int vdpamap_vring_enable(struct vdpamap *h, uint32_t idx,
				     int enable);
/* Next avail index of vq idx as the device sees it (suspend first). */
VDPAMAP_API int vdpamap_vring_get_base(struct vdpamap *h, uint32_t idx,
				       uint32_t *ret_base);

/* -EOPNOTSUPP unless SUSPEND / RESUME were negotiated. */
VDPAMAP_API int vdpamap_suspend(struct vdpamap *h);
VDPAMAP_API int vdpamap_resume(struct vdpamap *h);

/* Bind vq group to asid; remembered and re-applied after every reset.
 * -EOPNOTSUPP without IOTLB_ASID (for asid != 0), -EINVAL group or asid out
 * of range. */
VDPAMAP_API int vdpamap_set_group_asid(struct vdpamap *h, uint32_t group,
				       uint32_t asid);
VDPAMAP_API int vdpamap_get_group_asid(struct vdpamap *h, uint32_t group,
				       uint32_t *ret_asid);

/* ---- reset */
#define VDPAMAP_RESET_PERSIST	1	/* IOTLB_PERSIST kept the maps */
#define VDPAMAP_RESET_RESYNC	2	/* batched INVALIDATE+UPDATE of all */

struct vdpamap_reset_info {
	uint32_t path;			/* VDPAMAP_RESET_* */
	uint32_t groups_rebound;	/* SET_GROUP_ASID re-issued */
	uint64_t entries;		/* mirror entries kept valid */
	uint64_t iotlb_msgs;		/* IOTLB messages written */
	uint64_t ns;			/* wall time of the whole reset */
	uint64_t reserved[4];
};

/* Reset the device (status 0) and leave every map and group binding valid:
 * with IOTLB_PERSIST nothing is re-sent; without it every entry of every
 * ASID is invalidated and re-added in one batch per ASID.  info may be
 * NULL.  On a poisoned handle, rebuilds the device table from the mirror
 * and, on success, clears the poison. */
VDPAMAP_API int vdpamap_reset(struct vdpamap *h,
			      struct vdpamap_reset_info *info);

/* ---- regions */
/* Register a region.  -EINVAL: NULL/zero-length/unaligned/overflowing,
 * -EEXIST: overlaps a registered region (log names it), -EBADF: fd given
 * but not open.  *ret_id identifies it. */
VDPAMAP_API int vdpamap_region_add(struct vdpamap *h,
				   const struct vdpamap_region *r,
				   uint32_t *ret_id);
/* Unregister.  -EBUSY while any map points into it, -ENOENT unknown id.
 * Both: -EBUSY while an exec handoff is prepared (vdpamap_handoff_*). */
VDPAMAP_API int vdpamap_region_del(struct vdpamap *h, uint32_t id);

/* ---- maps: one call is a transaction of one */
/* Map [hva, hva+size) at [iova, iova+size) of asid with perm.  The hva range
 * must lie inside one registered region.  Errors (nothing is sent):
 *  -EINVAL    size 0, perm not RO/WO/RW, misaligned, asid >= nr_as
 *  -EOVERFLOW iova + size - 1 wraps past 2^64-1
 *  -ERANGE    outside the device's IOVA range
 *  -EEXIST    overlaps an entry of asid (log names it)
 *  -EOPNOTSUPP asid != 0 without IOTLB_ASID (the kernel would silently put
 *             it in ASID 0)
 *  -EFAULT    hva range not inside a registered region
 *  -ENOMEM    PA mode: RLIMIT_MEMLOCK budget exceeded (log: needed/free)
 *  -EBUSY     an exec handoff is prepared (vdpamap_handoff_prepare(): so
 *             for every map, unmap and transaction until the cancel)
 *  -EIO       the device refused it (its own EFAULT) */
VDPAMAP_API int vdpamap_map(struct vdpamap *h, uint32_t asid, uint64_t iova,
			    void *hva, uint64_t size, uint32_t perm);

/* Map at a free IOVA of asid inside the device range, aligned to align (0:
 * page size, else a power of two), found in O(log n).  -ENOSPC: no hole. */
VDPAMAP_API int vdpamap_map_alloc(struct vdpamap *h, uint32_t asid, void *hva,
				  uint64_t size, uint32_t perm, uint64_t align,
				  uint64_t *ret_iova);

/* Remove every entry of asid inside [iova, iova+size); the range must cover
 * whole entries.  -ENOENT: nothing mapped there, -EINVAL: an entry crosses
 * the range boundary (log names it), or the errors of vdpamap_map(). */
VDPAMAP_API int vdpamap_unmap(struct vdpamap *h, uint32_t asid, uint64_t iova,
			      uint64_t size);

/* Find (not reserve) a hole of size bytes aligned to align in asid. */
VDPAMAP_API int vdpamap_iova_find(struct vdpamap *h, uint32_t asid,
				  uint64_t size, uint64_t align,
				  uint64_t *ret_iova);

/* ---- transactions: any number of maps and unmaps, any ASIDs, all or none */
VDPAMAP_API int vdpamap_txn_begin(struct vdpamap *h, struct vdpamap_txn **ret);
/* Queue a map; validated at once against the mirror as the earlier queued
 * operations will leave it (same errors as vdpamap_map()).  iova may be
 * VDPAMAP_IOVA_ANY: then *ret_iova (may be NULL otherwise) gets the one
 * chosen. */
VDPAMAP_API int vdpamap_txn_map(struct vdpamap_txn *t, uint32_t asid,
				uint64_t iova, void *hva, uint64_t size,
				uint32_t perm, uint64_t *ret_iova);
VDPAMAP_API int vdpamap_txn_unmap(struct vdpamap_txn *t, uint32_t asid,
				  uint64_t iova, uint64_t size);
/* Send everything (batched per ASID when BATCH is negotiated).  On failure
 * whatever was applied is rolled back; if the rollback fails the handle is
 * poisoned (-ENOTRECOVERABLE).  Frees t in every case. */
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
 * stops the walk and is returned.  fn must not call into the handle. */
VDPAMAP_API int vdpamap_foreach_entry(struct vdpamap *h, uint32_t asid,
				      int (*fn)(const struct vdpamap_entry *e,
						void *ctx),
				      void *ctx);
/* Number of entries in asid (0 for an unknown asid). */
VDPAMAP_API uint64_t vdpamap_entry_count(struct vdpamap *h, uint32_t asid);

/* ---- counters (since open) */
struct vdpamap_stats {
	uint64_t iotlb_writes;		/* every message written */
	uint64_t iotlb_updates;
	uint64_t iotlb_invalidates;
	uint64_t iotlb_batches;		/* BATCH_BEGIN..END pairs */
	uint64_t ioctls;
	uint64_t pinned_bytes;		/* PA mode: bytes the mirror pins */
	uint64_t iotlb_remaps;		/* REMAPs (exec handoff NEW_OWNER) */
	uint64_t reserved[7];
};
VDPAMAP_API int vdpamap_get_stats(struct vdpamap *h, struct vdpamap_stats *st);

/* A short text for a poisoned handle, or NULL if it is healthy. */
VDPAMAP_API const char *vdpamap_poison_reason(struct vdpamap *h);

/* ---- the simulator: a userspace vhost-vdpa + vdpa_sim_net in its own
 * process, reached through a unix socket path, that outlives its clients'
 * exec like a kernel device.  See README "Simulator". */

/* vdpamap_sim_opts.flags */
#define VDPAMAP_SIM_PA		(1U << 0) /* PA mode (pins; memlock) */
#define VDPAMAP_SIM_PER_MAP	(1U << 1) /* .dma_map parent, not .set_map */

struct vdpamap_sim_opts {
	size_t sz;
	uint64_t backend_features;	/* offered; 0 means 0x17e */
	uint32_t flags;
	uint32_t nr_as;			/* 0 means 2 */
	uint32_t nr_groups;		/* 0 means 2 */
	uint32_t nr_vqs;		/* 0 means 3 (rx, tx, ctrl) */
	uint64_t iova_first;		/* with iova_last == 0: [0, 2^64-1] */
	uint64_t iova_last;
	const char *dir;		/* socket dir; NULL: $TMPDIR or /tmp */
	size_t :0;
};

/* Start a simulator daemon (a forked, detached child process) and return
 * its socket path (NUL-terminated, at most len bytes) and pid.  Call before
 * creating threads.  Stop it with vdpamap_sim_stop(). */
VDPAMAP_API int vdpamap_sim_spawn(const struct vdpamap_sim_opts *opts,
				  char *path, size_t len, pid_t *ret_pid);
/* Run the simulator in the calling process until stopped (tools use it). */
VDPAMAP_API int vdpamap_sim_serve(const char *path,
				  const struct vdpamap_sim_opts *opts);
/* Ask the daemon at path to exit and wait for it to go. */
VDPAMAP_API int vdpamap_sim_stop(const char *path);

/* Test and debugging hooks of the simulator, through its control socket. */
struct vdpamap_sim_entry {
	uint64_t iova;
	uint64_t size;
	uint64_t uaddr;
	uint32_t perm;
	uint32_t reserved0;
};
/* Copy the simulator's own table of asid (vhost-vdpa's, not the library's)
 * into ents (at most n); returns the number of entries it has. */
VDPAMAP_API int vdpamap_sim_table(const char *path, uint32_t asid,
				  struct vdpamap_sim_entry *ents, size_t n);

#define VDPAMAP_SIM_FAIL_MSG	1	/* the nth IOTLB write from now */
#define VDPAMAP_SIM_FAIL_IOCTL	2	/* the nth ioctl from now */
/* Make the nth (1-based) event of kind fail (0 disarms). */
VDPAMAP_API int vdpamap_sim_fail_nth(const char *path, uint32_t kind,
				     uint32_t nth);

struct vdpamap_sim_stats {
	uint64_t iotlb_writes;
	uint64_t set_map_calls;		/* batch-style parent map pushes */
	uint64_t dma_map_calls;		/* per-map parent map calls */
	uint64_t pinned_bytes;
	uint64_t rx_frames;		/* frames looped TX -> RX */
	uint64_t tx_frames;
	uint64_t dma_errors;		/* accesses that did not translate */
	uint64_t rx_drops;		/* frames dropped (no buffer, MAC) */
	uint64_t reserved[6];
};
VDPAMAP_API int vdpamap_sim_get_stats(const char *path,
				      struct vdpamap_sim_stats *st);

#ifdef __cplusplus
}
#endif
#ifdef __cplusplus
extern "C" {
#endif

/* ---- SVQ ASID flip (src/flip.c)
 *
 * A VMM that shadows virtqueues (SVQ) during live migration moves vq groups
 * to a shadow ASID holding only its shadow vrings, so that it sees every
 * buffer the device uses.  vdpamap_flip() does that without touching guest
 * memory: the guest-memory maps of the groups' current ASIDs (normally ASID
 * 0) stay as they are, not a single UPDATE or INVALIDATE is sent for them.
 * In one call, with the device stopped:
 *   1. SUSPEND, if the device is started (DRIVER_OK) and the caller did not
 *      say it already suspended it (VDPAMAP_FLIP_SUSPENDED);
 *   2. map every shadow area (caller memory) in the shadow ASID at IOVAs
 *      allocated from holes that are free in the shadow ASID and in the
 *      ASIDs the groups leave, so shadow and guest addresses never alias
 *      (one batch);
 *   3. SET_GROUP_ASID of every moving group (re-applied after every reset,
 *      like vdpamap_set_group_asid());
 *   4. re-point the vrings given in opts->vrings at their shadow rings:
 *      SET_VRING_ENABLE 0, NUM, BASE, ADDR, ENABLE 1 (vdpa_sim latches a
 *      ring's addresses when it is enabled);
 *   5. RESUME (when step 1 suspended).
 * A step that fails undoes the steps before it; nothing changes.  Linux
 * 6.12's vhost-vdpa takes ring addresses and bases of a started device only
 * while it is suspended, and vdpa_sim applies SET_GROUP_ASID at once, at
 * any time: the suspend is what makes the switch atomic for the device.
 * When the flip resumes the device itself, the shadow rings must already
 * be consistent (a shadow virtqueue starts them empty, indexes at the
 * vq's base): the device runs on them at once.  To fill them knowing
 * their IOVAs first, suspend the device yourself (vdpamap_suspend(),
 * vdpamap_vring_get_base()), flip with VDPAMAP_FLIP_SUSPENDED, fill, then
 * vdpamap_resume().  A device that cannot be suspended is flipped before
 * DRIVER_OK (reset it, flip, restart it on the shadow rings: the flip
 * survives the reset).
 * vdpamap_unflip() is the reverse: rings back to the addresses they had
 * before the flip, groups back to their previous ASIDs, shadow maps
 * invalidated.
 *
 * Which group moves: every group in opts->groups, and for every vq in
 * opts->vqs the group holding its rings: with DESC_ASID negotiated its
 * descriptor group (vdpamap_vq_desc_group(): buffers stay in the guest
 * ASID), else (or with VDPAMAP_FLIP_WHOLE_GROUP) its vq group, which
 * moves its buffers too: a shadow virtqueue must then forward buffers
 * through memory mapped in the shadow ASID.
 */
struct vdpamap_shadow {
	void *hva;			/* inside a registered region */
	uint64_t size;			/* page-aligned */
	uint32_t perm;			/* VDPAMAP_PERM_*; 0 means RW */
	uint32_t reserved0;		/* must be 0 */
	uint64_t iova;			/* out: where it is mapped */
	uint64_t reserved[2];		/* must be 0 */
};

/* vdpamap_flip_vring.flags */
#define VDPAMAP_FLIP_VRING_BASE	(1U << 0) /* start at .base, not at the
					     device's next avail index */

/* A vq whose rings move into a shadow area: desc, avail and used are byte
 * offsets inside opts->shadows[shadow]. */
struct vdpamap_flip_vring {
	uint32_t vq;
	uint32_t shadow;		/* index into opts->shadows */
	uint64_t desc;
	uint64_t avail;
	uint64_t used;
	uint32_t num;			/* ring size; 0: keep the current one */
	uint32_t flags;			/* VDPAMAP_FLIP_VRING_* */
	uint32_t base;			/* with VDPAMAP_FLIP_VRING_BASE */
	uint32_t reserved0;		/* must be 0 */
	uint64_t reserved[2];		/* must be 0 */
};

/* vdpamap_flip_opts.flags, vdpamap_unflip_opts.flags */
#define VDPAMAP_FLIP_WHOLE_GROUP (1U << 0) /* move a vq's own group even
					      where DESC_ASID offers its
					      descriptor group */
#define VDPAMAP_FLIP_SUSPENDED	(1U << 1) /* the caller suspended the
					     device and resumes it */

struct vdpamap_flip_opts {
	size_t sz;
	const uint32_t *vqs;		/* vqs whose ring group moves */
	uint32_t nr_vqs;
	uint32_t nr_groups;
	const uint32_t *groups;		/* groups that move as they are */
	struct vdpamap_shadow *shadows;	/* mapped in the shadow ASID */
	uint32_t nr_shadows;
	uint32_t nr_vrings;
	const struct vdpamap_flip_vring *vrings; /* re-pointed at shadows */
	uint32_t flags;			/* VDPAMAP_FLIP_* */
	size_t :0;
};

/* What a flip or an unflip did. */
struct vdpamap_flip_info {
	uint32_t id;			/* of the flip */
	uint32_t nr_groups;		/* groups moved */
	uint32_t buffers_moved;		/* 1: a moved group holds some vq's
					   buffers, not only descriptors */
	uint32_t suspended;		/* 1: the call suspended and resumed */
	uint64_t iotlb_msgs;		/* IOTLB messages written, batch
					   markers included */
	uint64_t iotlb_updates;
	uint64_t iotlb_invalidates;
	uint64_t ioctls;
	uint64_t ns;			/* wall time of the call */
	uint64_t reserved[4];
};

/* Move groups to shadow_asid with the shadow areas mapped there, as
 * described above.  On success returns the flip's id (> 0, for
 * vdpamap_unflip()), writes each opts->shadows[i].iova and, if info is not
 * NULL, fills it.  Any number of flips may be active, each with its own
 * groups; the shadow maps are ordinary entries of shadow_asid (translate,
 * reset and resync them like any other; do not unmap them yourself).
 * Errors (nothing is changed, nothing sent):
 *  -EOPNOTSUPP IOTLB_ASID not negotiated; or the device is started, the
 *             caller did not suspend it and SUSPEND/RESUME are not
 *             negotiated; or vrings are to be re-pointed on a started
 *             device without ENABLE_AFTER_DRIVER_OK (reset it, flip, then
 *             set the rings up: the flip survives the reset)
 *  -ERANGE    shadow_asid >= the device's number of address spaces
 *  -ENOENT    an unknown vq or group (log names it)
 *  -EEXIST    the shadow ASID overlaps guest memory: it is the ASID a
 *             moving group is bound to, or it or a shadow area maps memory
 *             that ASID maps (the device could write guest memory behind
 *             the shadow virtqueue)
 *  -EBUSY     a group is already moved by another active flip; or an
 *             exec handoff is prepared (also for vdpamap_unflip())
 *  -EFAULT    a shadow area is not inside one registered region; or the
 *             flip would resume the device with an enabled ring of a moved
 *             group not mapped in the shadow ASID (give it in vrings)
 *  -EINVAL    malformed opts: nothing to move, a NULL array with a count,
 *             unknown flags, non-zero reserved fields, a shadow area of
 *             size 0, unaligned or with a bad perm, a vring whose shadow
 *             index, offsets or size are wrong or whose vq is not moved
 *  -E2BIG     unknown non-zero opts tail
 *  -ENOSPC    no IOVA hole for a shadow area
 *  -ENOMEM    PA mode: RLIMIT_MEMLOCK budget; or out of memory
 *  -EIO       the device refused a message or an ioctl (undone)
 *  -ENOTRECOVERABLE the undo failed too: the handle is poisoned
 * Serialised with every other state-changing call on the handle. */
VDPAMAP_API int vdpamap_flip(struct vdpamap *h, uint32_t shadow_asid,
			     const struct vdpamap_flip_opts *opts,
			     struct vdpamap_flip_info *info);

struct vdpamap_unflip_opts {
	size_t sz;
	uint32_t flags;			/* VDPAMAP_FLIP_SUSPENDED */
	uint32_t nr_vrings;
	/* where the guest rings restart: only vq, flags and base are read
	 * (the rest must be 0); a re-pointed vq not listed restarts at the
	 * device's next avail index */
	const struct vdpamap_flip_vring *vrings;
	size_t :0;
};

/* Undo flip id: re-point the vrings it moved (those still at its shadow
 * rings; a reset in between forgets rings) back to the addresses they had,
 * re-bind its groups to the ASIDs they had and invalidate its shadow maps,
 * suspended as for vdpamap_flip().  info may be NULL.
 * Errors (nothing changed): -ENOENT no active flip id, -EINVAL malformed
 * opts (a vq it did not re-point), -E2BIG, -EOPNOTSUPP (as for the flip),
 * -EFAULT it would resume the device with an enabled ring of a group going
 * back that the ASID it goes back to does not map (rings the caller
 * pointed at shadow memory itself: re-point them or reset first), -EIO,
 * -ENOTRECOVERABLE.  Serialised like vdpamap_flip(). */
VDPAMAP_API int vdpamap_unflip(struct vdpamap *h, uint32_t id,
			       const struct vdpamap_unflip_opts *opts,
			       struct vdpamap_flip_info *info);

/* ---- dirty log (src/dirty.c)
 *
 * vhost-vdpa has no dirty logging; a shadow virtqueue knows what the device
 * wrote.  A dirty log belongs to one ASID and covers that ASID's "logged
 * ranges", fixed when logging starts: every mirror entry of the ASID at
 * that moment, or the parts of the entries inside the ranges the caller
 * lists.  It is page-granular (opts page_size) and IOVA-addressed.
 *
 * Marking (vdpamap_dirty_mark()) takes no lock and may run in any number
 * of threads at once, concurrently with everything else: in bitmap mode one
 * atomic fetch-or (release) per 64-page word; in ring mode one slot of a
 * bounded multi-producer ring of page numbers per page (one ring per ASID:
 * no thread registration, and sparse writers rarely contend), falling back
 * to the bitmap when the ring is full.  Harvesting gets and clears
 * (atomic exchange, acquire) into a bitmap of the caller's, one bit per
 * page from a base as VFIO's dirty-bitmap interface has it: bit (n % 64) of
 * word n / 64 is the page at base + n * page_size.  Harvests of one ASID
 * are serialised with each other; a mark racing a harvest shows up in that
 * harvest or the next one, never in none.  The log's memory (bitmap, ring)
 * exists only between vdpamap_dirty_start() and vdpamap_dirty_stop().
 * Maps added after the start are not logged; unmapping a logged range
 * leaves its bits meaningless.
 */
/* vdpamap_dirty_opts.flags */
#define VDPAMAP_DIRTY_RING	(1U << 0) /* ring mode, bitmap fallback */

struct vdpamap_dirty_range {
	uint64_t iova;
	uint64_t size;
};

struct vdpamap_dirty_opts {
	size_t sz;
	uint32_t flags;			/* VDPAMAP_DIRTY_* */
	uint32_t ring_entries;		/* ring mode: a power of two in
					   [16, 2^24]; 0 means 4096 */
	uint64_t page_size;		/* a power of two >= 512; 0 means the
					   handle's page size */
	const struct vdpamap_dirty_range *ranges; /* NULL: all of asid */
	uint32_t nr_ranges;
	size_t :0;
};

/* Start logging asid.  Errors (nothing changed): -EINVAL asid out of range
 * or malformed opts, -E2BIG, -EBUSY asid is already logging, -ENOENT asid
 * has no entries, or a listed range is not entirely mapped, -EEXIST two
 * listed ranges overlap, -ENOMEM.  Serialised with state-changing calls. */
VDPAMAP_API int vdpamap_dirty_start(struct vdpamap *h, uint32_t asid,
				    const struct vdpamap_dirty_opts *opts);
/* Stop logging asid and free the log, after waiting (an RCU grace period)
 * for marks and harvests already inside it; later ones get -ENOENT.
 * Unharvested bits are lost.  -EINVAL asid, -ENOENT not logging. */
VDPAMAP_API int vdpamap_dirty_stop(struct vdpamap *h, uint32_t asid);

/* Mark every page of [iova, iova+len) of asid dirty.  Lock-free, any
 * thread, never blocks (see above); a handle's fork check is the only
 * other thing it does.  Errors (nothing marked): -EINVAL len 0, wraps, or
 * asid out of range; -ENOENT asid is not logging; -ERANGE a page of the
 * range is outside every logged range; -ECHILD. */
VDPAMAP_API int vdpamap_dirty_mark(struct vdpamap *h, uint32_t asid,
				   uint64_t iova, uint64_t len);

/* Get and clear the dirty pages of [iova, iova+size) of asid (both
 * multiples of the log's page size) and OR them into bitmap (bitmap_bytes
 * long, at least 8 * ceil(pages / 64)): bit n is the page at iova +
 * n * page_size.  Pages outside the logged ranges leave their bits alone.
 * *ret_dirty (may be NULL) gets the number of bits this call set that were
 * clear.  In ring mode the ring is drained: pages outside [iova, +size)
 * go back into the log for a later harvest.  Errors (nothing cleared):
 * -EINVAL (alignment, size 0, wrap, NULL or short bitmap, asid), -ENOENT
 * asid is not logging, -ECHILD.  Concurrent with marks; harvests of one
 * ASID wait for each other (a per-log mutex, not the handle's). */
VDPAMAP_API int vdpamap_dirty_harvest(struct vdpamap *h, uint32_t asid,
				      uint64_t iova, uint64_t size,
				      uint64_t *bitmap, uint64_t bitmap_bytes,
				      uint64_t *ret_dirty);

/* As vdpamap_dirty_harvest(), in the terms of migration code that works by
 * RAM block: bit n is the page at byte offset + n * page_size of region
 * region_id (the id vdpamap_region_add() gave), whatever IOVA the logged
 * ranges map it at (several IOVAs of one page OR into one bit; a page of
 * an unaligned map marks every region page it touches).  offset and size
 * are multiples of the page size.  Errors: those of
 * vdpamap_dirty_harvest(), and -ENOENT when no logged range of asid maps
 * region_id. */
VDPAMAP_API int vdpamap_dirty_harvest_region(struct vdpamap *h, uint32_t asid,
					     uint32_t region_id,
					     uint64_t offset, uint64_t size,
					     uint64_t *bitmap,
					     uint64_t bitmap_bytes,
					     uint64_t *ret_dirty);

struct vdpamap_dirty_info {
	uint32_t flags;			/* VDPAMAP_DIRTY_* of the start */
	uint32_t nr_ranges;		/* logged ranges (entry pieces) */
	uint64_t page_size;
	uint64_t pages;			/* pages logged */
	uint64_t bitmap_bytes;		/* memory of the bitmap */
	uint64_t ring_entries;		/* 0 in bitmap mode */
	uint64_t ring_overflows;	/* pages that fell back to the bitmap
					   because the ring was full */
	uint64_t reserved[6];
};
/* Describe asid's log.  -EINVAL asid or NULL info, -ENOENT not logging.
 * Lock-free like vdpamap_dirty_mark(). */
VDPAMAP_API int vdpamap_dirty_get_info(struct vdpamap *h, uint32_t asid,
				       struct vdpamap_dirty_info *info);

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
#define VDPAMAP_HANDOFF_ENV		"VDPAMAP_HANDOFF_FD"
#define VDPAMAP_HANDOFF_AUTO		0
#define VDPAMAP_HANDOFF_NEW_OWNER	1
#define VDPAMAP_HANDOFF_KEEPER		2
#define VDPAMAP_HANDOFF_REBUILD		3

struct vdpamap_handoff_opts {
	size_t sz;
	uint32_t strategy;		/* VDPAMAP_HANDOFF_*; 0: AUTO */
	uint32_t flags;			/* none defined: must be 0 */
	const int *extra_fds;		/* more fds to pass (CLOEXEC cleared) */
	uint32_t nr_extra_fds;		/* at most 32 */
	/* KEEPER: how long the keeper waits for vdpamap_handoff_reattach()
	 * after its successor died before it exits (closing the device);
	 * 0 means 30000 */
	uint32_t reattach_grace_ms;
	size_t :0;
};

/* Prepare the handoff; *ret_state_fd is the sealed state memfd (without
 * FD_CLOEXEC).  Errors (nothing changed): -EINVAL (bad opts, a region
 * without fd: the log names it, an extra fd not open), -E2BIG (opts tail),
 * -EOPNOTSUPP (the strategy asked for is not available here: NEW_OWNER not
 * built or offered, KEEPER on another architecture), -EALREADY (already
 * prepared), -EAGAIN (could not create the keeper), -ENOMEM, any device
 * error of SUSPEND or GET_VRING_BASE.  Not concurrent with anything on h.
 * Once prepared, the handle refuses changes (-EBUSY) until cancel: see
 * above. */
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
 *  -ECOMM      KEEPER: the keeper lives but did not answer; or RESUME's
 *              error (the device stays suspended): retry the adopt.
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

/* Reattach to a KEEPER handoff whose successor died: keeper_pid is the
 * keeper (vdpamap_handoff_info.keeper_pid, or from the state).  The new
 * handle is as vdpamap_handoff_adopt() would give, with the state as of
 * the dead successor's last change.  -ECONNREFUSED: no such keeper or it
 * serves a live successor (which holds the only attachment),
 * -EACCES: another uid, or the errors of vdpamap_handoff_adopt(). */
VDPAMAP_API int vdpamap_handoff_reattach(pid_t keeper_pid,
					 const struct vdpamap_open_opts *opts,
					 struct vdpamap **ret);

/* After keeper death (or another poison of a KEEPER handle: a live keeper
 * is told to exit): close the device (the kernel drops every map) and
 * rebuild the handle on it as REBUILD does (reopen, re-map, restore ring
 * state from each used ring), keeping the handle pointer and region ids.
 * Clears the poison on success.  -EALREADY: the keeper is alive and the
 * handle not poisoned (nothing done); on any other failure the device
 * stays closed and the handle poisoned. */
VDPAMAP_API int vdpamap_handoff_rebuild(struct vdpamap *h);

struct vdpamap_handoff_info {
	uint32_t strategy;		/* VDPAMAP_HANDOFF_* used */
	uint32_t keeper_alive;		/* 1: an mm keeper serves the handle */
	int32_t keeper_pid;		/* 0: none */
	uint32_t adopted;		/* 1 in the successor */
	uint64_t suspend_ns;		/* CLOCK_MONOTONIC at SUSPEND */
	uint64_t prepare_ns;		/* cost of prepare */
	uint64_t adopt_ns;		/* cost of adopt */
	uint64_t adopted_ns;		/* CLOCK_MONOTONIC when adopt returned */
	uint64_t adopt_iotlb_writes;	/* IOTLB messages adopt sent */
	/* KEEPER successor: what the keeper unmapped of the old address
	 * space after the adopt (0: not trimmed, or the trim has not ended
	 * yet: it runs in the keeper after adopt returned; never waited
	 * for here) */
	uint64_t keeper_trimmed_bytes;
	uint32_t keeper_vmas_before;	/* mappings before the trim */
	uint32_t keeper_vmas_kept;	/* mappings left */
	uint64_t reserved[6];
};
/* -ENOENT: the handle was neither prepared nor adopted. */
VDPAMAP_API int vdpamap_handoff_get_info(struct vdpamap *h,
					 struct vdpamap_handoff_info *info);

/* A registered region as the handle has it now (after adopt: the new
 * hva).  -ENOENT unknown id. */
VDPAMAP_API int vdpamap_region_get(struct vdpamap *h, uint32_t id,
				   struct vdpamap_region *out);
/* Ids of the registered regions, in ascending order: up to n into ids;
 * returns how many there are. */
VDPAMAP_API int vdpamap_region_ids(struct vdpamap *h, uint32_t *ids,
				   uint32_t n);
/* The vring as last set with vdpamap_vring_set() (base: as set, or as
 * read by prepare).  -ENOENT: never set; -EINVAL: idx. */
VDPAMAP_API int vdpamap_vring_get(struct vdpamap *h, uint32_t idx,
				  struct vdpamap_vring *out);

#ifdef __cplusplus
}
#endif
#include "vdpamap_mgmt.h"

#endif /* VDPAMAP_H */
