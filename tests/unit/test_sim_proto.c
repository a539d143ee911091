// SPDX-License-Identifier: BSD-3-Clause
/*
 * The simulator daemon seen through its wire protocol only (src/simproto.h):
 * a raw client sends the same ioctl requests and 72-byte IOTLB writes the
 * kernel takes, and checks the kernel's answers (UAPI.md), the tables, fault
 * injection, PA memlock charging and a real TX -> RX loopback through split
 * rings in a memfd.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/vhost.h>
#include <cmocka.h>

#include "vdpamap.h"
#include "transport/simproto.h"
#include "sim/sim.h"

#define F_V2	 VSIM_BIT(VHOST_BACKEND_F_IOTLB_MSG_V2)
#define F_BATCH	 VSIM_BIT(VHOST_BACKEND_F_IOTLB_BATCH)
#define F_ASID	 VSIM_BIT(VHOST_BACKEND_F_IOTLB_ASID)
#define F_PERS	 VSIM_BIT(VHOST_BACKEND_F_IOTLB_PERSIST)
#define F_DESC	 VSIM_BIT(VHOST_BACKEND_F_DESC_ASID)
#define VIRTIO_F (VSIM_BIT(32) | VSIM_BIT(33))
#define MEMSZ	 (1U << 20)
#define IOVA0	 0x100000ULL

/* ---- a raw simproto client */

struct cli {
	int fd;
	uint64_t token;
};

static int cli_connect(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	/* the test's own socket path, short:
	 * NOLINTNEXTLINE(clang-analyzer-security.insecureAPI.strcpy) */
	strcpy(sa.sun_path, path);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

static int cli_raw(int fd, const void *pkt, size_t n, int sendfd, void *out,
		   size_t *outlen)
{
	union {
		char b[CMSG_SPACE(sizeof(int))];
		struct cmsghdr a;
	} cm;
	struct iovec iov = { .iov_base = (void *)pkt, .iov_len = n };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	uint8_t rbuf[VSIM_MAX_PKT];
	struct vsim_rep rep;
	ssize_t r;

	if (sendfd >= 0) {
		struct cmsghdr *ch;

		memset(&cm, 0, sizeof(cm));
		mh.msg_control = cm.b;
		mh.msg_controllen = sizeof(cm.b);
		ch = CMSG_FIRSTHDR(&mh);
		ch->cmsg_level = SOL_SOCKET;
		ch->cmsg_type = SCM_RIGHTS;
		ch->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(ch), &sendfd, sizeof(int));
	}
	assert_int_equal(sendmsg(fd, &mh, MSG_NOSIGNAL), (ssize_t)n);
	r = recv(fd, rbuf, sizeof(rbuf), 0);
	assert_true(r >= (ssize_t)sizeof(rep));
	memcpy(&rep, rbuf, sizeof(rep));
	assert_int_equal(rep.len, (size_t)r - sizeof(rep));
	if (out && outlen) {
		assert_true(rep.len <= *outlen);
		memcpy(out, rbuf + sizeof(rep), rep.len);
		*outlen = rep.len;
	}
	return rep.ret;
}

static int cli_req(struct cli *c, uint32_t op, uint64_t arg, const void *pl,
		   size_t len, int sendfd, void *out, size_t *outlen)
{
	uint8_t pkt[sizeof(struct vsim_req) + 512];
	struct vsim_req q = { .magic = VSIM_MAGIC,
			      .op = op,
			      .token = c->token,
			      .arg = arg,
			      .len = (uint32_t)len };

	assert_true(len <= 512);
	memcpy(pkt, &q, sizeof(q));
	if (len)
		memcpy(pkt + sizeof(q), pl, len);
	return cli_raw(c->fd, pkt, sizeof(q) + len, sendfd, out, outlen);
}

static int cli_open(struct cli *c, const char *path, uint64_t token)
{
	int r;

	c->fd = cli_connect(path);
	c->token = token;
	r = cli_req(c, VSIM_OP_HELLO, VSIM_KIND_DEVICE, NULL, 0, -1, NULL,
		    NULL);
	if (r) {
		close(c->fd);
		c->fd = -1;
	}
	return r;
}

/* ioctl: in = the _IOC_WRITE bytes, out gets the _IOC_READ bytes */
static int ioc(struct cli *c, uint32_t cmd, const void *in, size_t inlen,
	       void *out, size_t outlen, int fd)
{
	size_t ol = outlen;

	return cli_req(c, VSIM_OP_IOCTL, cmd, in, inlen, fd, out, &ol);
}

static int ioc_u64(struct cli *c, uint32_t cmd, uint64_t v)
{
	return ioc(c, cmd, &v, sizeof(v), NULL, 0, -1);
}

static int ioc_u8(struct cli *c, uint32_t cmd, uint8_t v)
{
	return ioc(c, cmd, &v, 1, NULL, 0, -1);
}

static int ioc_state(struct cli *c, uint32_t cmd, uint32_t idx, uint32_t num,
		     struct vhost_vring_state *out)
{
	struct vhost_vring_state s = { .index = idx, .num = num };

	return ioc(c, cmd, &s, sizeof(s), out, out ? sizeof(*out) : 0, -1);
}

static int msg(struct cli *c, uint32_t asid, uint8_t type, uint64_t iova,
	       uint64_t size, uint64_t uaddr, uint8_t perm)
{
	struct vhost_msg_v2 m;

	memset(&m, 0, sizeof(m));
	m.type = VHOST_IOTLB_MSG_V2;
	m.asid = asid;
	m.iotlb.type = type;
	m.iotlb.iova = iova;
	m.iotlb.size = size;
	m.iotlb.uaddr = uaddr;
	m.iotlb.perm = perm;
	return cli_req(c, VSIM_OP_WRITE, 0, &m, sizeof(m), -1, NULL, NULL);
}

static int upd(struct cli *c, uint32_t asid, uint64_t iova, uint64_t size,
	       const void *p)
{
	return msg(c, asid, VHOST_IOTLB_UPDATE, iova, size, (uintptr_t)p,
		   VHOST_ACCESS_RW);
}

static int inval(struct cli *c, uint32_t asid, uint64_t iova, uint64_t size)
{
	return msg(c, asid, VHOST_IOTLB_INVALIDATE, iova, size, 0, 0);
}

/* ---- fixture */

struct fx {
	char path[108];
	pid_t pid;
	struct cli c;
	int mfd;
	uint8_t *mem;
};

static struct fx *fx_new_o(const struct vdpamap_sim_opts *o)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	assert_int_equal(vdpamap_sim_spawn(o, f->path, sizeof(f->path),
					   &f->pid),
			 0);
	assert_true(f->pid > 0);
	assert_int_equal(cli_open(&f->c, f->path, 0x1111), 0);
	f->mfd = memfd_create("guest", MFD_CLOEXEC);
	assert_true(f->mfd >= 0);
	assert_int_equal(ftruncate(f->mfd, MEMSZ), 0);
	f->mem = mmap(NULL, MEMSZ, PROT_READ | PROT_WRITE, MAP_SHARED, f->mfd,
		      0);
	assert_true(f->mem != MAP_FAILED);
	return f;
}

static struct fx *fx_new(uint32_t flags, uint64_t offer)
{
	VDPAMAP_OPTS(vdpamap_sim_opts, o, .flags = flags,
		     .backend_features = offer);

	return fx_new_o(&o);
}

static struct fx *fx_profile(const char *profile, uint32_t max,
			     uint32_t parent_max)
{
	VDPAMAP_OPTS(vdpamap_sim_opts, o, .profile = profile,
		     .max_iotlb_entries = max,
		     .parent_max_iotlb_entries = parent_max);

	return fx_new_o(&o);
}

static int pid_alive(pid_t pid)
{
	char path[64], buf[256], *p;
	FILE *fp;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fp = fopen(path, "re");
	if (!fp)
		return 0;
	n = fread(buf, 1, sizeof(buf) - 1, fp);
	fclose(fp);
	buf[n] = 0;
	p = strrchr(buf, ')');
	return p && p[1] == ' ' && p[2] != 'Z' && p[2] != 'X';
}

static void fx_free(struct fx *f)
{
	if (f->c.fd >= 0)
		close(f->c.fd);
	assert_int_equal(vdpamap_sim_stop(f->path), 0);
	assert_int_equal(access(f->path, F_OK), -1);
	/* the daemon is gone (a zombie until whoever adopted it reaps it) */
	for (int i = 0; i < 200 && pid_alive(f->pid); i++)
		usleep(5000);
	assert_false(pid_alive(f->pid));
	munmap(f->mem, MEMSZ);
	close(f->mfd);
	free(f);
}

static int table(struct fx *f, uint32_t asid, struct vdpamap_sim_entry *e,
		 size_t n)
{
	return vdpamap_sim_table(f->path, asid, e, n);
}

static void own(struct fx *f, uint64_t backend)
{
	assert_int_equal(ioc(&f->c, VHOST_SET_OWNER, NULL, 0, NULL, 0, -1), 0);
	assert_int_equal(ioc_u64(&f->c, VHOST_SET_BACKEND_FEATURES, backend),
			 0);
}

/* ---- tests */

static void test_open_exclusive_and_malformed(void **state)
{
	struct fx *f = fx_new(0, 0);
	struct cli c2;
	struct vsim_req q = { .magic = 0xdeadbeef, .op = VSIM_OP_HELLO };
	uint8_t junk[3] = { 1, 2, 3 };

	(void)state;
	assert_int_equal(cli_open(&c2, f->path, 2), -EBUSY);
	c2.fd = cli_connect(f->path);
	assert_int_equal(cli_raw(c2.fd, &q, sizeof(q), -1, NULL, NULL),
			 -EINVAL);
	assert_int_equal(cli_raw(c2.fd, junk, sizeof(junk), -1, NULL, NULL),
			 -EINVAL);
	q.magic = VSIM_MAGIC;
	q.len = 100; /* says more than it carries */
	assert_int_equal(cli_raw(c2.fd, &q, sizeof(q), -1, NULL, NULL),
			 -EINVAL);
	close(c2.fd);
	/* closing the device makes it openable again, fresh */
	close(f->c.fd);
	assert_int_equal(cli_open(&f->c, f->path, 3), 0);
	fx_free(f);
}

