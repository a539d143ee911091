// SPDX-License-Identifier: BSD-3-Clause
/*
 * Fuzz the simulator through its wire protocol: its packet decoder
 * (server.c conn_recv -> vsim_decode -> handle), every ioctl's payload
 * decoder (ioctl.c), the IOTLB write decoder (vsim_iotlb_write) and the
 * virtqueue parser of the data path (net.c), fed by a hostile client.
 *
 * Each input runs one simulator (vdpamap_sim_serve() on a thread of this
 * process, its sources compiled in) configured by the first bytes, and a
 * client that sends the operations the rest of the input describes:
 * raw packets; well-framed ioctls (a known request or any number, payload
 * from the input, the fd it carries when it carries one); IOTLB writes
 * (v1/v2, any type, asid, range, uaddr); control requests (table,
 * fail_nth, stats, pinned); new and closed connections; and, for the data
 * path, a bring-up (owner, features, guest memory mapped, rings, DRIVER_OK),
 * descriptor chains posted into the rings, raw pokes of guest memory and
 * kicks.  The simulator then stops; its teardown must free everything.
 *
 * Guest memory is a memfd shared with a child process that only sleeps:
 * the owner's address space is that child's (SET_OWNER passes its
 * /proc/PID/mem), so the device's DMA, wherever a hostile ring points it,
 * lands in the child and never in the fuzzer.
 *
 * Checked: no crash or sanitizer report in the simulator; every request
 * gets exactly one well-formed reply within 30 s (never a hang, never a
 * dead server).
 *
 *   fuzz_sim [seed [iterations]]    plain program: random inputs
 *   fuzz_sim_lf [libFuzzer flags]   coverage-guided
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "sim/sim.h"

#define CHECK(c, ...)                                                      \
	do {                                                               \
		if (!(c)) {                                                \
			fprintf(stderr, "%s:%d: %s: ", __FILE__, __LINE__, \
				#c);                                       \
			fprintf(stderr, __VA_ARGS__);                      \
			fputc('\n', stderr);                               \
			abort();                                           \
		}                                                          \
	} while (0)

#define GUEST_SZ (1U << 20)
#define BUF_OFF	 0x10000U /* buffers; rings below, 4 KiB per vq */
#define QSZ	 16
#define TOKEN	 0x5eedf00dULL
#define MAX_OPS	 96
#define MAX_CONN 4
#define MAX_VQS	 4

struct input {
	const uint8_t *p;
	size_t left;
};

static uint8_t byte(struct input *in)
{
	if (!in->left)
		return 0;
	in->left--;
	return *in->p++;
}

static uint16_t u16(struct input *in)
{
	return (uint16_t)(byte(in) << 8 | byte(in));
}

static uint32_t u32(struct input *in)
{
	return (uint32_t)u16(in) << 16 | u16(in);
}

static uint64_t u64(struct input *in)
{
	return (uint64_t)u32(in) << 32 | u32(in);
}

/* ---- process-wide: guest memory, the owner child, eventfds */
static uint8_t *guest;
static pid_t owner_child;
static int owner_mem = -1;
static int efd[MAX_VQS + 1]; /* kick/call per vq; the last: config */
static uint8_t rbuf[VSIM_MAX_PKT];

static void init(void)
{
	char path[64];
	int mfd, i;

	if (guest)
		return;
	mfd = memfd_create("fuzz-guest", MFD_CLOEXEC);
	CHECK(mfd >= 0 && ftruncate(mfd, GUEST_SZ) == 0, "memfd");
	guest = mmap(NULL, GUEST_SZ, PROT_READ | PROT_WRITE, MAP_SHARED, mfd,
		     0);
	CHECK(guest != MAP_FAILED, "mmap");
	for (i = 0; i <= MAX_VQS; i++) {
		efd[i] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		CHECK(efd[i] >= 0, "eventfd");
	}
	owner_child = fork();
	CHECK(owner_child >= 0, "fork");
	if (owner_child == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		for (;;)
			pause();
	}
	snprintf(path, sizeof(path), "/proc/%d/mem", (int)owner_child);
	owner_mem = open(path, O_RDWR | O_CLOEXEC);
	CHECK(owner_mem >= 0, "open %s", path);
	signal(SIGPIPE, SIG_IGN);
}

