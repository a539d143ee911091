// SPDX-License-Identifier: BSD-3-Clause
/*
 * sim_report: what `vdpamap sim start|stop|status` found (sim.h), as text
 * or as one JSON document (tools/vdpamap/schema/sim.json).
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "sim.h"

static const char *mode_name(uint32_t flags)
{
	return flags & VDPAMAP_SIM_PA ? "PA" : "VA";
}

static const char *parent_name(uint32_t flags)
{
	return flags & VDPAMAP_SIM_PER_MAP ? "per-map" : "batch";
}

/* "IOTLB_MSG_V2 IOTLB_BATCH ..." (or "bitN") into buf. */
static const char *sim_feature_names(uint64_t mask, char *buf, size_t len)
{
	size_t off = 0;
	unsigned int b;

	buf[0] = '\0';
	for (b = 0; b < 64 && off < len; b++) {
		const char *n = vdpamap_feature_name(1ULL << b);
		int w;

		if (!(mask & (1ULL << b)))
			continue;
		w = n ? snprintf(buf + off, len - off, "%s%s", off ? " " : "",
				 n) :
			snprintf(buf + off, len - off, "%sbit%u",
				 off ? " " : "", b);
		if (w < 0)
			break;
		off += (size_t)w;
	}
	return buf;
}

static void json_hex(struct json *j, const char *key, uint64_t v)
{
	char buf[24];

	snprintf(buf, sizeof(buf), "0x%" PRIx64, v);
	json_str(j, key, buf);
}

static void json_features(struct json *j, const char *key, uint64_t mask)
{
	char name[16];
	unsigned int b;

	json_hex(j, key, mask);
	snprintf(name, sizeof(name), "%s_names", key);
	json_arr_open(j, name);
	for (b = 0; b < 64; b++) {
		const char *n = vdpamap_feature_name(1ULL << b);
		char tmp[16];

		if (!(mask & (1ULL << b)))
			continue;
		if (!n) {
			snprintf(tmp, sizeof(tmp), "bit%u", b);
			n = tmp;
		}
		json_str(j, NULL, n);
	}
	json_arr_close(j);
}

static void json_range(struct json *j, uint64_t first, uint64_t last)
{
	json_obj_open(j, "iova_range");
	json_hex(j, "first", first);
	json_hex(j, "last", last);
	json_obj_close(j);
}

/* What start asked of the simulator, defaults resolved: by the daemon
 * (vdpamap_sim_get_limits) when it answered, else from the options. */
static void resolved(const struct sim_args *a, const struct sim_out *o,
		     struct vdpamap_sim_limits *l)
{
	if (o->have_limits) {
		*l = o->lim;
		return;
	}
	memset(l, 0, sizeof(*l));
	l->flags = a->flags;
	l->backend_features = a->backend ? a->backend : SIM_DEFAULT_BACKEND;
	l->nr_as = a->nr_as ? a->nr_as : 2;
	l->nr_groups = a->nr_groups ? a->nr_groups : 2;
	l->nr_vqs = a->nr_vqs ? a->nr_vqs : 3;
	l->iova_first = a->iova_first;
	l->iova_last = a->iova_last ? a->iova_last : UINT64_MAX;
}

static void json_config(struct json *j, const struct sim_args *a,
			const struct sim_out *o)
{
	struct vdpamap_sim_limits l;

	resolved(a, o, &l);
	json_obj_open(j, "config");
	json_str(j, "profile", a->profile ? a->profile : "");
	json_str(j, "mode", mode_name(l.flags));
	json_str(j, "parent", parent_name(l.flags));
	json_features(j, "backend", l.backend_features);
	json_u64(j, "nr_as", l.nr_as);
	json_u64(j, "nr_groups", l.nr_groups);
	json_u64(j, "nr_vqs", l.nr_vqs);
	json_range(j, l.iova_first, l.iova_last);
	json_obj_open(j, "max_iotlb_entries");
	json_u64(j, "vhost_vdpa", l.vhost_max_iotlb_entries);
	json_u64(j, "parent", l.parent_max_iotlb_entries);
	json_obj_close(j);
	json_u64(j, "fail_iotlb_write", a->fail_msg);
	json_u64(j, "fail_ioctl", a->fail_ioctl);
	json_bool(j, "idle_exit", a->idle_ms != VDPAMAP_SIM_IDLE_NEVER);
	if (a->idle_ms != VDPAMAP_SIM_IDLE_NEVER)
		json_u64(j, "idle_timeout_ms",
			 a->idle_ms ? a->idle_ms : VDPAMAP_SIM_IDLE_DEFAULT_MS);
	json_obj_close(j);
}

static void json_status(struct json *j, const struct sim_out *o)
{
	const struct vdpamap_sim_stats *st = &o->st;

	json_obj_open(j, "stats");
	json_u64(j, "iotlb_writes", st->iotlb_writes);
	json_u64(j, "set_map_calls", st->set_map_calls);
	json_u64(j, "dma_map_calls", st->dma_map_calls);
	json_u64(j, "pinned_bytes", st->pinned_bytes);
	json_u64(j, "tx_frames", st->tx_frames);
	json_u64(j, "rx_frames", st->rx_frames);
	json_u64(j, "dma_errors", st->dma_errors);
	json_u64(j, "rx_drops", st->rx_drops);
	json_obj_close(j);
	json_obj_open(j, "device");
	json_bool(j, "available", o->dev_state > 0);
	if (o->dev_state < 0) {
		json_str(j, "error", strerror(-o->dev_state));
	} else {
		json_str(j, "mem_mode",
			 o->in.mem_mode == VDPAMAP_MEMMODE_PA ? "PA" : "VA");
		json_features(j, "backend", o->in.backend_offered);
		json_u64(j, "nr_as", o->in.nr_as);
		json_u64(j, "nr_groups", o->in.nr_groups);
		json_u64(j, "nr_vqs", o->in.nr_vqs);
		json_range(j, o->in.iova_first, o->in.iova_last);
		json_hex(j, "device_features", o->in.device_features);
	}
	json_obj_close(j);
}