static void test_ioctls(void **state)
{
	struct fx *f = fx_new(0, 0);
	struct cli *c = &f->c;
	struct vhost_vring_state s;
	struct vhost_vdpa_iova_range rg;
	uint64_t u64;
	uint32_t u32;
	uint16_t u16;
	uint8_t cfg[8 + 24];
	struct vhost_vdpa_config *h = (void *)cfg;

	(void)state;
	/* GETs, backend features and status need no owner */
	assert_int_equal(ioc(c, VHOST_GET_BACKEND_FEATURES, NULL, 0, &u64, 8,
			     -1),
			 0);
	assert_int_equal(u64, 0x17e);
	assert_int_equal(ioc(c, VHOST_VDPA_GET_DEVICE_ID, NULL, 0, &u32, 4, -1),
			 0);
	assert_int_equal(u32, 1);
	assert_int_equal(ioc(c, VHOST_VDPA_GET_VRING_NUM, NULL, 0, &u16, 2, -1),
			 0);
	assert_int_equal(u16, 256);
	assert_int_equal(ioc(c, VHOST_VDPA_GET_CONFIG_SIZE, NULL, 0, &u32, 4,
			     -1),
			 0);
	assert_int_equal(u32, 24);
	assert_int_equal(ioc(c, VHOST_VDPA_GET_AS_NUM, NULL, 0, &u32, 4, -1),
			 0);
	assert_int_equal(u32, 2);
	assert_int_equal(ioc(c, VHOST_VDPA_GET_VQS_COUNT, NULL, 0, &u32, 4, -1),
			 0);
	assert_int_equal(u32, 3);
	assert_int_equal(ioc(c, VHOST_VDPA_GET_IOVA_RANGE, NULL, 0, &rg,
			     sizeof(rg), -1),
			 0);
	assert_true(rg.first == 0 && rg.last == UINT64_MAX);
	h->off = 0;
	h->len = 24;
	assert_int_equal(ioc(c, VHOST_VDPA_GET_CONFIG, h, 8, cfg, sizeof(cfg),
			     -1),
			 0);
	assert_memory_equal(cfg + 8, "\x02\0\0\0\0\x02\x01\0", 8);
	h->off = 20;
	h->len = 5;
	assert_int_equal(ioc(c, VHOST_VDPA_GET_CONFIG, h, 8, cfg, sizeof(cfg),
			     -1),
			 -EINVAL);
	assert_int_equal(ioc(c, VHOST_GET_FEATURES, NULL, 0, &u64, 8, -1), 0);
	assert_true(u64 & VSIM_BIT(33));
	assert_int_equal(ioc_u64(c, VHOST_SET_FEATURES, VSIM_BIT(32)), -EINVAL);
	assert_int_equal(ioc_u8(c, VHOST_VDPA_SET_STATUS, 1), 0);
	assert_int_equal(ioc_u8(c, VHOST_VDPA_SET_STATUS, 2), -EINVAL);
	assert_int_equal(ioc_u8(c, VHOST_VDPA_SET_STATUS, 0), 0);
	assert_int_equal(ioc(c, VHOST_VDPA_SUSPEND, NULL, 0, NULL, 0, -1), 0);
	assert_int_equal(ioc(c, VHOST_VDPA_RESUME, NULL, 0, NULL, 0, -1), 0);

	/* backend features */
	assert_int_equal(ioc_u64(c, VHOST_SET_BACKEND_FEATURES, F_DESC),
			 -EINVAL);
	assert_int_equal(ioc_u64(c, VHOST_SET_BACKEND_FEATURES,
				 F_DESC | F_ASID),
			 -EOPNOTSUPP);
	assert_int_equal(ioc_u64(c, VHOST_SET_BACKEND_FEATURES, VSIM_BIT(9)),
			 -EOPNOTSUPP);

	/* owner-checked: EPERM before SET_OWNER */
	assert_int_equal(ioc_state(c, VHOST_VDPA_GET_VRING_GROUP, 2, 0, &s),
			 -EPERM);
	assert_int_equal(ioc(c, VHOST_RESET_OWNER, NULL, 0, NULL, 0, -1),
			 -EPERM);
	assert_int_equal(ioc(c, VHOST_SET_OWNER, NULL, 0, NULL, 0, -1), 0);
	assert_int_equal(ioc(c, VHOST_SET_OWNER, NULL, 0, NULL, 0, -1), -EBUSY);
	/* RESET_OWNER has no handler: the vring path reads a NULL arg */
	assert_int_equal(ioc(c, VHOST_RESET_OWNER, NULL, 0, NULL, 0, -1),
			 -EFAULT);
	assert_int_equal(ioc_state(c, VHOST_VDPA_GET_VRING_GROUP, 2, 0, &s), 0);
	assert_int_equal(s.num, 1);
	assert_int_equal(ioc_state(c, VHOST_VDPA_GET_VRING_GROUP, 1, 0, &s), 0);
	assert_int_equal(s.num, 0);
	assert_int_equal(ioc_state(c, VHOST_VDPA_GET_VRING_GROUP, 3, 0, &s),
			 -ENOBUFS);
	assert_int_equal(ioc_state(c, VHOST_VDPA_SET_GROUP_ASID, 1, 2, NULL),
			 -EINVAL);
	assert_int_equal(ioc_state(c, VHOST_VDPA_SET_GROUP_ASID, 1, 1, NULL),
			 0);
	assert_int_equal(ioc_state(c, VHOST_VDPA_GET_VRING_DESC_GROUP, 0, 0,
				   &s),
			 -EOPNOTSUPP);
	assert_int_equal(ioc_state(c, VHOST_VDPA_GET_VRING_SIZE, 0, 0, &s),
			 -EOPNOTSUPP);
	assert_int_equal(ioc_state(c, VHOST_SET_VRING_NUM, 0, 3, NULL),
			 -EINVAL);
	assert_int_equal(ioc_state(c, VHOST_SET_VRING_BASE, 0, 7, NULL), 0);
	assert_int_equal(ioc_state(c, VHOST_GET_VRING_BASE, 0, 0, &s), 0);
	assert_int_equal(s.num, 7);
	assert_int_equal(ioc(c, _IOW(VHOST_VIRTIO, 0x6f, uint32_t), "\0\0\0\0",
			     4, NULL, 0, -1),
			 -ENOTTY);

	/* another address space (token) is not the owner */
	{
		struct vhost_vring_file vf = { .index = 0, .fd = -1 };
		uint64_t t = c->token;

		c->token = 0x2222;
		assert_int_equal(ioc(c, VHOST_SET_VRING_KICK, &vf, sizeof(vf),
				     NULL, 0, -1),
				 -EPERM);
		assert_int_equal(msg(c, 0, VHOST_IOTLB_UPDATE, 0, 4096,
				     (uintptr_t)f->mem, 3),
				 -EFAULT);
		assert_int_equal(ioc(c, VHOST_VDPA_GET_STATUS, NULL, 0, &u16, 1,
				     -1),
				 0);
		c->token = t;
		vf.fd = 0; /* says "an fd", sends none */
		assert_int_equal(ioc(c, VHOST_SET_VRING_KICK, &vf, sizeof(vf),
				     NULL, 0, -1),
				 -EBADF);
		assert_int_equal(ioc(c, VHOST_SET_VRING_KICK, &vf, sizeof(vf),
				     NULL, 0, f->mfd),
				 -EINVAL);
	}
	fx_free(f);
}