/* ---- one simulator per input */
static const char *const profiles[] = { "linux-7.3", "linux-6.12",
					"linux-6.12.95", "linux-6.1" };

struct sim {
	char path[108];
	struct vdpamap_sim_opts opts;
	pthread_t thread;
	int ret;
	int c[MAX_CONN];
	uint32_t nr_vqs;
};

static void *serve(void *arg)
{
	struct sim *s = arg;

	s->ret = vdpamap_sim_serve(s->path, &s->opts);
	return NULL;
}

static int sim_connect(struct sim *s)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd, i;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", s->path);
	for (i = 0; i < 5000; i++) {
		fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
		CHECK(fd >= 0, "socket");
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
			return fd;
		close(fd);
		usleep(200); /* the server thread is still binding */
	}
	CHECK(0, "cannot connect to %s", s->path);
	return -1;
}

/* Wait up to ms for c to have something to read.  libFuzzer's -timeout
 * is a SIGALRM every timeout/2 + 1 s, which cuts a poll() short (EINTR):
 * that is no answer missing, so wait on for the rest of the time. */
static int wait_reply(int c, int ms)
{
	struct pollfd pfd = { .fd = c, .events = POLLIN };
	struct timespec t0, t1;
	int r, left = ms;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		r = poll(&pfd, 1, left);
		if (r >= 0 || errno != EINTR)
			return r;
		clock_gettime(CLOCK_MONOTONIC, &t1);
		left = ms - (int)((t1.tv_sec - t0.tv_sec) * 1000 +
				  (t1.tv_nsec - t0.tv_nsec) / 1000000);
		if (left <= 0)
			return 0;
	}
}

/* Send one packet (with fd, if >= 0) and take its one reply. */
static int xfer(int c, const void *pkt, size_t n, int fd)
{
	union {
		char b[CMSG_SPACE(sizeof(int))];
		struct cmsghdr a;
	} cm;
	struct iovec iov = { .iov_base = (void *)pkt, .iov_len = n };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct vsim_rep rep;
	ssize_t r;

	if (fd >= 0) {
		struct cmsghdr *ch;

		memset(&cm, 0, sizeof(cm));
		mh.msg_control = cm.b;
		mh.msg_controllen = sizeof(cm.b);
		ch = CMSG_FIRSTHDR(&mh);
		ch->cmsg_level = SOL_SOCKET;
		ch->cmsg_type = SCM_RIGHTS;
		ch->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(ch), &fd, sizeof(int));
	}
	r = sendmsg(c, &mh, MSG_NOSIGNAL);
	CHECK(r == (ssize_t)n, "sendmsg %zu bytes: %zd (%s)", n, r,
	      strerror(errno));
	CHECK(wait_reply(c, 30000) == 1, "no reply within 30 s");
	r = recv(c, rbuf, sizeof(rbuf), 0);
	CHECK(r >= (ssize_t)sizeof(rep), "reply of %zd bytes (server gone?)",
	      r);
	memcpy(&rep, rbuf, sizeof(rep));
	CHECK(rep.len == (size_t)r - sizeof(rep),
	      "reply says %u bytes, has %zu", rep.len, (size_t)r - sizeof(rep));
	return rep.ret;
}

static int req(int c, uint32_t op, uint64_t token, uint64_t arg, uint32_t arg2,
	       const void *pl, size_t len, int fd)
{
	static uint8_t pkt[sizeof(struct vsim_req) + 4096];
	struct vsim_req q = { .magic = VSIM_MAGIC,
			      .op = op,
			      .token = token,
			      .arg = arg,
			      .arg2 = arg2,
			      .len = (uint32_t)len };

	CHECK(len <= 4096, "payload");
	if (c < 0)
		return -EBADF; /* that connection was closed */
	memcpy(pkt, &q, sizeof(q));
	if (len)
		memcpy(pkt + sizeof(q), pl, len);
	return xfer(c, pkt, sizeof(q) + len, fd);
}

