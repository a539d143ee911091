// SPDX-License-Identifier: BSD-3-Clause
/*
 * demo_handoff: the demo's step 9, the exec handoff (demo.h).  The old
 * image prepares the handoff, saves the demo's own state (the steps so
 * far, the simulators, the ring eventfds) in a memfd and execs this
 * program; the new image takes the state back, adopts the device and
 * loops a frame.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "demo.h"

#define WIRE_MAGIC 0x3146574f4d4544ULL /* "DEMOWF1" */

struct wire_step {
	int32_t n, state, err, nkv, has_path, pad;
	uint64_t ns;
	char name[48], path[24], detail[400];
	struct {
		char k[32];
		uint64_t v;
	} kv[DEMO_MAX_KV];
};

struct wire {
	uint64_t magic;
	uint64_t len; /* sizeof(struct wire) */
	int32_t json, pretty, verbose, spawned;
	int32_t nsims, no_persist_sim, failed, last_n;
	int32_t nsteps, kick[2], call[2];
	uint32_t seq, nr_data_groups, data_groups[2];
	uint64_t size, iova, t_start;
	pid_t simpid[2];
	char dev[256], dev0[256], dev1[256], sim[2][256];
	struct wire_step steps[DEMO_MAX_STEPS];
};

static void wire_fill(const struct demo *d, struct wire *w)
{
	int i, k;

	memset(w, 0, sizeof(*w));
	w->magic = WIRE_MAGIC;
	w->len = sizeof(*w);
	w->json = d->c->json;
	w->pretty = d->c->pretty;
	w->verbose = d->c->verbose;
	w->spawned = d->spawned;
	w->nsims = d->nsims;
	w->no_persist_sim = d->no_persist_sim;
	w->failed = d->failed;
	w->last_n = d->last_n;
	w->nsteps = d->nsteps;
	for (i = 0; i < 2; i++) {
		w->kick[i] = d->v.kick[i];
		w->call[i] = d->v.call[i];
		w->simpid[i] = d->simpid[i];
		snprintf(w->sim[i], sizeof(w->sim[i]), "%s", d->sim[i]);
	}
	w->seq = d->seq;
	w->nr_data_groups = d->nr_data_groups;
	memcpy(w->data_groups, d->data_groups, sizeof(w->data_groups));
	w->size = d->size;
	w->iova = d->iova;
	w->t_start = d->t_start;
	snprintf(w->dev, sizeof(w->dev), "%s", d->dev);
	snprintf(w->dev0, sizeof(w->dev0), "%s", d->dev0);
	snprintf(w->dev1, sizeof(w->dev1), "%s", d->dev1);
	for (i = 0; i < d->nsteps; i++) {
		const struct step *s = &d->steps[i];
		struct wire_step *ws = &w->steps[i];

		ws->n = s->n;
		ws->state = s->state;
		ws->err = s->err;
		ws->ns = s->ns;
		ws->has_path = !!s->path;
		snprintf(ws->name, sizeof(ws->name), "%s", s->name);
		snprintf(ws->path, sizeof(ws->path), "%s",
			 s->path ? s->path : "");
		snprintf(ws->detail, sizeof(ws->detail), "%s", s->detail);
		ws->nkv = s->nkv;
		for (k = 0; k < s->nkv; k++) {
			snprintf(ws->kv[k].k, sizeof(ws->kv[k].k), "%s",
				 s->kv[k].k);
			ws->kv[k].v = s->kv[k].v;
		}
	}
}

/* The exec'd image: take the demo back from w (which must outlive d: the
 * step names point into it). */
