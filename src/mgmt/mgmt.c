// SPDX-License-Identifier: BSD-3-Clause
/*
 * mgmt: the vdpa objects over the generic netlink exchange of nl.c:
 * management devices (MGMTDEV_GET), vdpa devices (DEV_NEW, DEV_DEL,
 * DEV_GET) and their config (DEV_CONFIG_GET), plus virtio feature names.
 *
 * Attribute and command numbers come from <linux/vdpa.h>.  Debian 12's copy
 * (6.1) still has VDPA_ATTR_VDPA_DEV_SUPPORTED_FEATURES (21), which upstream
 * removed again (21 is VDPA_ATTR_DEV_BLK_CFG_CAPACITY since 6.2): the device
 * features come in VDPA_ATTR_DEV_FEATURES (20), or in 21 on 6.1 (config_fill()).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <linux/vdpa.h>

#include <netlink/attr.h>
#include <netlink/msg.h>

#include "core/internal.h"
#include "mgmt/mgmt.h"

/* The numbers this file relies on (stable uAPI since Linux 5.x). */
_Static_assert(VDPA_CMD_MGMTDEV_GET == 2 && VDPA_CMD_DEV_NEW == 3 &&
		       VDPA_CMD_DEV_DEL == 4 && VDPA_CMD_DEV_GET == 5 &&
		       VDPA_CMD_DEV_CONFIG_GET == 6,
	       "vdpa command numbers");
_Static_assert(VDPA_ATTR_MGMTDEV_BUS_NAME == 1 && VDPA_ATTR_DEV_NAME == 4 &&
		       VDPA_ATTR_DEV_NET_CFG_MACADDR == 10 &&
		       VDPA_ATTR_DEV_NEGOTIATED_FEATURES == 14 &&
		       VDPA_ATTR_DEV_SUPPORTED_FEATURES == 16 &&
		       VDPA_ATTR_DEV_FEATURES == 20,
	       "vdpa attribute numbers");

#define VIRTIO_ID_NET_	 1
#define VIRTIO_ID_BLOCK_ 2
/* 6.1's VDPA_ATTR_VDPA_DEV_SUPPORTED_FEATURES (config_fill()) */
#define VDM_ATTR_61_DEV_FEATURES 21

VDPAMAP_API void *vdpamap_mgmt_free(void *list)
{
	free(list);
	return NULL;
}

/* ---- argument checks and attribute puts */
static int check_name(const char *name)
{
	size_t n;

	if (!name || !*name)
		return -EINVAL;
	n = strlen(name);
	if (n >= VDPAMAP_MGMT_NAME_MAX)
		return -ENAMETOOLONG;
	return 0;
}

/* iproute2's handle form: "bus/dev" or "dev". */
static int split_mgmtdev(const char *h, char *bus, char *dev)
{
	const char *slash;
	int e = check_name(h);

	if (e < 0)
		return e;
	slash = strchr(h, '/');
	if (!slash) {
		bus[0] = '\0';
		/* check_name() bounds its length:
		 * NOLINTNEXTLINE(clang-analyzer-security.insecureAPI.strcpy) */
		strcpy(dev, h);
		return 0;
	}
	if (slash == h || !slash[1] || strchr(slash + 1, '/'))
		return -EINVAL;
	memcpy(bus, h, (size_t)(slash - h));
	bus[slash - h] = '\0';
	/* check_name() bounds its length:
	 * NOLINTNEXTLINE(clang-analyzer-security.insecureAPI.strcpy) */
	strcpy(dev, slash + 1);
	return 0;
}

static int put_name(struct nl_msg *msg, const void *arg)
{
	return nla_put_string(msg, VDPA_ATTR_DEV_NAME, arg);
}

struct mgmtdev_handle {
	char bus[VDPAMAP_MGMT_NAME_MAX];
	char dev[VDPAMAP_MGMT_NAME_MAX];
};

static int put_handle(struct nl_msg *msg, const struct mgmtdev_handle *h)
{
	if (h->bus[0] &&
	    nla_put_string(msg, VDPA_ATTR_MGMTDEV_BUS_NAME, h->bus) < 0)
		return -EMSGSIZE;
	return nla_put_string(msg, VDPA_ATTR_MGMTDEV_DEV_NAME, h->dev);
}

static int put_handle_fn(struct nl_msg *msg, const void *arg)
{
	return put_handle(msg, arg);
}

