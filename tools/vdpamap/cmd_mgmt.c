// SPDX-License-Identifier: BSD-3-Clause
/*
 * vdpamap mgmtdev | dev: vdpa device management through the library's
 * netlink side (vdpamap_mgmt.h), with the commands, text and JSON shapes of
 * iproute2's `vdpa` tool:
 *
 *   vdpamap [-j] mgmtdev show [MGMTDEV]
 *   vdpamap [-j] dev show [NAME]
 *   vdpamap dev add name NAME mgmtdev MGMTDEV [mac MAC] [mtu N] [max_vqp N]
 *   vdpamap dev del NAME
 *   vdpamap [-j] dev config show [NAME]
 *
 * Differences from `vdpa`: dev show adds min_vq_size, config show adds
 * dev_features (the kernel reports both), and the JSON keys are "link" and
 * "link_announce" (iproute2 6.1 writes them with a trailing space).
 * Exit 77 when the kernel has no vdpa generic netlink family.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "vdpamap.h"
#include "vdpamap_mgmt.h"

static int verbose_level;

static void mgmt_log(int level, const char *msg, void *ctx)
{
	(void)ctx;
	if (level <= VDPAMAP_LOG_ERR || level <= verbose_level)
		fprintf(stderr, "vdpamap: %s\n", msg);
}

static int mgmt_open(struct cli *c, const char *cmd, struct vdpamap_mgmt **m)
{
	VDPAMAP_OPTS(vdpamap_mgmt_opts, o, .log_fn = mgmt_log,
		     .log_level = c->verbose > 1 ? VDPAMAP_LOG_DEBUG :
				  c->verbose	 ? VDPAMAP_LOG_INFO :
						   VDPAMAP_LOG_WARN);
	int r;

	verbose_level = o.log_level;
	r = vdpamap_mgmt_open(&o, m);
	if (r == -ENOENT) {
		fprintf(stderr,
			"vdpamap %s: no vdpa support in this kernel "
			"(load the vdpa module)\n",
			cmd);
		return CLI_EXIT_SKIP;
	}
	if (r < 0) {
		fprintf(stderr, "vdpamap %s: vdpa netlink: %s\n", cmd,
			strerror(-r));
		return CLI_EXIT_FAIL;
	}
	return CLI_EXIT_OK;
}

static int fail(const char *what, int r)
{
	fprintf(stderr, "vdpamap %s: %s\n", what, strerror(-r));
	return CLI_EXIT_FAIL;
}

static int is(const char *arg, const char *word)
{
	return arg && !strcmp(arg, word);
}

/* ---- show: one by name, or the list, each printed under a JSON key */

union one_of {
	struct vdpamap_mgmtdev mgmtdev;
	struct vdpamap_vdpadev dev;
	struct vdpamap_vdpadev_config config;
};

struct show_kind {
	const char *what, *key;
	int (*get)(struct vdpamap_mgmt *m, const char *name, union one_of *o);
	int (*list)(struct vdpamap_mgmt *m, void **ret, size_t *elem);
	void (*print)(struct cli *c, struct json *j, const void *item);
};

static int show(struct cli *c, struct vdpamap_mgmt *m,
		const struct show_kind *k, const char *name)
{
	union one_of one;
	void *l = &one;
	size_t elem = 0;
	struct json j;
	int n, i, r;

	if (name) {
		r = k->get(m, name, &one);
		if (r < 0)
			return fail(k->what, r);
		n = 1;
	} else {
		n = k->list(m, &l, &elem);
		if (n < 0)
			return fail(k->what, n);
	}
	json_init(&j, stdout, c->pretty);
	if (c->json) {
		json_obj_open(&j, NULL);
		json_obj_open(&j, k->key);
	}
	for (i = 0; i < n; i++)
		k->print(c, &j, (const char *)l + (size_t)i * elem);
	if (c->json) {
		json_obj_close(&j);
		json_obj_close(&j);
		json_end(&j);
	}
	if (l != &one)
		vdpamap_mgmt_free(l);
	return CLI_EXIT_OK;
}

/* ---- names as iproute2 prints them */
static const char *class_name(unsigned int id)
{
	return id == 1 ? "net" : id == 2 ? "block" : "< unknown class >";
}

static const char *type_name(uint32_t id)
{
	return id == 1 ? "network" : id == 2 ? "block" : "<unknown type>";
}

static void handle_str(char *buf, size_t len, const char *bus, const char *name)
{
	if (bus[0])
		snprintf(buf, len, "%s/%s", bus, name);
	else
		snprintf(buf, len, "%s", name);
}

/* A feature list: named bits by name, the others as numbers (JSON) or
 * bit_N (text), in bit order. */
