// SPDX-License-Identifier: BSD-3-Clause
/*
 * rtree: a copy-on-write B+tree of ranges (see rtree.h for the contract).
 *
 * Nodes.  A leaf holds up to RT_CAP ranges as parallel arrays (firsts
 * together, so a search reads one or two cache lines), sorted by key.  An
 * inner node holds up to RT_CAP children and, per child, a summary of its
 * subtree: lo (the first of its lowest key), hi (its highest last) and x:
 * in RT_DISJOINT the largest free run strictly between two of its ranges,
 * in RT_OVERLAP the val of its lowest key (the second half of the key, so
 * that a descent by key is exact when several ranges start at one first).
 * No parent pointers: a copied node could not keep them, so writers carry
 * the path down in arrays and readers need none.
 *
 * Why a B+tree and not a balanced binary tree: copy-on-write copies the
 * whole path of a change; with 16-way nodes that path is 4 nodes at 10^5
 * ranges instead of ~20, and a lookup touches 4 nodes instead of 20.
 *
 * Changes are made bottom-up along the recorded path.  A node of the
 * current generation is the writer's and is changed in place; any other is
 * copied first and the original goes onto the retire chain.  Going up, a
 * level whose child pointer and summary did not change ends the walk: the
 * summaries above it are still right.
 *
 * Fill.  A node split at its end (ranges inserted in ascending order) or at
 * its start leaves the full side full and starts a new one with the new
 * slot, so tables built in either order are dense; other splits halve.  A node that falls below
 * a quarter merges with a neighbour when the two fit in three quarters of
 * a node (room left, so single-page churn at a boundary does not split and
 * merge in turn); a root with one child is replaced by it.
 *
 * Arithmetic never forms last + 1 or first + size without checking it.
 */
#include "iova_tree/rtree_node.h"

#include <errno.h>
#include <string.h>

static void set_child(struct rt_inner *in, unsigned int i, struct rt_node *c,
		      struct sum s)
{
	in->child[i] = c;
	in->lo[i] = s.lo;
	in->hi[i] = s.hi;
	in->x[i] = s.x;
}

/* ---- nodes: the reserve, copy on write, retire */

/* Worst case of one operation: per level a copy and a split (insert) or a
 * copy (remove, whose merges reuse the copy), and a new root. */
static int reserve(struct rtree *t)
{
	uint32_t want[2] = { 2, 2 * t->height + 2 };
	int type;

	for (type = LEAF; type <= INNER; type++) {
		while (t->nspare[type] < want[type]) {
			struct rt_node *n =
				t->ops.alloc(t->ops.ctx, node_size(t, type));

			if (!n)
				return -ENOMEM;
			n->rnext = t->spare[type];
			t->spare[type] = n;
			t->nspare[type]++;
			t->nodes[type]++;
		}
	}
	return 0;
}

static struct rt_node *take(struct rtree *t, int type)
{
	struct rt_node *n = t->spare[type];

	/* reserve() ran first: never NULL */
	t->spare[type] = n->rnext;
	t->nspare[type]--;
	n->gen = t->gen;
	n->n = 0;
	n->leaf = type == LEAF;
	n->rnext = NULL;
	return n;
}

/* n leaves the writer's view. */
static void drop(struct rtree *t, struct rt_node *n)
{
	t->nodes[n->leaf ? LEAF : INNER]--;
	if (n->gen == t->gen) {
		t->ops.free(t->ops.ctx, n);
		return;
	}
	n->rnext = t->retired;
	t->retired = n;
}

/* The writer's own copy of n. */
static struct rt_node *cow(struct rtree *t, struct rt_node *n)
{
	int type = n->leaf ? LEAF : INNER;
	struct rt_node *c;

	if (n->gen == t->gen)
		return n;
	c = take(t, type);
	memcpy(c, n, node_size(t, type));
	c->gen = t->gen;
	c->rnext = NULL;
	drop(t, n);
	return c;
}

static void leaf_put(const struct rtree *t, struct rt_leaf *l, unsigned int i,
		     const struct rt_ent *e)
{
	l->first[i] = e->first;
	l->last[i] = e->last;
	l->val[i] = e->val;
	if (t->kind == RT_DISJOINT) {
		l->aux[i] = e->aux;
		l->ref[i] = e->ref;
	}
}

