// SPDX-License-Identifier: BSD-3-Clause
/*
 * txn: transactions of maps and unmaps over any ASIDs, all or nothing.
 *
 * Every queued operation is validated at once against the mirror as the
 * operations queued before it will leave it (an overlay: mirror entries
 * marked pending_rm, plus a per-ASID tree of pending maps).  Commit sends
 * the messages (batched per ASID), applies each to the mirror as the
 * device accepts it, and on failure sends the inverse of what was applied.
 * A transaction holds the handle mutex from begin to commit/abort.
 *
 * A public transaction may outlive its handle (closed with the
 * transaction open): close aborts it and detaches it (t->h NULL), and the
 * caller's later calls on it see that in t itself, which stays allocated
 * until its commit or abort, never in the freed handle.
 */
#include <stdlib.h>
#include <string.h>

#include "mapping/mapping.h"
#include "uapi/vhost_vdpa.h"

enum { OP_MAP = 1, OP_UNMAP = 2 };

/* ops a transaction has room for at first; doubled as it grows */
#define TXN_OPS_FIRST 16

struct vdm_op {
	int kind;
	struct vdm_entry *e;	    /* OP_MAP */
	struct vdm_entry **targets; /* OP_UNMAP */
	size_t nr_targets;
};

/* Room inside the transaction for what a vdpamap_map() or _unmap()
 * needs (one op; a device of one or two address spaces, as a net
 * device without a control-virtqueue ASID): no allocation beyond the
 * transaction's own and the entry's for a single change. */
#define TXN_OPS_INLINE	   2
#define TXN_PENDING_INLINE 2
#define TXN_MSGS_INLINE	   4

struct vdpamap_txn {
	struct vdpamap *h;  /* NULL: detached by close */
	struct vdm_op *ops; /* ops_inline, or allocated past it */
	size_t nr_ops, cap;
	/* nr_as trees of pending maps (pending.c), for the overlap checks
	 * of later maps and unmaps of the transaction */
	struct itree *pending; /* pending_inline, or allocated */
	uint32_t nr_as;
	uint64_t pin, pin_peak; /* PA mode: bytes pinned on the way */
	uint64_t pin_freed;
	struct vdm_op ops_inline[TXN_OPS_INLINE];
	struct itree pending_inline[TXN_PENDING_INLINE];
};

/* Lowest hole of the overlay (mirror + pending; entries pending removal
 * still count as taken until commit). */
static int overlay_find_hole(struct vdpamap_txn *t, uint32_t asid,
			     uint64_t size, uint64_t align, uint64_t *ret)
{
	struct vdpamap *h = t->h;
	uint64_t lo = h->info.iova_first, hi = h->info.iova_last, s;

	for (;;) {
		const struct vdm_entry *n;

		if (vdm_mirror_find_hole(h, asid, lo, hi, size, align, &s) < 0)
			return -ENOSPC;
		n = vdm_pend_find(&t->pending[asid], s, s + size - 1);
		if (!n) {
			*ret = s;
			return 0;
		}
		if (n->last == UINT64_MAX || n->last + 1 > hi)
			return -ENOSPC;
		lo = n->last + 1;
	}
}

static int txn_grow(struct vdpamap_txn *t)
{
	struct vdm_op *o;
	size_t cap;

	if (t->nr_ops < t->cap)
		return 0;
	if (!t->ops) {
		t->ops = t->ops_inline;
		t->cap = TXN_OPS_INLINE;
		return 0;
	}
	cap = t->cap < TXN_OPS_FIRST ? TXN_OPS_FIRST : t->cap * 2;
	if (t->ops == t->ops_inline) {
		o = malloc(cap * sizeof(*o));
		if (o)
			memcpy(o, t->ops, t->nr_ops * sizeof(*o));
	} else {
		o = realloc(t->ops, cap * sizeof(*o));
	}
	if (!o)
		return -ENOMEM;
	t->ops = o;
	t->cap = cap;
	return 0;
}

/* A transaction on h; the caller holds the lock (or owns a new handle)
 * until vdm_txn_commit() or vdm_txn_abort(). */
