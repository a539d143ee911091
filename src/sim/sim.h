/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * sim: the simulator module, a userspace model of vhost-vdpa +
 * vdpa_sim_net (Linux 6.12 by default) that runs as its own
 * single-threaded daemon process and is served over the simproto socket
 * protocol; it is linked into libvdpamap only to be spawned
 * (vdpamap_sim_spawn/_serve) and driven from tests (vdpamap_sim_table/
 * _fail_nth/_get_stats/_get_limits/_stop).  Named profiles (profile.c)
 * play other kernels and parents.
 * It is not a layer of the library: no other module calls into it (they
 * reach the daemon through the socket), and its daemon side calls nothing
 * of the library.
 *
 * May include: libc and Linux uAPI headers, src/transport/simproto.h (the
 * wire protocol), src/core/uapi.h (the uAPI constants Debian 12 lacks) and
 * the public include/vdpamap.h (the vdpamap_sim_* structs it implements);
 * nothing else of the library.  The one exception is control.c, the
 * client side that runs in the caller's process: it connects through
 * transport/sock.c (transport/transport.h).
 *
 * Files, bottom to top; each calls only files listed before it:
 *  - log.c:    vsim_log (stderr, VDPAMAP_SIM_LOG=1)
 *  - profile.c: the named profiles (a kernel axis and a parent axis,
 *              docs/sim-profiles.md) resolved into struct vsim_opts
 *  - table.c:  IOTLB tables: a balanced interval tree, O(log n) per
 *              entry inserted, found or removed, O(n) per copy
 *  - dma.c:    the parent device's DMA view: pins,
 *              /proc/<pid>/maps, the device-side map of every ASID (pushed
 *              whole by set_map, or edited entry by entry by dma_map),
 *              translation and memory access through the owner's address
 *              space or through pins
 *  - net.c:    vdpa_sim_net: vq groups, split virtqueues, TX -> RX
 *              loopback, control vq
 *  - iotlb.c:  vhost-vdpa's IOTLB write decoder, vhost's own per-ASID
 *              tables ("struct vsim_table"), batches, RLIMIT_MEMLOCK
 *  - device.c: the device state's init/fini, open/close, reset
 *  - ioctl.c:  vhost-vdpa's ioctls, the owner check
 *  - server.c: the poll loop, the connections, the packet decoder
 *  - spawn.c:  the socket, vdpamap_sim_serve/_spawn: the daemon's start
 *  - control.c (beside them): the control client
 */
#ifndef VDPAMAP_SIM_H
#define VDPAMAP_SIM_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <unistd.h>
#include "vdpamap.h"
#include "transport/simproto.h"

/* the uAPI constants Debian 12's headers lack come from the library's
 * one place for them */
#include "uapi/vhost_vdpa.h"

#define VSIM_BIT(b)	     (1ULL << (b))
#define VSIM_PAGE	     4096ULL
#define VSIM_DEFAULT_BACKEND 0x17eULL
#define VSIM_QUEUE_MAX	     256
#define VSIM_CONFIG_SIZE     24
#define VSIM_MAX_FDS	     8

/* virtio bits used by the model */
#define VSIM_S_ACKNOWLEDGE     1
#define VSIM_S_DRIVER	       2
#define VSIM_S_DRIVER_OK       4
#define VSIM_S_FEATURES_OK     8
#define VSIM_F_ACCESS_PLATFORM 33
#define VSIM_F_VERSION_1       32
#define VSIM_NET_F_CTRL_VQ     17
#define VSIM_NET_FEATURES                                                   \
	(VSIM_BIT(3) /* MTU */ | VSIM_BIT(5) /* MAC */ |                    \
	 VSIM_BIT(16) /* STATUS */ | VSIM_BIT(17) /* CTRL_VQ */ |           \
	 VSIM_BIT(23) /* CTRL_MAC_ADDR */ | VSIM_BIT(27) /* ANY_LAYOUT */ | \
	 VSIM_BIT(32) /* VERSION_1 */ | VSIM_BIT(33) /* ACCESS_PLATFORM */)

/* Memory the daemon keeps mapped for a PA-mode entry: the "pinned pages".
 * Reference counted: vhost's table and device-side maps share it. */
struct vsim_pin {
	int ref;
	void *base;
	size_t len;
	int writable;
};

/* One IOTLB entry, [first, last] inclusive.  backing: pin (PA mode, shared
 * file-backed memory) or NULL (access through the owner's /proc/pid/mem at
 * uaddr: VA mode, and PA mode on anonymous memory). */