static void test_iotlb_semantics(void **state)
{
	struct fx *f = fx_new(0, 0);
	struct cli *c = &f->c;
	struct vdpamap_sim_entry e[8];
	struct vdpamap_sim_stats st;
	struct vhost_msg_v2 two[2];
	void *anon;

	(void)state;
	own(f, F_V2 | F_BATCH); /* no IOTLB_ASID */
	/* INVALIDATE on an address space never used: no iotlb, EFAULT */
	assert_int_equal(inval(c, 0, 0, 4096), -EFAULT);
	assert_int_equal(upd(c, 0, IOVA0, 0x10000, f->mem), 72);
	assert_int_equal(upd(c, 0, IOVA0 + 0xf000, 0x2000, f->mem), -EFAULT);
	assert_int_equal(upd(c, 0, 0, 0, f->mem), -EINVAL);
	assert_int_equal(msg(c, 0, 9, 0, 1, 0, 3), -EFAULT); /* inner type */
	/* the asid field is ignored without IOTLB_ASID: lands in 0 */
	assert_int_equal(upd(c, 1, IOVA0 + 0x20000, 0x1000, f->mem + 0x20000),
			 72);
	assert_int_equal(table(f, 0, e, 8), 2);
	assert_int_equal(table(f, 1, e, 8), 0);
	assert_int_equal(table(f, 0, e, 8), 2);
	assert_true(e[0].iova == IOVA0 && e[0].size == 0x10000 &&
		    e[0].uaddr == (uintptr_t)f->mem && e[0].perm == 3);
	/* INVALIDATE removes every whole entry it touches, never splits */
	assert_int_equal(inval(c, 0, IOVA0 + 0x8000, 1), 72);
	assert_int_equal(table(f, 0, e, 8), 1);
	assert_int_equal(inval(c, 0, 0x5000000, 0x1000), 72); /* empty */
	/* one message per write */
	memset(two, 0, sizeof(two));
	for (int i = 0; i < 2; i++) {
		two[i].type = VHOST_IOTLB_MSG_V2;
		two[i].iotlb.type = VHOST_IOTLB_UPDATE;
		two[i].iotlb.iova = 0x400000 + i * 0x1000ULL;
		two[i].iotlb.size = 0x1000;
		two[i].iotlb.uaddr = (uintptr_t)f->mem + (long)i * 0x1000;
		two[i].iotlb.perm = 3;
	}
	assert_int_equal(cli_req(c, VSIM_OP_WRITE, 0, two, sizeof(two), -1,
				 NULL, NULL),
			 72);
	assert_int_equal(table(f, 0, e, 8), 2);
	/* bad outer type; short message */
	two[0].type = 7;
	assert_int_equal(cli_req(c, VSIM_OP_WRITE, 0, two, 72, -1, NULL, NULL),
			 -EINVAL);
	two[0].type = VHOST_IOTLB_MSG_V2;
	assert_int_equal(cli_req(c, VSIM_OP_WRITE, 0, two, 39, -1, NULL, NULL),
			 -EINVAL);
	/* VA mode: anonymous private memory "maps" OK and maps nothing */
	anon = mmap(NULL, 0x4000, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(anon != MAP_FAILED);
	assert_int_equal(upd(c, 0, 0x800000, 0x4000, anon), 72);
	assert_int_equal(table(f, 0, e, 8), 2);
	munmap(anon, 0x4000);

	/* un-batched: one push of the whole table per message; batched: one */
	assert_int_equal(vdpamap_sim_get_stats(f->path, &st), 0);
	uint64_t before = st.set_map_calls;

	assert_int_equal(msg(c, 0, VHOST_IOTLB_BATCH_BEGIN, 0, 0, 0, 0), 72);
	for (int i = 0; i < 4; i++)
		assert_int_equal(upd(c, 0, 0x900000 + i * 0x1000ULL, 0x1000,
				     f->mem + (ptrdiff_t)i * 0x1000),
				 72);
	assert_int_equal(vdpamap_sim_get_stats(f->path, &st), 0);
	assert_int_equal(st.set_map_calls, before);
	assert_int_equal(msg(c, 0, VHOST_IOTLB_BATCH_END, 0, 0, 0, 0), 72);
	assert_int_equal(vdpamap_sim_get_stats(f->path, &st), 0);
	assert_int_equal(st.set_map_calls, before + 1);
	/* loose batches: END without BEGIN, nested BEGIN */
	assert_int_equal(msg(c, 0, VHOST_IOTLB_BATCH_END, 0, 0, 0, 0), 72);
	assert_int_equal(msg(c, 0, VHOST_IOTLB_BATCH_BEGIN, 0, 0, 0, 0), 72);
	assert_int_equal(msg(c, 0, VHOST_IOTLB_BATCH_BEGIN, 0, 0, 0, 0), 72);
	assert_int_equal(msg(c, 0, VHOST_IOTLB_BATCH_END, 0, 0, 0, 0), 72);
	/* a reset does not clear vhost's table */
	assert_int_equal(ioc_u8(c, VHOST_VDPA_SET_STATUS, 0), 0);
	assert_int_equal(upd(c, 0, IOVA0 + 0x20000, 0x1000, f->mem), -EFAULT);
	fx_free(f);
}

static void test_asid(void **state)
{
	struct fx *f = fx_new(0, 0);
	struct cli *c = &f->c;
	struct vdpamap_sim_entry e[4];

	(void)state;
	/* SET_OWNER may carry the sender's /proc/self/mem (for Yama) */
	assert_int_equal(ioc(c, VHOST_SET_OWNER, NULL, 0, NULL, 0, f->mfd),
			 -EBADF);
	{
		int mfd = open("/proc/self/mem", O_RDWR | O_CLOEXEC);

		assert_true(mfd >= 0);
		assert_int_equal(ioc(c, VHOST_SET_OWNER, NULL, 0, NULL, 0, mfd),
				 0);
		close(mfd);
	}
	assert_int_equal(ioc_u64(c, VHOST_SET_BACKEND_FEATURES,
				 F_V2 | F_BATCH | F_ASID),
			 0);
	assert_int_equal(upd(c, 1, 0, 0x1000, f->mem), 72);
	assert_int_equal(upd(c, 0, 0, 0x1000, f->mem), 72);
	assert_int_equal(upd(c, 2, 0x1000, 0x1000, f->mem), -EFAULT);
	assert_int_equal(table(f, 1, e, 4), 1);
	assert_int_equal(table(f, 2, e, 4), -EINVAL);
	/* a message for another ASID inside a batch fails */
	assert_int_equal(msg(c, 1, VHOST_IOTLB_BATCH_BEGIN, 0, 0, 0, 0), 72);
	assert_int_equal(upd(c, 0, 0x2000, 0x1000, f->mem), -EFAULT);
	assert_int_equal(upd(c, 1, 0x2000, 0x1000, f->mem), 72);
	assert_int_equal(msg(c, 1, VHOST_IOTLB_BATCH_END, 0, 0, 0, 0), 72);
	assert_int_equal(table(f, 1, e, 4), 2);
	fx_free(f);
}

static void test_fail_nth(void **state)
{
	struct fx *f = fx_new(0, 0);
	struct cli *c = &f->c;
	struct vdpamap_sim_entry e[4];
	uint8_t st;

	(void)state;
	own(f, F_V2 | F_BATCH);
	assert_int_equal(vdpamap_sim_fail_nth(f->path, VDPAMAP_SIM_FAIL_MSG, 2),
			 0);
	assert_int_equal(upd(c, 0, 0, 0x1000, f->mem), 72);
	assert_int_equal(upd(c, 0, 0x1000, 0x1000, f->mem), -EFAULT);
	assert_int_equal(upd(c, 0, 0x1000, 0x1000, f->mem), 72);
	assert_int_equal(table(f, 0, e, 4), 2);
	assert_int_equal(vdpamap_sim_fail_nth(f->path, VDPAMAP_SIM_FAIL_IOCTL,
					      1),
			 0);
	assert_int_equal(ioc_u8(c, VHOST_VDPA_SET_STATUS, 1), -EIO);
	assert_int_equal(ioc(c, VHOST_VDPA_GET_STATUS, NULL, 0, &st, 1, -1), 0);
	assert_int_equal(st, 0);
	assert_int_equal(vdpamap_sim_fail_nth(f->path, VDPAMAP_SIM_FAIL_IOCTL,
					      5),
			 0);
	assert_int_equal(vdpamap_sim_fail_nth(f->path, VDPAMAP_SIM_FAIL_IOCTL,
					      0),
			 0);
	assert_int_equal(ioc_u8(c, VHOST_VDPA_SET_STATUS, 1), 0);
	assert_int_equal(vdpamap_sim_fail_nth(f->path, 9, 1), -EINVAL);
	fx_free(f);
}

/* ---- WRITEV: many writes per packet */

static void mk(struct vhost_msg_v2 *m, uint32_t asid, uint8_t type,
	       uint64_t iova, uint64_t size, const void *p)
{
	memset(m, 0, sizeof(*m));
	m->type = VHOST_IOTLB_MSG_V2;
	m->asid = asid;
	m->iotlb.type = type;
	m->iotlb.iova = iova;
	m->iotlb.size = size;
	m->iotlb.uaddr = (uintptr_t)p;
	m->iotlb.perm = type == VHOST_IOTLB_UPDATE ? VHOST_ACCESS_RW : 0;
}

/* One WRITEV packet of n records of rec bytes from recs: the reply's ret;
 * *rep its payload (which a refused packet lacks) */
static int wv(struct cli *c, const void *recs, size_t rec, size_t n,
	      struct vsim_writev_rep *rep)
{
	static uint8_t pkt[VSIM_MAX_PKT];
	struct vsim_req q = { .magic = VSIM_MAGIC,
			      .op = VSIM_OP_WRITEV,
			      .token = c->token,
			      .arg = rec,
			      .arg2 = (uint32_t)n,
			      .len = (uint32_t)(rec * n) };
	size_t ol = sizeof(*rep);
	int r;

	assert_true(sizeof(q) + rec * n <= sizeof(pkt));
	memcpy(pkt, &q, sizeof(q));
	memcpy(pkt + sizeof(q), recs, rec * n);
	memset(rep, 0xff, sizeof(*rep));
	r = cli_raw(c->fd, pkt, sizeof(q) + rec * n, -1, rep, &ol);
	assert_int_equal(ol, r ? 0 : sizeof(*rep));
	return r;
}

static uint64_t writes(struct fx *f)
{
	struct vdpamap_sim_stats st;

	assert_int_equal(vdpamap_sim_get_stats(f->path, &st), 0);
	return st.iotlb_writes;
}

/* VDPAMAP_SIM_FAIL_EXIT: at the nth write or ioctl, counted together, the
 * daemon exits before doing it and answers nothing: the connection ends
 * (EOF), the process goes and so does its socket.  Here the third event
 * is the first record of a WRITEV packet. */
static void test_fail_exit(void **state)
{
	struct fx *f = fx_new(0, 0);
	struct cli *c = &f->c;
	struct vhost_msg_v2 m[4];
	uint8_t pkt[sizeof(struct vsim_req) + sizeof(m)], rbuf[64];
	struct vsim_req q = { .magic = VSIM_MAGIC,
			      .op = VSIM_OP_WRITEV,
			      .token = c->token,
			      .arg = sizeof(m[0]),
			      .arg2 = 4,
			      .len = sizeof(m) };
	ssize_t n;
	int i;

	(void)state;
	own(f, F_V2 | F_BATCH);
	assert_int_equal(vdpamap_sim_fail_nth(f->path, VDPAMAP_SIM_FAIL_EXIT,
					      3),
			 0);
	assert_int_equal(upd(c, 0, 0, 0x1000, f->mem), 72);
	assert_int_equal(ioc_u8(c, VHOST_VDPA_SET_STATUS, 1), 0);
	for (i = 0; i < 4; i++)
		mk(&m[i], 0, VHOST_IOTLB_UPDATE, 0x1000 * (uint64_t)(i + 1),
		   0x1000, f->mem);
	memcpy(pkt, &q, sizeof(q));
	memcpy(pkt + sizeof(q), m, sizeof(m));
	assert_int_equal(send(c->fd, pkt, sizeof(pkt), MSG_NOSIGNAL),
			 (ssize_t)sizeof(pkt));
	n = recv(c->fd, rbuf, sizeof(rbuf), 0);
	assert_true(n == 0 || (n < 0 && errno == ECONNRESET));
	for (i = 0; i < 200 && pid_alive(f->pid); i++)
		usleep(5000);
	assert_false(pid_alive(f->pid));
	assert_int_equal(access(f->path, F_OK), -1);
	close(c->fd);
	munmap(f->mem, MEMSZ);
	close(f->mfd);
	free(f);
}

/* Each record is one write, counted and fault-injected as one; the first
 * refused ends the packet and nothing after it is written */
static void test_writev(void **state)
{
	enum { BIG = 1800 };
	static struct vhost_msg_v2 m[BIG];
	struct fx *f = fx_new(0, 0);
	struct cli *c = &f->c;
	struct vsim_writev_rep rep;
	uint64_t w0;
	int i;

	(void)state;
	own(f, F_V2 | F_BATCH);
	/* the second overlaps the first: the third, valid, is not written */
	mk(&m[0], 0, VHOST_IOTLB_UPDATE, IOVA0, 0x2000, f->mem);
	mk(&m[1], 0, VHOST_IOTLB_UPDATE, IOVA0 + 0x1000, 0x1000, f->mem);
	mk(&m[2], 0, VHOST_IOTLB_UPDATE, IOVA0 + 0x2000, 0x1000, f->mem);
	w0 = writes(f);
	assert_int_equal(wv(c, m, 72, 3, &rep), 0);
	assert_int_equal(rep.done, 1);
	assert_int_equal(rep.ret, -EFAULT);
	assert_int_equal(writes(f), w0 + 2);
	assert_int_equal(table(f, 0, NULL, 0), 1);
	/* fail_nth counts records: the 2nd of these fails */
	assert_int_equal(vdpamap_sim_fail_nth(f->path, VDPAMAP_SIM_FAIL_MSG, 2),
			 0);
	assert_int_equal(wv(c, &m[2], 72, 1, &rep), 0);
	assert_int_equal(rep.done, 1);
	mk(&m[3], 0, VHOST_IOTLB_UPDATE, IOVA0 + 0x3000, 0x1000, f->mem);
	assert_int_equal(wv(c, &m[3], 72, 1, &rep), 0);
	assert_int_equal(rep.done, 0);
	assert_int_equal(rep.ret, -EFAULT);
	assert_int_equal(wv(c, &m[3], 72, 1, &rep), 0);
	assert_int_equal(rep.done, 1);
	assert_int_equal(table(f, 0, NULL, 0), 3);
	/* a legacy message and a short one: as WRITE takes them */
	{
		struct vhost_msg old[2];

		memset(old, 0, sizeof(old));
		old[0].type = VHOST_IOTLB_MSG;
		old[0].iotlb.type = VHOST_IOTLB_INVALIDATE;
		old[0].iotlb.iova = IOVA0 + 0x3000;
		old[0].iotlb.size = 0x1000;
		old[1] = old[0];
		assert_int_equal(wv(c, old, sizeof(old[0]), 2, &rep), 0);
		assert_int_equal(rep.done, 2);
		assert_int_equal(table(f, 0, NULL, 0), 2);
		assert_int_equal(wv(c, old, 39, 1, &rep), 0);
		assert_int_equal(rep.done, 0);
		assert_int_equal(rep.ret, -EINVAL);
	}
	/* not the owner's address space: nothing */
	c->token++;
	assert_int_equal(wv(c, &m[3], 72, 1, &rep), 0);
	assert_int_equal(rep.done, 0);
	assert_int_equal(rep.ret, -EFAULT);
	c->token--;
	/* malformed packets: refused whole, as an unknown op (nothing
	 * written, no payload) */
	w0 = writes(f);
	assert_int_equal(wv(c, m, 0, 0, &rep), -EINVAL);
	assert_int_equal(wv(c, m, VSIM_WRITEV_REC_MAX + 1, 1, &rep), -EINVAL);
	{
		uint8_t pkt[sizeof(struct vsim_req) + 72];
		struct vsim_req q = { .magic = VSIM_MAGIC,
				      .op = VSIM_OP_WRITEV,
				      .token = c->token,
				      .arg = 72,
				      .arg2 = 2,
				      .len = 72 };

		memcpy(pkt, &q, sizeof(q));
		memcpy(pkt + sizeof(q), m, 72);
		assert_int_equal(cli_raw(c->fd, pkt, sizeof(pkt), -1, NULL,
					 NULL),
				 -EINVAL);
	}
	assert_int_equal(writes(f), w0);
	/* a full packet in one batch: one set_map */
	mk(&m[0], 0, VHOST_IOTLB_BATCH_BEGIN, 0, 0, NULL);
	for (i = 1; i < BIG - 1; i++)
		mk(&m[i], 0, VHOST_IOTLB_UPDATE, 0x10000000ULL + i * 0x1000ULL,
		   0x1000, f->mem + (ptrdiff_t)(i % 256) * 0x1000);
	mk(&m[BIG - 1], 0, VHOST_IOTLB_BATCH_END, 0, 0, NULL);
	assert_int_equal(wv(c, m, 72, BIG, &rep), 0);
	assert_int_equal(rep.done, BIG);
	assert_int_equal(table(f, 0, NULL, 0), 2 + BIG - 2);
	/* and a sweep of them all: INVALIDATE of iova 0 size 0 is the
	 * whole space */
	assert_int_equal(inval(c, 0, 0, 0), 72);
	assert_int_equal(table(f, 0, NULL, 0), 0);
	/* on a control connection: not an op there */
	{
		struct cli ctl = { .fd = cli_connect(f->path) };

		assert_int_equal(cli_req(&ctl, VSIM_OP_HELLO, VSIM_KIND_CONTROL,
					 NULL, 0, -1, NULL, NULL),
				 0);
		assert_int_equal(wv(&ctl, m, 72, 1, &rep), -EINVAL);
		close(ctl.fd);
	}
	fx_free(f);
}

/* vhost_vdpa's cap reached inside a batch sent as one packet: the UPDATE
 * over it ends the packet, as it would fail as a single write; the
 * client then closes the batch (what the library does) */
static void test_writev_cap_mid_batch(void **state)
{
	struct vhost_msg_v2 m[8];
	struct fx *f = fx_profile("linux-6.12", 4, 8);
	struct vdpamap_sim_stats st0, st;
	struct vsim_writev_rep rep;
	int i;

	(void)state;
	own(f, F_V2 | F_BATCH | F_ASID);
	assert_int_equal(vdpamap_sim_get_stats(f->path, &st0), 0);
	mk(&m[0], 0, VHOST_IOTLB_BATCH_BEGIN, 0, 0, NULL);
	for (i = 1; i <= 6; i++)
		mk(&m[i], 0, VHOST_IOTLB_UPDATE, IOVA0 + (i - 1) * 0x1000ULL,
		   0x1000, f->mem);
	mk(&m[7], 0, VHOST_IOTLB_BATCH_END, 0, 0, NULL);
	assert_int_equal(wv(&f->c, m, 72, 8, &rep), 0);
	assert_int_equal(rep.done, 5);
	assert_int_equal(rep.ret, -EFAULT);
	assert_int_equal(table(f, 0, NULL, 0), 4);
	/* still in the batch: no push yet */
	assert_int_equal(vdpamap_sim_get_stats(f->path, &st), 0);
	assert_int_equal(st.set_map_calls, st0.set_map_calls);
	assert_int_equal(st.iotlb_writes, st0.iotlb_writes + 6);
	assert_int_equal(wv(&f->c, &m[7], 72, 1, &rep), 0);
	assert_int_equal(rep.done, 1);
	assert_int_equal(vdpamap_sim_get_stats(f->path, &st), 0);
	assert_int_equal(st.set_map_calls, st0.set_map_calls + 1);
	fx_free(f);
}

/* ---- the data path */

#define QSZ	8
#define RING(q) ((size_t)0x4000 * (q)) /* desc; avail +0x1000; used +0x2000 */
#define BUF(q)	(0x20000U + 0x1000U * (q))

struct vring_desc_ {
	uint64_t addr;
	uint32_t len;
	uint16_t flags, next;
};

struct loop {
	int kick[3], call[3];
	uint16_t avail_idx[3];
};

static void vq_setup(struct fx *f, struct loop *l, uint32_t q)
{
	struct cli *c = &f->c;
	struct vhost_vring_addr a = {
		.index = q,
		.desc_user_addr = IOVA0 + RING(q),
		.avail_user_addr = IOVA0 + RING(q) + 0x1000,
		.used_user_addr = IOVA0 + RING(q) + 0x2000,
	};
	struct vhost_vring_file vf = { .index = q, .fd = 0 };

	memset(f->mem + RING(q), 0, 0x4000);
	l->avail_idx[q] = 0;
	assert_int_equal(ioc_state(c, VHOST_SET_VRING_NUM, q, QSZ, NULL), 0);
	assert_int_equal(ioc_state(c, VHOST_SET_VRING_BASE, q, 0, NULL), 0);
	assert_int_equal(ioc(c, VHOST_SET_VRING_ADDR, &a, sizeof(a), NULL, 0,
			     -1),
			 0);
	assert_int_equal(ioc(c, VHOST_SET_VRING_KICK, &vf, sizeof(vf), NULL, 0,
			     l->kick[q]),
			 0);
	assert_int_equal(ioc(c, VHOST_SET_VRING_CALL, &vf, sizeof(vf), NULL, 0,
			     l->call[q]),
			 0);
	assert_int_equal(ioc_state(c, VHOST_VDPA_SET_VRING_ENABLE, q, 1, NULL),
			 0);
}

static void start(struct fx *f, struct loop *l)
{
	struct cli *c = &f->c;
	uint64_t v;

	assert_int_equal(ioc_u64(c, VHOST_SET_FEATURES,
				 VIRTIO_F | VSIM_BIT(17)),
			 0);
	assert_int_equal(ioc_u8(c, VHOST_VDPA_SET_STATUS, 1 | 2 | 8), 0);
	for (uint32_t q = 0; q < 3; q++) {
		while (read(l->call[q], &v, 8) == 8)
			;
		vq_setup(f, l, q);
	}
	assert_int_equal(ioc_u8(c, VHOST_VDPA_SET_STATUS, 1 | 2 | 8 | 4), 0);
}

static void post(struct fx *f, struct loop *l, uint32_t q, uint32_t off,
		 uint32_t len, uint16_t flags)
{
	uint8_t *ring = f->mem + RING(q);
	struct vring_desc_ d = { .addr = IOVA0 + off,
				 .len = len,
				 .flags = flags };
	uint16_t slot = l->avail_idx[q] % QSZ;

	memcpy(ring + (ptrdiff_t)16 * slot, &d, sizeof(d));
	memcpy(ring + 0x1000 + 4 + (ptrdiff_t)2 * slot, &slot, 2);
	l->avail_idx[q]++;
	__atomic_store_n((uint16_t *)(ring + 0x1000 + 2), l->avail_idx[q],
			 __ATOMIC_RELEASE);
}

static void kick(struct loop *l, uint32_t q)
{
	uint64_t one = 1;

	assert_int_equal(write(l->kick[q], &one, 8), 8);
}

static int wait_call(struct loop *l, uint32_t q, int ms)
{
	struct pollfd p = { .fd = l->call[q], .events = POLLIN };
	uint64_t v;

	if (poll(&p, 1, ms) != 1)
		return 0;
	return read(l->call[q], &v, 8) == 8;
}

static uint16_t used_idx(struct fx *f, uint32_t q)
{
	return __atomic_load_n((uint16_t *)(f->mem + RING(q) + 0x2000 + 2),
			       __ATOMIC_ACQUIRE);
}

/* one frame TX -> RX; 1 if it arrived intact */
static int loop_once(struct fx *f, struct loop *l, const char *payload)
{
	uint8_t frame[12 + 14 + 32];
	size_t len = 12 + 14 + strlen(payload);
	uint16_t before = used_idx(f, 0);
	uint32_t ulen;

	memset(frame, 0, sizeof(frame));
	/* a MAC address, not a string:
	 * NOLINTNEXTLINE(bugprone-not-null-terminated-result) */
	memcpy(frame + 12, "\x02\0\0\0\0\x02", 6); /* to the device MAC */
	/* a MAC address, not a string:
	 * NOLINTNEXTLINE(bugprone-not-null-terminated-result) */
	memcpy(frame + 18, "\x02\0\0\0\0\x01", 6);
	frame[24] = 0x88;
	frame[25] = 0xb5;
	/* the frame's payload, not a string:
	 * NOLINTNEXTLINE(bugprone-not-null-terminated-result) */
	memcpy(frame + 26, payload, strlen(payload));
	memcpy(f->mem + BUF(1), frame, len);
	memset(f->mem + BUF(0), 0xee, 0x800);
	post(f, l, 0, BUF(0), 0x800, 2 /* WRITE */);
	post(f, l, 1, BUF(1), (uint32_t)len, 0);
	kick(l, 1);
	if (!wait_call(l, 0, 1000))
		return 0;
	if (used_idx(f, 0) != (uint16_t)(before + 1))
		return 0;
	memcpy(&ulen,
	       f->mem + RING(0) + 0x2000 + 4 + (ptrdiff_t)8 * (before % QSZ) +
		       4,
	       4);
	return ulen == len && !memcmp(f->mem + BUF(0), frame, len);
}

static void loop_init(struct loop *l)
{
	for (int q = 0; q < 3; q++) {
		l->kick[q] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		l->call[q] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		assert_true(l->kick[q] >= 0 && l->call[q] >= 0);
	}
}

static void loop_fini(struct loop *l)
{
	for (int q = 0; q < 3; q++) {
		close(l->kick[q]);
		close(l->call[q]);
	}
}

static void datapath(uint32_t flags)
{
	struct fx *f = fx_new(flags, 0);
	struct cli *c = &f->c;
	struct vdpamap_sim_stats st;
	struct vhost_vring_state s;
	struct loop l;

	loop_init(&l);
	own(f, F_V2 | F_BATCH | F_ASID);
	assert_int_equal(upd(c, 0, IOVA0, MEMSZ, f->mem), 72);
	start(f, &l);
	assert_true(loop_once(f, &l, "hello"));
	assert_true(loop_once(f, &l, "again"));
	assert_int_equal(vdpamap_sim_get_stats(f->path, &st), 0);
	assert_int_equal(st.tx_frames, 2);
	assert_int_equal(st.rx_frames, 2);
	assert_int_equal(ioc_state(c, VHOST_GET_VRING_BASE, 1, 0, &s), 0);
	assert_int_equal(s.num, 2);

	/* suspended: the kick waits; RESUME delivers it */
	assert_int_equal(ioc(c, VHOST_VDPA_SUSPEND, NULL, 0, NULL, 0, -1), 0);
	memcpy(f->mem + BUF(1),
	       "\0\0\0\0\0\0\0\0\0\0\0\0\xff\xff\xff\xff\xff"
	       "\xff\x02\0\0\0\0\x01\x08\x00",
	       26);
	post(f, &l, 0, BUF(0), 0x800, 2);
	post(f, &l, 1, BUF(1), 40, 0);
	kick(&l, 1);
	assert_false(wait_call(&l, 0, 100));
	assert_int_equal(ioc(c, VHOST_VDPA_RESUME, NULL, 0, NULL, 0, -1), 0);
	assert_true(wait_call(&l, 0, 1000));

	/* the control vq (group 1, ASID 0): MAC_ADDR_SET acked */
	memcpy(f->mem + BUF(2), "\x01\x01\x02\0\0\0\0\x03", 8);
	{
		uint8_t *ring = f->mem + RING(2);
		struct vring_desc_ d[2] = {
			{ IOVA0 + BUF(2), 8, 1 /* NEXT */, 1 },
			{ IOVA0 + BUF(2) + 0x100, 1, 2, 0 },
		};
		uint16_t zero = 0, one = 1;

		f->mem[BUF(2) + 0x100] = 0x55;
		memcpy(ring, d, sizeof(d));
		memcpy(ring + 0x1000 + 4, &zero, 2);
		__atomic_store_n((uint16_t *)(ring + 0x1000 + 2), one,
				 __ATOMIC_RELEASE);
		kick(&l, 2);
		assert_true(wait_call(&l, 2, 1000));
		assert_int_equal(f->mem[BUF(2) + 0x100], 0);
	}
	{
		uint8_t cfg[8 + 6];
		struct vhost_vdpa_config *h = (void *)cfg;

		h->off = 0;
		h->len = 6;
		assert_int_equal(ioc(c, VHOST_VDPA_GET_CONFIG, h, 8, cfg,
				     sizeof(cfg), -1),
				 0);
		assert_memory_equal(cfg + 8, "\x02\0\0\0\0\x03", 6);
		/* frames to the old MAC are now filtered out */
		assert_false(loop_once(f, &l, "old mac"));
		/* a MAC address, not a string:
		 * NOLINTNEXTLINE(bugprone-not-null-terminated-result) */
		memcpy(cfg + 8, "\x02\0\0\0\0\x02", 6);
		assert_int_equal(ioc(c, VHOST_VDPA_SET_CONFIG, cfg, sizeof(cfg),
				     NULL, 0, -1),
				 0);
	}

	/* reset without PERSIST: vhost keeps its table, the device is back
	 * to passthrough, which the sim never translates: nothing arrives */
	assert_int_equal(ioc_u8(c, VHOST_VDPA_SET_STATUS, 0), 0);
	start(f, &l);
	assert_false(loop_once(f, &l, "lost"));
	assert_int_equal(vdpamap_sim_get_stats(f->path, &st), 0);
	assert_true(st.dma_errors > 0);
	/* recover: INVALIDATE + UPDATE */
	assert_int_equal(inval(c, 0, IOVA0, MEMSZ), 72);
	assert_int_equal(upd(c, 0, IOVA0, MEMSZ, f->mem), 72);
	assert_int_equal(ioc_u8(c, VHOST_VDPA_SET_STATUS, 0), 0);
	assert_int_equal(inval(c, 0, IOVA0, MEMSZ), 72);
	assert_int_equal(upd(c, 0, IOVA0, MEMSZ, f->mem), 72);
	start(f, &l);
	assert_true(loop_once(f, &l, "back"));
	/* reset puts every group back in ASID 0 (bound while the device is
	 * stopped: Linux >= 7.0 freezes a started group's ASID) */
	assert_int_equal(ioc_u8(c, VHOST_VDPA_SET_STATUS, 0), 0);
	assert_int_equal(inval(c, 0, IOVA0, MEMSZ), 72);
	assert_int_equal(upd(c, 0, IOVA0, MEMSZ, f->mem), 72);
	assert_int_equal(ioc_state(c, VHOST_VDPA_SET_GROUP_ASID, 0, 1, NULL),
			 0);
	start(f, &l);
	assert_false(loop_once(f, &l, "asid 1 is empty"));
	assert_int_equal(ioc_u8(c, VHOST_VDPA_SET_STATUS, 0), 0);
	assert_int_equal(inval(c, 0, IOVA0, MEMSZ), 72);
	assert_int_equal(upd(c, 0, IOVA0, MEMSZ, f->mem), 72);
	start(f, &l);
	assert_true(loop_once(f, &l, "asid 0"));

	/* with PERSIST the device keeps its maps */
	assert_int_equal(ioc_u64(c, VHOST_SET_BACKEND_FEATURES,
				 F_V2 | F_BATCH | F_ASID | F_PERS),
			 0);
	assert_int_equal(ioc_u8(c, VHOST_VDPA_SET_STATUS, 0), 0);
	start(f, &l);
	assert_true(loop_once(f, &l, "persist"));
	loop_fini(&l);
	fx_free(f);
}

static void test_datapath_va(void **state)
{
	(void)state;
	datapath(0);
}

static void test_datapath_pa_per_map(void **state)
{
	(void)state;
	datapath(VDPAMAP_SIM_PA | VDPAMAP_SIM_PER_MAP);
}

static void test_pa_memlock(void **state)
{
	struct fx *f = fx_new(VDPAMAP_SIM_PA, 0);
	struct cli *c = &f->c;
	struct rlimit old, rl;
	struct vdpamap_sim_stats st;
	struct vdpamap_sim_entry e[4];

	(void)state;
	own(f, F_V2 | F_BATCH);
	assert_int_equal(getrlimit(RLIMIT_MEMLOCK, &old), 0);
	rl.rlim_cur = (long)64 * 1024;
	rl.rlim_max = old.rlim_max;
	assert_int_equal(setrlimit(RLIMIT_MEMLOCK, &rl), 0);
	assert_int_equal(upd(c, 0, 0, 0x8000, f->mem), 72);
	assert_int_equal(vdpamap_sim_get_stats(f->path, &st), 0);
	assert_int_equal(st.pinned_bytes, 0x8000);
	assert_int_equal(upd(c, 0, 0x10000, 0x10000, f->mem), -EFAULT);
	assert_int_equal(upd(c, 0, 0x10000, 0x8000, f->mem), 72);
	assert_int_equal(upd(c, 0, 0x20000, 0x1000, f->mem), -EFAULT);
	/* unaligned: the entry becomes page aligned, as pinning does */
	assert_int_equal(inval(c, 0, 0x10000, 1), 72);
	assert_int_equal(upd(c, 0, 0x30010, 0x10, f->mem + 0x10), 72);
	assert_int_equal(table(f, 0, e, 4), 2);
	assert_true(e[1].iova == 0x30000 && e[1].size == 0x1000);
	assert_int_equal(vdpamap_sim_get_stats(f->path, &st), 0);
	assert_int_equal(st.pinned_bytes, 0x9000);
	/* an unmapped range cannot be pinned */
	assert_int_equal(upd(c, 0, 0x40000, 0x1000, (void *)0x1000), -EFAULT);
	assert_int_equal(setrlimit(RLIMIT_MEMLOCK, &old), 0);
	/* close uncharges */
	close(c->fd);
	assert_int_equal(cli_open(c, f->path, 0x3333), 0);
	assert_int_equal(vdpamap_sim_get_stats(f->path, &st), 0);
	assert_int_equal(st.pinned_bytes, 0);
	fx_free(f);
}

/* The owner is an address space, not a connection: a forked child that
 * shares the device connection takes ownership and exits.  The parent still
 * holds the device open but is not the owner (EFAULT/EPERM/EBUSY); VA-mode
 * DMA then finds no address space and stops, PA-mode pins keep the pages. */
static void owner_exits(uint32_t flags, int expect_delivery)
{
	struct fx *f = fx_new(flags, 0);
	struct loop l;
	struct vhost_vring_state s;
	int st;
	pid_t pid;

	loop_init(&l);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		f->c.token = 0x4444; /* a new image has a new token */
		own(f, F_V2 | F_BATCH | F_ASID);
		assert_int_equal(upd(&f->c, 0, IOVA0, MEMSZ, f->mem), 72);
		start(f, &l);
		_exit(loop_once(f, &l, "child") ? 0 : 3);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	assert_int_equal(ioc(&f->c, VHOST_SET_OWNER, NULL, 0, NULL, 0, -1),
			 -EBUSY);
	assert_int_equal(upd(&f->c, 0, 0, 0x1000, f->mem), -EFAULT);
	assert_int_equal(ioc_state(&f->c, VHOST_GET_VRING_BASE, 1, 0, &s),
			 -EPERM);
	/* the child's ring state lives in the shared memfd */
	l.avail_idx[0] = l.avail_idx[1] = 1;
	assert_int_equal(loop_once(f, &l, "after exit"), expect_delivery);
	loop_fini(&l);
	fx_free(f);
}

static void test_owner_exits_va(void **state)
{
	(void)state;
	owner_exits(0, 0);
}

static void test_owner_exits_pa(void **state)
{
	(void)state;
	owner_exits(VDPAMAP_SIM_PA, 1);
}

/* The "vdpa live update" proposal (offered bits 9 + 10 only): the owner
 * (a forked child standing in for the predecessor image) suspends and
 * exits; NEW_OWNER moves ownership to the caller (EINVAL unowned, EBUSY
 * already the owner, ENOMEM over RLIMIT_MEMLOCK in PA mode), IOTLB_REMAP
 * gives an entry that matches exactly a new uaddr (every error EFAULT, as
 * the kernel flattens them), inside a batch too.  The guest memory is
 * mapped at a new address first and the old one unmapped, so that in VA
 * mode only the remapped uaddr can reach it. */
#define F_NEWOWN                               \
	(VSIM_BIT(VHOST_BACKEND_F_NEW_OWNER) | \
	 VSIM_BIT(VHOST_BACKEND_F_IOTLB_REMAP))

static int remap(struct cli *c, uint32_t asid, uint64_t iova, uint64_t size,
		 const void *p, uint8_t perm)
{
	return msg(c, asid, VHOST_IOTLB_REMAP, iova, size, (uintptr_t)p, perm);
}

static void new_owner(uint32_t flags)
{
	struct fx *f = fx_new(flags, 0x17e | F_NEWOWN);
	struct cli *c = &f->c;
	struct vdpamap_sim_entry e[2];
	struct vhost_vring_state s;
	struct rlimit old, rl;
	struct loop l;
	uint8_t *mem2;
	int st;
	pid_t pid;

	loop_init(&l);
	assert_int_equal(ioc(c, VHOST_NEW_OWNER, NULL, 0, NULL, 0, -1),
			 -EINVAL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		f->c.token = 0x4444;
		own(f, F_V2 | F_BATCH | F_ASID);
		assert_int_equal(upd(c, 0, IOVA0, MEMSZ, f->mem), 72);
		start(f, &l);
		if (!loop_once(f, &l, "child"))
			_exit(3);
		assert_int_equal(ioc(c, VHOST_VDPA_SUSPEND, NULL, 0, NULL, 0,
				     -1),
				 0);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	/* not the owner yet: owner-only requests fail */
	assert_int_equal(ioc_state(c, VHOST_GET_VRING_BASE, 1, 0, &s), -EPERM);
	assert_int_equal(remap(c, 0, IOVA0, MEMSZ, f->mem, 0), -EFAULT);
	if (flags & VDPAMAP_SIM_PA) {
		assert_int_equal(getrlimit(RLIMIT_MEMLOCK, &old), 0);
		rl.rlim_cur = MEMSZ / 2;
		rl.rlim_max = old.rlim_max;
		assert_int_equal(setrlimit(RLIMIT_MEMLOCK, &rl), 0);
		assert_int_equal(ioc(c, VHOST_NEW_OWNER, NULL, 0, NULL, 0, -1),
				 -ENOMEM);
		assert_int_equal(setrlimit(RLIMIT_MEMLOCK, &old), 0);
	}
	assert_int_equal(ioc(c, VHOST_NEW_OWNER, NULL, 0, NULL, 0, -1), 0);
	assert_int_equal(ioc(c, VHOST_NEW_OWNER, NULL, 0, NULL, 0, -1), -EBUSY);
	assert_int_equal(ioc(c, VHOST_SET_OWNER, NULL, 0, NULL, 0, -1), -EBUSY);
	assert_int_equal(ioc_state(c, VHOST_GET_VRING_BASE, 1, 0, &s), 0);
	assert_int_equal(s.num, 1);

	/* the guest memory at a new address, the old one gone */
	mem2 = mmap(NULL, MEMSZ, PROT_READ | PROT_WRITE, MAP_SHARED, f->mfd, 0);
	assert_true(mem2 != MAP_FAILED);
	munmap(f->mem, MEMSZ);
	f->mem = mem2;
	/* exact match, perm 0, an allocated ASID; else EFAULT */
	assert_int_equal(remap(c, 0, IOVA0, MEMSZ, mem2, VHOST_ACCESS_RW),
			 -EFAULT);
	assert_int_equal(remap(c, 0, IOVA0, MEMSZ / 2, mem2, 0), -EFAULT);
	assert_int_equal(remap(c, 0, IOVA0 + MEMSZ, 0x1000, mem2, 0), -EFAULT);
	assert_int_equal(remap(c, 0, IOVA0, 0, mem2, 0), -EFAULT);
	assert_int_equal(remap(c, 1, IOVA0, MEMSZ, mem2, 0), -EFAULT);
	assert_int_equal(table(f, 0, e, 2), 1);
	assert_int_not_equal(e[0].uaddr, (uintptr_t)mem2);
	assert_int_equal(msg(c, 0, VHOST_IOTLB_BATCH_BEGIN, 0, 0, 0, 0), 72);
	assert_int_equal(remap(c, 0, IOVA0, MEMSZ, mem2, 0), 72);
	assert_int_equal(msg(c, 0, VHOST_IOTLB_BATCH_END, 0, 0, 0, 0), 72);
	assert_int_equal(table(f, 0, e, 2), 1);
	assert_true(e[0].iova == IOVA0 && e[0].size == MEMSZ &&
		    e[0].uaddr == (uintptr_t)mem2 &&
		    e[0].perm == VHOST_ACCESS_RW);
	/* the rings again (same eventfds, position from GET_VRING_BASE) */
	for (uint32_t q = 0; q < 2; q++) {
		assert_int_equal(ioc_state(c, VHOST_GET_VRING_BASE, q, 0, &s),
				 0);
		assert_int_equal(ioc_state(c, VHOST_SET_VRING_BASE, q, s.num,
					   NULL),
				 0);
	}
	assert_int_equal(ioc(c, VHOST_VDPA_RESUME, NULL, 0, NULL, 0, -1), 0);
	l.avail_idx[0] = l.avail_idx[1] = 1;
	assert_true(loop_once(f, &l, "new owner"));
	/* a fresh map by the new owner */
	assert_int_equal(upd(c, 1, IOVA0, 0x1000, mem2), 72);
	loop_fini(&l);
	fx_free(f);
}

static void test_new_owner_va(void **state)
{
	(void)state;
	new_owner(0);
}

static void test_new_owner_pa(void **state)
{
	(void)state;
	new_owner(VDPAMAP_SIM_PA);
}

static void test_new_owner_permap(void **state)
{
	(void)state;
	new_owner(VDPAMAP_SIM_PA | VDPAMAP_SIM_PER_MAP);
}

/* Without the offer (the default 0x17e) both are what they were: an
 * unknown ioctl (EPERM for a non-owner) and an unknown message type. */
static void test_new_owner_not_offered(void **state)
{
	struct fx *f = fx_new(0, 0);
	struct cli *c = &f->c;

	(void)state;
	assert_int_equal(ioc(c, VHOST_NEW_OWNER, NULL, 0, NULL, 0, -1), -EPERM);
	own(f, F_V2 | F_BATCH | F_ASID);
	assert_int_equal(ioc_u64(c, VHOST_SET_BACKEND_FEATURES,
				 F_V2 | VSIM_BIT(VHOST_BACKEND_F_NEW_OWNER)),
			 -EOPNOTSUPP);
	assert_int_equal(upd(c, 0, IOVA0, MEMSZ, f->mem), 72);
	assert_int_equal(remap(c, 0, IOVA0, MEMSZ, f->mem, 0), -EFAULT);
	fx_free(f);
}

/* ---- profiles (docs/sim-profiles.md): each profile's offer, counts,
 * ioctls, caps and kernel-version behaviours */

struct pexp {
	const char *profile;
	uint64_t offer;
	uint32_t nr_as, nr_groups, nr_vqs;
	uint64_t iova_last;
	uint32_t flags;
	uint32_t vcap, pcap;
	int groups_ioctls; /* AS_NUM, GROUP_NUM, VQS_COUNT exist */
};

static const struct pexp profiles[] = {
	{ NULL, 0x17e, 2, 2, 3, UINT64_MAX, 0, 2048, 2048, 1 }, /* linux-7.3 */
	{ "linux-5.10", 0x6, 1, 1, 2, UINT64_MAX, VDPAMAP_SIM_PA, 0, 0, 0 },
	{ "linux-6.1", 0x1e, 2, 2, 3, UINT64_MAX, VDPAMAP_SIM_PA, 2048, 2048,
	  1 },
	{ "linux-6.12.95", 0x17e, 2, 2, 3, UINT64_MAX, 0, 0, 2048, 1 },
	{ "linux-6.12", 0x17e, 2, 2, 3, UINT64_MAX, 0, 2048, 2048, 1 },
	{ "linux-7.3", 0x17e, 2, 2, 3, UINT64_MAX, 0, 2048, 2048, 1 },
	{ "linux-6.12/vdpa_sim-permap", 0x17e, 2, 2, 3, UINT64_MAX,
	  VDPAMAP_SIM_PER_MAP, 2048, 2048, 1 },
	{ "linux-6.12/vp_vdpa", 0x10e, 1, 1, 3, (1ULL << 39) - 1,
	  VDPAMAP_SIM_PA | VDPAMAP_SIM_PER_MAP, 2048, 0, 1 },
	{ "linux-6.1/vp_vdpa", 0xe, 1, 1, 3, (1ULL << 39) - 1,
	  VDPAMAP_SIM_PA | VDPAMAP_SIM_PER_MAP, 2048, 0, 1 },
	{ "linux-6.12/vduse", 0xe, 1, 1, 2, UINT64_MAX, 0, 2048, 2048, 1 },
	{ "linux-7.3/vduse", 0x1e, 2, 2, 2, UINT64_MAX, 0, 2048, 2048, 1 },
};

static void check_profile(const struct pexp *e)
{
	struct fx *f = fx_profile(e->profile, 0, 0);
	struct cli *c = &f->c;
	struct vdpamap_sim_limits l;
	struct vhost_vdpa_iova_range rg;
	uint64_t u64;
	uint32_t u32;

	print_message("profile %s\n", e->profile ? e->profile : "(none)");
	assert_int_equal(vdpamap_sim_get_limits(f->path, &l), 0);
	assert_int_equal(l.backend_features, e->offer);
	assert_int_equal(l.nr_as, e->nr_as);
	assert_int_equal(l.nr_groups, e->nr_groups);
	assert_int_equal(l.nr_vqs, e->nr_vqs);
	assert_int_equal(l.flags, e->flags);
	assert_int_equal(l.vhost_max_iotlb_entries, e->vcap);
	assert_int_equal(l.parent_max_iotlb_entries, e->pcap);
	if (e->profile)
		assert_int_equal(strncmp(l.kernel, e->profile,
					 strlen(l.kernel)),
				 0);
	else { /* the default follows the newest kernel */
		assert_string_equal(l.kernel, "linux-7.3");
		assert_string_equal(l.parent, "vdpa_sim");
	}
	assert_int_equal(ioc(c, VHOST_GET_BACKEND_FEATURES, NULL, 0, &u64, 8,
			     -1),
			 0);
	assert_int_equal(u64, e->offer);
	assert_int_equal(ioc(c, VHOST_VDPA_GET_IOVA_RANGE, NULL, 0, &rg,
			     sizeof(rg), -1),
			 0);
	assert_true(rg.first == 0 && rg.last == e->iova_last);
	assert_int_equal(ioc(c, VHOST_SET_OWNER, NULL, 0, NULL, 0, -1), 0);
	if (!e->groups_ioctls) {
		/* not in this kernel: vhost_vring_ioctl's ENOTTY */
		assert_int_equal(ioc(c, VHOST_VDPA_GET_AS_NUM, NULL, 0, &u32, 4,
				     -1),
				 -ENOTTY);
		assert_int_equal(ioc(c, VHOST_VDPA_GET_VQS_COUNT, NULL, 0, &u32,
				     4, -1),
				 -ENOTTY);
	} else {
		assert_int_equal(ioc(c, VHOST_VDPA_GET_AS_NUM, NULL, 0, &u32, 4,
				     -1),
				 0);
		assert_int_equal(u32, e->nr_as);
		assert_int_equal(ioc(c, VHOST_VDPA_GET_GROUP_NUM, NULL, 0, &u32,
				     4, -1),
				 0);
		assert_int_equal(u32, e->nr_groups);
		assert_int_equal(ioc(c, VHOST_VDPA_GET_VQS_COUNT, NULL, 0, &u32,
				     4, -1),
				 0);
		assert_int_equal(u32, e->nr_vqs);
	}
	fx_free(f);
}

static void test_profile_shapes(void **state)
{
	char path[108];
	pid_t pid;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(profiles) / sizeof(profiles[0]); i++)
		check_profile(&profiles[i]);
	/* unknown names and combinations no kernel has */
	{
		static const char *const bad[] = {
			"linux-9.9",	      "linux-6.12/foo",
			"linux-5.10/vduse",   "linux-6.1/vduse",
			"linux-5.10/vp_vdpa", "",
		};

		for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			VDPAMAP_OPTS(vdpamap_sim_opts, o, .profile = bad[i]);

			assert_int_equal(vdpamap_sim_spawn(&o, path,
							   sizeof(path), &pid),
					 -EINVAL);
		}
	}
	{
		VDPAMAP_OPTS(vdpamap_sim_opts, o, .profile = "linux-7.3/vduse",
			     .flags = VDPAMAP_SIM_PA);

		assert_int_equal(vdpamap_sim_spawn(&o, path, sizeof(path),
						   &pid),
				 -EINVAL);
	}
	/* explicit fields override the profile */
	{
		VDPAMAP_OPTS(vdpamap_sim_opts, o, .profile = "linux-6.1",
			     .backend_features = 0x6, .nr_vqs = 2);
		struct vdpamap_sim_limits l;
		struct fx *f = fx_new_o(&o);

		assert_int_equal(vdpamap_sim_get_limits(f->path, &l), 0);
		assert_int_equal(l.backend_features, 0x6);
		assert_int_equal(l.nr_vqs, 2);
		assert_int_equal(l.nr_as, 2);
		assert_string_equal(l.kernel, "linux-6.1");
		assert_string_equal(l.parent, "vdpa_sim");
		fx_free(f);
	}
}