int vdm_txn_new(struct vdpamap *h, struct vdpamap_txn **ret)
{
	struct vdpamap_txn *t;
	uint32_t a;

	t = calloc(1, sizeof(*t));
	if (t)
		t->pending = h->info.nr_as <= TXN_PENDING_INLINE ?
				     t->pending_inline :
				     calloc(h->info.nr_as, sizeof(*t->pending));
	if (!t || !t->pending) {
		free(t);
		return -ENOMEM;
	}
	for (a = 0; a < h->info.nr_as; a++)
		itree_init(&t->pending[a]);
	t->nr_as = h->info.nr_as;
	t->h = h;
	*ret = t;
	return 0;
}

VDPAMAP_API int vdpamap_txn_begin(struct vdpamap *h, struct vdpamap_txn **ret)
{
	struct vdpamap_txn *t;
	int r;

	if (!ret)
		return -EINVAL;
	r = vdm_enter_idle(h, false,
			   "maps, unmaps and transactions "
			   "(vdpamap_txn_begin)");
	if (r < 0)
		return r;
	r = vdm_txn_new(h, &t);
	if (r < 0) {
		vdm_leave(h);
		return r;
	}
	vdm_txn_owner_set(h, true);
	h->map->txn = t;
	*ret = t;
	return 0;
}

/* The end of a public transaction: the handle is the caller's again. */
static void txn_end(struct vdpamap *h)
{
	h->map->txn = NULL;
	vdm_txn_owner_set(h, false);
	vdm_leave(h);
}

/* A public transaction the caller may use: -EINVAL for NULL, -EBADF once
 * its handle was closed (nothing to log it on: the log callback went with
 * the handle), -ECHILD in a forked child, which inherited t with the
 * parent's device: nothing of it may reach the device from there. */
static int txn_usable(const struct vdpamap_txn *t)
{
	if (!t)
		return -EINVAL;
	if (!t->h)
		return -EBADF;
	return vdm_forked(t->h) ? -ECHILD : 0;
}

/* Where the map goes: *iova itself if inside the device's range, or for
 * VDPAMAP_IOVA_ANY the lowest free hole of the overlay. */
static int map_place(struct vdpamap_txn *t, uint32_t asid, uint64_t size,
		     uint64_t mask, uint64_t *iova)
{
	struct vdpamap *h = t->h;
	int r;

	if (*iova == VDPAMAP_IOVA_ANY) {
		r = overlay_find_hole(t, asid, size, mask + 1, iova);
		if (r < 0)
			vdm_err(h, "asid %u: no free hole of 0x%llx bytes",
				asid, (unsigned long long)size);
		return r;
	}
	if (*iova < h->info.iova_first ||
	    *iova + (size - 1) > h->info.iova_last) {
		vdm_err(h,
			"asid %u [0x%llx, 0x%llx] outside the device range "
			"[0x%llx, 0x%llx]",
			asid, (unsigned long long)*iova,
			(unsigned long long)(*iova + size - 1),
			(unsigned long long)h->info.iova_first,
			(unsigned long long)h->info.iova_last);
		return -ERANGE;
	}
	return 0;
}

/* -EEXIST (logged) if [first, last] overlaps a mirror entry that stays
 * or a map queued earlier in t. */
static int map_check_free(struct vdpamap_txn *t, uint32_t asid, uint64_t first,
			  uint64_t last)
{
	struct vdpamap *h = t->h;
	struct vdm_mirror_it it;
	const struct vdm_entry *e, *n;

	for (e = vdm_mirror_first(h, asid, first, last, &it); e;
	     e = vdm_mirror_next(&it)) {
		if (e->pending_rm)
			continue;
		vdm_err(h,
			"asid %u [0x%llx, 0x%llx] overlaps entry "
			"[0x%llx, 0x%llx] (hva 0x%llx)",
			asid, (unsigned long long)first,
			(unsigned long long)last, (unsigned long long)e->iova,
			(unsigned long long)e->last,
			(unsigned long long)e->hva);
		return -EEXIST;
	}
	n = vdm_pend_find(&t->pending[asid], first, last);
	if (n) {
		vdm_err(h,
			"asid %u [0x%llx, 0x%llx] overlaps a map queued "
			"earlier in this transaction [0x%llx, 0x%llx]",
			asid, (unsigned long long)first,
			(unsigned long long)last, (unsigned long long)n->iova,
			(unsigned long long)n->last);
		return -EEXIST;
	}
	return 0;
}

