/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * mgmt: vdpa device management (a side module above lifecycle) over the
 * kernel's generic netlink family "vdpa" (drivers/vdpa/vdpa.c), through
 * libnl-3 and libnl-genl-3.  This is the module's one internal header.
 *
 *  nl.c       the handle: socket, family lookup, one request/reply
 *             exchange at a time, the kernel's errno and extended-ack
 *             text; the only place libnl's NLE_* codes are seen
 *  mgmt.c     the vdpa objects: management devices, devices, config
 *  chardev.c  vdpa device name -> /dev/vhost-vdpa-N (sysfs), open by
 *             name (through lifecycle's vdm_open())
 * Inside the module: mgmt.c and chardev.c call nl.c.
 *
 * May include: lifecycle/lifecycle.h (chardev.c), core/internal.h
 * (OPTS_*), the public headers, libnl-3, libnl-genl-3, libc.  Nothing of
 * migrate or handoff; nothing below uses mgmt.
 */
#ifndef VDPAMAP_MGMT_INTERNAL_H
#define VDPAMAP_MGMT_INTERNAL_H

#include <pthread.h>
#include <stdint.h>
#include <sys/types.h>

#include <netlink/attr.h>
#include <netlink/msg.h>

#include "vdpamap_mgmt.h"

/* Large enough for any attribute table we parse (vdpa: 37 in 6.12;
 * nlctrl: < 16); larger types are ignored. */
#define VDM_MGMT_ATTR_MAX 63

struct vdpamap_mgmt {
	pthread_mutex_t lock; /* one request at a time */
	struct nl_sock *sk;
	struct nl_cb *cb;
	int family; /* resolved id of "vdpa" */
	pid_t pid;  /* of the opener: -ECHILD elsewhere */
	vdpamap_log_fn log_fn;
	void *log_ctx;
	int log_level;
};

void vdm_mgmt_log(const struct vdpamap_mgmt *m, int level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* One request and its replies.  fn is called for every data message with
 * its attributes parsed into tb[0..VDM_MGMT_ATTR_MAX]. */
struct vdm_mgmt_req;
typedef int (*vdm_mgmt_msg_fn)(struct vdm_mgmt_req *r, struct nlattr **tb);
/* Adds the request's attributes; < 0 if they do not fit. */
typedef int (*vdm_mgmt_put_fn)(struct nl_msg *msg, const void *arg);

struct vdm_mgmt_req {
	struct vdpamap_mgmt *m;
	const char *what; /* for log lines: "DEV_NEW" */
	const char *obj;  /* the object named, or NULL */
	vdm_mgmt_msg_fn fn;
	void *arg;
	uint32_t seq;
	int done;
	int err;   /* first error, negative errno */
	int nmsgs; /* data messages handed to fn */
};

/* Send vdpa command cmd (a dump if dump, else acked) with put's attributes
 * and receive every reply; takes the handle lock.  Returns 0 or the first
 * error: the kernel's errno (its text logged), fn's, or a socket error. */
int vdm_mgmt_request(struct vdpamap_mgmt *m, struct vdm_mgmt_req *r,
		     uint8_t cmd, int dump, vdm_mgmt_put_fn put,
		     const void *put_arg);

/* Length-checked attribute readers: -EPROTO if absent or short;
 * vdm_nla_str: -ENAMETOOLONG if it does not fit in len. */
int vdm_nla_u16(const struct nlattr *a, uint16_t *v);
int vdm_nla_u32(const struct nlattr *a, uint32_t *v);
int vdm_nla_u64(const struct nlattr *a, uint64_t *v);
int vdm_nla_str(const struct nlattr *a, char *buf, size_t len);

#endif