struct vsim_map {
	uint64_t first, last;
	uint64_t uaddr;
	uint32_t perm;
	struct vsim_pin *pin;
	uint64_t pin_off; /* offset of first in pin */
	uint64_t charged; /* pages charged to memlock */
	/* the memory at first, as IOTLB_REMAP checks it: the shared file
	 * mapping's device, inode (0: not one) and offset */
	uint64_t dev, ino, foff;
};

/* Entries ordered by first, overlaps allowed at this level (table.c: a
 * balanced interval tree; the kernel's is an interval tree too). */
struct vsim_node;
struct vsim_table {
	struct vsim_node *root;
	size_t n;
	size_t npins;		 /* entries with a pin */
	struct vsim_node *spare; /* nodes of cleared entries, for reuse */
};

struct vsim_vq {
	/* vhost side */
	uint32_t num;
	uint64_t desc, avail, used; /* as set by SET_VRING_ADDR */
	int kick_fd, call_fd, err_fd;
	/* device side (vdpa_sim) */
	int ready;
	int has_cb;			  /* callback set (cleared by reset) */
	uint64_t d_desc, d_avail, d_used; /* latched when made ready */
	uint32_t d_num;
	uint16_t last_avail, last_used;
};

/* struct vsim_opts.kflags: what the played kernel and parent do
 * (profile.c; none of them set without a profile: today's default) */
#define VSIM_K_GROUP_RANGE \
	(1U << 0) /* SET_GROUP_ASID: group >= ngroups
					     is EINVAL (vhost_vdpa's check) */
#define VSIM_K_ASID_FROZEN \
	(1U << 1) /* >= 7.0: SET_GROUP_ASID EBUSY
					     once DRIVER_OK */
#define VSIM_K_RING64 \
	(1U << 2) /* 5.10 vdpa_sim: a ring > 64
					     does not work */
#define VSIM_P_NO_GROUP_ASID \
	(1U << 3)		       /* parent lacks get_vq_group and
		     set_group_asid (vp_vdpa, VDUSE v0) */
#define VSIM_P_NO_VRING_BASE (1U << 4) /* parent refuses get_vq_state */
#define VSIM_P_VA_ONLY	     (1U << 5) /* VDUSE: no PA, no per-map */
/* get_vq_size answers the size set as soon as it is set (vp_vdpa,
 * VDUSE); without it, only once DRIVER_OK (vdpa_sim) */
#define VSIM_P_VQSIZE_SET (1U << 6)

/* struct vsim_opts.no_ioctl: the ioctls the played kernel does not have
 * (an unknown request: vhost_vring_ioctl's ENOTTY after the owner and vq
 * index checks) */
#define VSIM_NOIOC_SUSPEND (1U << 0)
#define VSIM_NOIOC_RESUME  (1U << 1)
#define VSIM_NOIOC_GROUPS \
	(1U << 2) /* AS_NUM, GROUP_NUM, VRING_GROUP,
					     SET_GROUP_ASID */
#define VSIM_NOIOC_DESC_GROUP  (1U << 3)
#define VSIM_NOIOC_VRING_SIZE  (1U << 4)
#define VSIM_NOIOC_CONFIG_SIZE (1U << 5)
#define VSIM_NOIOC_VQS_COUNT   (1U << 6)

struct vsim_opts {
	uint64_t backend_offer;
	uint32_t flags;
	uint32_t nr_as, nr_groups, nr_vqs;
	uint64_t iova_first, iova_last;
	/* the profile (profile.c); all zero: today's default */
	const char *kernel, *parent; /* static names; "" for none */
	uint32_t kflags;	     /* VSIM_K_*, VSIM_P_* */
	uint32_t no_ioctl;	     /* VSIM_NOIOC_* */
	uint32_t vring_size;	     /* GET_VRING_SIZE; 0: EOPNOTSUPP */
	/* IOTLB entry caps per address space, as the module parameters
	 * read: vhost_vdpa's (0: the kernel has none, and then enforces no
	 * cap at all) and the parent's own (0: none) */
	uint32_t vhost_cap, parent_cap;
	/* exit after this long unused (VDPAMAP_SIM_IDLE_NEVER: never) */
	uint32_t idle_ms;
};

struct vsim_vma;

