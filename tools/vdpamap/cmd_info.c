// SPDX-License-Identifier: BSD-3-Clause
/*
 * vdpamap info [DEV]: everything a vhost-vdpa device reports, as a table
 * or one JSON object.  DEV is a /dev/vhost-vdpa-N path or a simulator
 * socket; without DEV a simulator is spawned for the occasion and stopped
 * afterwards.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "cli.h"
#include "vdpamap.h"

static void info_log(int level, const char *msg, void *ctx)
{
	fprintf(stderr, "vdpamap: libvdpamap: %s\n", msg);
}

/* Virtio feature names: the library's (vdpamap_mgmt_feature_name(), the
 * names iproute2's vdpa prints), then the bits it leaves unnamed because
 * iproute2 does: newer transport bits, two legacy bits it names for net
 * devices only, and newer net bits. */
static const char *virtio_feature_name(unsigned int bit, uint32_t device_id)
{
	static const char *const common[64] = {
		[24] = "NOTIFY_ON_EMPTY",   [27] = "ANY_LAYOUT",
		[39] = "NOTIF_CONFIG_DATA", [40] = "RING_RESET",
		[41] = "ADMIN_VQ",
	};
	static const char *const net[64] = {
		[54] = "GUEST_USO4",
		[55] = "GUEST_USO6",
		[56] = "HOST_USO",
		[59] = "GUEST_HDRLEN",
	};
	const char *n;

	if (bit >= 64)
		return NULL;
	n = vdpamap_mgmt_feature_name(device_id, bit);
	if (n)
		return n;
	if (common[bit])
		return common[bit];
	return device_id == 1 ? net[bit] : NULL;
}

static const char *device_type(uint32_t id)
{
	switch (id) {
	case 1:
		return "net";
	case 2:
		return "block";
	case 3:
		return "console";
	case 4:
		return "entropy";
	case 5:
		return "balloon";
	case 8:
		return "scsi";
	case 9:
		return "9p";
	case 16:
		return "gpu";
	case 18:
		return "input";
	case 19:
		return "vsock";
	case 20:
		return "crypto";
	case 26:
		return "fs";
	default:
		return "unknown";
	}
}

typedef const char *(*name_fn)(unsigned int bit, uint32_t device_id);

static const char *backend_name(unsigned int bit, uint32_t device_id)
{
	return vdpamap_feature_name(1ULL << bit);
}

/* "A B C" (or "bit N" for unnamed bits) into buf. */
static const char *names(uint64_t mask, name_fn fn, uint32_t id, char *buf,
			 size_t len)
{
	size_t off = 0;
	unsigned int b;

	buf[0] = '\0';
	for (b = 0; b < 64 && off < len; b++) {
		const char *n;
		int w;

		if (!(mask & (1ULL << b)))
			continue;
		n = fn(b, id);
		if (n)
			w = snprintf(buf + off, len - off, "%s%s",
				     off ? " " : "", n);
		else
			w = snprintf(buf + off, len - off, "%sbit%u",
				     off ? " " : "", b);
		if (w < 0)
			break;
		off += (size_t)w;
	}
	if (!mask)
		snprintf(buf, len, "-");
	return buf;
}

static void json_names(struct json *j, const char *key, uint64_t mask,
		       name_fn fn, uint32_t id)
{
	unsigned int b;
	char tmp[16];

	json_arr_open(j, key);
	for (b = 0; b < 64; b++) {
		const char *n;

		if (!(mask & (1ULL << b)))
			continue;
		n = fn(b, id);
		if (!n) {
			snprintf(tmp, sizeof(tmp), "bit%u", b);
			n = tmp;
		}
		json_str(j, NULL, n);
	}
	json_arr_close(j);
}

static void json_hex(struct json *j, const char *key, uint64_t v)
{
	char buf[24];

	snprintf(buf, sizeof(buf), "0x%" PRIx64, v);
	json_str(j, key, buf);
}

struct net_cfg {
	int have;
	uint8_t mac[6];
	uint16_t status;
	uint16_t mtu;
	int have_mtu;
};

static void read_net_config(struct vdpamap *h, const struct vdpamap_info *in,
			    struct net_cfg *nc)
{
	uint8_t b[12];