int vdm_txn_map(struct vdpamap_txn *t, uint32_t asid, uint64_t iova, void *hva,
		uint64_t size, uint32_t perm, uint64_t *ret_iova)
{
	struct vdpamap *h;
	uint64_t mask;
	struct vdm_region *rg;
	struct vdm_entry *e;
	int r;

	if (!t)
		return -EINVAL;
	h = t->h;
	mask = (h->flags & VDPAMAP_OPEN_ALLOW_UNALIGNED) ? 0 : h->page_size - 1;
	r = vdm_map_check_args(h, asid, iova, hva, size, perm, mask, &rg);
	if (r < 0)
		return r;
	r = map_place(t, asid, size, mask | vdm_pa_mask(h), &iova);
	if (r < 0)
		return r;
	r = map_check_free(t, asid, iova, iova + size - 1);
	if (r < 0)
		return r;
	r = txn_grow(t);
	if (r < 0)
		return r;
	e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	e->iova = iova;
	e->last = iova + size - 1;
	e->hva = (uintptr_t)hva;
	e->asid = asid;
	e->perm = perm;
	e->region = rg;
	e->txn_new = true;
	r = vdm_pend_insert(&t->pending[e->asid], e);
	if (r < 0) {
		free(e);
		return r;
	}
	t->ops[t->nr_ops++] = (struct vdm_op){ .kind = OP_MAP, .e = e };
	t->pin += size;
	if (t->pin > t->pin_peak)
		t->pin_peak = t->pin;
	if (ret_iova)
		*ret_iova = iova;
	return 0;
}

VDPAMAP_API int vdpamap_txn_map(struct vdpamap_txn *t, uint32_t asid,
				uint64_t iova, void *hva, uint64_t size,
				uint32_t perm, uint64_t *ret_iova)
{
	int r = txn_usable(t);

	if (r < 0)
		return r;
	return vdm_txn_map(t, asid, iova, hva, size, perm, ret_iova);
}

/* An unmap of [iova, last] takes whole entries only: -EINVAL (logged) if
 * it cuts e. */
static int unmap_cuts(struct vdpamap *h, const struct vdm_entry *e,
		      uint64_t iova, uint64_t last)
{
	if (e->iova >= iova && e->last <= last)
		return 0;
	vdm_err(h,
		"asid %u unmap [0x%llx, 0x%llx] cuts entry [0x%llx, "
		"0x%llx]: only whole entries",
		e->asid, (unsigned long long)iova, (unsigned long long)last,
		(unsigned long long)e->iova, (unsigned long long)e->last);
	return -EINVAL;
}

/* Append e to the targets *tg (room for *cap, *nt used): 0 or -ENOMEM. */
static int target_add(struct vdm_entry ***tg, size_t *nt, size_t *cap,
		      struct vdm_entry *e)
{
	if (*nt == *cap) {
		size_t c = *cap ? *cap * 2 : 4;
		/* an array of pointers:
		 * NOLINTNEXTLINE(bugprone-sizeof-expression) */
		struct vdm_entry **p = realloc(*tg, c * sizeof(**tg));

		if (!p)
			return -ENOMEM;
		*tg = p;
		*cap = c;
	}
	(*tg)[(*nt)++] = e;
	return 0;
}

/* The entries an unmap of [iova, last] in asid takes (mirror entries not
 * already pending removal, then maps queued earlier in t; a queued map an
 * earlier unmap took left the pending tree then) into a new array *ret of
 * *ret_n: 0, -EINVAL (logged) if it cuts one, or -ENOMEM. */