static int ioc(struct sim *s, uint32_t cmd, const void *pl, size_t len, int fd)
{
	return req(s->c[0], VSIM_OP_IOCTL, TOKEN, cmd, 0, pl, len, fd);
}

static void iotlb(struct sim *s, uint32_t asid, uint8_t type, uint64_t iova,
		  uint64_t size, uint64_t uaddr, uint8_t perm)
{
	struct vhost_msg_v2 m = { .type = VHOST_IOTLB_MSG_V2, .asid = asid };

	m.iotlb.iova = iova;
	m.iotlb.size = size;
	m.iotlb.uaddr = uaddr;
	m.iotlb.perm = perm;
	m.iotlb.type = type;
	req(s->c[0], VSIM_OP_WRITE, TOKEN, 0, 0, &m, sizeof(m), -1);
}

/* ---- operations */
static const uint32_t ioctls[] = {
	VHOST_SET_OWNER,
	VHOST_GET_BACKEND_FEATURES,
	VHOST_SET_BACKEND_FEATURES,
	VHOST_GET_FEATURES,
	VHOST_SET_FEATURES,
	VHOST_VDPA_GET_DEVICE_ID,
	VHOST_VDPA_GET_STATUS,
	VHOST_VDPA_SET_STATUS,
	VHOST_VDPA_GET_CONFIG,
	VHOST_VDPA_SET_CONFIG,
	VHOST_SET_VRING_NUM,
	VHOST_SET_VRING_ADDR,
	VHOST_SET_VRING_BASE,
	VHOST_GET_VRING_BASE,
	VHOST_SET_VRING_KICK,
	VHOST_SET_VRING_CALL,
	VHOST_SET_VRING_ERR,
	VHOST_VDPA_SET_VRING_ENABLE,
	VHOST_VDPA_GET_VRING_NUM,
	VHOST_VDPA_GET_CONFIG_SIZE,
	VHOST_VDPA_GET_VQS_COUNT,
	VHOST_VDPA_GET_GROUP_NUM,
	VHOST_VDPA_GET_AS_NUM,
	VHOST_VDPA_GET_VRING_GROUP,
	VHOST_VDPA_GET_VRING_DESC_GROUP,
	VHOST_VDPA_SET_GROUP_ASID,
	VHOST_VDPA_GET_IOVA_RANGE,
	VHOST_VDPA_SUSPEND,
	VHOST_VDPA_RESUME,
	VHOST_VDPA_SET_CONFIG_CALL,
	VHOST_SET_MEM_TABLE,
	VHOST_SET_LOG_BASE,
	VHOST_SET_LOG_FD,
	VHOST_SET_VRING_BUSYLOOP_TIMEOUT,
	VHOST_GET_VRING_BUSYLOOP_TIMEOUT,
	VHOST_VDPA_GET_VRING_SIZE,
};

static int carries_fd(uint32_t cmd)
{
	return cmd == VHOST_SET_VRING_KICK || cmd == VHOST_SET_VRING_CALL ||
	       cmd == VHOST_SET_VRING_ERR || cmd == VHOST_VDPA_SET_CONFIG_CALL;
}

