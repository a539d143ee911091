// SPDX-License-Identifier: BSD-3-Clause
/*
 * demo_device: the pieces the demo's steps are made of (demo.h): open with
 * the guest memory pre-mapped, the net device up and a loopback through
 * it, a reset, the data groups moved to another ASID, the handle closed,
 * a simulator spawned.  Each fills in the step it is given or opens its
 * own.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "demo.h"

void demo_log(int level, const char *msg, void *ctx)
{
	fprintf(stderr, "vdpamap: libvdpamap: %s\n", msg);
}

int demo_log_level(const struct demo *d)
{
	return d->c->verbose > 1 ? VDPAMAP_LOG_DEBUG :
	       d->c->verbose	 ? VDPAMAP_LOG_INFO :
				   VDPAMAP_LOG_WARN;
}

int demo_loop_frames(struct demo *d, struct step *s)
{
	static const uint32_t lens[] = { 60, 590, 1514 };
	struct vdpamap_info in;
	unsigned int i;
	int r;

	for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		uint32_t seq = ++d->seq;

		r = vnet_loop(&d->v, seq, lens[i], DEMO_TIMEOUT_MS);
		if (r < 0) {
			step_detail(s, "frame %u (%u B) %s", seq, lens[i],
				    r == -ETIMEDOUT ? "never came back on RX" :
				    r == -EBADMSG   ? "came back corrupted" :
						      "could not be sent");
			return r;
		}
	}
	step_detail(s, "3 frames (60, 590, 1514 B) looped TX->RX intact");
	step_kv(s, "frames", 3);
	if (vdpamap_get_info(d->h, &in) == 0 && in.is_sim && d->nsims) {
		struct vdpamap_sim_stats st;

		if (vdpamap_sim_get_stats(d->sim[d->nsims - 1], &st) == 0) {
			step_detail(s,
				    " (simulator: %" PRIu64 " tx, %" PRIu64
				    " rx frames)",
				    st.tx_frames, st.rx_frames);
		}
	}
	return 0;
}

int demo_net_up(struct demo *d)
{
	uint64_t area = d->size < DEMO_AREA ? d->size : DEMO_AREA;
	uint64_t off = d->size - area;

	return vnet_start(&d->v, d->h, d->mem + off, d->iova + off, area);
}

int demo_open(struct demo *d, const char *path, uint64_t want, struct step *s)
{
	struct vdpamap_region reg = {
		.hva = d->mem,
		.len = d->size,
		.fd = d->memfd,
		.fd_offset = 0,
		.perm = VDPAMAP_PERM_RW,
		.iova = VDPAMAP_IOVA_ANY,
	};
	VDPAMAP_OPTS(vdpamap_open_opts, oo, .want_features = want,
		     .log_fn = demo_log, .log_level = demo_log_level(d),
		     .regions = &reg, .nr_regions = 1, .prefault_threads = 2);
	struct vdpamap_stats st;
	struct vdpamap_info in;
	uint64_t entries;
	uint32_t i;
	int r;

	r = vdpamap_open(path, &oo, &d->h);
	if (r < 0)
		return r;
	r = vdpamap_reverse(d->h, 0, d->mem, &d->iova, NULL);
	if (r < 0) {
		step_detail(s, "guest memory not found in ASID 0 after the "
			       "pre-map");
		return r;
	}
	vdpamap_get_stats(d->h, &st);
	vdpamap_get_info(d->h, &in);
	entries = vdpamap_entry_count(d->h, 0);
	step_detail(s,
		    "%" PRIu64 " MiB at IOVA 0x%" PRIx64 " -> %" PRIu64
		    " entr%s in ASID 0; since open %" PRIu64
		    " IOTLB write%s (%" PRIu64 " UPDATE, %" PRIu64
		    " INVALIDATE), %" PRIu64
		    " batch%s%s; %s mode; backend 0x%" PRIx64,
		    d->size >> 20, d->iova, entries, entries == 1 ? "y" : "ies",
		    st.iotlb_writes, pl(st.iotlb_writes), st.iotlb_updates,
		    st.iotlb_invalidates, st.iotlb_batches,
		    st.iotlb_batches == 1 ? "" : "es",
		    !st.iotlb_batches && entries == 1 &&
				    vdpamap_has_feature(d->h,
							VDPAMAP_F_IOTLB_BATCH) ?
			    " (a lone UPDATE needs none)" :
			    "",
		    in.mem_mode == VDPAMAP_MEMMODE_PA ? "PA" : "VA",
		    in.backend_acked);
	s->path = "PRE-MAP";
	step_kv(s, "entries", entries);
	step_kv(s, "iotlb_writes", st.iotlb_writes);
	step_kv(s, "iotlb_updates", st.iotlb_updates);
	step_kv(s, "iotlb_batches", st.iotlb_batches);
	step_kv(s, "backend_acked", in.backend_acked);
	{
		char cb[160];

		step_detail(s, "; IOTLB caps: %s",
			    cli_caps_text(&in, cb, sizeof(cb)));
	}

	d->nr_data_groups = 0;
	for (i = 0; i < 2 && i < in.nr_vqs; i++) {
		uint32_t g;

		if (vdpamap_vq_group(d->h, i, &g) < 0)
			continue;
		if (d->nr_data_groups && d->data_groups[0] == g)
			continue;
		d->data_groups[d->nr_data_groups++] = g;
	}
	return 0;
}

/* A step of its own: restart the net device and loop frames. */
int demo_restart_loop(struct demo *d, int n, const char *name)
{
	struct step *s = step_new(d, n, name);
	uint64_t t0 = now_ns();
	int r;

	r = demo_net_up(d);
	if (r < 0) {
		s->ns = now_ns() - t0;
		step_detail(s, "vnet_start");
		return step_end(d, s, r);
	}
	step_detail(s, "net restarted (rings re-initialised); ");
	r = demo_loop_frames(d, s);
	s->ns = now_ns() - t0;
	return step_end(d, s, r);
}

