/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * core: the handle and what every module above needs of it: options
 * helpers, logging, the lock with its entry checks (fork, transaction,
 * poison, busy), the poison state, one ioctl to the device, the negotiated
 * features, and the hook table through which core reaches the modules
 * above it.  The handle holds core's own fields and one pointer per upper
 * module's state; each of those types is defined in its module's header
 * (mapping/mapping.h, lifecycle/lifecycle.h, migrate/migrate.h,
 * handoff/handoff.h) and written only by that module.
 *
 * May include: iova_tree/iova_tree.h, transport/transport.h, the public
 * header, libc.  Nothing above core.
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

#define ARRAY_SIZE(a)  (sizeof(a) / sizeof((a)[0]))
#define min_t(t, a, b) ((t)(a) < (t)(b) ? (t)(a) : (t)(b))
#define max_t(t, a, b) ((t)(a) > (t)(b) ? (t)(a) : (t)(b))
#define container_of(ptr, type, member) \
	((type *)((char *)(ptr)-offsetof(type, member)))

/* ---- options (libbpf's OPTS_* idea) */
/* A struct from a newer caller is fine if every byte past what we know is
 * zero; an older one is fine if it covers at least the size field. */
bool vdm_opts_valid(const void *opts, size_t known_sz, size_t user_sz);
#define OPTS_VALID(opts, type) \
	(!(opts) || vdm_opts_valid((opts), sizeof(struct type), (opts)->sz))
/* The size of the field, a pointer when the field is one (which is what
 * clang-tidy reports at each OPTS_GET() of a pointer field):
 * NOLINTNEXTLINE(bugprone-sizeof-expression) */
#define OPTS_FIELD_SZ(opts, field) sizeof((opts)->field)
#define OPTS_HAS(opts, field)                                       \
	((opts) && (opts)->sz >= offsetof(typeof(*(opts)), field) + \
					 OPTS_FIELD_SZ(opts, field))
#define OPTS_GET(opts, field, fallback) \
	(OPTS_HAS(opts, field) ? (opts)->field : (fallback))
/* A caller's options struct is read only through OPTS_GET() (one field)
 * or OPTS_COPY() (the whole struct, for a call that hands it to helpers):
 * never past its sz, which may end where the caller's memory does.
 * OPTS_COPY fills dst (a struct of this version) with the bytes of opts
 * below both sizes and zeros (every field's default) after them, and sets
 * dst.sz to the known size; opts NULL: all zeros.  After OPTS_VALID. */
void vdm_opts_copy(void *dst, size_t known_sz, const void *opts,
		   size_t user_sz);
#define OPTS_COPY(dst, opts) \
	vdm_opts_copy(&(dst), sizeof(dst), (opts), (opts) ? (opts)->sz : 0)
/* The one refusal rule: 0 when OPTS_VALID, else -EINVAL (smaller than its
 * size field) or -E2BIG (an unknown non-zero tail). */
static inline int vdm_opts_err(size_t user_sz)
{
	return user_sz < sizeof(size_t) ? -EINVAL : -E2BIG;
}
/* For a call without a handle to log on (open, mgmt). */
#define OPTS_ERR(opts, type) \
	(OPTS_VALID(opts, type) ? 0 : vdm_opts_err((opts)->sz))
/* For a call holding a handle: OPTS_ERR and a log line "what: opts:
 * ...". */
struct vdpamap;
int vdm_opts_refuse(const struct vdpamap *h, const char *what, size_t user_sz,
		    size_t known_sz);
#define OPTS_CHECK(h, what, opts, type)                                    \
	(OPTS_VALID(opts, type) ? 0 :                                      \
				  vdm_opts_refuse((h), (what), (opts)->sz, \
						  sizeof(struct type)))

/* ---- hooks (hooks.c): how core reaches the modules above it at a
 * lifecycle moment without calling them by name.  Each module that keeps
 * state on the handle registers one table in its own slot; core calls the
 * tables from the top slot down (handoff, migrate, lifecycle, mapping), so
 * a module's hook runs before those of the modules it builds on. */
enum vdm_hook_slot {
	VDM_HOOK_MAPPING,
	VDM_HOOK_LIFECYCLE,
	VDM_HOOK_MIGRATE,
	VDM_HOOK_HANDOFF,
	VDM_HOOK_NR
};

