// SPDX-License-Identifier: BSD-3-Clause
/* Options validation, logging, the handle lock and the poison state. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "core/internal.h"

struct vdpamap *vdm_core_new(vdpamap_log_fn log_fn, void *log_ctx,
			     int log_level, uint32_t flags, uint64_t page_size)
{
	pthread_mutexattr_t ma;
	struct vdpamap *h = calloc(1, sizeof(*h));

	if (!h)
		return NULL;
	pthread_mutexattr_init(&ma);
	pthread_mutexattr_settype(&ma, PTHREAD_MUTEX_ERRORCHECK);
	pthread_mutex_init(&h->lock, &ma);
	pthread_mutexattr_destroy(&ma);
	h->pid = getpid();
	h->fork_gen = vdm_fork_gen();
	h->fork_epoch = vdm_fork_epoch();
	vdm_set_tp(h, NULL);
	h->tp->fd = -1;
	h->page_size = page_size;
	h->log_fn = log_fn;
	h->log_ctx = log_ctx;
	h->log_level = log_level ? log_level : VDPAMAP_LOG_WARN;
	h->flags = flags;
	return h;
}

void vdm_core_free(struct vdpamap *h)
{
	vdm_poison_clear(h);
	pthread_mutex_destroy(&h->lock);
	free(h);
}

void vdm_txn_owner_set(struct vdpamap *h, bool on)
{
	if (on)
		__atomic_store_n(&h->txn_owner, pthread_self(),
				 __ATOMIC_RELAXED);
	__atomic_store_n(&h->in_txn, on, __ATOMIC_RELEASE);
}

bool vdm_opts_valid(const void *opts, size_t known_sz, size_t user_sz)
{
	const unsigned char *p = opts;
	size_t i;

	if (user_sz < sizeof(size_t))
		return false;
	for (i = known_sz; i < user_sz; i++)
		if (p[i])
			return false;
	return true;
}

void vdm_opts_copy(void *dst, size_t known_sz, const void *opts, size_t user_sz)
{
	size_t n = user_sz < known_sz ? user_sz : known_sz;

	memset(dst, 0, known_sz);
	if (opts)
		memcpy(dst, opts, n);
	memcpy(dst, &known_sz, sizeof(known_sz)); /* sz comes first */
}

int vdm_opts_refuse(const struct vdpamap *h, const char *what, size_t user_sz,
		    size_t known_sz)
{
	vdm_err(h,
		"%s: opts: size %zu: too small, or non-zero bytes past the "
		"known %zu",
		what, user_sz, known_sz);
	return vdm_opts_err(user_sz);
}

void vdm_log(const struct vdpamap *h, int level, const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	/* the call that found the device gone said so in one line: its
	 * failures that follow (an undo, a step that needed the device)
	 * are no news */
	if (h && h->gone_quiet && level == VDPAMAP_LOG_ERR)
		level = VDPAMAP_LOG_DEBUG;
	if (!h || !h->log_fn || level > h->log_level)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	h->log_fn(level, buf, h->log_ctx);
}

bool vdm_forked(const struct vdpamap *h)
{
	if (h->fork_gen != vdm_fork_gen())
		return true;
	/* the epoch sees a raw clone() too, without a syscall */
	if (h->fork_epoch)
		return h->fork_epoch != vdm_fork_epoch();
	return getpid() != h->pid;
}

/* Does this thread hold h's lock for its open transaction? */
static bool in_own_txn(const struct vdpamap *h)
{
	return __atomic_load_n(&h->in_txn, __ATOMIC_ACQUIRE) &&
	       pthread_equal(__atomic_load_n(&h->txn_owner, __ATOMIC_RELAXED),
			     pthread_self());
}

int vdm_enter(struct vdpamap *h, bool allow_poisoned)
{
	if (!h)
		return -EINVAL;
	if (vdm_forked(h))
		return -ECHILD;
	if (in_own_txn(h)) {
		vdm_err(h, "call from inside this thread's open transaction: "
			   "only queries may run there");
		return -EDEADLK;
	}
	pthread_mutex_lock(&h->lock);
	if (h->gone) {
		pthread_mutex_unlock(&h->lock);
		return -ENODEV;
	}
	if (h->poison && !allow_poisoned) {
		pthread_mutex_unlock(&h->lock);
		return -ENOTRECOVERABLE;
	}
	return 0;
}

int vdm_enter_idle(struct vdpamap *h, bool allow_poisoned, const char *what)
{
	int r = vdm_enter(h, allow_poisoned);

	if (r < 0)
		return r;
	if (h->busy[0]) {
		vdm_err(h, "%s refused: %s", what, h->busy);
		pthread_mutex_unlock(&h->lock);
		return -EBUSY;
	}
	return 0;
}

int vdm_enter_query(struct vdpamap *h)
{
	if (!h)
		return -EINVAL;
	if (vdm_forked(h))
		return -ECHILD;
	if (in_own_txn(h))
		return 0;
	pthread_mutex_lock(&h->lock);
	return 0;
}

void vdm_leave(struct vdpamap *h)
{
	/* a query inside this thread's transaction: the lock, and the
	 * leave hooks that publish changes, belong to the transaction's
	 * end (which clears in_txn before it leaves) */
	if (in_own_txn(h))
		return;
	vdm_hooks_leave(h);
	h->gone_quiet = false;
	pthread_mutex_unlock(&h->lock);
}

void vdm_busy_set(struct vdpamap *h, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(h->busy, sizeof(h->busy), fmt, ap);
	va_end(ap);
}