int demo_reset_step(struct demo *d, int n, const char *name, const char *note)
{
	struct step *s = step_new(d, n, name);
	struct vdpamap_reset_info ri = { 0 };
	uint64_t t0 = now_ns();
	int r;

	vnet_stop(&d->v);
	r = vdpamap_reset(d->h, &ri);
	s->ns = now_ns() - t0;
	if (r < 0)
		return step_end(d, s, r);
	s->path = demo_reset_path(ri.path);
	step_detail(s,
		    "%" PRIu64 " IOTLB msg%s, %" PRIu64 " entr%s kept "
		    "valid, %u group binding%s re-applied (library: %.3f ms)",
		    ri.iotlb_msgs, pl(ri.iotlb_msgs), ri.entries,
		    ri.entries == 1 ? "y" : "ies", ri.groups_rebound,
		    pl(ri.groups_rebound), ms(ri.ns));
	if (ri.path == VDPAMAP_RESET_RESYNC)
		step_detail(s, "; INVALIDATE+UPDATE of every entry");
	if (note)
		step_detail(s, "; %s", note);
	step_kv(s, "iotlb_msgs", ri.iotlb_msgs);
	step_kv(s, "entries", ri.entries);
	step_kv(s, "groups_rebound", ri.groups_rebound);
	return step_end(d, s, 0);
}

/* Reset, then bind every data group to asid (before DRIVER_OK: the only
 * time upstream kernels take SET_GROUP_ASID for sure). */
int demo_move_groups(struct demo *d, int n, const char *name, uint32_t asid)
{
	struct step *s = step_new(d, n, name);
	struct vdpamap_reset_info ri = { 0 };
	uint64_t t0 = now_ns();
	uint32_t i, a;
	int r;

	vnet_stop(&d->v);
	r = vdpamap_reset(d->h, &ri);
	if (r < 0) {
		s->ns = now_ns() - t0;
		step_detail(s, "reset");
		return step_end(d, s, r);
	}
	for (i = 0; i < d->nr_data_groups; i++) {
		r = vdpamap_set_group_asid(d->h, d->data_groups[i], asid);
		if (r < 0) {
			s->ns = now_ns() - t0;
			step_detail(s, "SET_GROUP_ASID group %u -> ASID %u",
				    d->data_groups[i], asid);
			return step_end(d, s, r);
		}
	}
	s->ns = now_ns() - t0;
	step_detail(s,
		    "reset (%s, %" PRIu64 " IOTLB msg%s), then "
		    "SET_GROUP_ASID:",
		    demo_reset_path(ri.path), ri.iotlb_msgs, pl(ri.iotlb_msgs));
	for (i = 0; i < d->nr_data_groups; i++) {
		r = vdpamap_get_group_asid(d->h, d->data_groups[i], &a);
		if (r < 0)
			return step_end(d, s, r);
		if (a != asid) {
			step_detail(s, " group %u is in ASID %u",
				    d->data_groups[i], a);
			return step_end(d, s, -EIO);
		}
		step_detail(s, " group %u (rx/tx) now in ASID %u",
			    d->data_groups[i], a);
	}
	s->path = demo_reset_path(ri.path);
	step_kv(s, "asid", asid);
	step_kv(s, "iotlb_msgs", ri.iotlb_msgs);
	return step_end(d, s, 0);
}

int demo_close_handle(struct demo *d)
{
	vnet_stop(&d->v);
	d->h = vdpamap_close(d->h);
	return 0;
}

int demo_spawn_sim(struct demo *d, uint64_t backend)
{
	VDPAMAP_OPTS(vdpamap_sim_opts, so, .backend_features = backend);
	int r;

	if (d->nsims >= 2)
		return -EINVAL;
	r = vdpamap_sim_spawn(&so, d->sim[d->nsims], sizeof(d->sim[0]),
			      &d->simpid[d->nsims]);
	if (r < 0)
		return r;
	d->nsims++;
	return 0;
}
