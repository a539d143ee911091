// SPDX-License-Identifier: BSD-3-Clause
/*
 * bench_trees: the project's interval tree against GLib's GTree (used as
 * QEMU's iova-tree uses it) and the Linux kernel's interval tree (as
 * vhost_iotlb uses it, plus a second tree keyed by hva), on identical
 * workloads (tb_work.h), in one invocation, the trees interleaved (the run
 * order alternates per repetition).  Every answer of every tree is checked
 * against the workload's own before anything is timed.  Two tables:
 *  (a) bare trees, thread CPU time;
 *  (b) the project's tree as the library uses it: each insert or remove
 *      its own commit, replaced nodes freed through call_rcu, process CPU
 *      time (the RCU thread's work counts) with an rcu_barrier() at the end
 *      of each timed batch; its peers are bare, the same runs as in (a).
 * ns per op, medians of the runs with their spread (max/min), ratio = peer
 * / project (above 1: the project is faster), heap bytes per map.
 * scripts/bench-tree builds the kernel's tree and runs this; see
 * docs/tree-bench.md.
 *
 *   bench_trees [--quick] [--runs N] [--sizes N,N,...] [--ms MS]
 *               [--kitree PLUGIN.so] [--columns bare,lib,gtree,kitree] [-v]
 * --quick: 10^3 and 10^4 maps, 3 runs, 5 ms per query op (a smoke test);
 * --columns: only these (default: all; a profile of one wants one);
 * --recycle: table (b) with nodes recycled after the grace period instead
 * of freed (a probe of that design: tb_project.c);
 * -v: every run's figures on stderr, in the tables' op order.
 */
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tb.h"
#include "tb_work.h"

enum op {
	OP_INS,
	OP_INS_B,
	OP_HIT,
	OP_MISS,
	OP_REM,
	OP_REM_B,
	OP_REV,
	OP_MID,
	OP_END,
	OP_BYTES,
	NOPS
};

static const char *const op_name[NOPS] = {
	"insert",
	"insert, hva shuffled",
	"find hit",
	"find miss",
	"remove",
	"remove, hva shuffled",
	"reverse hva->iova",
	"first-fit hole, middle",
	"first-fit hole, end",
	"bytes per map",
};

/* one column: a tree in a mode */
struct col {
	const struct tb_ops *ops;
	enum tb_mode mode;
	const char *why; /* skipped: why */
};

enum { C_PBARE, C_PLIB, C_GTREE, C_KITREE, NCOLS };

#define MAX_RUNS  31
#define MAX_SIZES 8

struct opts {
	int runs, quick, verbose;
	unsigned int cols; /* bit per column asked for (--columns) */
	double target_ns;  /* per query op and run */
	size_t min_ops;	   /* inserts and removes per run, at least */
	size_t sizes[MAX_SIZES];
	int nsizes;
};

/* [size][col][op][run], from one size's [col][run][op] */
static double res[MAX_SIZES][NCOLS][NOPS][MAX_RUNS];
static double raw[NCOLS][MAX_RUNS][NOPS];
static volatile uint64_t sink;

static int fail(const char *tree, size_t n, const char *what)
{
	fprintf(stderr, "bench_trees: %s, %zu maps: %s\n", tree, n, what);
	return -1;
}

static int same(const uint64_t *got, const uint64_t *want, size_t nq,
		const char *tree, size_t n, const char *what)
{
	size_t i;

	for (i = 0; i < nq; i++)
		if (got[i] != want[i]) {
			fprintf(stderr,
				"bench_trees: %s, %zu maps: %s #%zu: 0x%llx, "
				"expected 0x%llx\n",
				tree, n, what, i, (unsigned long long)got[i],
				(unsigned long long)want[i]);
			return -1;
		}
	return 0;
}

/* the queries a tree that scans can answer in a moment */
static size_t nq_scan(const struct tb_work *w)
{
	size_t k = 20000000 / w->n;

	return k < 16 ? 16 : k > w->nq ? w->nq : k;
}