void vdm_busy_clear(struct vdpamap *h)
{
	h->busy[0] = '\0';
}

void vdm_info_set(struct vdpamap *h, const struct vdpamap_info *info)
{
	h->info = *info;
}

void vdm_set_tp(struct vdpamap *h, struct vdm_tp *tp)
{
	h->tp = tp ? tp : &h->dev_tp;
}

#define SWAP_FIELD(a, b, f)                 \
	do {                                \
		typeof((a)->f) t_ = (a)->f; \
		(a)->f = (b)->f;            \
		(b)->f = t_;                \
	} while (0)

void vdm_core_swap(struct vdpamap *h, struct vdpamap *h2)
{
	struct vdm_mapping *map = h->map;
	struct vdm_migrate *mig = h->mig;
	int s;

	SWAP_FIELD(h, h2, dev_tp);
	SWAP_FIELD(h, h2, stats);
	SWAP_FIELD(h, h2, batch_open);
	SWAP_FIELD(h, h2, batch_asid);
	SWAP_FIELD(h, h2, poison);
	SWAP_FIELD(h, h2, gone);
	SWAP_FIELD(h, h2, flags);
	SWAP_FIELD(h, h2, page_size);
	SWAP_FIELD(h, h2, lc);
	/* the same device: equal, and then not written (readers load
	 * info.nr_as without the lock) */
	if (memcmp(&h->info, &h2->info, sizeof(h->info)))
		SWAP_FIELD(h, h2, info);
	/* publish: pairs with the lock-free readers' acquire loads */
	__atomic_store_n(&h->map, h2->map, __ATOMIC_RELEASE);
	h2->map = map;
	__atomic_store_n(&h->mig, h2->mig, __ATOMIC_RELEASE);
	h2->mig = mig;
	for (s = VDM_HOOK_MAPPING; s < VDM_HOOK_HANDOFF; s++)
		SWAP_FIELD(h, h2, hooks[s]);
	vdm_set_tp(h, NULL);
	vdm_set_tp(h2, NULL);
}

int vdm_ioctl(struct vdpamap *h, unsigned long req, void *arg)
{
	int r;

	if (h->tp->gone) /* a query's ioctl: nothing to send it to */
		return vdm_dev_gone(h);
	h->stats.ioctls++;
	r = vdm_tp_ioctl(h->tp, req, arg);
	if (r == -ENODEV && h->tp->gone)
		return vdm_dev_gone(h);
	if (r == -ECOMM) {
		vdm_tp_lost(h);
		r = -ENOTRECOVERABLE;
	}
	return r;
}

int vdm_ioctl_get(struct vdpamap *h, unsigned long req, void *arg)
{
	int r = vdm_enter_query(h);

	if (r < 0)
		return r;
	r = vdm_ioctl(h, req, arg);
	vdm_leave(h);
	return r < 0 ? r : 0;
}

static const char poison_oom[] = "poisoned (reason lost: out of memory)";
static const char gone_reason[] =
	"device gone: the simulator daemon closed the connection (it "
	"exited or was killed) and took the device and its IOTLB with it; "
	"close the handle";

void vdm_poison(struct vdpamap *h, const char *fmt, ...)
{
	char buf[256];
	va_list ap;

	/* what failed with a gone device (an undo, a rollback) is no news:
	 * its one line said why every call fails */
	if (h->gone)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	/* a lost reply poisons every later request the same way: once */
	if (h->poison && !strcmp(h->poison, buf))
		return;
	vdm_err(h, "handle poisoned: %s", buf);
	if (!h->poison)
		h->poison = strdup(buf);
	if (!h->poison) /* out of memory: still poisoned */
		h->poison = (char *)poison_oom;
}

void vdm_tp_lost(struct vdpamap *h)
{
	vdm_poison(h, "connection to the device lost mid-request: its state is "
		      "unknown; close and reopen");
}

int vdm_dev_gone(struct vdpamap *h)
{
	if (!h->gone) {
		h->gone = true;
		vdm_err(h, "%s: every call that needs it returns -ENODEV",
			gone_reason);
		h->gone_quiet = true; /* until this call leaves */
	}
	return -ENODEV;
}

void vdm_poison_clear(struct vdpamap *h)
{
	if (h->poison != poison_oom)
		free(h->poison);
	h->poison = NULL;
}

VDPAMAP_API const char *vdpamap_poison_reason(struct vdpamap *h)
{
	if (!h)
		return NULL;
	return h->gone ? gone_reason : h->poison;
}

VDPAMAP_API int vdpamap_health(struct vdpamap *h)
{
	int r = vdm_enter_query(h);

	if (r < 0)
		return r;
	r = h->gone ? -ENODEV : h->poison ? -ENOTRECOVERABLE : 0;
	vdm_leave(h);
	return r;
}

static const char *const feature_names[] = {
	[1] = "IOTLB_MSG_V2", [2] = "IOTLB_BATCH",
	[3] = "IOTLB_ASID",   [4] = "SUSPEND",
	[5] = "RESUME",	      [6] = "ENABLE_AFTER_DRIVER_OK",
	[7] = "DESC_ASID",    [8] = "IOTLB_PERSIST",
};

const char *vdm_feature_name(uint64_t feature)
{
	unsigned int bit;

	if (!feature || (feature & (feature - 1)))
		return NULL;
	bit = (unsigned int)__builtin_ctzll(feature);
	return bit < ARRAY_SIZE(feature_names) ? feature_names[bit] : NULL;
}

VDPAMAP_API const char *vdpamap_feature_name(uint64_t feature)
{
	return vdm_feature_name(feature);
}