/* ---- result collection: one object, or a growing array */
typedef int (*vdm_fill_fn)(struct vdm_mgmt_req *r, struct nlattr **tb,
			   void *out);

struct vdm_list {
	void *v;
	size_t n, cap, elsz;
	vdm_fill_fn fill;
};

static int list_msg(struct vdm_mgmt_req *r, struct nlattr **tb)
{
	struct vdm_list *l = r->arg;
	void *slot;
	int e;

	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 8;
		void *v = realloc(l->v, cap * l->elsz);

		if (!v)
			return -ENOMEM;
		l->v = v;
		l->cap = cap;
	}
	slot = (char *)l->v + l->n * l->elsz;
	memset(slot, 0, l->elsz);
	e = l->fill(r, tb, slot);
	if (e == -ENAMETOOLONG) {
		vdm_mgmt_log(r->m, VDPAMAP_LOG_WARN,
			     "%s: skipping an entry whose name is longer "
			     "than %d",
			     r->what, VDPAMAP_MGMT_NAME_MAX - 1);
		return 0;
	}
	if (e < 0)
		return e;
	l->n++;
	return 0;
}

static int list_run(struct vdpamap_mgmt *m, const char *what, uint8_t cmd,
		    size_t elsz, vdm_fill_fn fill, void **ret)
{
	struct vdm_list l = { .elsz = elsz, .fill = fill };
	struct vdm_mgmt_req r = { .what = what, .fn = list_msg, .arg = &l };
	int e;

	if (!ret)
		return -EINVAL;
	e = vdm_mgmt_request(m, &r, cmd, 1, NULL, NULL);
	if (e < 0) {
		free(l.v);
		return e;
	}
	if (l.n > INT32_MAX) {
		free(l.v);
		return -EOVERFLOW;
	}
	if (!l.n) {
		free(l.v);
		l.v = NULL;
	}
	*ret = l.v;
	return (int)l.n;
}

struct vdm_one {
	void *out;
	vdm_fill_fn fill;
};

static int one_msg(struct vdm_mgmt_req *r, struct nlattr **tb)
{
	struct vdm_one *o = r->arg;

	if (r->nmsgs > 1)
		return -EPROTO;
	return o->fill(r, tb, o->out);
}

static int one_run(struct vdpamap_mgmt *m, const char *what, const char *obj,
		   uint8_t cmd, vdm_fill_fn fill, void *out,
		   vdm_mgmt_put_fn put, const void *put_arg)
{
	struct vdm_one o = { .out = out, .fill = fill };
	struct vdm_mgmt_req r = {
		.what = what, .obj = obj, .fn = one_msg, .arg = &o
	};
	int e;

	e = vdm_mgmt_request(m, &r, cmd, 0, put, put_arg);
	if (e < 0)
		return e;
	if (r.nmsgs != 1) {
		vdm_mgmt_log(m, VDPAMAP_LOG_ERR,
			     "%s %s: %d replies, expected 1", what, obj,
			     r.nmsgs);
		return -EPROTO;
	}
	return 0;
}

/* ---- management devices */
static int mgmtdev_fill(struct vdm_mgmt_req *r, struct nlattr **tb, void *out)
{
	struct vdpamap_mgmtdev *d = out;
	int e;

	e = vdm_nla_str(tb[VDPA_ATTR_MGMTDEV_DEV_NAME], d->name,
			sizeof(d->name));
	if (e < 0)
		return e;
	if (tb[VDPA_ATTR_MGMTDEV_BUS_NAME]) {
		e = vdm_nla_str(tb[VDPA_ATTR_MGMTDEV_BUS_NAME], d->bus,
				sizeof(d->bus));
		if (e < 0)
			return e;
	}
	if (vdm_nla_u64(tb[VDPA_ATTR_MGMTDEV_SUPPORTED_CLASSES],
			&d->supported_classes) == 0)
		d->present |= VDPAMAP_MGMTDEV_HAS_CLASSES;
	if (vdm_nla_u32(tb[VDPA_ATTR_DEV_MGMTDEV_MAX_VQS],
			&d->max_supported_vqs) == 0)
		d->present |= VDPAMAP_MGMTDEV_HAS_MAX_VQS;
	if (vdm_nla_u64(tb[VDPA_ATTR_DEV_SUPPORTED_FEATURES],
			&d->supported_features) == 0)
		d->present |= VDPAMAP_MGMTDEV_HAS_FEATURES;
	return 0;
}