/* Move ranges [from, from + cnt) of s to position to of d (may be s). */
static void leaf_move(const struct rtree *t, struct rt_leaf *d, unsigned int to,
		      const struct rt_leaf *s, unsigned int from,
		      unsigned int cnt)
{
	memmove(&d->first[to], &s->first[from], cnt * sizeof(d->first[0]));
	memmove(&d->last[to], &s->last[from], cnt * sizeof(d->last[0]));
	memmove(&d->val[to], &s->val[from], cnt * sizeof(d->val[0]));
	if (t->kind == RT_DISJOINT) {
		memmove(&d->aux[to], &s->aux[from], cnt * sizeof(d->aux[0]));
		memmove(&d->ref[to], &s->ref[from], cnt * sizeof(d->ref[0]));
	}
}

static void inner_move(struct rt_inner *d, unsigned int to,
		       const struct rt_inner *s, unsigned int from,
		       unsigned int cnt)
{
	memmove(&d->lo[to], &s->lo[from], cnt * sizeof(d->lo[0]));
	memmove(&d->hi[to], &s->hi[from], cnt * sizeof(d->hi[0]));
	memmove(&d->x[to], &s->x[from], cnt * sizeof(d->x[0]));
	// NOLINTNEXTLINE(bugprone-sizeof-expression): an array of pointers
	memmove(&d->child[to], &s->child[from], cnt * sizeof(d->child[0]));
}

/* Make room at i of node c (private) and, when it is full, split it: the
 * returned sibling (or NULL) takes the upper part.  *where is set to the
 * node that now has the free slot and *at to its index.  A split at the
 * end or the start leaves the full side full. */
static struct rt_node *open_slot(struct rtree *t, struct rt_node *c,
				 unsigned int i, struct rt_node **where,
				 unsigned int *at)
{
	unsigned int n = c->n, keep;
	struct rt_node *s;

	if (n < RT_CAP) {
		if (c->leaf)
			leaf_move(t, L(c), i + 1, L(c), i, n - i);
		else
			inner_move(I(c), i + 1, I(c), i, n - i);
		c->n++;
		*where = c;
		*at = i;
		return NULL;
	}
	s = take(t, c->leaf ? LEAF : INNER);
	/* appending (i == n): c stays full, s starts with the new one;
	 * at the start (i <= 1, which is where a descending build's splits
	 * land one level up): s takes the full rest; else halves */
	keep = i == n || i <= 1 ? i : n / 2;
	if (c->leaf)
		leaf_move(t, L(s), 0, L(c), keep, n - keep);
	else
		inner_move(I(s), 0, I(c), keep, n - keep);
	s->n = n - keep;
	c->n = keep;
	if (i <= keep && !(i == n && keep == n)) {
		*where = c;
	} else {
		*where = s;
		i -= keep;
	}
	if ((*where)->leaf)
		leaf_move(t, L(*where), i + 1, L(*where), i, (*where)->n - i);
	else
		inner_move(I(*where), i + 1, I(*where), i, (*where)->n - i);
	(*where)->n++;
	*at = i;
	return s;
}

/* ---- the path a writer walks down */

struct path {
	int depth; /* inner levels */
	struct rt_inner *node[RT_MAX_HEIGHT];
	unsigned int idx[RT_MAX_HEIGHT];
	struct rt_leaf *leaf;
	unsigned int pos; /* first range with key >= the one searched */
	/* RT_DISJOINT: the ranges just before and after pos */
	bool has_pred, has_succ;
	uint64_t pred_last, succ_first;
};

static void descend(const struct rtree *t, uint64_t f, uint64_t v,
		    struct path *p)
{
	struct rt_node *n = t->root;