static int wire_take(struct demo *d, const struct wire *w)
{
	int i, k;

	if (w->magic != WIRE_MAGIC || w->len != sizeof(*w) || w->nsteps < 0 ||
	    w->nsteps >= DEMO_MAX_STEPS || w->nsims < 0 || w->nsims > 2 ||
	    w->nr_data_groups > 2)
		return -EBADMSG;
	d->c->json = w->json;
	d->c->pretty = w->pretty;
	d->c->verbose = w->verbose;
	d->spawned = w->spawned;
	d->nsims = w->nsims;
	d->no_persist_sim = w->no_persist_sim;
	d->failed = w->failed;
	d->last_n = w->last_n;
	d->nsteps = w->nsteps;
	for (i = 0; i < 2; i++) {
		d->simpid[i] = w->simpid[i];
		snprintf(d->sim[i], sizeof(d->sim[i]), "%s", w->sim[i]);
	}
	d->seq = w->seq;
	d->nr_data_groups = w->nr_data_groups;
	memcpy(d->data_groups, w->data_groups, sizeof(d->data_groups));
	d->size = w->size;
	d->iova = w->iova;
	d->t_start = w->t_start;
	snprintf(d->devbuf, sizeof(d->devbuf), "%s", w->dev);
	d->dev = d->devbuf;
	snprintf(d->dev0, sizeof(d->dev0), "%s", w->dev0);
	snprintf(d->dev1, sizeof(d->dev1), "%s", w->dev1);
	for (i = 0; i < w->nsteps; i++) {
		const struct wire_step *ws = &w->steps[i];
		struct step *s = &d->steps[i];

		memset(s, 0, sizeof(*s));
		s->n = ws->n;
		s->state = ws->state;
		s->err = ws->err;
		s->ns = ws->ns;
		s->name = ws->name;
		s->path = ws->has_path ? ws->path : NULL;
		snprintf(s->detail, sizeof(s->detail), "%s", ws->detail);
		s->nkv = ws->nkv < 0 || ws->nkv > DEMO_MAX_KV ? 0 : ws->nkv;
		for (k = 0; k < s->nkv; k++) {
			s->kv[k].k = ws->kv[k].k;
			s->kv[k].v = ws->kv[k].v;
		}
	}
	return 0;
}

static const char *strategy_path(uint32_t s)
{
	return s == VDPAMAP_HANDOFF_NEW_OWNER ? "NEW_OWNER" :
	       s == VDPAMAP_HANDOFF_KEEPER    ? "KEEPER" :
	       s == VDPAMAP_HANDOFF_REBUILD   ? "REBUILD" :
						"?";
}

/* The old image: prepare, save the demo, exec.  Returns only if the exec
 * (or what precedes it) failed: the step fails and the handoff is
 * cancelled, so that step 10 can still close the device. */
int step_handoff(struct demo *d)
{
	VDPAMAP_OPTS(vdpamap_handoff_opts, ho, .strategy = d->handoff);
	struct wire *w;
	struct step *s;
	char num[16], *argv[5];
	uint64_t t0;
	int wfd, sfd = -1, r;

	if (d->handoff == DEMO_NO_HANDOFF) {
		step_skip(d, 9, "exec handoff", "--handoff none");
		return 0;
	}
	if (getenv("VDPAMAP_MEMCHECK")) {
		/* meson test --setup valgrind: /proc/self/exe is valgrind's
		 * launcher, and it refuses the keeper's clone(CLONE_VM) */
		step_skip(d, 9, "exec handoff",
			  "not under memcheck "
			  "(VDPAMAP_MEMCHECK): valgrind can neither re-exec "
			  "this program nor run the mm keeper");
		return 0;
	}
	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	wire_fill(d, w);
	s = step_new(d, 9, "exec handoff");
	t0 = now_ns();
	wfd = memfd_create("vdpamap-demo-steps", MFD_CLOEXEC);
	if (wfd < 0 || pwrite(wfd, w, sizeof(*w), 0) != (ssize_t)sizeof(*w)) {
		r = -errno;
		free(w);
		if (wfd >= 0)
			close(wfd);
		s->ns = now_ns() - t0;
		step_detail(s, "saving the demo's state");
		return step_end(d, s, r);
	}
	free(w);
	ho.extra_fds = &wfd;
	ho.nr_extra_fds = 1;
	r = vdpamap_handoff_prepare(d->h, &ho, &sfd);
	if (r < 0) {
		close(wfd);
		s->ns = now_ns() - t0;
		step_detail(s, "vdpamap_handoff_prepare (%s)",
			    d->handoff == VDPAMAP_HANDOFF_AUTO ?
				    "auto" :
				    strategy_path(d->handoff));
		return step_end(d, s, r);
	}
	snprintf(num, sizeof(num), "%d", sfd);
	setenv(VDPAMAP_HANDOFF_ENV, num, 1);
	snprintf(num, sizeof(num), "%d", wfd);
	argv[0] = "vdpamap";
	argv[1] = "demo";
	argv[2] = "--handoff-successor";
	argv[3] = num;
	argv[4] = NULL;
	fflush(NULL);
	execv("/proc/self/exe", argv);
	r = -errno;
	unsetenv(VDPAMAP_HANDOFF_ENV);
	vdpamap_handoff_cancel(d->h);
	close(wfd);
	s->ns = now_ns() - t0;
	step_detail(s, "execv /proc/self/exe (handoff cancelled)");
	return step_end(d, s, r);
}