	memset(nc, 0, sizeof(*nc));
	if (in->device_id != 1 || in->config_size < 8)
		return;
	if (vdpamap_get_config(h, 0, b, 8) < 0)
		return;
	memcpy(nc->mac, b, 6);
	nc->status = (uint16_t)(b[6] | b[7] << 8);
	nc->have = 1;
	if ((in->device_features & (1ULL << 3)) && in->config_size >= 12 &&
	    vdpamap_get_config(h, 10, b + 10, 2) == 0) {
		nc->mtu = (uint16_t)(b[10] | b[11] << 8);
		nc->have_mtu = 1;
	}
}

static const char *mem_mode_name(uint32_t m)
{
	return m == VDPAMAP_MEMMODE_PA ? "PA" :
	       m == VDPAMAP_MEMMODE_VA ? "VA" :
					 "unknown";
}

/* The IOTLB entry caps in one line (info and demo). */
const char *cli_caps_text(const struct vdpamap_info *in, char *buf, size_t len)
{
	char par[64];

	if (!(in->caps_flags & VDPAMAP_CAPS_ENFORCED)) {
		snprintf(buf, len, "none enforced");
		return buf;
	}
	if (in->caps_flags & VDPAMAP_CAPS_PARENT_KNOWN)
		snprintf(par, sizeof(par), "%s %u%s", in->parent,
			 in->parent_max_iotlb_entries,
			 (in->caps_flags & VDPAMAP_CAPS_SET_MAP) ?
				 " (set_map)" :
				 "");
	else
		snprintf(par, sizeof(par), "parent %s unknown",
			 in->parent[0] ? in->parent : "(not in the table)");
	snprintf(buf, len, "vhost_vdpa %u, %s entries per ASID%s",
		 in->max_iotlb_entries, par,
		 (in->caps_flags & VDPAMAP_CAPS_COUNT_UNKNOWN) ?
			 "; PA counts unknown (no PFNs)" :
			 "");
	return buf;
}

static void print_table(const char *dev, int spawned, struct vdpamap *h,
			const struct vdpamap_info *in, const struct net_cfg *nc)
{
	char buf[1024];
	uint32_t i, g, a;

	printf("device            %s (%s%s)\n", dev,
	       in->is_sim ? "simulator" : "kernel vhost-vdpa",
	       spawned ? ", spawned for this command" : "");
	printf("device id         %u (%s)\n", in->device_id,
	       device_type(in->device_id));
	printf("virtqueues        %u (max ring %u)\n", in->nr_vqs,
	       in->max_vring_num);
	printf("vq groups         %u\n", in->nr_groups);
	printf("address spaces    %u\n", in->nr_as);
	printf("config size       %u\n", in->config_size);
	printf("device features   0x%016" PRIx64 " %s\n", in->device_features,
	       names(in->device_features, virtio_feature_name, in->device_id,
		     buf, sizeof(buf)));
	printf("backend offered   0x%03" PRIx64 " %s\n", in->backend_offered,
	       names(in->backend_offered, backend_name, 0, buf, sizeof(buf)));
	printf("backend acked     0x%03" PRIx64 " %s\n", in->backend_acked,
	       names(in->backend_acked, backend_name, 0, buf, sizeof(buf)));
	printf("IOVA range        [0x%" PRIx64 ", 0x%" PRIx64 "] (inclusive)\n",
	       in->iova_first, in->iova_last);
	printf("memory mode       %s (%s)\n", mem_mode_name(in->mem_mode),
	       in->mem_mode == VDPAMAP_MEMMODE_PA ?
		       "maps pin pages, charge RLIMIT_MEMLOCK" :
		       "no pinning; only shared file-backed memory is mapped");
	printf("IOTLB caps        %s\n", cli_caps_text(in, buf, sizeof(buf)));
	if (nc->have) {
		printf("net mac           %02x:%02x:%02x:%02x:%02x:%02x\n",
		       nc->mac[0], nc->mac[1], nc->mac[2], nc->mac[3],
		       nc->mac[4], nc->mac[5]);
		printf("net status        0x%x%s\n", nc->status,
		       (nc->status & 1) ? " (link up)" : "");
		if (nc->have_mtu)
			printf("net mtu           %u\n", nc->mtu);
	}
	for (i = 0; i < in->nr_vqs; i++) {
		int r = vdpamap_vq_group(h, i, &g);

		if (r < 0) {
			printf("vq %-3u            group ? (%s)\n", i,
			       strerror(-r));
			continue;
		}
		printf("vq %-3u            group %u", i, g);
		if (vdpamap_has_feature(h, VDPAMAP_F_DESC_ASID) &&
		    vdpamap_vq_desc_group(h, i, &g) == 0)
			printf(", descriptor group %u", g);
		printf("\n");
	}
	for (i = 0; i < in->nr_groups; i++) {
		if (vdpamap_get_group_asid(h, i, &a) == 0)
			printf("group %-3u         ASID %u\n", i, a);
	}
}