static void op_ioctl(struct sim *s, struct input *in)
{
	uint8_t pl[256];
	uint8_t sel = byte(in);
	uint32_t cmd =
		sel < 0xf0 ?
			ioctls[sel % (sizeof(ioctls) / sizeof(ioctls[0]))] :
			u32(in);
	size_t len = _IOC_SIZE(cmd), i;
	uint64_t token = byte(in) < 0xf8 ? TOKEN : u64(in);
	int fd = -1;

	if (byte(in) >= 0xc0)
		len = byte(in); /* short, long: copy_from_user */
	if (len > sizeof(pl))
		len = sizeof(pl);
	for (i = 0; i < len; i++)
		pl[i] = byte(in);
	if (len >= 4 && byte(in) < 0xc0) {
		uint32_t idx = byte(in) % 8; /* a plausible vq index */

		memcpy(pl, &idx, 4);
	}
	if (cmd == VHOST_SET_OWNER)
		fd = owner_mem; /* never our own address space */
	else if (carries_fd(cmd) && byte(in) & 1)
		fd = efd[byte(in) % (MAX_VQS + 1)];
	req(s->c[0], VSIM_OP_IOCTL, token, byte(in) < 0xfc ? cmd : u64(in), 0,
	    pl, len, fd);
}

static void op_iotlb(struct sim *s, struct input *in)
{
	uint8_t buf[128];
	struct vhost_msg_v2 m = { .type = VHOST_IOTLB_MSG_V2 };
	uint8_t sel = byte(in);
	size_t len;

	m.asid = sel & 0x80 ? u32(in) : byte(in) % 4;
	m.iotlb.type = (sel & 7) < 4 ?
			       (uint8_t[]){ VHOST_IOTLB_UPDATE,
					    VHOST_IOTLB_INVALIDATE,
					    VHOST_IOTLB_BATCH_BEGIN,
					    VHOST_IOTLB_BATCH_END }[sel & 3] :
			       byte(in);
	m.iotlb.iova = sel & 8 ? u64(in) : (uint64_t)u16(in) << 12;
	m.iotlb.size = sel & 16 ? u64(in) : (uint64_t)(byte(in) + 1) << 12;
	m.iotlb.uaddr = sel & 32 ? u64(in) :
				   (uintptr_t)guest + ((uint64_t)u16(in) << 4);
	m.iotlb.perm = byte(in);
	memcpy(buf, &m, sizeof(m));
	len = sizeof(m);
	if (sel & 0x40) {
		/* the legacy layout, or any length */
		uint8_t l = byte(in);

		if (l & 1) {
			struct vhost_msg v1 = { .type = VHOST_IOTLB_MSG,
						.iotlb = m.iotlb };

			memcpy(buf, &v1, sizeof(v1));
			len = sizeof(v1);
		} else {
			len = l % sizeof(buf);
		}
	}
	req(s->c[0], VSIM_OP_WRITE, byte(in) < 0xf8 ? TOKEN : u64(in), 0, 0,
	    buf, len, -1);
}

static void op_control(struct sim *s, struct input *in)
{
	static const uint32_t ops[] = { VSIM_OP_TABLE, VSIM_OP_FAIL_NTH,
					VSIM_OP_STATS, VSIM_OP_PINNED,
					VSIM_OP_HELLO, VSIM_OP_IOCTL };
	uint8_t sel = byte(in);
	uint32_t op = ops[sel % (sizeof(ops) / sizeof(ops[0]))];
	uint64_t arg = sel & 0x80 ? u64(in) : byte(in) % 4;
	uint32_t arg2 = sel & 0x40 ? u32(in) : byte(in) % 8;

	/* the server runs in this process: the fail_nth that makes it exit
	 * as a crash would is the one request it may not answer */
	if (op == VSIM_OP_FAIL_NTH && arg == VDPAMAP_SIM_FAIL_EXIT)
		arg = 0; /* an unknown kind: refused */
	req(s->c[1], op, TOKEN, arg, arg2, NULL, 0, -1);
}

static void op_raw(struct sim *s, struct input *in)
{
	uint8_t pkt[300];
	size_t n = 1 + byte(in), i;
	int c = s->c[byte(in) % MAX_CONN];

	if (c < 0)
		return;
	for (i = 0; i < n; i++)
		pkt[i] = byte(in);
	if (n >= sizeof(struct vsim_req) && byte(in) & 1) {
		/* a valid frame around whatever header fields */
		struct vsim_req q;

		memcpy(&q, pkt, sizeof(q));
		q.magic = VSIM_MAGIC;
		q.len = (uint32_t)(n - sizeof(q));
		if (q.op == VSIM_OP_IOCTL && q.arg == VHOST_SET_OWNER)
			q.arg = VHOST_GET_FEATURES; /* owner: op_ioctl */
		memcpy(pkt, &q, sizeof(q));
	}
	xfer(c, pkt, n, -1);
}