struct vdm_hook_ops {
	/* vdm_leave(), lock held, before it is dropped */
	void (*leave)(struct vdpamap *h);
	/* close: the device is about to be closed */
	void (*close)(struct vdpamap *h);
	/* the handle is being freed (also a failed open): release the
	 * module's state; the device may already be closed */
	void (*free)(struct vdpamap *h);
};

/* Register (ops) or drop (NULL) the table of one slot. */
void vdm_hook_set(struct vdpamap *h, enum vdm_hook_slot slot,
		  const struct vdm_hook_ops *ops);
void vdm_hooks_leave(struct vdpamap *h);
void vdm_hooks_close(struct vdpamap *h);
void vdm_hooks_free(struct vdpamap *h);

struct vdm_mapping;
struct vdm_lifecycle;
struct vdm_migrate;
struct vdm_handoff;

struct vdpamap {
	pthread_mutex_t lock;
	struct vdm_tp *tp; /* &dev_tp, or one of an upper module's
					   (the keeper link: vdm_set_tp()) */
	struct vdm_tp dev_tp;
	pid_t pid;
	unsigned int fork_gen; /* vdm_fork_gen() at open */
	uint64_t fork_epoch;   /* vdm_fork_epoch() at open */

	vdpamap_log_fn log_fn;
	void *log_ctx;
	int log_level;
	uint32_t flags;
	uint64_t page_size;

	/* what the device reported and the negotiated backend features:
	 * filled once, by lifecycle's open (negotiate, query, probe) before
	 * the handle is handed out, or by vdm_info_set() (handoff's adopt);
	 * read-only afterwards */
	struct vdpamap_info info;
	/* The public counters.  Each field has one writer: core counts
	 * ioctls (vdm_ioctl), iotlb the messages (iotlb_*), mapping the
	 * pinned bytes; they live here so that one read under the lock
	 * answers vdpamap_get_stats(). */
	struct vdpamap_stats stats;
	/* iotlb's batch state (written by iotlb.c only): a BATCH_END was
	 * refused, so the device may still be in a batch of batch_asid */
	bool batch_open;
	uint32_t batch_asid;

	char *poison;
	/* the device is gone (its simulator daemon exited: the transport's
	 * gone, taken over by vdm_dev_gone()): for good, every call that
	 * needs the device -ENODEV; the mirror keeps what it acknowledged */
	bool gone;
	/* the call that found it gone is still running: what else it logs
	 * as an error is a consequence, logged at DEBUG (vdm_log()) */
	bool gone_quiet;
	/* non-empty: why state-changing calls are refused for now (a
	 * prepared handoff), see vdm_enter_idle() */
	char busy[128];
	bool in_txn;
	pthread_t txn_owner;

	/* upper modules' lifecycle moments (hooks.c) */
	const struct vdm_hook_ops *hooks[VDM_HOOK_NR];

	/* each upper module's state (its header; NULL until it has any) */
	struct vdm_mapping *map;  /* regions, mirror, snapshots */
	struct vdm_lifecycle *lc; /* groups, vrings, virtio status */
	struct vdm_migrate *mig;  /* flips, dirty logs */
	struct vdm_handoff *ho;	  /* exec handoff */
};

/* ---- util.c: the handle's core part */
/* A handle with core's fields set (the lock, this process, the handle's
 * own transport, closed) and no module state yet; NULL: out of memory.
 * log_level 0 means VDPAMAP_LOG_WARN. */
struct vdpamap *vdm_core_new(vdpamap_log_fn log_fn, void *log_ctx,
			     int log_level, uint32_t flags, uint64_t page_size);
/* Release core's part (every module's state must be gone). */
void vdm_core_free(struct vdpamap *h);
/* A public transaction holds the lock from begin to commit/abort: on
 * marks this thread its owner (vdm_enter() then says -EDEADLK to it). */
void vdm_txn_owner_set(struct vdpamap *h, bool on);