	p->depth = 0;
	p->has_pred = p->has_succ = false;
	while (!n->leaf) {
		struct rt_inner *in = I(n);
		unsigned int i = child_for(t, in, f, v);

		/* the deeper a neighbour, the nearer */
		if (i > 0) {
			p->has_pred = true;
			p->pred_last = in->hi[i - 1];
		}
		if (i + 1 < in->h.n) {
			p->has_succ = true;
			p->succ_first = in->lo[i + 1];
		}
		p->node[p->depth] = in;
		p->idx[p->depth++] = i;
		n = in->child[i];
	}
	p->leaf = L(n);
	p->pos = leaf_lower(t, p->leaf, f, v);
	if (p->pos > 0) {
		p->has_pred = true;
		p->pred_last = p->leaf->last[p->pos - 1];
	}
	if (p->pos < n->n) {
		p->has_succ = true;
		p->succ_first = p->leaf->first[p->pos];
	}
}

/* The path to the end of the tree, if (f, v) goes there: a table built
 * in IOVA order (a pre-map, a view rebuilt from the mirror's list)
 * appends, and following the last child down skips the scan of every
 * level's keys.  false: descend() must find the place. */
static bool descend_end(const struct rtree *t, uint64_t f, uint64_t v,
			struct path *p)
{
	struct rt_node *n = t->root;
	unsigned int k;

	p->depth = 0;
	p->has_pred = p->has_succ = false;
	while (!n->leaf) {
		struct rt_inner *in = I(n);

		p->node[p->depth] = in;
		p->idx[p->depth++] = in->h.n - 1;
		n = in->child[in->h.n - 1];
	}
	k = n->n - 1; /* a leaf in the tree holds a range */
	if (key_cmp(t, L(n)->first[k], L(n)->val[k], f, v) >= 0)
		return false;
	p->leaf = L(n);
	p->pos = n->n;
	p->has_pred = true;
	p->pred_last = L(n)->last[k];
	return true;
}

static void grow_up(struct rtree *t, struct path *p, struct rt_node *c,
		    struct rt_node *sib)
{
	int d;

	for (d = p->depth - 1; d >= 0; d--) {
		struct rt_inner *in = p->node[d];
		unsigned int i = p->idx[d], at;
		struct sum cs = node_sum(t, c);
		struct rt_node *pc, *where, *nsib = NULL;

		if (!sib && in->child[i] == c && sum_eq(in, i, cs))
			return; /* nothing above changes */
		pc = cow(t, &in->h);
		set_child(I(pc), i, c, cs);
		if (sib) {
			nsib = open_slot(t, pc, i + 1, &where, &at);
			set_child(I(where), at, sib, node_sum(t, sib));
		}
		c = pc;
		sib = nsib;
	}
	if (sib) {
		struct rt_node *r = take(t, INNER);

		set_child(I(r), 0, c, node_sum(t, c));
		set_child(I(r), 1, sib, node_sum(t, sib));
		r->n = 2;
		c = r;
		t->height++;
	}
	t->root = c;
}

/* ---- insert */

int rt_insert(struct rtree *t, const struct rt_ent *e)
{
	struct rt_node *c, *sib, *where;
	struct path p;
	unsigned int at;

	if (e->first > e->last)
		return -EINVAL;
	if (!t->root) {
		if (reserve(t))
			return -ENOMEM;
		c = take(t, LEAF);
		leaf_put(t, L(c), 0, e);
		c->n = 1;
		t->root = c;
		t->height = 1;
		t->count++;
		return 0;
	}
	if (!descend_end(t, e->first, e->val, &p))
		descend(t, e->first, e->val, &p);
	if (t->kind == RT_DISJOINT) {
		if ((p.has_pred && p.pred_last >= e->first) ||
		    (p.has_succ && p.succ_first <= e->last))
			return -EEXIST;
	} else if (p.pos < p.leaf->h.n &&
		   key_cmp(t, p.leaf->first[p.pos], p.leaf->val[p.pos],
			   e->first, e->val) == 0) {
		return -EEXIST;
	}
	if (reserve(t))
		return -ENOMEM;
	c = cow(t, &p.leaf->h);
	sib = open_slot(t, c, p.pos, &where, &at);
	leaf_put(t, L(where), at, e);
	t->count++;
	grow_up(t, &p, c, sib);
	return 0;
}

/* ---- remove */

/* c (private, at index i of in) fell below a quarter: take a neighbour's
 * ranges into it when both fit in three quarters of a node.  Returns the
 * neighbour's index when it merged (its slot must go), else -1. */