static void print_json(struct cli *c, const char *dev, int spawned,
		       struct vdpamap *h, const struct vdpamap_info *in,
		       const struct net_cfg *nc)
{
	struct json j;
	uint32_t i, g, a;
	char buf[32];

	json_init(&j, stdout, c->pretty);
	json_obj_open(&j, NULL);
	json_str(&j, "device", dev);
	json_str(&j, "transport", in->is_sim ? "sim" : "kernel");
	json_bool(&j, "spawned", spawned);
	json_u64(&j, "device_id", in->device_id);
	json_str(&j, "device_type", device_type(in->device_id));
	json_u64(&j, "nr_vqs", in->nr_vqs);
	json_u64(&j, "nr_groups", in->nr_groups);
	json_u64(&j, "nr_as", in->nr_as);
	json_u64(&j, "config_size", in->config_size);
	json_u64(&j, "max_vring_num", in->max_vring_num);
	json_hex(&j, "device_features", in->device_features);
	json_names(&j, "device_feature_names", in->device_features,
		   virtio_feature_name, in->device_id);
	json_obj_open(&j, "backend_features");
	json_hex(&j, "offered", in->backend_offered);
	json_names(&j, "offered_names", in->backend_offered, backend_name, 0);
	json_hex(&j, "acked", in->backend_acked);
	json_names(&j, "acked_names", in->backend_acked, backend_name, 0);
	json_obj_close(&j);
	json_obj_open(&j, "iova_range");
	json_hex(&j, "first", in->iova_first);
	json_hex(&j, "last", in->iova_last);
	json_obj_close(&j);
	json_str(&j, "mem_mode", mem_mode_name(in->mem_mode));
	json_obj_open(&j, "iotlb_caps");
	json_bool(&j, "enforced", !!(in->caps_flags & VDPAMAP_CAPS_ENFORCED));
	if (in->caps_flags & VDPAMAP_CAPS_ENFORCED)
		json_u64(&j, "max_iotlb_entries", in->max_iotlb_entries);
	json_str(&j, "parent", in->parent);
	if (in->caps_flags & VDPAMAP_CAPS_PARENT_KNOWN)
		json_u64(&j, "parent_max_iotlb_entries",
			 in->parent_max_iotlb_entries);
	json_bool(&j, "set_map", !!(in->caps_flags & VDPAMAP_CAPS_SET_MAP));
	json_bool(&j, "count_unknown",
		  !!(in->caps_flags & VDPAMAP_CAPS_COUNT_UNKNOWN));
	json_obj_close(&j);
	if (nc->have) {
		json_obj_open(&j, "net_config");
		snprintf(buf, sizeof(buf), "%02x:%02x:%02x:%02x:%02x:%02x",
			 nc->mac[0], nc->mac[1], nc->mac[2], nc->mac[3],
			 nc->mac[4], nc->mac[5]);
		json_str(&j, "mac", buf);
		json_u64(&j, "status", nc->status);
		if (nc->have_mtu)
			json_u64(&j, "mtu", nc->mtu);
		json_obj_close(&j);
	}
	json_arr_open(&j, "vqs");
	for (i = 0; i < in->nr_vqs; i++) {
		json_obj_open(&j, NULL);
		json_u64(&j, "vq", i);
		if (vdpamap_vq_group(h, i, &g) == 0)
			json_u64(&j, "group", g);
		if (vdpamap_has_feature(h, VDPAMAP_F_DESC_ASID) &&
		    vdpamap_vq_desc_group(h, i, &g) == 0)
			json_u64(&j, "desc_group", g);
		json_obj_close(&j);
	}
	json_arr_close(&j);
	json_arr_open(&j, "groups");
	for (i = 0; i < in->nr_groups; i++) {
		json_obj_open(&j, NULL);
		json_u64(&j, "group", i);
		if (vdpamap_get_group_asid(h, i, &a) == 0)
			json_u64(&j, "asid", a);
		json_obj_close(&j);
	}
	json_arr_close(&j);
	json_obj_close(&j);
	json_end(&j);
}