static void drive_ok(struct cli *c)
{
	assert_int_equal(ioc_u64(c, VHOST_SET_FEATURES, VIRTIO_F), 0);
	assert_int_equal(ioc_u8(c, VHOST_VDPA_SET_STATUS, 1 | 2 | 8), 0);
	assert_int_equal(ioc_u8(c, VHOST_VDPA_SET_STATUS, 1 | 2 | 8 | 4), 0);
}

/* 7.x: SET_GROUP_ASID answers EBUSY once DRIVER_OK, suspended or not,
 * after the range checks (EINVAL) */
static void test_profile_73_frozen_asid(void **state)
{
	struct fx *f = fx_profile("linux-7.3", 0, 0);
	struct cli *c = &f->c;

	(void)state;
	own(f, F_V2 | F_BATCH | F_ASID);
	/* group 2 (== ngroups: vhost_vdpa's own check) and asid 2 */
	assert_int_equal(ioc_state(c, VHOST_VDPA_SET_GROUP_ASID, 2, 1, NULL),
			 -EINVAL);
	assert_int_equal(ioc_state(c, VHOST_VDPA_SET_GROUP_ASID, 0, 2, NULL),
			 -EINVAL);
	assert_int_equal(ioc_state(c, VHOST_VDPA_SET_GROUP_ASID, 0, 1, NULL),
			 0);
	drive_ok(c);
	assert_int_equal(ioc_state(c, VHOST_VDPA_SET_GROUP_ASID, 0, 0, NULL),
			 -EBUSY);
	assert_int_equal(ioc_state(c, VHOST_VDPA_SET_GROUP_ASID, 2, 0, NULL),
			 -EINVAL);
	assert_int_equal(ioc_state(c, VHOST_VDPA_SET_GROUP_ASID, 1, 2, NULL),
			 -EINVAL);
	assert_int_equal(ioc(c, VHOST_VDPA_SUSPEND, NULL, 0, NULL, 0, -1), 0);
	assert_int_equal(ioc_state(c, VHOST_VDPA_SET_GROUP_ASID, 0, 0, NULL),
			 -EBUSY);
	/* a reset unfreezes them */
	assert_int_equal(ioc_u8(c, VHOST_VDPA_SET_STATUS, 0), 0);
	assert_int_equal(ioc_state(c, VHOST_VDPA_SET_GROUP_ASID, 0, 1, NULL),
			 0);
	fx_free(f);
}