VDPAMAP_API int vdpamap_mgmt_list_mgmtdevs(struct vdpamap_mgmt *m,
					   struct vdpamap_mgmtdev **ret)
{
	return list_run(m, "MGMTDEV_GET", VDPA_CMD_MGMTDEV_GET, sizeof(**ret),
			mgmtdev_fill, (void **)ret);
}

VDPAMAP_API int vdpamap_mgmt_get_mgmtdev(struct vdpamap_mgmt *m,
					 const char *mgmtdev,
					 struct vdpamap_mgmtdev *ret)
{
	struct vdpamap_mgmtdev d = { 0 };
	struct mgmtdev_handle h;
	int e;

	if (!ret)
		return -EINVAL;
	e = split_mgmtdev(mgmtdev, h.bus, h.dev);
	if (e < 0)
		return e;
	e = one_run(m, "MGMTDEV_GET", mgmtdev, VDPA_CMD_MGMTDEV_GET,
		    mgmtdev_fill, &d, put_handle_fn, &h);
	if (e < 0)
		return e;
	*ret = d;
	return 0;
}

/* ---- vdpa devices */
static int vdpadev_fill(struct vdm_mgmt_req *r, struct nlattr **tb, void *out)
{
	struct vdpamap_vdpadev *d = out;
	uint16_t v16;
	int e;

	(void)r;
	e = vdm_nla_str(tb[VDPA_ATTR_DEV_NAME], d->name, sizeof(d->name));
	if (e < 0)
		return e;
	if (tb[VDPA_ATTR_MGMTDEV_DEV_NAME]) {
		e = vdm_nla_str(tb[VDPA_ATTR_MGMTDEV_DEV_NAME], d->mgmtdev_name,
				sizeof(d->mgmtdev_name));
		if (e < 0)
			return e;
	}
	if (tb[VDPA_ATTR_MGMTDEV_BUS_NAME]) {
		e = vdm_nla_str(tb[VDPA_ATTR_MGMTDEV_BUS_NAME], d->mgmtdev_bus,
				sizeof(d->mgmtdev_bus));
		if (e < 0)
			return e;
	}
	if (vdm_nla_u32(tb[VDPA_ATTR_DEV_ID], &d->device_id) < 0)
		return -EPROTO;
	vdm_nla_u32(tb[VDPA_ATTR_DEV_VENDOR_ID], &d->vendor_id);
	vdm_nla_u32(tb[VDPA_ATTR_DEV_MAX_VQS], &d->max_vqs);
	if (vdm_nla_u16(tb[VDPA_ATTR_DEV_MAX_VQ_SIZE], &v16) == 0)
		d->max_vq_size = v16;
	if (vdm_nla_u16(tb[VDPA_ATTR_DEV_MIN_VQ_SIZE], &v16) == 0)
		d->min_vq_size = v16;
	return 0;
}

VDPAMAP_API int vdpamap_mgmt_list_devs(struct vdpamap_mgmt *m,
				       struct vdpamap_vdpadev **ret)
{
	return list_run(m, "DEV_GET", VDPA_CMD_DEV_GET, sizeof(**ret),
			vdpadev_fill, (void **)ret);
}

VDPAMAP_API int vdpamap_mgmt_get_dev(struct vdpamap_mgmt *m, const char *name,
				     struct vdpamap_vdpadev *ret)
{
	struct vdpamap_vdpadev d = { 0 };
	int e;

	if (!ret)
		return -EINVAL;
	e = check_name(name);
	if (e < 0)
		return e;
	e = one_run(m, "DEV_GET", name, VDPA_CMD_DEV_GET, vdpadev_fill, &d,
		    put_name, name);
	if (e < 0)
		return e;
	*ret = d;
	return 0;
}

struct add_args {
	const char *name;
	struct mgmtdev_handle h;
	const uint8_t *mac;
	uint32_t mtu, max_vqp;
	uint64_t features;
};

static int put_add(struct nl_msg *msg, const void *arg)
{
	const struct add_args *a = arg;

	if (put_handle(msg, &a->h) < 0 ||
	    nla_put_string(msg, VDPA_ATTR_DEV_NAME, a->name) < 0)
		return -EMSGSIZE;
	if (a->mac &&
	    nla_put(msg, VDPA_ATTR_DEV_NET_CFG_MACADDR, 6, a->mac) < 0)
		return -EMSGSIZE;
	if (a->mtu &&
	    nla_put_u16(msg, VDPA_ATTR_DEV_NET_CFG_MTU, (uint16_t)a->mtu) < 0)
		return -EMSGSIZE;
	if (a->max_vqp && nla_put_u16(msg, VDPA_ATTR_DEV_NET_CFG_MAX_VQP,
				      (uint16_t)a->max_vqp) < 0)
		return -EMSGSIZE;
	if (a->features &&
	    nla_put_u64(msg, VDPA_ATTR_DEV_FEATURES, a->features) < 0)
		return -EMSGSIZE;
	return 0;
}