static int check_built(const struct col *c, struct tb_tree *t,
		       const struct tb_work *w, int l, uint64_t *out)
{
	const char *nm = c->ops->name;
	const uint64_t *rev = l ? w->rev_b : w->rev;
	struct tb_map bad = (l ? w->mb : w->ma)[w->n / 2];
	uint32_t zero = 0;
	size_t i, k = nq_scan(w);

	if (c->ops->count(t) != w->n)
		return fail(nm, w->n, "count after the inserts");
	if (c->ops->check && c->ops->check(t))
		return fail(nm, w->n, "its own invariant check");
	/* its last page and one more: overlaps map n/2, ends in its gap */
	bad.iova += bad.size - TB_PAGE;
	bad.size = 2 * TB_PAGE;
	if (c->ops->insert(t, &bad, &zero, 1) != -EEXIST ||
	    c->ops->count(t) != w->n)
		return fail(nm, w->n, "an overlapping insert was not refused");
	c->ops->find(t, w->hit, w->nq, out);
	if (same(out, l ? w->hit_b_ans : w->hit_ans, w->nq, nm, w->n,
		 "find hit"))
		return -1;
	c->ops->find(t, w->miss, w->nq, out);
	for (i = 0; i < w->nq; i++)
		if (out[i] != TB_MISS)
			return fail(nm, w->n, "find miss found a map");
	c->ops->reverse(t, rev, k, out);
	if (same(out, l ? w->rev_b_ans : w->rev_ans, k, nm, w->n, "reverse"))
		return -1;
	c->ops->hole(t, w->mid, 1, out);
	c->ops->hole(t, w->end, 1, out + 1);
	if (same(out, &w->mid_ans, 1, nm, w->n, "hole, middle") ||
	    same(out + 1, &w->end_ans, 1, nm, w->n, "hole, end"))
		return -1;
	return 0;
}

/* every answer of one column against the workload's, both layouts */
static int check_col(const struct col *c, const struct tb_work *w)
{
	const struct tb_map *m[2] = { w->ma, w->mb };
	uint64_t *out = malloc(w->nq * sizeof(*out));
	int l, r = 0;

	if (!out)
		return fail(c->ops->name, w->n, "out of memory");
	for (l = 0; l < 2 && !r; l++) {
		struct tb_tree *t = c->ops->create(c->mode);

		if (!t) {
			r = fail(c->ops->name, w->n, "create");
			break;
		}
		r = c->ops->insert(t, m[l], w->ins, w->n);
		if (r)
			r = fail(c->ops->name, w->n, "insert");
		if (!r && c->ops->settle)
			c->ops->settle(t);
		if (!r)
			r = check_built(c, t, w, l, out);
		if (!r && c->ops->remove(t, m[l], w->rem, w->n))
			r = fail(c->ops->name, w->n, "remove");
		if (!r && c->ops->count(t))
			r = fail(c->ops->name, w->n, "count after the removes");
		c->ops->destroy(t);
	}
	free(out);
	return r;
}

typedef uint64_t (*query_fn)(struct tb_tree *t, const uint64_t *q, size_t n,
			     uint64_t *out);

/* ns per query, over at least target_ns of clk */
static double time_query(clockid_t clk, query_fn fn, struct tb_tree *t,
			 const uint64_t *q, size_t nq, double target_ns)
{
	double t0 = tb_now_ns(clk), el;
	size_t ops = 0, i = 0, chunk = 1;
	uint64_t s = 0;

	do {
		if (i + chunk > nq)
			i = 0;
		s += fn(t, q + i, chunk, NULL);
		i += chunk;
		ops += chunk;
		if (chunk < 1024 && chunk * 2 <= nq)
			chunk *= 2;
		el = tb_now_ns(clk) - t0;
	} while (el < target_ns);
	sink += s;
	return el / (double)ops;
}

static double time_hole(clockid_t clk, const struct col *c, struct tb_tree *t,
			uint64_t size, double target_ns)
{
	double t0 = tb_now_ns(clk), el;
	size_t ops = 0, chunk = 1;
	uint64_t s = 0;

	do {
		s += c->ops->hole(t, size, chunk, NULL);
		ops += chunk;
		if (chunk < 1024)
			chunk *= 2;
		el = tb_now_ns(clk) - t0;
	} while (el < target_ns);
	sink += s;
	return el / (double)ops;
}