/* 6.12: a running group takes a new ASID at once: the loopback through
 * ASID 0 stops when the data group moves to the empty ASID 1, and comes
 * back when it returns */
static void test_profile_612_in_place_asid(void **state)
{
	struct fx *f = fx_profile("linux-6.12", 0, 0);
	struct cli *c = &f->c;
	struct loop l;

	(void)state;
	loop_init(&l);
	own(f, F_V2 | F_BATCH | F_ASID);
	assert_int_equal(ioc_state(c, VHOST_VDPA_SET_GROUP_ASID, 2, 0, NULL),
			 -EINVAL);
	assert_int_equal(upd(c, 0, IOVA0, MEMSZ, f->mem), 72);
	start(f, &l);
	assert_true(loop_once(f, &l, "asid 0"));
	assert_int_equal(ioc_state(c, VHOST_VDPA_SET_GROUP_ASID, 0, 1, NULL),
			 0);
	assert_false(loop_once(f, &l, "asid 1"));
	loop_fini(&l);
	fx_free(f);
}

/* vp_vdpa: GET_VRING_BASE refused, no set_group_asid, IOVA 39 bits */
static void test_profile_vp_vdpa(void **state)
{
	struct fx *f = fx_profile("linux-6.12/vp_vdpa", 0, 0);
	struct cli *c = &f->c;
	struct vhost_vring_state s;

	(void)state;
	own(f, F_V2 | F_BATCH | F_ASID);
	assert_int_equal(ioc_state(c, VHOST_GET_VRING_BASE, 0, 0, &s),
			 -EOPNOTSUPP);
	assert_int_equal(ioc_state(c, VHOST_VDPA_SET_GROUP_ASID, 0, 1, NULL),
			 -EINVAL);
	assert_int_equal(ioc_state(c, VHOST_VDPA_SET_GROUP_ASID, 0, 0, NULL),
			 -EOPNOTSUPP);
	assert_int_equal(ioc_state(c, VHOST_VDPA_GET_VRING_SIZE, 0, 0, &s), 0);
	assert_int_equal(s.num, 256);
	assert_int_equal(upd(c, 0, 1ULL << 39, 0x1000, f->mem), -EFAULT);
	assert_int_equal(upd(c, 0, 0, 0x1000, f->mem), 72);
	fx_free(f);
}