static int unmap_targets(struct vdpamap_txn *t, uint32_t asid, uint64_t iova,
			 uint64_t last, struct vdm_entry ***ret, size_t *ret_n)
{
	struct vdm_entry **tg = NULL, *e;
	size_t nt = 0, cap = 0;
	struct vdm_mirror_it it;
	struct vdm_pend_it pit;
	int r = 0;

	for (e = vdm_mirror_first(t->h, asid, iova, last, &it); e && !r;
	     e = vdm_mirror_next(&it)) {
		if (e->pending_rm)
			continue;
		r = unmap_cuts(t->h, e, iova, last);
		if (!r)
			r = target_add(&tg, &nt, &cap, e);
	}
	for (e = vdm_pend_first(&t->pending[asid], iova, last, &pit); e && !r;
	     e = vdm_pend_next(&pit)) {
		r = unmap_cuts(t->h, e, iova, last);
		if (!r)
			r = target_add(&tg, &nt, &cap, e);
	}
	if (r) {
		free(tg);
		return r;
	}
	*ret = tg;
	*ret_n = nt;
	return 0;
}

VDPAMAP_API int vdpamap_txn_unmap(struct vdpamap_txn *t, uint32_t asid,
				  uint64_t iova, uint64_t size)
{
	struct vdm_entry **tg = NULL;
	struct vdpamap *h;
	size_t nt = 0, i;
	uint64_t last;
	int r;

	r = txn_usable(t);
	if (r < 0)
		return r;
	h = t->h;
	r = vdm_check_range(h, asid, iova, size);
	if (r < 0)
		return r;
	last = iova + size - 1;
	r = txn_grow(t);
	if (r < 0)
		return r;
	r = unmap_targets(t, asid, iova, last, &tg, &nt);
	if (r < 0)
		return r;
	if (!nt) {
		vdm_err(h,
			"asid %u unmap [0x%llx, 0x%llx]: nothing mapped there",
			asid, (unsigned long long)iova,
			(unsigned long long)last);
		return -ENOENT;
	}
	for (i = 0; i < nt; i++) {
		if (tg[i]->txn_new)
			vdm_pend_remove(&t->pending[tg[i]->asid], tg[i]);
		tg[i]->pending_rm = true;
		t->pin -= vdm_entry_size(tg[i]);
	}
	t->ops[t->nr_ops++] = (struct vdm_op){ .kind = OP_UNMAP,
					       .targets = tg,
					       .nr_targets = nt };
	return 0;
}

/* Free what t holds but t itself. */
static void txn_free_ops(struct vdpamap_txn *t)
{
	uint32_t a;
	size_t i;

	for (a = 0; t->pending && a < t->nr_as; a++)
		vdm_pend_clear(&t->pending[a]);
	for (i = 0; i < t->nr_ops; i++)
		free(t->ops[i].targets);
	if (t->ops != t->ops_inline)
		free(t->ops);
	if (t->pending != t->pending_inline)
		free(t->pending);
	t->ops = NULL;
	t->pending = NULL;
	t->nr_ops = t->cap = 0;
}

static void txn_free(struct vdpamap_txn *t)
{
	txn_free_ops(t);
	free(t);
}

/* Undo what queueing did to the mirror (entries marked for removal) and
 * free the queued maps and the ops; t itself stays. */
static void txn_drop(struct vdpamap_txn *t)
{
	size_t i, j;

	for (i = 0; i < t->nr_ops; i++) {
		struct vdm_op *o = &t->ops[i];

		if (o->kind == OP_MAP)
			continue;
		for (j = 0; j < o->nr_targets; j++)
			o->targets[j]->pending_rm = false;
	}
	for (i = 0; i < t->nr_ops; i++)
		if (t->ops[i].kind == OP_MAP)
			free(t->ops[i].e);
	txn_free_ops(t);
}

void vdm_txn_abort(struct vdpamap_txn *t)
{
	txn_drop(t);
	free(t);
}

void vdm_txn_close(struct vdpamap *h)
{
	struct vdpamap_txn *t = h->map ? h->map->txn : NULL;

	if (!t)
		return;
	vdm_warn(h,
		 "close: aborting the open transaction (%zu operations "
		 "queued); its vdpamap_txn_commit() or _abort() still "
		 "frees it",
		 t->nr_ops);
	txn_drop(t);
	t->h = NULL;
	txn_end(h);
}

