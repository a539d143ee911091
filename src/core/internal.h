/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * internal: the handle, its mirror entries, options helpers and logging,
 * shared by every library module.  The handle owns a transport (the only
 * way out to the device), one mirror per ASID (an iova tree and an hva
 * tree of struct vm_entry), the registered regions and the state that must
 * survive a reset (group -> ASID bindings, negotiated features).
 *
 * Depends on: iova_tree.h, transport.h, the public header.
 */
#ifndef VDPAMAP_INTERNAL_H
#define VDPAMAP_INTERNAL_H

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/types.h>

#include "vdpamap.h"
#include "iova_tree/iova_tree.h"
#include "transport/transport.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define min_t(t, a, b) ((t)(a) < (t)(b) ? (t)(a) : (t)(b))
#define max_t(t, a, b) ((t)(a) > (t)(b) ? (t)(a) : (t)(b))
#define container_of(ptr, type, member) \
	((type *)((char *)(ptr) - offsetof(type, member)))

/* ---- options (libbpf's OPTS_* idea) */
/* A struct from a newer caller is fine if every byte past what we know is
 * zero; an older one is fine if it covers at least the size field. */
bool vm_opts_valid(const void *opts, size_t known_sz, size_t user_sz);
#define OPTS_VALID(opts, type) \
	(!(opts) || vm_opts_valid((opts), sizeof(struct type), (opts)->sz))
#define OPTS_HAS(opts, field) \
	((opts) && (opts)->sz >= offsetof(typeof(*(opts)), field) + \
				  sizeof((opts)->field))
#define OPTS_GET(opts, field, fallback) \
	(OPTS_HAS(opts, field) ? (opts)->field : (fallback))
/* For a call holding a handle: 0 when OPTS_VALID, else the errno (-EINVAL
 * too small, -E2BIG unknown non-zero tail) and a log line "what: opts:
 * ...". */
struct vdpamap;
int vm_opts_refuse(const struct vdpamap *h, const char *what, size_t user_sz,
		   size_t known_sz);
#define OPTS_CHECK(h, what, opts, type) \
	(OPTS_VALID(opts, type) ? \
		 0 : vm_opts_refuse((h), (what), (opts)->sz, sizeof(struct type)))

/* ---- mirror */
struct vm_region {
	uint32_t id;
	uint32_t nr_maps;		/* entries pointing into it */
	struct vdpamap_region r;
	struct vm_region *next;
	/* Where the device sees r.hva (the uaddr of IOTLB messages): 0 means
	 * r.hva itself; after an exec handoff through the mm keeper, the
	 * address of the same memory in the keeper's (old) address space. */
	uint64_t dev_base;
};

struct vm_entry {
	struct itree_node inode;	/* [iova, iova + size - 1] */
	struct itree_node hnode;	/* [hva, hva + size - 1] */
	uint64_t hva;
	uint32_t asid;
	uint32_t perm;
	struct vm_region *region;
	/* transaction bookkeeping */
	bool in_mirror;
	bool pending_rm;
	bool txn_new;			/* created by the open transaction */
	bool lost;
	struct vm_entry *lost_next;	/* on h->lost when a rollback failed */
};

static inline uint64_t vm_entry_size(const struct vm_entry *e)
{
	return e->inode.last - e->inode.first + 1;
}

/* The uaddr the device must be told for e (see vm_region.dev_base). */
static inline uint64_t vm_entry_uaddr(const struct vm_entry *e)
{
	const struct vm_region *rg = e->region;

	if (!rg || !rg->dev_base)
		return e->hva;
	return rg->dev_base + (e->hva - (uint64_t)(uintptr_t)rg->r.hva);
}

struct vm_as {
	struct itree iova;
	struct itree hva;
	bool dirty;			/* changed since the last snapshot */
};

struct vm_vring {
	bool set;
	bool enabled;
	struct vdpamap_vring v;
};

/* ---- hooks (hooks.c): how core reaches the modules above it at a
 * lifecycle moment without calling them by name.  Each module that keeps
 * state on the handle registers one table in its own slot; core calls the
 * tables from the top slot down (handoff, migrate, lifecycle, mapping), so
 * a module's hook runs before those of the modules it builds on. */
enum vm_hook_slot {
	VM_HOOK_MAPPING,
	VM_HOOK_LIFECYCLE,
	VM_HOOK_MIGRATE,
	VM_HOOK_HANDOFF,
	VM_HOOK_NR
};