/* The exec'd image: the demo's state from the memfd wfd (closed), or NULL
 * if there is none.  Free the result after d: the step names point into
 * it. */
struct wire *demo_take(struct demo *d, int wfd)
{
	struct wire *w = malloc(sizeof(*w));

	if (!w || pread(wfd, w, sizeof(*w), 0) != (ssize_t)sizeof(*w) ||
	    wire_take(d, w) < 0) {
		fprintf(stderr,
			"vdpamap demo: --handoff-successor %d: "
			"no demo state there\n",
			wfd);
		free(w);
		return NULL;
	}
	close(wfd);
	return w;
}

/* The new image, right after the exec: adopt, attach to the running net
 * device, loop a frame.  The row's time is the downtime. */
int step_adopted(struct demo *d, const struct wire *w)
{
	VDPAMAP_OPTS(vdpamap_open_opts, oo, .log_fn = demo_log,
		     .log_level = demo_log_level(d), .prefault_threads = 2);
	struct step *s = step_new(d, 9, "exec handoff");
	struct vdpamap_handoff_info hi;
	struct vdpamap_region rg;
	struct vdpamap_stats st;
	uint64_t area, off, t1;
	uint32_t id;
	int r;

	r = vdpamap_handoff_adopt(-1, &oo, &d->h);
	if (r < 0) {
		step_detail(s, "vdpamap_handoff_adopt in the new image");
		return step_end(d, s, r);
	}
	if ((r = vdpamap_handoff_get_info(d->h, &hi)) < 0 ||
	    (r = vdpamap_region_ids(d->h, &id, 1)) < 0 ||
	    (r = vdpamap_region_get(d->h, id, &rg)) < 0) {
		step_detail(s, "handoff info / region");
		return step_end(d, s, r);
	}
	d->mem = rg.hva;
	d->memfd = rg.fd;
	area = d->size < DEMO_AREA ? d->size : DEMO_AREA;
	off = d->size - area;
	r = vnet_attach(&d->v, d->h, d->mem + off, d->iova + off, area, w->kick,
			w->call);
	if (r < 0) {
		s->ns = now_ns() - hi.suspend_ns;
		step_detail(s, "vnet_attach");
		return step_end(d, s, r);
	}
	r = vnet_loop(&d->v, ++d->seq, 590, DEMO_TIMEOUT_MS);
	t1 = now_ns();
	s->ns = t1 - hi.suspend_ns;
	s->path = strategy_path(hi.strategy);
	if (r < 0) {
		step_detail(s, "the first frame after the handoff %s",
			    r == -ETIMEDOUT ? "never came back on RX" :
					      "came back corrupted");
		return step_end(d, s, r);
	}
	vdpamap_get_stats(d->h, &st);
	step_detail(s,
		    "execv of this program, strategy %s: downtime %.3f ms "
		    "from SUSPEND in the old image (prepare %.3f ms) to the "
		    "first good loopback in the new one (adopt %.3f ms); %" PRIu64
		    " IOTLB write%s (%" PRIu64 " UPDATE, %" PRIu64 " REMAP)%s",
		    s->path, ms(s->ns), ms(hi.prepare_ns), ms(hi.adopt_ns),
		    st.iotlb_writes, pl(st.iotlb_writes), st.iotlb_updates,
		    st.iotlb_remaps,
		    hi.keeper_alive ?
			    "; an mm keeper holds the old address space" :
			    "");
	step_kv(s, "downtime_us", (s->ns + 500) / 1000);
	step_kv(s, "prepare_us", (hi.prepare_ns + 500) / 1000);
	step_kv(s, "adopt_us", (hi.adopt_ns + 500) / 1000);
	step_kv(s, "iotlb_writes", st.iotlb_writes);
	step_kv(s, "iotlb_remaps", st.iotlb_remaps);
	step_kv(s, "frames", 1);
	return step_end(d, s, 0);
}