/* one batch of inserts or removes, the deferred frees included */
static double time_batch(clockid_t clk, const struct col *c, struct tb_tree *t,
			 const struct tb_map *m, const uint32_t *idx, size_t n,
			 int ins)
{
	double t0 = tb_now_ns(clk);
	int r = ins ? c->ops->insert(t, m, idx, n) :
		      c->ops->remove(t, m, idx, n);

	if (c->ops->settle)
		c->ops->settle(t);
	if (r) {
		fprintf(stderr, "bench_trees: %s: %s failed in a timed run\n",
			c->ops->name, ins ? "insert" : "remove");
		exit(1);
	}
	return tb_now_ns(clk) - t0;
}

/* one run of every op on one column; d[op] */
static void run_col(const struct col *c, const struct tb_work *w,
		    const struct opts *o, double *d)
{
	clockid_t clk = c->mode == TB_LIB ? CLOCK_PROCESS_CPUTIME_ID :
					    CLOCK_THREAD_CPUTIME_ID;
	size_t cycles = o->min_ops / w->n, cy, n = w->n;
	double ins[2] = { 0, 0 }, rem[2] = { 0, 0 };
	int l;

	if (!cycles)
		cycles = 1;
	tb_heap_prefault(n * 512 + (64 << 20));
	for (cy = 0; cy < cycles; cy++) {
		for (l = 0; l < 2; l++) {
			const struct tb_map *m = l ? w->mb : w->ma;
			size_t h0 = tb_heap_bytes();
			struct tb_tree *t = c->ops->create(c->mode);

			if (!t) {
				fprintf(stderr, "bench_trees: %s: create\n",
					c->ops->name);
				exit(1);
			}
			ins[l] += time_batch(clk, c, t, m, w->ins, n, 1);
			if (!cy && !l) {
				d[OP_BYTES] = (double)(tb_heap_bytes() - h0) /
					      (double)n;
				d[OP_HIT] = time_query(clk, c->ops->find, t,
						       w->hit, w->nq,
						       o->target_ns);
				d[OP_MISS] = time_query(clk, c->ops->find, t,
							w->miss, w->nq,
							o->target_ns);
				d[OP_REV] = time_query(clk, c->ops->reverse, t,
						       w->rev, w->nq,
						       o->target_ns);
				d[OP_MID] = time_hole(clk, c, t, w->mid,
						      o->target_ns);
				d[OP_END] = time_hole(clk, c, t, w->end,
						      o->target_ns);
			}
			rem[l] += time_batch(clk, c, t, m, w->rem, n, 0);
			c->ops->destroy(t);
		}
	}
	d[OP_INS] = ins[0] / (double)(cycles * n);
	d[OP_INS_B] = ins[1] / (double)(cycles * n);
	d[OP_REM] = rem[0] / (double)(cycles * n);
	d[OP_REM_B] = rem[1] / (double)(cycles * n);
}

/* -v: each run's figures as they come, on stderr */
static void pr_run(const struct col *c, size_t n, int r, const double *d)
{
	int op;

	fprintf(stderr, "%s%s %zu run %d:", c->ops->name,
		c->mode == TB_LIB ? " (lib)" : "", n, r);
	for (op = 0; op < NOPS; op++)
		fprintf(stderr, " %.4g", d[op]);
	fprintf(stderr, "\n");
}

static void pr_size(size_t n)
{
	int e = 0;
	size_t k = n;

	while (k >= 10 && k % 10 == 0) {
		k /= 10;
		e++;
	}
	if (k == 1)
		printf(" 10^%d", e);
	else
		printf(" %zu", n);
}