/* 6.1 has SUSPEND but no RESUME ioctl (nor bit): an unknown request;
 * 5.10 has neither, nor the group ioctls */
static void test_profile_missing_ioctls(void **state)
{
	struct fx *f = fx_profile("linux-6.1", 0, 0);
	struct cli *c = &f->c;
	struct vhost_vring_state s;

	(void)state;
	/* the owner check comes first; then _IO's NULL argument is read as
	 * a vq index: EFAULT, as vhost_vdpa_vring_ioctl's get_user() */
	assert_int_equal(ioc(c, VHOST_VDPA_RESUME, NULL, 0, NULL, 0, -1),
			 -EPERM);
	assert_int_equal(ioc(c, VHOST_VDPA_SUSPEND, NULL, 0, NULL, 0, -1), 0);
	assert_int_equal(ioc(c, VHOST_SET_OWNER, NULL, 0, NULL, 0, -1), 0);
	assert_int_equal(ioc_u64(c, VHOST_SET_BACKEND_FEATURES,
				 F_V2 | VSIM_BIT(VHOST_BACKEND_F_RESUME)),
			 -EOPNOTSUPP);
	assert_int_equal(ioc_u64(c, VHOST_SET_BACKEND_FEATURES,
				 F_V2 | F_BATCH | F_ASID |
					 VSIM_BIT(VHOST_BACKEND_F_SUSPEND)),
			 0);
	assert_int_equal(ioc(c, VHOST_VDPA_RESUME, NULL, 0, NULL, 0, -1),
			 -EFAULT);
	drive_ok(c);
	assert_int_equal(ioc(c, VHOST_VDPA_SUSPEND, NULL, 0, NULL, 0, -1), 0);
	assert_int_equal(ioc(c, VHOST_VDPA_RESUME, NULL, 0, NULL, 0, -1),
			 -EFAULT);
	/* GET_VRING_SIZE (6.10) is not there either: vq 0 -> ENOTTY */
	assert_int_equal(ioc_state(c, VHOST_VDPA_GET_VRING_SIZE, 0, 0, &s),
			 -ENOTTY);
	assert_int_equal(ioc_state(c, VHOST_VDPA_GET_VRING_SIZE, 7, 0, &s),
			 -ENOBUFS);
	fx_free(f);

	f = fx_profile("linux-5.10", 0, 0);
	c = &f->c;
	own(f, F_V2 | F_BATCH);
	assert_int_equal(ioc(c, VHOST_VDPA_SUSPEND, NULL, 0, NULL, 0, -1),
			 -EFAULT);
	assert_int_equal(ioc_state(c, VHOST_VDPA_SET_GROUP_ASID, 0, 0, NULL),
			 -ENOTTY);
	assert_int_equal(ioc_state(c, VHOST_VDPA_GET_VRING_GROUP, 0, 0, &s),
			 -ENOTTY);
	fx_free(f);
}