static void print_features(struct cli *c, struct json *j, const char *key,
			   uint64_t f, uint32_t device_id)
{
	unsigned int bit;

	if (c->json)
		json_arr_open(j, key);
	else
		printf("\n  %s", key);
	for (bit = 0; bit < 64; bit++) {
		const char *n = vdpamap_mgmt_feature_name(device_id, bit);

		if (!(f & (1ULL << bit)))
			continue;
		if (c->json && n)
			json_str(j, NULL, n);
		else if (c->json)
			json_u64(j, NULL, bit);
		else if (n)
			printf(" %s", n);
		else
			printf(" bit_%u", bit);
	}
	if (c->json)
		json_arr_close(j);
}

/* ---- mgmtdev show */
static void print_mgmtdev(struct cli *c, struct json *j, const void *item)
{
	const struct vdpamap_mgmtdev *d = item;
	char h[2 * VDPAMAP_MGMT_NAME_MAX];
	unsigned int i;

	handle_str(h, sizeof(h), d->bus, d->name);
	if (c->json)
		json_obj_open(j, h);
	else
		printf("%s: ", h);
	if (d->present & VDPAMAP_MGMTDEV_HAS_CLASSES) {
		if (c->json)
			json_arr_open(j, "supported_classes");
		else
			printf("\n  supported_classes");
		for (i = 1; i < 64; i++) {
			if (!(d->supported_classes & (1ULL << i)))
				continue;
			if (c->json)
				json_str(j, NULL, class_name(i));
			else
				printf(" %s", class_name(i));
		}
		if (c->json)
			json_arr_close(j);
	}
	if (d->present & VDPAMAP_MGMTDEV_HAS_MAX_VQS) {
		if (c->json)
			json_u64(j, "max_supported_vqs", d->max_supported_vqs);
		else
			printf("\n  max_supported_vqs %u",
			       d->max_supported_vqs);
	}
	if (d->present & VDPAMAP_MGMTDEV_HAS_FEATURES)
		print_features(c, j, "dev_features", d->supported_features,
			       (d->supported_classes & (1ULL << 1)) ? 1 : 0);
	if (c->json)
		json_obj_close(j);
	else
		printf("\n");
}

static void mgmtdev_usage(FILE *f)
{
	fprintf(f, "Usage: vdpamap [-j] mgmtdev show [ MGMTDEV ]\n"
		   "MGMTDEV is \"bus/device\" or \"device\", e.g. "
		   "vdpasim_net or pci/0000:01:00.2\n");
}

static int get_mgmtdev(struct vdpamap_mgmt *m, const char *name,
		       union one_of *o)
{
	return vdpamap_mgmt_get_mgmtdev(m, name, &o->mgmtdev);
}

static int list_mgmtdevs(struct vdpamap_mgmt *m, void **ret, size_t *elem)
{
	struct vdpamap_mgmtdev *l = NULL;
	int n = vdpamap_mgmt_list_mgmtdevs(m, &l);

	*ret = l;
	*elem = sizeof(*l);
	return n;
}

static const struct show_kind mgmtdev_kind = {
	"mgmtdev show", "mgmtdev", get_mgmtdev, list_mgmtdevs, print_mgmtdev,
};

int cmd_mgmtdev(struct cli *c)
{
	struct vdpamap_mgmt *m = NULL;
	int r;

	if (c->argc >= 2 && (is(c->argv[1], "help") || is(c->argv[1], "-h") ||
			     is(c->argv[1], "--help"))) {
		mgmtdev_usage(stdout);
		return CLI_EXIT_OK;
	}
	if (c->argc >= 2 && !is(c->argv[1], "show") &&
	    !is(c->argv[1], "list")) {
		fprintf(stderr, "vdpamap mgmtdev: unknown command '%s'\n",
			c->argv[1]);
		mgmtdev_usage(stderr);
		return CLI_EXIT_USAGE;
	}
	if (c->argc > 3) {
		mgmtdev_usage(stderr);
		return CLI_EXIT_USAGE;
	}
	r = mgmt_open(c, "mgmtdev", &m);
	if (r)
		return r;
	r = show(c, m, &mgmtdev_kind, c->argc == 3 ? c->argv[2] : NULL);
	vdpamap_mgmt_close(m);
	return r;
}

/* ---- dev */
static void dev_usage(FILE *f)
{
	fprintf(f,
		"Usage: vdpamap [-j] dev show [ NAME ]\n"
		"       vdpamap dev add name NAME mgmtdev MGMTDEV [ mac MAC ] "
		"[ mtu MTU ] [ max_vqp N ]\n"
		"       vdpamap dev del NAME\n"
		"       vdpamap [-j] dev config show [ NAME ]\n");
}