static int merge(struct rtree *t, struct rt_inner *in, unsigned int i,
		 struct rt_node *c)
{
	unsigned int j;
	struct rt_node *s;

	if (in->h.n < 2 || c->n >= RT_CAP / 4)
		return -1;
	j = i + 1 < in->h.n ? i + 1 : i - 1;
	s = in->child[j];
	if (c->n + s->n > RT_CAP * 3 / 4)
		return -1;
	if (j > i) { /* s's ranges after c's */
		if (c->leaf)
			leaf_move(t, L(c), c->n, L(s), 0, s->n);
		else
			inner_move(I(c), c->n, I(s), 0, s->n);
	} else { /* before */
		if (c->leaf) {
			leaf_move(t, L(c), s->n, L(c), 0, c->n);
			leaf_move(t, L(c), 0, L(s), 0, s->n);
		} else {
			inner_move(I(c), s->n, I(c), 0, c->n);
			inner_move(I(c), 0, I(s), 0, s->n);
		}
	}
	c->n += s->n;
	drop(t, s);
	return (int)j;
}

/* The level below became c, or went away (c NULL): fix the path up. */
static void shrink_up(struct rtree *t, struct path *p, struct rt_node *c)
{
	int d;

	for (d = p->depth - 1; d >= 0; d--) {
		struct rt_inner *in = p->node[d];
		unsigned int i = p->idx[d], n = in->h.n;
		struct rt_node *pc;
		int gone = -1;

		if (c)
			gone = merge(t, in, i, c);
		if (c && gone < 0 && in->child[i] == c &&
		    sum_eq(in, i, node_sum(t, c)))
			return; /* nothing above changes */
		pc = cow(t, &in->h);
		if (c) {
			set_child(I(pc), i, c, node_sum(t, c));
		} else {
			gone = (int)i;
		}
		if (gone >= 0) {
			inner_move(I(pc), (unsigned int)gone, I(pc),
				   (unsigned int)gone + 1,
				   n - (unsigned int)gone - 1);
			pc->n--;
		}
		if (pc->n == 0) {
			drop(t, pc);
			pc = NULL;
		}
		c = pc;
	}
	/* a root of one child gives way to it */
	while (c && !c->leaf && c->n == 1) {
		struct rt_node *only = I(c)->child[0];

		drop(t, c);
		c = only;
		t->height--;
	}
	t->root = c;
	if (!c)
		t->height = 0;
}

int rt_remove(struct rtree *t, uint64_t first, uint64_t val, struct rt_ent *out)
{
	struct rt_node *c;
	struct path p;

	if (!t->root)
		return -ENOENT;
	descend(t, first, val, &p);
	if (p.pos >= p.leaf->h.n ||
	    key_cmp(t, p.leaf->first[p.pos], p.leaf->val[p.pos], first, val))
		return -ENOENT;
	if (reserve(t))
		return -ENOMEM;
	if (out)
		leaf_get(t, p.leaf, p.pos, out, true);
	t->count--;
	if (p.leaf->h.n == 1) {
		drop(t, &p.leaf->h);
		shrink_up(t, &p, NULL);
		return 0;
	}
	c = cow(t, &p.leaf->h);
	leaf_move(t, L(c), p.pos, L(c), p.pos + 1, c->n - p.pos - 1);
	c->n--;
	shrink_up(t, &p, c);
	return 0;
}

int rt_update(struct rtree *t, uint64_t first, uint64_t val, uint32_t aux)
{
	struct rt_node *c;
	struct path p;

	if (t->kind != RT_DISJOINT)
		return -EINVAL;
	if (!t->root)
		return -ENOENT;
	descend(t, first, 0, &p);
	if (p.pos >= p.leaf->h.n || p.leaf->first[p.pos] != first)
		return -ENOENT;
	if (reserve(t))
		return -ENOMEM;
	c = cow(t, &p.leaf->h);
	L(c)->val[p.pos] = val;
	L(c)->aux[p.pos] = aux;
	grow_up(t, &p, c, NULL);
	return 0;
}

/* ---- commit, abort, destroy */