struct vsim_dev {
	struct vsim_opts o;
	int open; /* a device connection exists */
	/* owner */
	int has_owner;
	uint64_t owner_token;
	pid_t owner_pid;
	int mem_fd;	       /* the owner's address space */
	uint64_t pinned_pages; /* the owner mm's pinned_vm */
	/* vhost-vdpa */
	uint64_t backend_acked;
	struct vsim_table *tbl; /* vhost's table per ASID */
	uint8_t *as_alloc;	/* ASID allocated in vhost-vdpa */
	int in_batch;
	uint32_t batch_asid;
	int suspended;
	int config_fd;
	/* device (vdpa_sim) */
	struct vsim_table *dmap; /* device-side map per ASID */
	uint8_t *pt;		 /* device-side ASID is passthrough */
	uint32_t *group_asid;
	struct vsim_vq *vq;
	uint8_t status;
	uint64_t features;
	int running;
	int pending_kick;
	uint8_t config[VSIM_CONFIG_SIZE];
	/* the owner's VMAs, read once per WRITEV packet (iotlb.c) */
	struct {
		int on, valid;
		pid_t pid;
		struct vsim_vma *v;
		size_t n;
	} vmas;
	/* test hooks */
	uint32_t fail_msg, fail_ioctl; /* countdowns, 0 = disarmed */
	uint32_t fail_exit;	       /* countdown over writes and ioctls */
	int crash; /* fail_exit fired: the server exits, answering nothing */
	struct vdpamap_sim_stats st;
};

/* stats: counters without a public field yet live in reserved[] */

/* ---- predicates on the device's configuration and negotiation */
static inline int vsim_per_map(const struct vsim_dev *d)
{
	return !!(d->o.flags & VDPAMAP_SIM_PER_MAP);
}

static inline int vsim_pa_mode(const struct vsim_dev *d)
{
	return !!(d->o.flags & VDPAMAP_SIM_PA);
}

/* The kernel played enforces IOTLB entry caps (vhost_vdpa has its own
 * max_iotlb_entries, and vhost_iotlb enforces every limit). */
static inline int vsim_caps_enforced(const struct vsim_dev *d)
{
	return d->o.vhost_cap != 0;
}

static inline int vsim_has_ioctl(const struct vsim_dev *d, uint32_t what)
{
	return !(d->o.no_ioctl & what);
}

static inline int vsim_offered(const struct vsim_dev *d, unsigned int bit)
{
	return !!(d->o.backend_offer & VSIM_BIT(bit));
}

static inline int vsim_acked(const struct vsim_dev *d, unsigned int bit)
{
	return !!(d->backend_acked & VSIM_BIT(bit));
}

static inline int vsim_is_owner(const struct vsim_dev *d, uint64_t token)
{
	return d->has_owner && d->owner_token == token;
}

static inline void vsim_close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/* ---- log.c */
void vsim_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---- profile.c */
/* Fill o from the profile "KERNEL[/PARENT]" or "PARENT" (NULL: today's
 * default); 0 or -EINVAL (logged) for an unknown name or a combination
 * that no kernel has. */
int vsim_profile_apply(const char *name, struct vsim_opts *o);
/* The caller's VDPAMAP_SIM_* flags on top of the profile's (PER_MAP on
 * vdpa_sim: that parent's per-map ops). */
void vsim_profile_flags(struct vsim_opts *o, uint32_t flags);
/* The caps once max_iotlb_entries and parent_max (0: the profile's, and
 * as max_iotlb_entries) set them, as module parameters would. */
void vsim_profile_caps(struct vsim_opts *o, uint32_t max_iotlb_entries,
		       uint32_t parent_max);

/* ---- table.c: a map handed out stays where it is until removed */
/* A copy of m into t (after entries with the same first); NULL: ENOMEM */
struct vsim_map *vsim_tbl_insert(struct vsim_table *t,
				 const struct vsim_map *m);
void vsim_tbl_remove(struct vsim_table *t, struct vsim_map *m);
/* The lowest entry with first <= last and last >= first (first > last:
 * an entry holding both), or NULL */
struct vsim_map *vsim_tbl_overlap(const struct vsim_table *t, uint64_t first,
				  uint64_t last);
/* The highest entry with first <= addr, or NULL */
struct vsim_map *vsim_tbl_floor(const struct vsim_table *t, uint64_t addr);
struct vsim_map *vsim_tbl_first(const struct vsim_table *t);
struct vsim_map *vsim_tbl_next(const struct vsim_map *m);
struct vsim_map *vsim_tbl_prev(const struct vsim_map *m);
/* Empties t, keeping its nodes for the next inserts and copies (a
 * set_map parent's map is cleared and refilled whole, again and again);
 * the entries' pins are the caller's to put first */
void vsim_tbl_clear(struct vsim_table *t);
/* Empties t and frees every node it has */
void vsim_tbl_fini(struct vsim_table *t);
/* dst (cleared first) becomes a copy of src in O(n); -ENOMEM leaves it
 * empty.  Pins are not taken. */