/* ---- IOTLB entry caps */

/* n single-page UPDATEs at IOVA0 + i pages, i from first; the result of
 * the last one */
static int upd_pages(struct fx *f, uint32_t asid, uint32_t first, uint32_t n)
{
	int r = 72;

	for (uint32_t i = first; i < first + n && r == 72; i++)
		r = upd(&f->c, asid, IOVA0 + i * 0x1000ULL, 0x1000,
			f->mem + ((size_t)i % (MEMSZ / 0x1000)) * 0x1000);
	return r;
}

/* per-map: vhost_vdpa's cap, then the parent's own (below it), both as
 * EFAULT with nothing left behind; VA mode (one entry per UPDATE here) */
static void test_caps_per_map(void **state)
{
	struct fx *f = fx_profile("linux-6.12/vdpa_sim-permap", 4, 0);

	(void)state;
	own(f, F_V2 | F_BATCH | F_ASID);
	assert_int_equal(upd_pages(f, 0, 0, 4), 72);
	assert_int_equal(upd_pages(f, 0, 4, 1), -EFAULT);
	assert_int_equal(table(f, 0, NULL, 0), 4);
	/* per address space */
	assert_int_equal(upd_pages(f, 1, 0, 4), 72);
	/* room again after an INVALIDATE */
	assert_int_equal(inval(&f->c, 0, IOVA0, 0x1000), 72);
	assert_int_equal(upd_pages(f, 0, 4, 1), 72);
	fx_free(f);

	/* vhost_vdpa at 8, the parent at 4: the parent refuses the 5th */
	f = fx_profile("linux-6.12/vdpa_sim-permap", 8, 4);
	own(f, F_V2 | F_BATCH | F_ASID);
	assert_int_equal(upd_pages(f, 0, 0, 4), 72);
	assert_int_equal(upd_pages(f, 0, 4, 1), -EFAULT);
	assert_int_equal(table(f, 0, NULL, 0), 4);
	fx_free(f);

	/* vhost_vdpa's cap alone: below the parent's, or a parent without
	 * one (vp_vdpa, PA mode) */
	f = fx_profile("linux-6.12/vdpa_sim-permap", 4, 8);
	own(f, F_V2 | F_BATCH | F_ASID);
	assert_int_equal(upd_pages(f, 0, 0, 4), 72);
	assert_int_equal(upd_pages(f, 0, 4, 1), -EFAULT);
	fx_free(f);
	f = fx_profile("linux-6.12/vp_vdpa", 4, 0);
	own(f, F_V2 | F_BATCH | F_ASID);
	assert_int_equal(upd_pages(f, 0, 0, 4), 72);
	assert_int_equal(upd_pages(f, 0, 4, 1), -EFAULT);
	assert_int_equal(table(f, 0, NULL, 0), 4);
	fx_free(f);

	/* the profile's own default: 2048 */
	f = fx_profile("linux-6.12/vdpa_sim-permap", 0, 0);
	own(f, F_V2 | F_BATCH | F_ASID);
	assert_int_equal(upd_pages(f, 0, 0, 2048), 72);
	assert_int_equal(upd_pages(f, 0, 2048, 1), -EFAULT);
	fx_free(f);

	/* 6.12.95 has no cap */
	f = fx_profile("linux-6.12.95/vdpa_sim-permap", 0, 0);
	own(f, F_V2 | F_BATCH | F_ASID);
	assert_int_equal(upd_pages(f, 0, 0, 2049), 72);
	assert_int_equal(table(f, 0, NULL, 0), 2049);
	fx_free(f);
}