/* ---- logging */
void vdm_log(const struct vdpamap *h, int level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
#define vdm_err(h, ...)	 vdm_log(h, VDPAMAP_LOG_ERR, __VA_ARGS__)
#define vdm_warn(h, ...) vdm_log(h, VDPAMAP_LOG_WARN, __VA_ARGS__)
#define vdm_info(h, ...) vdm_log(h, VDPAMAP_LOG_INFO, __VA_ARGS__)
#define vdm_dbg(h, ...)	 vdm_log(h, VDPAMAP_LOG_DEBUG, __VA_ARGS__)

/* ---- util.c: handle entry checks, the busy and poison states */
/* Are we a forked child of the process that opened h?  Such a child
 * shares the device's fd or socket with its parent, so every call but
 * close refuses there with -ECHILD. */
bool vdm_forked(const struct vdpamap *h);
/* Take the lock for a state-changing call: -ECHILD in a forked child,
 * -EDEADLK from inside this thread's open transaction, -ENODEV when the
 * device is gone (whatever allow_poisoned says: nothing can be done
 * there, not even a reset), -ENOTRECOVERABLE when poisoned and
 * !allow_poisoned. */
int vdm_enter(struct vdpamap *h, bool allow_poisoned);
/* vdm_enter() for a call that changes the device, the mirror or what a
 * prepared handoff describes: also -EBUSY (logged, naming what) between
 * vdpamap_handoff_prepare() and vdpamap_handoff_cancel(). */
int vdm_enter_idle(struct vdpamap *h, bool allow_poisoned, const char *what);
/* vdm_enter() for a query (a call that reads the handle or the device and
 * changes neither), poisoned or not.  From inside this thread's open
 * transaction it goes on under the lock the transaction holds and reads
 * the committed state: the transaction changes nothing before its
 * commit, and the lock-free lookups answer the same there. */
int vdm_enter_query(struct vdpamap *h);
/* Drop the lock (after the modules' leave hooks); inside this thread's
 * open transaction (a query) nothing: the lock is the transaction's. */
void vdm_leave(struct vdpamap *h);
/* Make vdm_enter_idle() refuse with this reason (-EBUSY) until cleared. */
void vdm_busy_set(struct vdpamap *h, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void vdm_busy_clear(struct vdpamap *h);
void vdm_poison(struct vdpamap *h, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void vdm_poison_clear(struct vdpamap *h);
/* The transport lost a reply (-ECOMM): poison for good. */
void vdm_tp_lost(struct vdpamap *h);
/* The transport found the device gone (h->tp->gone): enter the gone
 * state, logging its one line the first time.  Returns -ENODEV.  A poison
 * after that is not logged: the line said why everything fails. */
int vdm_dev_gone(struct vdpamap *h);

/* ---- util.c: one ioctl to the device (counted; a lost reply poisons
 * and gives -ENOTRECOVERABLE; a device found gone gives -ENODEV, sending
 * nothing once it is known) */
int vdm_ioctl(struct vdpamap *h, unsigned long req, void *arg);
/* A GET ioctl under the handle's lock (vdm_enter_query(): a poisoned
 * handle may still read, so may its open transaction's thread): 0 or -errno, *arg written by the device only on success. */
int vdm_ioctl_get(struct vdpamap *h, unsigned long req, void *arg);

/* Was every bit of feature negotiated at open? (vdpamap_has_feature()
 * for the library's own use) */
static inline bool vdm_has_feature(const struct vdpamap *h, uint64_t feature)
{
	return feature && (h->info.backend_acked & feature) == feature;
}

/* ---- util.c */
const char *vdm_feature_name(uint64_t feature);
/* What the device is, as a handoff description recorded it. */
void vdm_info_set(struct vdpamap *h, const struct vdpamap_info *info);
/* Talk to the device through tp from now on (NULL: the handle's own). */
void vdm_set_tp(struct vdpamap *h, struct vdm_tp *tp);
/* Rebuild in place (handoff): h takes h2's device (its own transport,
 * stats, batch state, poison and gone, open flags, page size) and the
 * module state of mapping, lifecycle and migrate with their hooks; h2
 * gets h's, to be
 * freed after an RCU grace period.  h->map and h->mig, which lock-free
 * readers load, are published with release stores (the readers' loads
 * acquire); what readers read and a rebuild does not change (pid,
 * fork_gen, the log callback, info of the same device) is not written.
 * h's lock held; h2 is nobody else's. */
void vdm_core_swap(struct vdpamap *h, struct vdpamap *h2);

#endif