static void print_dev(struct cli *c, struct json *j, const void *item)
{
	const struct vdpamap_vdpadev *d = item;
	char h[2 * VDPAMAP_MGMT_NAME_MAX];

	handle_str(h, sizeof(h), d->mgmtdev_bus, d->mgmtdev_name);
	if (c->json) {
		json_obj_open(j, d->name);
		json_str(j, "type", type_name(d->device_id));
		json_str(j, "mgmtdev", h);
		json_u64(j, "vendor_id", d->vendor_id);
		json_u64(j, "max_vqs", d->max_vqs);
		json_u64(j, "max_vq_size", d->max_vq_size);
		if (d->min_vq_size)
			json_u64(j, "min_vq_size", d->min_vq_size);
		json_obj_close(j);
		return;
	}
	printf("%s: type %s mgmtdev %s vendor_id %u max_vqs %u max_vq_size %u",
	       d->name, type_name(d->device_id), h, d->vendor_id, d->max_vqs,
	       d->max_vq_size);
	if (d->min_vq_size)
		printf(" min_vq_size %u", d->min_vq_size);
	printf("\n");
}

static int get_dev(struct vdpamap_mgmt *m, const char *name, union one_of *o)
{
	return vdpamap_mgmt_get_dev(m, name, &o->dev);
}

static int list_devs(struct vdpamap_mgmt *m, void **ret, size_t *elem)
{
	struct vdpamap_vdpadev *l = NULL;
	int n = vdpamap_mgmt_list_devs(m, &l);

	*ret = l;
	*elem = sizeof(*l);
	return n;
}

static const struct show_kind dev_kind = {
	"dev show", "dev", get_dev, list_devs, print_dev,
};

static int parse_u16(const char *what, const char *s, uint32_t *v)
{
	unsigned long x;
	char *end;

	if (!s || !*s)
		goto bad;
	errno = 0;
	x = strtoul(s, &end, 10);
	if (errno || *end || !x || x > 65535)
		goto bad;
	*v = (uint32_t)x;
	return 0;
bad:
	fprintf(stderr, "vdpamap dev add: %s needs a number 1..65535%s%s\n",
		what, s ? ", not " : "", s ? s : "");
	return -1;
}

static int parse_mac(const char *s, uint8_t mac[6])
{
	unsigned int b[6];
	int i, end = 0;

	if (!s ||
	    sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%n", &b[0], &b[1], &b[2], &b[3],
		   &b[4], &b[5], &end) != 6 ||
	    s[end]) {
		fprintf(stderr,
			"vdpamap dev add: bad mac '%s' (want "
			"xx:xx:xx:xx:xx:xx)\n",
			s ? s : "");
		return -1;
	}
	for (i = 0; i < 6; i++)
		mac[i] = (uint8_t)b[i];
	return 0;
}

struct add_args {
	struct vdpamap_mgmt_add_opts o;
	uint8_t mac[6];
};

/* Parse before touching netlink, so usage errors are usage errors. */
static int dev_add_parse(int argc, char **argv, struct add_args *a)
{
	int i;

	for (i = 0; i < argc; i += 2) {
		const char *k = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!v) {
			fprintf(stderr, "vdpamap dev add: '%s' needs a value\n",
				k);
			return CLI_EXIT_USAGE;
		}
		if (is(k, "name")) {
			a->o.name = v;
		} else if (is(k, "mgmtdev")) {
			a->o.mgmtdev = v;
		} else if (is(k, "mac")) {
			if (parse_mac(v, a->mac) < 0)
				return CLI_EXIT_USAGE;
			a->o.mac = a->mac;
		} else if (is(k, "mtu")) {
			if (parse_u16("mtu", v, &a->o.mtu) < 0)
				return CLI_EXIT_USAGE;
		} else if (is(k, "max_vqp")) {
			if (parse_u16("max_vqp", v, &a->o.max_vq_pairs) < 0)
				return CLI_EXIT_USAGE;
		} else {
			fprintf(stderr,
				"vdpamap dev add: unknown option "
				"'%s'\n",
				k);
			dev_usage(stderr);
			return CLI_EXIT_USAGE;
		}
	}
	if (!a->o.name || !a->o.mgmtdev) {
		fprintf(stderr, "vdpamap dev add: %s is not set\n",
			!a->o.name ? "name" : "mgmtdev");
		dev_usage(stderr);
		return CLI_EXIT_USAGE;
	}
	return CLI_EXIT_OK;
}

static int dev_del(struct vdpamap_mgmt *m, char **argv)
{
	int r;

	r = vdpamap_mgmt_del_dev(m, argv[0]);
	return r < 0 ? fail("dev del", r) : CLI_EXIT_OK;
}