void rt_flush(struct rtree *t)
{
	struct rt_node *chain = t->limbo;

	t->limbo = NULL;
	t->nlimbo = 0;
	if (chain)
		t->ops.retire(t->ops.ctx, chain);
}

/* Retired nodes wait for a batch of ops.batch, but never more than an
 * eighth of the live nodes: a small table keeps to its own memory once a
 * grace period has passed (a full batch of 64 was half again a 10^3-map
 * table's size), while a large one still shares one call_rcu among many
 * commits. */
static uint32_t limbo_cap(const struct rtree *t)
{
	uint64_t cap = (t->nodes[LEAF] + t->nodes[INNER]) / 8;

	return cap < t->ops.batch ? (uint32_t)cap : t->ops.batch;
}

void rt_commit(struct rtree *t)
{
	struct rt_node *n;

	if (t->pub == t->root && !t->retired)
		return;
	/* every store into the new nodes happens before readers can
	 * reach them */
	__atomic_store_n(&t->pub, t->root, __ATOMIC_RELEASE);
	t->pub_count = t->count;
	t->pub_height = t->height;
	t->gen++;
	while ((n = t->retired)) {
		t->retired = n->rnext;
		n->rnext = t->limbo;
		t->limbo = n;
		t->nlimbo++;
	}
	if (t->nlimbo >= limbo_cap(t))
		rt_flush(t);
}

/* Free the writer's own nodes under n (a node of an older generation was
 * published, and so is everything under it). */
static void free_private(struct rtree *t, struct rt_node *n)
{
	unsigned int i;

	if (!n || n->gen != t->gen)
		return;
	if (!n->leaf)
		for (i = 0; i < n->n; i++)
			free_private(t, I(n)->child[i]);
	drop(t, n);
}

void rt_abort(struct rtree *t)
{
	struct rt_node *n;

	if (t->root == t->pub && !t->retired)
		return;
	free_private(t, t->root);
	/* still published: back into the view, not ours to free */
	for (n = t->retired; n; n = n->rnext)
		t->nodes[n->leaf ? LEAF : INNER]++;
	t->retired = NULL;
	t->root = t->pub;
	t->count = t->pub_count;
	t->height = t->pub_height;
}

/* Drop n and everything under it from the writer's view: its own nodes
 * are freed, published ones retired (drop()). */
static void drop_all(struct rtree *t, struct rt_node *n)
{
	unsigned int i;

	if (!n)
		return;
	if (!n->leaf)
		for (i = 0; i < n->n; i++)
			drop_all(t, I(n)->child[i]);
	drop(t, n);
}

void rt_clear(struct rtree *t)
{
	drop_all(t, t->root);
	t->root = NULL;
	t->count = 0;
	t->height = 0;
}

static void free_all(struct rtree *t, struct rt_node *n, bool pub)
{
	unsigned int i;

	if (!n || (!pub && n->gen != t->gen))
		return;
	if (!n->leaf)
		for (i = 0; i < n->n; i++)
			free_all(t, I(n)->child[i], pub);
	t->ops.free(t->ops.ctx, n);
}

void rt_init(struct rtree *t, enum rt_kind kind, const struct rt_ops *ops)
{
	memset(t, 0, sizeof(*t));
	t->kind = kind;
	t->ops = *ops;
	t->gen = 1;
}

void rt_destroy(struct rtree *t)
{
	struct rt_node *n;
	int type;

	/* the writer's own, then the published view, which holds every
	 * node on the retire chain too */
	free_all(t, t->root, false);
	free_all(t, t->pub, true);
	while ((n = t->limbo)) { /* no reader is left to wait for */
		t->limbo = n->rnext;
		t->ops.free(t->ops.ctx, n);
	}
	for (type = LEAF; type <= INNER; type++) {
		while ((n = t->spare[type])) {
			t->spare[type] = n->rnext;
			t->ops.free(t->ops.ctx, n);
		}
	}
	memset(t, 0, sizeof(*t));
}

uint64_t rt_bytes(const struct rtree *t)
{
	return t->nodes[LEAF] * node_size(t, LEAF) +
	       t->nodes[INNER] * node_size(t, INNER);
}