static void print_table(const char *title, int pcol, const struct col *cols,
			const struct opts *o)
{
	static const int peers[] = { C_GTREE, C_KITREE };
	int op, s, p;

	printf("\n%s\n", title);
	printf("%-24s %6s | %17s |", "op", "maps", "project ns (sprd)");
	for (p = 0; p < 2; p++)
		printf(" %17s %8s |",
		       cols[peers[p]].ops ? cols[peers[p]].ops->name :
					    "(skipped)",
		       "ratio");
	printf("\n");
	for (op = 0; op < NOPS; op++)
		for (s = 0; s < o->nsizes; s++) {
			double sp,
				pm = tb_median(res[s][pcol][op], o->runs, &sp);

			printf("%-24s", s ? "" : op_name[op]);
			pr_size(o->sizes[s]);
			printf(" | %10.1f (%4.2f) |", pm, sp);
			for (p = 0; p < 2; p++) {
				double qm, qs;

				if (!cols[peers[p]].ops) {
					printf(" %17s %8s |", "-", "-");
					continue;
				}
				qm = tb_median(res[s][peers[p]][op], o->runs,
					       &qs);
				printf(" %10.1f (%4.2f) %8.3g |", qm, qs,
				       pm > 0 ? qm / pm : 0);
			}
			printf("\n");
		}
}

/* "bare,lib,gtree,kitree" or part of it */
static int parse_cols(const char *arg, unsigned int *mask)
{
	static const char *const names[NCOLS] = { "bare", "lib", "gtree",
						  "kitree" };
	char buf[64], *tok, *save = NULL;
	int c;

	snprintf(buf, sizeof(buf), "%s", arg);
	*mask = 0;
	for (tok = strtok_r(buf, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		for (c = 0; c < NCOLS && strcmp(tok, names[c]); c++)
			;
		if (c == NCOLS)
			return -1;
		*mask |= 1U << c;
	}
	return *mask ? 0 : -1;
}

static int parse(int argc, char **argv, struct opts *o, const char **kitree)
{
	int i;

	int runs = 0;

	*o = (struct opts){ .runs = 7,
			    .target_ns = 50e6,
			    .min_ops = 100000,
			    .cols = (1U << NCOLS) - 1 };
	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--quick")) {
			o->quick = 1;
		} else if (!strcmp(argv[i], "-v")) {
			o->verbose = 1;
		} else if (!strcmp(argv[i], "--recycle")) {
			tb_project_recycle = 1;
		} else if (!strcmp(argv[i], "--runs") && i + 1 < argc) {
			runs = atoi(argv[++i]);
		} else if (!strcmp(argv[i], "--ms") && i + 1 < argc) {
			o->target_ns = atof(argv[++i]) * 1e6;
		} else if (!strcmp(argv[i], "--columns") && i + 1 < argc) {
			if (parse_cols(argv[++i], &o->cols))
				return -1;
		} else if (!strcmp(argv[i], "--kitree") && i + 1 < argc) {
			*kitree = argv[++i];
		} else if (!strcmp(argv[i], "--sizes") && i + 1 < argc) {
			char *p = argv[++i];

			o->nsizes = 0;
			while (*p && o->nsizes < MAX_SIZES) {
				o->sizes[o->nsizes++] = strtoull(p, &p, 10);
				p += *p == ',';
			}
		} else {
			return -1;
		}
	}
	if (o->quick) {
		o->runs = 3;
		o->target_ns = 5e6;
		o->min_ops = 10000;
		if (!o->nsizes) {
			o->sizes[0] = 1000;
			o->sizes[1] = 10000;
			o->nsizes = 2;
		}
	}
	if (runs)
		o->runs = runs;
	if (!o->nsizes) {
		o->sizes[0] = 1000;
		o->sizes[1] = 10000;
		o->sizes[2] = 100000;
		o->sizes[3] = 1000000;
		o->nsizes = 4;
	}
	if (o->runs < 1 || o->runs > MAX_RUNS)
		return -1;
	for (i = 0; i < o->nsizes; i++)
		if (o->sizes[i] < 4 || o->sizes[i] > UINT32_MAX)
			return -1;
	return 0;
}

static void load_kitree(struct col *c, const char *path)
{
	void *h;

	if (!path) {
		c->why = "no plugin given (--kitree): scripts/bench-tree "
			 "builds it from a linux-source tarball";
		return;
	}
	h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		c->why = dlerror();
		return;
	}
	c->ops = dlsym(h, TB_KITREE_SYM);
	if (!c->ops)
		c->why = "the plugin lacks " TB_KITREE_SYM;
}