static void print_config(struct cli *c, struct json *j, const void *item)
{
	const struct vdpamap_vdpadev_config *cf = item;
	char mac[32];

	snprintf(mac, sizeof(mac), "%02x:%02x:%02x:%02x:%02x:%02x", cf->mac[0],
		 cf->mac[1], cf->mac[2], cf->mac[3], cf->mac[4], cf->mac[5]);
	if (c->json)
		json_obj_open(j, cf->name);
	else
		printf("%s: ", cf->name);
	if (cf->present & VDPAMAP_CFG_MAC) {
		if (c->json)
			json_str(j, "mac", mac);
		else
			printf("mac %s ", mac);
	}
	if (cf->present & VDPAMAP_CFG_STATUS) {
		const char *link =
			(cf->status & VDPAMAP_NET_S_LINK_UP) ? "up" : "down";
		int ann = !!(cf->status & VDPAMAP_NET_S_ANNOUNCE);

		if (c->json) {
			json_str(j, "link", link);
			json_bool(j, "link_announce", ann);
		} else {
			printf("link %s link_announce %s ", link,
			       ann ? "true" : "false");
		}
	}
	if (cf->present & VDPAMAP_CFG_MAX_VQ_PAIRS) {
		if (c->json)
			json_u64(j, "max_vq_pairs", cf->max_vq_pairs);
		else
			printf("max_vq_pairs %u ", cf->max_vq_pairs);
	}
	if (cf->present & VDPAMAP_CFG_MTU) {
		if (c->json)
			json_u64(j, "mtu", cf->mtu);
		else
			printf("mtu %u ", cf->mtu);
	}
	if (cf->present & VDPAMAP_CFG_NEGOTIATED)
		print_features(c, j, "negotiated_features",
			       cf->negotiated_features, cf->device_id);
	if (cf->present & VDPAMAP_CFG_DEVICE_FEATURES)
		print_features(c, j, "dev_features", cf->device_features,
			       cf->device_id);
	if (c->json)
		json_obj_close(j);
	else
		printf("\n");
}

static int get_config(struct vdpamap_mgmt *m, const char *name, union one_of *o)
{
	return vdpamap_mgmt_get_config(m, name, &o->config);
}

static int list_configs(struct vdpamap_mgmt *m, void **ret, size_t *elem)
{
	struct vdpamap_vdpadev_config *l = NULL;
	int n = vdpamap_mgmt_list_configs(m, &l);

	*ret = l;
	*elem = sizeof(*l);
	return n;
}

static const struct show_kind config_kind = {
	"dev config show", "config", get_config, list_configs, print_config,
};

int cmd_dev(struct cli *c)
{
	const char *verb = c->argc >= 2 ? c->argv[1] : "show";
	int argc = c->argc >= 2 ? c->argc - 2 : 0;
	char **argv = c->argv + 2;
	struct vdpamap_mgmt *m = NULL;
	struct add_args add = { .o = { .sz = sizeof(add.o) } };
	int r, bad;

	if (is(verb, "help") || is(verb, "-h") || is(verb, "--help")) {
		dev_usage(stdout);
		return CLI_EXIT_OK;
	}
	/* "dev config" alone is "dev config show" */
	if (is(verb, "config") && argc >= 1) {
		if (!is(argv[0], "show")) {
			fprintf(stderr,
				"vdpamap dev config: unknown command "
				"'%s'\n",
				argv[0]);
			dev_usage(stderr);
			return CLI_EXIT_USAGE;
		}
		argc--;
		argv++;
	}
	if (is(verb, "add"))
		bad = dev_add_parse(argc, argv, &add);
	else if (is(verb, "del"))
		bad = argc != 1;
	else if (is(verb, "show") || is(verb, "list") || is(verb, "config"))
		bad = argc > 1;
	else
		bad = -1;
	if (bad) {
		if (bad < 0)
			fprintf(stderr, "vdpamap dev: unknown command '%s'\n",
				verb);
		if (bad != CLI_EXIT_USAGE) /* add printed its own */
			dev_usage(stderr);
		return CLI_EXIT_USAGE;
	}
	r = mgmt_open(c, "dev", &m);
	if (r)
		return r;
	if (is(verb, "add")) {
		r = vdpamap_mgmt_add_dev(m, &add.o);
		r = r < 0 ? fail("dev add", r) : CLI_EXIT_OK;
	} else if (is(verb, "del")) {
		r = dev_del(m, argv);
	} else {
		r = show(c, m, is(verb, "config") ? &config_kind : &dev_kind,
			 argc == 1 ? argv[0] : NULL);
	}
	vdpamap_mgmt_close(m);
	return r;
}