struct vm_hook_ops {
	/* vm_leave(), lock held, before it is dropped */
	void (*leave)(struct vdpamap *h);
	/* close: the device is about to be closed */
	void (*close)(struct vdpamap *h);
	/* the handle is being freed (also a failed open): release the
	 * module's state; the device may already be closed */
	void (*free)(struct vdpamap *h);
};

/* Register (ops) or drop (NULL) the table of one slot. */
void vm_hook_set(struct vdpamap *h, enum vm_hook_slot slot,
		 const struct vm_hook_ops *ops);
void vm_hooks_leave(struct vdpamap *h);
void vm_hooks_close(struct vdpamap *h);
void vm_hooks_free(struct vdpamap *h);

struct vdpamap {
	pthread_mutex_t lock;
	struct vm_tp *tp;		/* &dev_tp, or one of an upper module's
					   (the keeper link: vm_set_tp()) */
	struct vm_tp dev_tp;
	pid_t pid;

	vdpamap_log_fn log_fn;
	void *log_ctx;
	int log_level;
	uint32_t flags;
	uint64_t page_size;

	struct vdpamap_info info;
	uint32_t *vq_group;
	uint32_t *vq_desc_group;	/* with DESC_ASID: where rings live */
	uint32_t *group_asid;
	struct vm_as *as;
	struct vm_vring *vrings;
	uint8_t status;

	/* lock-free readers' view of each ASID (snapshot.h) */
	struct vm_snap **snap;
	bool snap_dirty;
	unsigned int fork_gen;		/* vm_fork_gen() at open */

	struct vm_region *regions;
	uint32_t next_region_id;

	struct vdpamap_stats stats;
	struct vm_entry *lost;		/* entries the device lost */
	bool batch_open;		/* a BATCH_END was refused: the
					   device may still be in a batch */
	uint32_t batch_asid;
	char *poison;
	/* non-empty: why state-changing calls are refused for now (a
	 * prepared handoff), see vm_enter_idle() */
	char busy[128];
	bool in_txn;
	pthread_t txn_owner;

	/* SVQ flips (flip.c) and dirty logs (dirty.c) */
	struct vm_flip *flips;		/* active flips */
	uint32_t next_flip_id;
	struct vm_dlog **dirty;		/* nr_as RCU-published logs; NULL
					   until the first start */

	/* exec handoff (handoff.c): prepared/adopted state, or NULL */
	struct vm_handoff *ho;
	uint64_t driver_features;	/* last SET_FEATURES accepted */
	/* called (lock held) when a region is registered (add) or
	 * unregistered: the keeper maps it in the old address space */
	int (*region_hook)(struct vdpamap *h, struct vm_region *rg, bool add);

	/* upper modules' lifecycle moments (hooks.c) */
	const struct vm_hook_ops *hooks[VM_HOOK_NR];
};