static void info_usage(FILE *f)
{
	fprintf(f,
		"Usage: vdpamap [-j] [-p] info [DEV]\n"
		"\n"
		"Open DEV (a /dev/vhost-vdpa-N or a simulator socket), take\n"
		"ownership and print everything it reports.  Without DEV a\n"
		"simulator is spawned for the occasion and stopped after.\n"
		"Opening probes the memory mode with one one-page map.\n");
}

/* The command line: -1 to go on (*dev: DEV or NULL), else the exit code. */
static int info_parse(struct cli *c, const char **dev)
{
	static const struct option lopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "pretty", no_argument, NULL, 'p' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int o;

	while ((o = getopt_long(c->argc, c->argv, "jpvh", lopts, NULL)) != -1) {
		switch (o) {
		case 'j':
		case 'p':
		case 'v':
			cli_output_opt(c, o);
			break;
		case 'h':
			info_usage(stdout);
			return CLI_EXIT_OK;
		default:
			info_usage(stderr);
			return CLI_EXIT_USAGE;
		}
	}
	if (optind < c->argc)
		*dev = c->argv[optind++];
	if (optind < c->argc) {
		info_usage(stderr);
		return CLI_EXIT_USAGE;
	}
	return -1;
}

/* Open dev, print what it reports, close it: the exit code. */
static int info_show(struct cli *c, const char *dev, int spawned)
{
	VDPAMAP_OPTS(vdpamap_open_opts, oo, .log_fn = info_log,
		     .log_level = c->verbose > 1 ? VDPAMAP_LOG_DEBUG :
				  c->verbose	 ? VDPAMAP_LOG_INFO :
						   VDPAMAP_LOG_WARN);
	struct vdpamap_info in;
	struct vdpamap *h = NULL;
	struct net_cfg nc;
	int r, rc = CLI_EXIT_FAIL;

	r = vdpamap_open(dev, &oo, &h);
	if (r < 0) {
		fprintf(stderr, "vdpamap info: open %s: %s\n", dev,
			strerror(-r));
		goto out;
	}
	r = vdpamap_get_info(h, &in);
	if (r < 0) {
		fprintf(stderr, "vdpamap info: %s\n", strerror(-r));
		goto out;
	}
	read_net_config(h, &in, &nc);
	if (c->json)
		print_json(c, dev, spawned, h, &in, &nc);
	else
		print_table(dev, spawned, h, &in, &nc);
	rc = CLI_EXIT_OK;
out:
	vdpamap_close(h);
	return rc;
}

int cmd_info(struct cli *c)
{
	VDPAMAP_OPTS(vdpamap_sim_opts, so);
	char simpath[256];
	const char *dev = NULL;
	pid_t pid = 0;
	int r, rc;

	rc = info_parse(c, &dev);
	if (rc >= 0)
		return rc;
	if (dev)
		return info_show(c, dev, 0);
	r = vdpamap_sim_spawn(&so, simpath, sizeof(simpath), &pid);
	if (r < 0) {
		fprintf(stderr, "vdpamap info: spawning a simulator: %s\n",
			strerror(-r));
		return CLI_EXIT_FAIL;
	}
	rc = info_show(c, simpath, 1);
	r = vdpamap_sim_stop(simpath);
	if (r < 0)
		fprintf(stderr,
			"vdpamap info: stopping simulator %s "
			"(pid %d): %s\n",
			simpath, (int)pid, strerror(-r));
	return rc;
}