static void op_conn(struct sim *s, struct input *in)
{
	uint8_t sel = byte(in);
	int k = 2 + sel % (MAX_CONN - 2);

	if (sel & 0x80) { /* close one, device included */
		k = sel % MAX_CONN;
		if (s->c[k] >= 0)
			close(s->c[k]);
		s->c[k] = -1;
		return;
	}
	if (s->c[k] >= 0)
		close(s->c[k]);
	s->c[k] = sim_connect(s);
	if (sel & 0x40)
		req(s->c[k], VSIM_OP_HELLO, TOKEN, byte(in) % 4, 0, NULL, 0,
		    -1);
	if ((sel & 0x20) && s->c[0] < 0) { /* a new device connection */
		s->c[0] = s->c[k];
		s->c[k] = -1;
	}
}

/* Owner, features, all guest memory at IOVA 0 of ASID 0, every vq's rings
 * in guest memory, DRIVER_OK: the data path is one kick away. */
static void op_bringup(struct sim *s, struct input *in)
{
	uint64_t f = s->opts.backend_features &
		     (VSIM_BIT(VHOST_BACKEND_F_IOTLB_MSG_V2) |
		      VSIM_BIT(VHOST_BACKEND_F_IOTLB_BATCH) |
		      VSIM_BIT(VHOST_BACKEND_F_IOTLB_ASID) |
		      VSIM_BIT(VHOST_BACKEND_F_IOTLB_PERSIST));
	uint64_t vf = VSIM_BIT(VSIM_F_VERSION_1) |
		      VSIM_BIT(VSIM_F_ACCESS_PLATFORM) |
		      VSIM_BIT(VSIM_NET_F_CTRL_VQ);
	uint8_t st;
	uint32_t q;

	if (s->c[0] < 0)
		return;
	ioc(s, VHOST_SET_OWNER, NULL, 0, owner_mem);
	ioc(s, VHOST_SET_BACKEND_FEATURES, &f, sizeof(f), -1);
	iotlb(s, 0, VHOST_IOTLB_UPDATE, 0, GUEST_SZ, (uintptr_t)guest,
	      VHOST_ACCESS_RW);
	ioc(s, VHOST_SET_FEATURES, &vf, sizeof(vf), -1);
	memset(guest, 0, BUF_OFF);
	for (q = 0; q < s->nr_vqs && q < MAX_VQS; q++) {
		struct vhost_vring_state num = { .index = q, .num = QSZ };
		struct vhost_vring_addr a = {
			.index = q,
			.desc_user_addr = q * 0x1000ULL,
			.avail_user_addr = q * 0x1000ULL + 0x100,
			.used_user_addr = q * 0x1000ULL + 0x200,
		};
		struct vhost_vring_file kf = { .index = q, .fd = 0 };
		struct vhost_vring_state en = { .index = q, .num = 1 };

		ioc(s, VHOST_SET_VRING_NUM, &num, sizeof(num), -1);
		ioc(s, VHOST_SET_VRING_ADDR, &a, sizeof(a), -1);
		ioc(s, VHOST_SET_VRING_KICK, &kf, sizeof(kf), efd[q]);
		ioc(s, VHOST_SET_VRING_CALL, &kf, sizeof(kf), efd[q]);
		ioc(s, VHOST_VDPA_SET_VRING_ENABLE, &en, sizeof(en), -1);
	}
	st = 1 | 2 | 8;
	ioc(s, VHOST_VDPA_SET_STATUS, &st, 1, -1);
	st |= 4;
	if (byte(in) < 0xf0)
		ioc(s, VHOST_VDPA_SET_STATUS, &st, 1, -1);
}