/* ---- logging */
void vm_log(const struct vdpamap *h, int level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
#define vm_err(h, ...)  vm_log(h, VDPAMAP_LOG_ERR, __VA_ARGS__)
#define vm_warn(h, ...) vm_log(h, VDPAMAP_LOG_WARN, __VA_ARGS__)
#define vm_info(h, ...) vm_log(h, VDPAMAP_LOG_INFO, __VA_ARGS__)
#define vm_dbg(h, ...)  vm_log(h, VDPAMAP_LOG_DEBUG, __VA_ARGS__)

/* ---- handle entry checks (lock.c) */
/* Take the lock for a state-changing call: -ECHILD in a forked child,
 * -EDEADLK from inside this thread's open transaction,
 * -ENOTRECOVERABLE when poisoned and !allow_poisoned. */
int vm_enter(struct vdpamap *h, bool allow_poisoned);
/* vm_enter() for a call that changes the device, the mirror or what a
 * prepared handoff describes: also -EBUSY (logged, naming what) between
 * vdpamap_handoff_prepare() and vdpamap_handoff_cancel(). */
int vm_enter_idle(struct vdpamap *h, bool allow_poisoned, const char *what);
void vm_leave(struct vdpamap *h);
/* Make vm_enter_idle() refuse with this reason (-EBUSY) until cleared. */
void vm_busy_set(struct vdpamap *h, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void vm_busy_clear(struct vdpamap *h);
void vm_poison(struct vdpamap *h, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void vm_poison_clear(struct vdpamap *h);
/* The transport lost a reply (-ECOMM): poison for good. */
void vm_tp_lost(struct vdpamap *h);

/* ---- util.c: one ioctl to the device (counted; a lost reply poisons
 * and gives -ENOTRECOVERABLE) */
int vm_ioctl(struct vdpamap *h, unsigned long req, void *arg);

/* Was every bit of feature negotiated at open? (vdpamap_has_feature()
 * for the library's own use) */
static inline bool vm_has_feature(const struct vdpamap *h, uint64_t feature)
{
	return feature && (h->info.backend_acked & feature) == feature;
}

/* ---- util.c */
const char *vm_feature_name(uint64_t feature);
/* Talk to the device through tp from now on (NULL: the handle's own). */
void vm_set_tp(struct vdpamap *h, struct vm_tp *tp);

/* ---- device.c */
/* An empty handle from opts (no device yet), and its release (the
 * transport is not closed). */
int vm_handle_new(const struct vdpamap_open_opts *opts, struct vdpamap **ret);
void vm_handle_free(struct vdpamap *h);


/* ---- iotlb.c: the only writer of IOTLB messages */
struct vm_msg {
	uint8_t type;			/* VHOST_IOTLB_UPDATE/INVALIDATE/REMAP */
	struct vm_entry *e;
};
/* Called after the device accepted msg i. */
typedef void (*vm_msg_done_fn)(struct vdpamap *h, const struct vm_msg *m);
/* Send msgs in order, wrapped in one BATCH_BEGIN/END per run of equal
 * ASID when BATCH was negotiated.  Returns the number of messages the
 * device accepted (all of them: n) and, on failure, stores the errno in
 * *err.  done is called for each accepted message, in order. */
size_t vm_iotlb_run(struct vdpamap *h, const struct vm_msg *msgs, size_t n,
		    vm_msg_done_fn done, int *err);
/* One raw message, not batched (probe). */
int vm_iotlb_send(struct vdpamap *h, uint32_t asid, uint8_t type,
		  uint64_t iova, uint64_t size, uint64_t uaddr, uint8_t perm);

/* ---- map.c */
void vm_mirror_insert(struct vdpamap *h, struct vm_entry *e);
void vm_mirror_remove(struct vdpamap *h, struct vm_entry *e);
struct vm_region *vm_region_find(struct vdpamap *h, uint64_t hva,
				 uint64_t size);
int vm_region_add(struct vdpamap *h, const struct vdpamap_region *r,
		  uint32_t *ret_id);
void vm_mirror_free(struct vdpamap *h);
int vm_memlock_check(struct vdpamap *h, uint64_t need);
int vm_restore_lost(struct vdpamap *h);
bool vm_range_mapped(struct vdpamap *h, uint32_t asid, uint64_t iova,
		     uint64_t size);

/* ---- map.c: the mapping module's hooks (snapshot publish on leave,
 * mirror and regions on free) */
void vm_mapping_init(struct vdpamap *h);

/* ---- flip.c, dirty.c */
struct vm_flip_ring {
	uint32_t vq;
	bool enabled;			/* cycled through ENABLE 0/1 */
	struct vdpamap_vring guest;	/* before the flip */
	struct vdpamap_vring shadow;	/* what the flip set */
};

struct vm_flip {
	uint32_t id;
	uint32_t shadow_asid;
	uint32_t nr_groups;
	uint32_t nr_maps;
	uint32_t nr_rings;
	uint32_t *groups;
	uint32_t *prev;			/* ASID of groups[i] before */
	uint32_t *dgrp;			/* per vq: its rings' group */
	uint64_t (*maps)[2];		/* shadow entries: iova, size */
	struct vm_flip_ring *rings;
	struct vm_flip *next;
};

/* Register the module's hook (frees every flip record and dirty log). */
void vm_migrate_init(struct vdpamap *h);
void vm_flip_free(struct vm_flip *f);

/* ---- txn.c: a transaction for a caller that holds the lock (or owns a
 * new handle); vdpamap_txn_* are these plus the lock */
struct vdpamap_txn;
int vm_txn_new(struct vdpamap *h, struct vdpamap_txn **ret);
int vm_txn_map(struct vdpamap_txn *t, uint32_t asid, uint64_t iova,
	       void *hva, uint64_t size, uint32_t perm, uint64_t *ret_iova);
/* Frees t whatever the result. */
int vm_txn_commit(struct vdpamap_txn *t);
void vm_txn_abort(struct vdpamap_txn *t);

/* ---- prefault.c */
int vm_prefault(struct vdpamap *h, const struct vdpamap_region *r, uint32_t n,
		uint32_t threads);


#endif