VDPAMAP_API struct vdpamap_txn *vdpamap_txn_abort(struct vdpamap_txn *t)
{
	struct vdpamap *h;

	if (!t)
		return NULL;
	if (!t->h) { /* detached by close: only t is left */
		free(t);
		return NULL;
	}
	h = t->h;
	vdm_txn_abort(t);
	txn_end(h);
	return NULL;
}

/* The transaction's operations as IOTLB messages, in order (a map leaves
 * the pending tree before it joins the mirror); *ret_n their count.  In
 * buf (TXN_MSGS_INLINE of them) when they fit, else allocated. */
static struct vdm_msg *commit_msgs(struct vdpamap_txn *t, struct vdm_msg *buf,
				   size_t *ret_n)
{
	struct vdm_msg *msgs = buf;
	size_t n = 0, i, j;

	for (i = 0; i < t->nr_ops; i++)
		n += t->ops[i].kind == OP_MAP ? 1 : t->ops[i].nr_targets;
	if (n > TXN_MSGS_INLINE)
		msgs = calloc(n, sizeof(*msgs));
	if (!msgs)
		return NULL;
	n = 0;
	for (i = 0; i < t->nr_ops; i++) {
		struct vdm_op *o = &t->ops[i];

		if (o->kind == OP_MAP) {
			if (!o->e->pending_rm)
				vdm_pend_remove(&t->pending[o->e->asid], o->e);
			msgs[n++] =
				(struct vdm_msg){ VHOST_IOTLB_UPDATE, o->e };
			continue;
		}
		for (j = 0; j < o->nr_targets; j++)
			msgs[n++] = (struct vdm_msg){ VHOST_IOTLB_INVALIDATE,
						      o->targets[j] };
	}
	for (i = 0; i < n; i++)
		msgs[i].e->pending_rm = false;
	*ret_n = n;
	return msgs;
}

/* After the commit, free what is neither mirrored nor lost: unmap targets
 * first (an entry created by this transaction is freed by its map op, so
 * the targets must be looked at before that). */
static void commit_release(struct vdpamap_txn *t)
{
	size_t i, j;

	for (i = 0; i < t->nr_ops; i++) {
		struct vdm_op *o = &t->ops[i];

		for (j = 0; o->kind == OP_UNMAP && j < o->nr_targets; j++) {
			struct vdm_entry *e = o->targets[j];

			if (!e->txn_new && !e->in_mirror && !e->lost)
				free(e);
		}
	}
	for (i = 0; i < t->nr_ops; i++) {
		struct vdm_op *o = &t->ops[i];

		if (o->kind != OP_MAP)
			continue;
		if (!o->e->in_mirror && !o->e->lost)
			free(o->e);
		else
			o->e->txn_new = false;
	}
}

int vdm_txn_commit(struct vdpamap_txn *t)
{
	struct vdm_msg msgs_inline[TXN_MSGS_INLINE], *msgs;
	struct vdpamap *h = t->h;
	size_t n = 0, done;
	int r, err = 0;

	r = vdm_memlock_check(h, t->pin_peak);
	if (r < 0)
		goto err_abort;
	msgs = commit_msgs(t, msgs_inline, &n);
	if (!msgs) {
		r = -ENOMEM;
		goto err_abort;
	}
	r = vdm_mem_check_msgs(h, msgs, n);
	if (r < 0)
		goto err_msgs;
	r = vdm_entries_check(h, msgs, n);
	if (r < 0)
		goto err_msgs;

	vdm_view_plan(h, msgs, n);
	done = vdm_iotlb_run(h, msgs, n, vdm_mirror_apply, &err);
	/* the kernel flattens every refusal to EFAULT: the IOTLB entry cap
	 * is the cause when the library's own checks rule out the others */
	if (err == -EFAULT && done < n &&
	    vdm_entries_efault_is_cap(h, &msgs[done]))
		err = -ENOSPC;
	if (err && h->gone) {
		/* Nothing can be undone on a device that is gone, nor needs
		 * to be: the mirror (and the readers' view) keeps what it
		 * acknowledged before it went, no more. */
		r = -ENODEV;
	} else if (err) {
		int rb = vdm_rollback(h, msgs, done);

		if (rb) {
			vdm_poison(h,
				   "rollback after a failed commit failed "
				   "(%d); %s",
				   rb,
				   h->map->lost ?
					   "entries lost: vdpamap_reset() "
					   "restores them" :
					   "extra entries stay mapped");
			r = -ENOTRECOVERABLE;
		} else {
			r = err == -EFAULT ? -EIO : err;
		}
	}
	commit_release(t);
	if (msgs != msgs_inline)
		free(msgs);
	txn_free(t);
	return r;
err_msgs:
	if (msgs != msgs_inline)
		free(msgs);
err_abort:
	vdm_txn_abort(t);
	return r;
}