/* A descriptor chain into vq q's ring (layout of op_bringup). */
static void op_post(struct sim *s, struct input *in)
{
	uint32_t q = byte(in) % MAX_VQS, n = 1 + byte(in) % 4, i;
	uint8_t *ring = guest + (size_t)q * 0x1000;
	uint16_t idx, head = byte(in) % QSZ, d = head;

	(void)s;
	for (i = 0; i < n; i++) {
		struct {
			uint64_t addr;
			uint32_t len;
			uint16_t flags, next;
		} desc;
		uint8_t sel = byte(in);

		desc.addr = sel & 0x80 ? u64(in) : BUF_OFF + u16(in) * 8ULL;
		desc.len = sel & 0x40 ? u32(in) : 14 + byte(in) * 8U;
		desc.flags =
			(uint16_t)((i + 1 < n ? 1 : 0) | (sel & 0x20 ? 2 : 0) |
				   (sel & 0x10 ? 4 : 0));
		desc.next = sel & 8 ? u16(in) : (uint16_t)((d + 1) % QSZ);
		memcpy(ring + (ptrdiff_t)16 * d, &desc, sizeof(desc));
		d = desc.next % QSZ;
	}
	/* a frame addressed to the device's MAC, so that RX gets it */
	/* a MAC address, not a string:
	 * NOLINTNEXTLINE(bugprone-not-null-terminated-result) */
	memcpy(guest + BUF_OFF + 10, "\x02\x00\x00\x00\x00\x02", 6);
	memcpy(&idx, ring + 0x100 + 2, 2);
	memcpy(ring + 0x100 + 4 + (ptrdiff_t)2 * (idx % QSZ), &head, 2);
	idx++;
	__atomic_store_n((uint16_t *)(ring + 0x100 + 2), idx, __ATOMIC_RELEASE);
}

static void op_poke(struct input *in)
{
	uint32_t off = (uint32_t)u16(in) * 16 % GUEST_SZ, n = byte(in), i;

	for (i = 0; i < n && off + i < GUEST_SZ; i++)
		guest[off + i] = byte(in);
}

static void op_kick(struct sim *s, struct input *in)
{
	uint64_t one = 1;

	if (write(efd[byte(in) % MAX_VQS], &one, sizeof(one)) != sizeof(one))
		return;
	/* kicks are handled before packets of the same poll round: any
	 * reply after the kick means the kick was handled */
	if (s->c[0] >= 0)
		ioc(s, VHOST_VDPA_GET_STATUS, NULL, 0, -1);
}