VDPAMAP_API int vdpamap_mgmt_add_dev(struct vdpamap_mgmt *m,
				     const struct vdpamap_mgmt_add_opts *opts)
{
	struct vdm_mgmt_req r = { .what = "DEV_NEW" };
	struct add_args a = { 0 };
	int e;

	if (!m || !opts)
		return -EINVAL;
	e = OPTS_ERR(opts, vdpamap_mgmt_add_opts);
	if (e < 0)
		return e;
	a.name = OPTS_GET(opts, name, NULL);
	e = check_name(a.name);
	if (e < 0) {
		vdm_mgmt_log(m, VDPAMAP_LOG_ERR, "DEV_NEW: %s name",
			     e == -EINVAL ? "missing" : "too long a");
		return e;
	}
	e = split_mgmtdev(OPTS_GET(opts, mgmtdev, NULL), a.h.bus, a.h.dev);
	if (e < 0) {
		vdm_mgmt_log(m, VDPAMAP_LOG_ERR,
			     "DEV_NEW %s: mgmtdev missing or not \"bus/dev\" or "
			     "\"dev\"",
			     a.name);
		return e;
	}
	a.mac = OPTS_GET(opts, mac, NULL);
	a.mtu = OPTS_GET(opts, mtu, 0);
	a.max_vqp = OPTS_GET(opts, max_vq_pairs, 0);
	a.features = OPTS_GET(opts, device_features, 0);
	if (a.mtu > UINT16_MAX || a.max_vqp > UINT16_MAX) {
		vdm_mgmt_log(m, VDPAMAP_LOG_ERR,
			     "DEV_NEW %s: %s %u above 65535", a.name,
			     a.mtu > UINT16_MAX ? "mtu" : "max_vq_pairs",
			     a.mtu > UINT16_MAX ? a.mtu : a.max_vqp);
		return -EINVAL;
	}
	r.obj = a.name;
	return vdm_mgmt_request(m, &r, VDPA_CMD_DEV_NEW, 0, put_add, &a);
}

VDPAMAP_API int vdpamap_mgmt_del_dev(struct vdpamap_mgmt *m, const char *name)
{
	struct vdm_mgmt_req r = { .what = "DEV_DEL", .obj = name };
	int e = check_name(name);

	if (e < 0)
		return e;
	return vdm_mgmt_request(m, &r, VDPA_CMD_DEV_DEL, 0, put_name, name);
}

/* ---- config */
static int config_fill(struct vdm_mgmt_req *r, struct nlattr **tb, void *out)
{
	struct vdpamap_vdpadev_config *c = out;
	struct nlattr *a;
	uint16_t v16;
	int e;

	(void)r;
	e = vdm_nla_str(tb[VDPA_ATTR_DEV_NAME], c->name, sizeof(c->name));
	if (e < 0)
		return e;
	vdm_nla_u32(tb[VDPA_ATTR_DEV_ID], &c->device_id);
	a = tb[VDPA_ATTR_DEV_NET_CFG_MACADDR];
	if (a && nla_len(a) == (int)sizeof(c->mac)) {
		memcpy(c->mac, nla_data(a), sizeof(c->mac));
		c->present |= VDPAMAP_CFG_MAC;
	}
	/* uAPI comment says u8, the kernel puts a u16: take either */
	a = tb[VDPA_ATTR_DEV_NET_STATUS];
	if (a && nla_len(a) >= 2) {
		memcpy(&v16, nla_data(a), 2);
		c->status = v16;
		c->present |= VDPAMAP_CFG_STATUS;
	} else if (a && nla_len(a) == 1) {
		c->status = *(const uint8_t *)nla_data(a);
		c->present |= VDPAMAP_CFG_STATUS;
	}
	if (vdm_nla_u16(tb[VDPA_ATTR_DEV_NET_CFG_MTU], &c->mtu) == 0)
		c->present |= VDPAMAP_CFG_MTU;
	if (vdm_nla_u16(tb[VDPA_ATTR_DEV_NET_CFG_MAX_VQP], &c->max_vq_pairs) ==
	    0)
		c->present |= VDPAMAP_CFG_MAX_VQ_PAIRS;
	if (vdm_nla_u64(tb[VDPA_ATTR_DEV_NEGOTIATED_FEATURES],
			&c->negotiated_features) == 0)
		c->present |= VDPAMAP_CFG_NEGOTIATED;
	/* the same flag from the attribute of either kernel layout:
	 * NOLINTBEGIN(bugprone-branch-clone) */
	if (vdm_nla_u64(tb[VDPA_ATTR_DEV_FEATURES], &c->device_features) == 0)
		c->present |= VDPAMAP_CFG_DEVICE_FEATURES;
	/* Linux 6.1 reports them in 21 (VDPA_ATTR_VDPA_DEV_SUPPORTED_FEATURES),
	 * which 6.2 reused as VDPA_ATTR_DEV_BLK_CFG_CAPACITY: on a kernel of
	 * the later layout 21 only ever comes with a block device, so for any
	 * other class it is the 6.1 meaning (measured on 6.1.192: net). */
	else if (c->device_id != VIRTIO_ID_BLOCK_ &&
		 vdm_nla_u64(tb[VDM_ATTR_61_DEV_FEATURES],
			     &c->device_features) == 0)
		c->present |= VDPAMAP_CFG_DEVICE_FEATURES;
	/* NOLINTEND(bugprone-branch-clone) */
	return 0;
}