VDPAMAP_API int vdpamap_txn_commit(struct vdpamap_txn *t)
{
	struct vdpamap *h;
	int r;

	r = txn_usable(t);
	if (r == -EBADF) /* detached by close: nothing to send it to */
		free(t);
	if (r < 0)
		return r;
	h = t->h;
	r = vdm_txn_commit(t);
	txn_end(h);
	return r;
}

/* ---- single operations */
VDPAMAP_API int vdpamap_map(struct vdpamap *h, uint32_t asid, uint64_t iova,
			    void *hva, uint64_t size, uint32_t perm)
{
	struct vdpamap_txn *t;
	int r;

	if (iova == VDPAMAP_IOVA_ANY)
		return -EINVAL;
	r = vdpamap_txn_begin(h, &t);
	if (r < 0)
		return r;
	r = vdpamap_txn_map(t, asid, iova, hva, size, perm, NULL);
	if (r < 0) {
		vdpamap_txn_abort(t);
		return r;
	}
	return vdpamap_txn_commit(t);
}

VDPAMAP_API int vdpamap_map_alloc(struct vdpamap *h, uint32_t asid, void *hva,
				  uint64_t size, uint32_t perm, uint64_t align,
				  uint64_t *ret_iova)
{
	struct vdpamap_txn *t;
	uint64_t iova = 0;
	int r;

	if (!ret_iova || (align & (align - 1)))
		return -EINVAL;
	r = vdpamap_txn_begin(h, &t);
	if (r < 0)
		return r;
	if (align > h->page_size) {
		uint64_t lo = h->info.iova_first, s;
		struct vdm_as *as = asid < h->info.nr_as ? &h->map->as[asid] :
							   NULL;

		if (as && size &&
		    vdm_mirror_find_hole(h, asid, lo, h->info.iova_last, size,
					 align, &s) == 0)
			iova = s;
		else if (as && size) {
			vdpamap_txn_abort(t);
			vdm_err(h, "asid %u: no hole of 0x%llx aligned 0x%llx",
				asid, (unsigned long long)size,
				(unsigned long long)align);
			return -ENOSPC;
		}
		r = vdpamap_txn_map(t, asid, as ? iova : 0, hva, size, perm,
				    &iova);
	} else {
		r = vdpamap_txn_map(t, asid, VDPAMAP_IOVA_ANY, hva, size, perm,
				    &iova);
	}
	if (r < 0) {
		vdpamap_txn_abort(t);
		return r;
	}
	r = vdpamap_txn_commit(t);
	if (r == 0)
		*ret_iova = iova;
	return r;
}

VDPAMAP_API int vdpamap_unmap(struct vdpamap *h, uint32_t asid, uint64_t iova,
			      uint64_t size)
{
	struct vdpamap_txn *t;
	int r;

	r = vdpamap_txn_begin(h, &t);
	if (r < 0)
		return r;
	r = vdpamap_txn_unmap(t, asid, iova, size);
	if (r < 0) {
		vdpamap_txn_abort(t);
		return r;
	}
	return vdpamap_txn_commit(t);
}