static void drain_calls(void)
{
	uint64_t v;
	int i;

	for (i = 0; i <= MAX_VQS; i++)
		while (read(efd[i], &v, sizeof(v)) == sizeof(v))
			;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static unsigned long seq;
	struct input in = { .p = data, .left = size };
	struct sim s;
	uint8_t cfg;
	int k, ops, stop;

	init();
	memset(&s, 0, sizeof(s));
	for (k = 0; k < MAX_CONN; k++)
		s.c[k] = -1;
	cfg = byte(&in);
	s.opts.sz = sizeof(s.opts);
	/* the kernel played, whatever the default: the newest one's IOTLB
	 * caps and frozen group ASIDs, and the in-place and uncapped paths
	 * of the older ones (the fields below override the shape) */
	s.opts.profile = profiles[(cfg >> 4) & 3];
	s.opts.flags = cfg & (VDPAMAP_SIM_PA | VDPAMAP_SIM_PER_MAP);
	s.opts.backend_features = cfg & 4 ? (u16(&in) & 0x1feULL) | 2 : 0;
	s.opts.nr_as = 1 + byte(&in) % 4;
	s.opts.nr_groups = 1 + byte(&in) % 3;
	s.opts.nr_vqs = s.nr_vqs = 2 + byte(&in) % 3;
	if (cfg & 8) {
		s.opts.iova_first = 0x1000;
		s.opts.iova_last = 0xfffffff;
	}
	if (!s.opts.backend_features)
		s.opts.backend_features = VSIM_DEFAULT_BACKEND;
	snprintf(s.path, sizeof(s.path), "%s/vdpamap-fuzz-sim-%d-%lu.sock",
		 getenv("TMPDIR") ?: "/tmp", (int)getpid(), seq++);
	unlink(s.path);
	CHECK(pthread_create(&s.thread, NULL, serve, &s) == 0, "thread");
	s.c[0] = sim_connect(&s);
	s.c[1] = sim_connect(&s);
	CHECK(req(s.c[0], VSIM_OP_HELLO, TOKEN, VSIM_KIND_DEVICE, 0, NULL, 0,
		  -1) == 0,
	      "hello device");
	CHECK(req(s.c[1], VSIM_OP_HELLO, TOKEN, VSIM_KIND_CONTROL, 0, NULL, 0,
		  -1) == 0,
	      "hello control");
	for (ops = 0; in.left && ops < MAX_OPS; ops++) {
		uint8_t op = byte(&in);

		if (s.c[0] < 0 && op % 10 != 0 && op % 10 != 9)
			continue;
		switch (op % 10) {
		case 0:
			op_raw(&s, &in);
			break;
		case 1:
		case 2:
			op_ioctl(&s, &in);
			break;
		case 3:
			op_iotlb(&s, &in);
			break;
		case 4:
			op_control(&s, &in);
			break;
		case 5:
			op_bringup(&s, &in);
			break;
		case 6:
			op_post(&s, &in);
			break;
		case 7:
			op_kick(&s, &in);
			break;
		case 8:
			op_poke(&in);
			break;
		case 9:
			op_conn(&s, &in);
			break;
		}
	}
	/* stop it on a fresh control connection; it must exit cleanly */
	stop = sim_connect(&s);
	CHECK(req(stop, VSIM_OP_HELLO, TOKEN, VSIM_KIND_CONTROL, 0, NULL, 0,
		  -1) == 0,
	      "hello");
	CHECK(req(stop, VSIM_OP_STOP, TOKEN, 0, 0, NULL, 0, -1) == 0, "stop");
	CHECK(pthread_join(s.thread, NULL) == 0, "join");
	CHECK(s.ret == 0, "vdpamap_sim_serve returned %d", s.ret);
	close(stop);
	for (k = 0; k < MAX_CONN; k++)
		if (s.c[k] >= 0)
			close(s.c[k]);
	drain_calls();
	return 0;
}

#ifndef LIBFUZZER
static uint64_t rng;

static uint64_t rnd(void) /* splitmix64 */
{
	uint64_t x = (rng += UINT64_C(0x9e3779b97f4a7c15));

	x = (x ^ (x >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	x = (x ^ (x >> 27)) * UINT64_C(0x94d049bb133111eb);
	return x ^ (x >> 31);
}

int main(int argc, char **argv)
{
	uint64_t seed = argc > 1 ? strtoull(argv[1], NULL, 0) : 1;
	long iters = argc > 2 ? strtol(argv[2], NULL, 0) : 500, k;
	static uint8_t buf[2048];

	rng = seed;
	for (k = 0; k < iters; k++) {
		size_t n = rnd() % sizeof(buf), i;

		/* a third of the inputs start with a bring-up, so that posts
		 * and kicks reach the data path */
		for (i = 0; i < n; i++)
			buf[i] = (uint8_t)(rnd() % 3 ? rnd() : rnd() % 16);
		if (n > 8 && k % 3 == 0) {
			buf[0] &= ~4; /* ops start at buf[4] */
			buf[4] = 5;
			buf[5] = 0; /* and DRIVER_OK */
		}
		LLVMFuzzerTestOneInput(buf, n);
	}
	printf("fuzz_sim: seed %ju, %ld inputs, every request answered\n",
	       (uintmax_t)seed, iters);
	return 0;
}
#endif