VDPAMAP_API int vdpamap_mgmt_get_config(struct vdpamap_mgmt *m,
					const char *name,
					struct vdpamap_vdpadev_config *ret)
{
	struct vdpamap_vdpadev_config c = { 0 };
	int e;

	if (!ret)
		return -EINVAL;
	e = check_name(name);
	if (e < 0)
		return e;
	e = one_run(m, "DEV_CONFIG_GET", name, VDPA_CMD_DEV_CONFIG_GET,
		    config_fill, &c, put_name, name);
	if (e < 0)
		return e;
	*ret = c;
	return 0;
}

VDPAMAP_API int vdpamap_mgmt_list_configs(struct vdpamap_mgmt *m,
					  struct vdpamap_vdpadev_config **ret)
{
	return list_run(m, "DEV_CONFIG_GET", VDPA_CMD_DEV_CONFIG_GET,
			sizeof(**ret), config_fill, (void **)ret);
}

/* ---- feature names, spelled as iproute2's vdpa prints them */
static const char *const net_features[64] = {
	[0] = "CSUM",
	[1] = "GUEST_CSUM",
	[2] = "CTRL_GUEST_OFFLOADS",
	[3] = "MTU",
	[5] = "MAC",
	[7] = "GUEST_TSO4",
	[8] = "GUEST_TSO6",
	[9] = "GUEST_ECN",
	[10] = "GUEST_UFO",
	[11] = "HOST_TSO4",
	[12] = "HOST_TSO6",
	[13] = "HOST_ECN",
	[14] = "HOST_UFO",
	[15] = "MRG_RXBUF",
	[16] = "STATUS",
	[17] = "CTRL_VQ",
	[18] = "CTRL_RX",
	[19] = "CTRL_VLAN",
	[20] = "CTRL_RX_EXTRA",
	[21] = "GUEST_ANNOUNCE",
	[22] = "MQ",
	[23] = "CTRL_MAC_ADDR",
	[24] = "NOTIFY_ON_EMPTY",
	[27] = "ANY_LAYOUT",
	[57] = "HASH_REPORT",
	[60] = "RSS",
	[61] = "RSC_EXT",
	[62] = "STANDBY",
	[63] = "SPEED_DUPLEX",
};

/* virtio transport feature bits 28..40, device independent */
static const char *const transport_features[64] = {
	[28] = "RING_INDIRECT_DESC", [29] = "RING_EVENT_IDX",
	[32] = "VERSION_1",	     [33] = "ACCESS_PLATFORM",
	[34] = "RING_PACKED",	     [35] = "IN_ORDER",
	[36] = "ORDER_PLATFORM",     [37] = "SR_IOV",
	[38] = "NOTIFICATION_DATA",
};

VDPAMAP_API const char *vdpamap_mgmt_feature_name(uint32_t device_id,
						  uint32_t bit)
{
	if (bit >= 64)
		return NULL;
	if (bit >= 28 && bit <= 40)
		return transport_features[bit];
	if (device_id == VIRTIO_ID_NET_)
		return net_features[bit];
	return NULL;
}