int main(int argc, char **argv)
{
	struct col cols[NCOLS] = {
		[C_PBARE] = { &tb_project_ops, TB_BARE, NULL },
		[C_PLIB] = { &tb_project_ops, TB_LIB, NULL },
		[C_GTREE] = { tb_gtree, TB_BARE, tb_gtree_why },
		[C_KITREE] = { NULL, TB_BARE, NULL },
	};
	const char *kitree = NULL;
	struct opts o;
	int s, r, i, c, lib;

	/* GTree's nodes from malloc, as GLib 2.76 and later always do, so
	 * that mallinfo2() sees them: GLib reads this once, in its
	 * constructor, before main(), hence the exec */
	if (!getenv("G_SLICE")) {
		setenv("G_SLICE", "always-malloc", 1);
		execv("/proc/self/exe", argv);
	}
	if (parse(argc, argv, &o, &kitree)) {
		fprintf(stderr, "usage: bench_trees [--quick] [--runs N] "
				"[--sizes N,N,...] [--ms MS] "
				"[--kitree PLUGIN.so] "
				"[--columns bare,lib,gtree,kitree] [--recycle] "
				"[-v]\n");
		return 2;
	}
	tb_heap_setup();
	load_kitree(&cols[C_KITREE], kitree);
	{
		struct tb_tree *t = tb_project_ops.create(TB_LIB);

		lib = t != NULL;
		tb_project_ops.destroy(t);
		if (!lib)
			cols[C_PLIB].why = "this tree has no commit";
	}
	for (c = 0; c < NCOLS; c++) {
		if (!(o.cols & (1U << c)))
			cols[c].why = "not asked for (--columns)";
		if (!cols[c].ops || cols[c].why)
			printf("%s: skipped: %s\n",
			       c == C_GTREE  ? "GTree" :
			       c == C_KITREE ? "kernel itree" :
			       c == C_PLIB   ? "table (b)" :
					       "table (a)",
			       cols[c].why ? cols[c].why : "?");
		else if (cols[c].ops->about && c != C_PLIB)
			printf("%s: %s\n", cols[c].ops->name,
			       cols[c].ops->about());
		if (cols[c].why)
			cols[c].ops = NULL;
	}
	for (s = 0; s < o.nsizes; s++) {
		struct tb_work *w =
			tb_work_new(o.sizes[s], 1 << 16, 0x5eed0000 + s);

		if (!w)
			return fail("workload", o.sizes[s], "out of memory"), 1;
		for (c = 0; c < NCOLS; c++)
			if (cols[c].ops && check_col(&cols[c], w))
				return 1;
		for (r = 0; r < o.runs; r++)
			for (i = 0; i < NCOLS; i++) {
				/* odd runs go backwards */
				c = r % 2 ? NCOLS - 1 - i : i;
				if (!cols[c].ops)
					continue;
				run_col(&cols[c], w, &o, raw[c][r]);
				if (o.verbose)
					pr_run(&cols[c], o.sizes[s], r,
					       raw[c][r]);
			}
		for (c = 0; c < NCOLS; c++)
			for (r = 0; r < o.runs; r++)
				for (i = 0; i < NOPS; i++)
					res[s][c][i][r] = raw[c][r][i];
		printf("%zu maps: every answer of every tree checked\n",
		       o.sizes[s]);
		fflush(stdout);
		tb_work_free(w);
	}
	printf("\nns per op, median of %d runs, (sprd) = max/min of the "
	       "runs; ratio = peer / project: above 1, the project is "
	       "faster.  Bytes per map: the heap in use (mallinfo2) after "
	       "the inserts and an rcu_barrier(), minus before, / n.\n",
	       o.runs);
	if (cols[C_PBARE].ops)
		print_table("(a) bare trees, thread CPU time", C_PBARE, cols,
			    &o);
	if (cols[C_PLIB].ops)
		print_table(tb_project_recycle ?
				    "(b) the project's tree as the library "
				    "uses it, but with --recycle: nodes go "
				    "back to the writer after the grace "
				    "period, not to free(); peers bare, the "
				    "runs of (a)" :
				    "(b) the project's tree as the library "
				    "uses it (a commit per insert or remove, "
				    "call_rcu, rcu_barrier() in each timed "
				    "batch; process CPU time); peers bare, the "
				    "runs of (a)",
			    C_PLIB, cols, &o);
	return 0;
}