void sim_json(struct cli *c, const struct sim_args *a, const struct sim_out *o)
{
	struct json j;

	json_init(&j, stdout, c->pretty);
	json_obj_open(&j, NULL);
	json_str(&j, "action", a->name);
	json_str(&j, "path", a->path);
	json_bool(&j, "ok", !o->err);
	json_bool(&j, "running", o->running);
	if (o->err) {
		json_str(&j, "reason", o->why);
		json_str(&j, "error", strerror(o->err));
		json_i64(&j, "errno", o->err);
	}
	if (a->action == SIM_START && !o->err) {
		json_i64(&j, "pid", (long long)o->pid);
		json_config(&j, a, o);
	}
	if (a->action == SIM_STATUS && o->have_stats)
		json_status(&j, o);
	json_obj_close(&j);
	json_end(&j);
}

static void text_start(const struct sim_args *a, const struct sim_out *o)
{
	struct vdpamap_sim_limits l;
	char buf[512];

	resolved(a, o, &l);
	printf("simulator started at %s (pid %d)\n", a->path, (int)o->pid);
	if (a->profile)
		printf("  profile %s\n", a->profile);
	printf("  %s mode, %s parent, %u address space%s, %u group%s, "
	       "%u virtqueues\n",
	       mode_name(l.flags), parent_name(l.flags), l.nr_as,
	       l.nr_as == 1 ? "" : "s", l.nr_groups,
	       l.nr_groups == 1 ? "" : "s", l.nr_vqs);
	printf("  backend features offered 0x%" PRIx64 " %s\n",
	       l.backend_features,
	       sim_feature_names(l.backend_features, buf, sizeof(buf)));
	printf("  IOVA range [0x%" PRIx64 ", 0x%" PRIx64 "]\n", l.iova_first,
	       l.iova_last);
	if (l.vhost_max_iotlb_entries)
		printf("  IOTLB caps per address space: vhost_vdpa %u, "
		       "parent %u (0: none)\n",
		       l.vhost_max_iotlb_entries, l.parent_max_iotlb_entries);
	else
		printf("  IOTLB caps: none enforced (as a kernel without "
		       "vhost_vdpa's max_iotlb_entries)\n");
	if (a->fail_msg)
		printf("  fault armed: IOTLB write %u from now fails\n",
		       a->fail_msg);
	if (a->fail_ioctl)
		printf("  fault armed: ioctl %u from now fails\n",
		       a->fail_ioctl);
	if (a->idle_ms == VDPAMAP_SIM_IDLE_NEVER)
		printf("  runs until 'sim stop'\n");
	else
		printf("  exits once unused for %u s\n",
		       (a->idle_ms ? a->idle_ms : VDPAMAP_SIM_IDLE_DEFAULT_MS) /
			       1000);
}

static void text_status(const struct sim_args *a, const struct sim_out *o)
{
	const struct vdpamap_sim_stats *st = &o->st;
	char buf[512];

	printf("simulator at %s: running\n", a->path);
	if (o->dev_state < 0) {
		printf("  device: not opened (%s; a client holds it?)\n",
		       strerror(-o->dev_state));
	} else {
		printf("  %s mode, %u address space%s, %u group%s, "
		       "%u virtqueues, IOVA [0x%" PRIx64 ", 0x%" PRIx64 "]\n",
		       o->in.mem_mode == VDPAMAP_MEMMODE_PA ? "PA" : "VA",
		       o->in.nr_as, o->in.nr_as == 1 ? "" : "s",
		       o->in.nr_groups, o->in.nr_groups == 1 ? "" : "s",
		       o->in.nr_vqs, o->in.iova_first, o->in.iova_last);
		printf("  backend features offered 0x%" PRIx64 " %s\n",
		       o->in.backend_offered,
		       sim_feature_names(o->in.backend_offered, buf,
					 sizeof(buf)));
	}
	printf("  %" PRIu64 " IOTLB writes, %" PRIu64 " set_map and %" PRIu64
	       " dma_map calls, %s pinned\n",
	       st->iotlb_writes, st->set_map_calls, st->dma_map_calls,
	       cli_size(st->pinned_bytes, buf, sizeof(buf)));
	printf("  %" PRIu64 " tx and %" PRIu64 " rx frames, %" PRIu64
	       " DMA errors, %" PRIu64 " rx drops\n",
	       st->tx_frames, st->rx_frames, st->dma_errors, st->rx_drops);
}

void sim_text(const struct sim_args *a, const struct sim_out *o)
{
	if (o->err && a->action == SIM_STATUS) {
		/* the answer, not a diagnostic */
		printf("no simulator at %s (%s)\n", a->path, strerror(o->err));
		return;
	}
	if (o->err) {
		fprintf(stderr, "vdpamap sim %s: %s: %s: %s\n", a->name,
			a->path, o->why, strerror(o->err));
		return;
	}
	if (a->action == SIM_START)
		text_start(a, o);
	else if (a->action == SIM_STOP)
		printf("simulator at %s stopped\n", a->path);
	else
		text_status(a, o);
}