/* Map the guest memory as 4 entries (rings and buffers in the first) and
 * add `extra` more single pages elsewhere, in one batch. */
static void batch_map(struct fx *f, uint32_t extra)
{
	struct cli *c = &f->c;

	assert_int_equal(msg(c, 0, VHOST_IOTLB_BATCH_BEGIN, 0, 0, 0, 0), 72);
	for (uint32_t i = 0; i < 4; i++)
		assert_int_equal(upd(c, 0,
				     IOVA0 + (unsigned long long)i *
						     (MEMSZ / 4),
				     MEMSZ / 4,
				     f->mem + (size_t)i * (MEMSZ / 4)),
				 72);
	for (uint32_t i = 0; i < extra; i++)
		assert_int_equal(upd(c, 0, 0x40000000ULL + i * 0x1000ULL,
				     0x1000, f->mem),
				 72);
	/* vhost_vdpa ignores what set_map answers */
	assert_int_equal(msg(c, 0, VHOST_IOTLB_BATCH_END, 0, 0, 0, 0), 72);
}

/* set_map: the parent's refusal at BATCH_END is lost and its map of the
 * address space emptied (no loopback, DMA errors); raised caps make it
 * work; outside a batch the refusal is an EFAULT */
static void test_caps_set_map(void **state)
{
	struct vdpamap_sim_stats st;
	struct fx *f;
	struct loop l;

	(void)state;
	f = fx_profile("linux-6.12", 8, 4);
	loop_init(&l);
	own(f, F_V2 | F_BATCH | F_ASID);
	batch_map(f, 1);
	assert_int_equal(table(f, 0, NULL, 0), 5);
	start(f, &l);
	assert_false(loop_once(f, &l, "lost"));
	assert_int_equal(vdpamap_sim_get_stats(f->path, &st), 0);
	assert_true(st.dma_errors > 0);
	/* un-batched, the 6th entry: set_map refused, EFAULT, and vhost
	 * drops the entry */
	assert_int_equal(upd(&f->c, 0, 0x50000000ULL, 0x1000, f->mem), -EFAULT);
	assert_int_equal(table(f, 0, NULL, 0), 5);
	loop_fini(&l);
	fx_free(f);

	/* at the parent's cap exactly: fine */
	f = fx_profile("linux-6.12", 8, 5);
	loop_init(&l);
	own(f, F_V2 | F_BATCH | F_ASID);
	batch_map(f, 1);
	start(f, &l);
	assert_true(loop_once(f, &l, "kept"));
	loop_fini(&l);
	fx_free(f);

	/* both raised (max_iotlb_entries): vhost_vdpa's cap is the limit */
	f = fx_profile("linux-7.3", 6, 0);
	loop_init(&l);
	own(f, F_V2 | F_BATCH | F_ASID);
	batch_map(f, 2);
	assert_int_equal(upd(&f->c, 0, 0x50000000ULL, 0x1000, f->mem), -EFAULT);
	start(f, &l);
	assert_true(loop_once(f, &l, "raised"));
	loop_fini(&l);
	fx_free(f);

	/* vhost_vdpa's cap inside a batch: that UPDATE fails at once */
	f = fx_profile("linux-6.12", 4, 8);
	own(f, F_V2 | F_BATCH | F_ASID);
	assert_int_equal(msg(&f->c, 0, VHOST_IOTLB_BATCH_BEGIN, 0, 0, 0, 0),
			 72);
	assert_int_equal(upd_pages(f, 0, 0, 4), 72);
	assert_int_equal(upd_pages(f, 0, 4, 1), -EFAULT);
	assert_int_equal(msg(&f->c, 0, VHOST_IOTLB_BATCH_END, 0, 0, 0, 0), 72);
	assert_int_equal(table(f, 0, NULL, 0), 4);
	fx_free(f);

	/* vduse (set_map) on 7.3 likewise loses a refused table */
	f = fx_profile("linux-7.3/vduse", 8, 4);
	own(f, F_V2 | F_BATCH | F_ASID);
	assert_int_equal(vdpamap_sim_get_stats(f->path, &st), 0);
	batch_map(f, 1);
	assert_int_equal(table(f, 0, NULL, 0), 5);
	fx_free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_open_exclusive_and_malformed),
		cmocka_unit_test(test_ioctls),
		cmocka_unit_test(test_iotlb_semantics),
		cmocka_unit_test(test_asid),
		cmocka_unit_test(test_fail_nth),
		cmocka_unit_test(test_fail_exit),
		cmocka_unit_test(test_writev),
		cmocka_unit_test(test_writev_cap_mid_batch),
		cmocka_unit_test(test_datapath_va),
		cmocka_unit_test(test_datapath_pa_per_map),
		cmocka_unit_test(test_pa_memlock),
		cmocka_unit_test(test_owner_exits_va),
		cmocka_unit_test(test_owner_exits_pa),
		cmocka_unit_test(test_new_owner_va),
		cmocka_unit_test(test_new_owner_pa),
		cmocka_unit_test(test_new_owner_permap),
		cmocka_unit_test(test_new_owner_not_offered),
		cmocka_unit_test(test_profile_shapes),
		cmocka_unit_test(test_profile_73_frozen_asid),
		cmocka_unit_test(test_profile_612_in_place_asid),
		cmocka_unit_test(test_profile_vp_vdpa),
		cmocka_unit_test(test_profile_missing_ioctls),
		cmocka_unit_test(test_caps_per_map),
		cmocka_unit_test(test_caps_set_map),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