int vsim_tbl_copy(struct vsim_table *dst, const struct vsim_table *src);

/* ---- dma.c */
struct vsim_vma {
	uint64_t start, end, offset;
	uint64_t dev, ino; /* the file's, as /proc/<pid>/maps shows them */
	int shared, file, writable;
};
int vsim_vmas_read(pid_t pid, struct vsim_vma **ret, size_t *ret_n);
const struct vsim_vma *vsim_vma_find(const struct vsim_vma *v, size_t n,
				     uint64_t addr);
struct vsim_pin *vsim_pin_file(pid_t pid, const struct vsim_vma *v,
			       uint64_t start, uint64_t len, int want_write);
void vsim_pin_get(struct vsim_pin *p);
void vsim_pin_put(struct vsim_pin *p);
/* parent ops */
/* set_map: 0, or -ENOSPC when the parent's own cap refused the table
 * (the device-side map of asid is then empty) */
int vsim_dev_set_map(struct vsim_dev *d, uint32_t asid);
/* dma_map: 0, or -ENOSPC over the parent's own cap (nothing mapped) */
int vsim_dev_dma_map(struct vsim_dev *d, uint32_t asid,
		     const struct vsim_map *m);
void vsim_dev_dma_unmap(struct vsim_dev *d, uint32_t asid, uint64_t first,
			uint64_t last);
void vsim_dev_reset_maps(struct vsim_dev *d);
/* Device access through the device-side map of asid; 0 or -errno. */
int vsim_dma_read(struct vsim_dev *d, uint32_t asid, uint64_t iova, void *buf,
		  size_t len);
int vsim_dma_write(struct vsim_dev *d, uint32_t asid, uint64_t iova,
		   const void *buf, size_t len);
void vsim_dma_install_sigbus(void);

/* ---- net.c */
uint32_t vsim_vq_group(const struct vsim_dev *d, uint32_t vq);
uint32_t vsim_vq_desc_group(const struct vsim_dev *d, uint32_t vq);
void vsim_net_reset_vq(struct vsim_vq *vq);
void vsim_net_set_ready(struct vsim_dev *d, uint32_t idx, int ready);
void vsim_net_kick(struct vsim_dev *d, uint32_t idx);
void vsim_net_resume(struct vsim_dev *d);

/* ---- iotlb.c */
/* One write() of the device fd: bytes consumed or -errno (handler errors
 * flattened to -EFAULT, as vhost_chr_write_iter does). */
int vsim_iotlb_write(struct vsim_dev *d, uint64_t token, pid_t pid,
		     const void *buf, size_t n);
/* on: until called again with 0, every write reads the owner's VMAs
 * once and keeps them (a WRITEV packet); 0: forget them. */
void vsim_iotlb_hold_vmas(struct vsim_dev *d, int on);
/* TABLE: entries of vhost's table of asid into out (max), total or -errno */
int vsim_table_dump(struct vsim_dev *d, uint32_t asid,
		    struct vdpamap_sim_entry *out, size_t max);
/* RLIMIT_MEMLOCK of pid in pages (UINT64_MAX: unlimited or unknown) */
uint64_t vsim_memlock_pages(pid_t pid);
void vsim_iotlb_drop_all(struct vsim_dev *d);

/* ---- device.c */
int vsim_dev_init(struct vsim_dev *d, const struct vsim_opts *o);
void vsim_dev_fini(struct vsim_dev *d);
void vsim_dev_open(struct vsim_dev *d);
void vsim_dev_close(struct vsim_dev *d);
void vsim_dev_reset(struct vsim_dev *d);

/* ---- ioctl.c */
/* One ioctl.  fds: received with the packet (the handler takes ownership of
 * the ones it keeps and sets them to -1).  out gets up to *outlen bytes. */
int vsim_ioctl(struct vsim_dev *d, uint64_t token, pid_t pid, uint32_t cmd,
	       const void *in, size_t inlen, int *fds, int nfds, void *out,
	       size_t *outlen);

/* ---- server.c */
/* Decode one packet: header checks only.  0 or -EINVAL. */
int vsim_decode(const void *buf, size_t n, struct vsim_req *req,
		const void **payload);
int vsim_opts_parse(const struct vdpamap_sim_opts *in, struct vsim_opts *o);
/* Serve on the listening socket lfd (bound at path) until STOP; closes
 * lfd.  0, or -errno if the daemon could not run. */
int vsim_serve_fd(int lfd, const char *path, const struct vsim_opts *o);

#endif
