// SPDX-License-Identifier: BSD-3-Clause
/*
 * bench_throughput: what the library costs on top of the device, measured
 * in one run as the ratio of its map and unmap throughput to a raw client
 * that writes the same IOTLB messages itself and keeps no mirror.
 *
 * Both sides map N 4 KiB pages of a pre-faulted memfd as N UPDATEs in one
 * BATCH_BEGIN..END (IOTLB_BATCH is negotiated on both), then unmap them as
 * N INVALIDATEs in one batch; a lone INVALIDATE goes unframed on both, as
 * the library sends it (src/iotlb/iotlb.c): the same messages each side.
 * Each side first maps and unmaps the same N once untimed, so that
 * neither pays the other's first-use costs (code never run yet, which
 * under emulation is translated at its first run; the heap's first
 * pages; the kernel's first UPDATE of an address space).  The library side is one transaction each
 * (validation, overlap checks, mirror trees, batching); the raw side is
 *  - on a kernel char device: open, SET_OWNER, SET_BACKEND_FEATURES and a
 *    plain write() of each 72-byte vhost_msg_v2;
 *  - on the simulator: the same requests in its wire protocol
 *    (src/simproto.h), the IOTLB messages 1024 per WRITEV packet and
 *    reply, as the library's simulator transport sends them.
 * Figures are medians of --reps runs; a fresh open for each.
 *
 *   bench_throughput [--dev PATH] [--counts 256,1024,...] [--reps 5]
 *                    [--dat FILE]
 * Without --dev (or VDPAMAP_TEST_DEV) it spawns a simulator
 * (BENCH_SIM_PA=1: PA mode).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <linux/vhost.h>

#include "benchutil.h"
#include "vdpamap.h"
#include "transport/simproto.h"

#define PAGE  4096ULL
#define IOVA0 0x40000000ULL
#define F_RAW                                     \
	((1ULL << VHOST_BACKEND_F_IOTLB_MSG_V2) | \
	 (1ULL << VHOST_BACKEND_F_IOTLB_BATCH))

static const char *dev;
static int dev_is_sock;
static uint8_t *mem;
static int memfd;

/* ---- the raw client */
struct raw {
	int fd;
};

static int sim_call2(int fd, uint32_t op, uint64_t arg, uint32_t arg2,
		     const void *pl, size_t len, int sendfd, void *out,
		     size_t outlen)
{
	union {
		char b[CMSG_SPACE(sizeof(int))];
		struct cmsghdr a;
	} cm;
	struct vsim_req q = { .magic = VSIM_MAGIC,
			      .op = op,
			      .token = 42,
			      .arg = arg,
			      .arg2 = arg2,
			      .len = (uint32_t)len };
	struct iovec iov[2] = { { &q, sizeof(q) }, { (void *)pl, len } };
	struct msghdr mh = { .msg_iov = iov, .msg_iovlen = len ? 2 : 1 };
	uint8_t rb[256];
	struct vsim_rep rep;
	ssize_t n;

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
	if (sendmsg(fd, &mh, MSG_NOSIGNAL) < 0)
		return -errno;
	n = recv(fd, rb, sizeof(rb), 0);
	if (n < (ssize_t)sizeof(rep))
		return -EPROTO;
	memcpy(&rep, rb, sizeof(rep));
	if (out)
		memcpy(out, rb + sizeof(rep),
		       rep.len < outlen ? rep.len : outlen);
	return rep.ret;
}

static int sim_call(int fd, uint32_t op, uint64_t arg, const void *pl,
		    size_t len, int sendfd, void *out, size_t outlen)
{
	return sim_call2(fd, op, arg, 0, pl, len, sendfd, out, outlen);
}

static int raw_ioctl(struct raw *r, unsigned long req, void *arg, size_t in,
		     size_t out, int sendfd)
{
	if (!dev_is_sock)
		return ioctl(r->fd, req, arg) < 0 ? -errno : 0;
	return sim_call(r->fd, VSIM_OP_IOCTL, req, in ? arg : NULL, in, sendfd,
			out ? arg : NULL, out);
}

static int raw_write(struct raw *r, const struct vhost_msg_v2 *m)
{
	ssize_t n;

	if (dev_is_sock)
		return sim_call(r->fd, VSIM_OP_WRITE, 0, m, sizeof(*m), -1,
				NULL, 0) == sizeof(*m) ?
			       0 :
			       -EIO;
	n = write(r->fd, m, sizeof(*m));
	return n == sizeof(*m) ? 0 : n < 0 ? -errno : -EIO;
}

static void raw_open(struct raw *r)
{
	uint64_t f = 0;
	int e;

	if (dev_is_sock) {
		struct sockaddr_un sa = { .sun_family = AF_UNIX };
		int self;

		snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", dev);
		r->fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
		if (r->fd < 0 ||
		    connect(r->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
			bench_die("raw connect", -errno);
		e = sim_call(r->fd, VSIM_OP_HELLO, VSIM_KIND_DEVICE, NULL, 0,
			     -1, NULL, 0);
		if (e < 0)
			bench_die("raw hello", e);
		/* the owner's address space, as the library passes it */
		self = open("/proc/self/mem", O_RDWR | O_CLOEXEC);
		e = raw_ioctl(r, VHOST_SET_OWNER, NULL, 0, 0, self);
		close(self);
	} else {
		r->fd = open(dev, O_RDWR | O_CLOEXEC);
		if (r->fd < 0)
			bench_die("raw open", -errno);
		e = raw_ioctl(r, VHOST_SET_OWNER, NULL, 0, 0, -1);
	}
	if (e < 0)
		bench_die("raw SET_OWNER", e);
	e = raw_ioctl(r, VHOST_GET_BACKEND_FEATURES, &f, 0, sizeof(f), -1);
	if (e < 0)
		bench_die("raw GET_BACKEND_FEATURES", e);
	if ((f & F_RAW) != F_RAW)
		bench_die("device lacks MSG_V2 or BATCH", -EOPNOTSUPP);
	f &= F_RAW;
	e = raw_ioctl(r, VHOST_SET_BACKEND_FEATURES, &f, sizeof(f), 0, -1);
	if (e < 0)
		bench_die("raw SET_BACKEND_FEATURES", e);
}

/* The simulator: the messages queued, then written 1024 per packet */
#define RAW_CHUNK 1024
static struct vhost_msg_v2 raw_q[RAW_CHUNK];
static uint32_t raw_nq;

static int raw_flush(struct raw *r)
{
	struct vsim_writev_rep rep = { 0 };
	uint32_t n = raw_nq;
	int e;

	if (!n)
		return 0;
	raw_nq = 0;
	e = sim_call2(r->fd, VSIM_OP_WRITEV, sizeof(raw_q[0]), n, raw_q,
		      n * sizeof(raw_q[0]), -1, &rep, sizeof(rep));
	return e < 0 ? e : rep.done == n ? 0 : -EIO;
}

static int raw_send(struct raw *r, const struct vhost_msg_v2 *m)
{
	if (!dev_is_sock)
		return raw_write(r, m);
	raw_q[raw_nq++] = *m;
	return raw_nq == RAW_CHUNK ? raw_flush(r) : 0;
}

static double raw_run(struct raw *r, uint32_t n, uint8_t type)
{
	struct vhost_msg_v2 m;
	double t0 = bench_now_ms();
	uint32_t i;
	int e;

	/* the library's rule: a lone INVALIDATE needs no batch */
	bool wrap = n > 1 || type == VHOST_IOTLB_UPDATE;

	memset(&m, 0, sizeof(m));
	m.type = VHOST_IOTLB_MSG_V2;
	m.iotlb.type = VHOST_IOTLB_BATCH_BEGIN;
	if (wrap && (e = raw_send(r, &m)) < 0)
		bench_die("raw BATCH_BEGIN", e);
	for (i = 0; i < n; i++) {
		m.iotlb.type = type;
		m.iotlb.iova = IOVA0 + i * PAGE;
		m.iotlb.size = PAGE;
		m.iotlb.uaddr = type == VHOST_IOTLB_UPDATE ?
					(uintptr_t)(mem + i * PAGE) :
					0;
		m.iotlb.perm = type == VHOST_IOTLB_UPDATE ? VHOST_ACCESS_RW : 0;
		if ((e = raw_send(r, &m)) < 0)
			bench_die("raw message", e);
	}
	memset(&m.iotlb, 0, sizeof(m.iotlb));
	m.iotlb.type = VHOST_IOTLB_BATCH_END;
	if (wrap && (e = raw_send(r, &m)) < 0)
		bench_die("raw BATCH_END", e);
	if ((e = raw_flush(r)) < 0)
		bench_die("raw WRITEV", e);
	return bench_now_ms() - t0;
}

/* ---- the library */
static double lib_run(struct vdpamap *h, uint32_t n, int map)
{
	struct vdpamap_txn *t;
	double t0 = bench_now_ms();
	uint32_t i;
	int e;

	e = vdpamap_txn_begin(h, &t);
	if (e < 0)
		bench_die("txn_begin", e);
	for (i = 0; i < n; i++) {
		e = map ? vdpamap_txn_map(t, 0, IOVA0 + i * PAGE,
					  mem + i * PAGE, PAGE, VDPAMAP_PERM_RW,
					  NULL) :
			  vdpamap_txn_unmap(t, 0, IOVA0 + i * PAGE, PAGE);
		if (e < 0)
			bench_die(map ? "txn_map" : "txn_unmap", e);
	}
	e = vdpamap_txn_commit(t);
	if (e < 0)
		bench_die("commit", e);
	return bench_now_ms() - t0;
}

struct row {
	uint32_t n;
	double lib_map, raw_map, lib_unmap, raw_unmap;
};

static void run(uint32_t n, int reps, struct row *row)
{
	double lm[16], rm[16], lu[16], ru[16];
	int i, e;

	for (i = 0; i < reps; i++) {
		VDPAMAP_OPTS(vdpamap_open_opts, o,
			     .require_features = VDPAMAP_F_IOTLB_MSG_V2 |
						 VDPAMAP_F_IOTLB_BATCH);
		struct vdpamap_region rg = { .hva = mem,
					     .len = n * PAGE,
					     .fd = memfd };
		struct vdpamap *h;
		struct raw r;

		e = vdpamap_open(dev, &o, &h);
		if (e < 0)
			bench_die("open", e);
		if (bench_sim_path[0]) /* (kernel runs: stdout is the .dat) */
			bench_print_caps(h);
		e = vdpamap_region_add(h, &rg, NULL);
		if (e < 0)
			bench_die("region_add", e);
		lib_run(h, n, 1); /* warm-up */
		lib_run(h, n, 0);
		lm[i] = lib_run(h, n, 1);
		lu[i] = lib_run(h, n, 0);
		vdpamap_close(h);

		raw_open(&r);
		raw_run(&r, n, VHOST_IOTLB_UPDATE); /* warm-up */
		raw_run(&r, n, VHOST_IOTLB_INVALIDATE);
		rm[i] = raw_run(&r, n, VHOST_IOTLB_UPDATE);
		ru[i] = raw_run(&r, n, VHOST_IOTLB_INVALIDATE);
		close(r.fd);
	}
	row->n = n;
	row->lib_map = bench_median(lm, reps);
	row->raw_map = bench_median(rm, reps);
	row->lib_unmap = bench_median(lu, reps);
	row->raw_unmap = bench_median(ru, reps);
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "dev", required_argument, NULL, 'd' },
		{ "counts", required_argument, NULL, 'c' },
		{ "reps", required_argument, NULL, 'r' },
		{ "dat", required_argument, NULL, 'o' },
		{ 0 },
	};
	char counts[128] = "256,1024,4096,16384", *tok, *save;
	const char *dat = NULL;
	struct rlimit rl = { RLIM_INFINITY, RLIM_INFINITY };
	uint32_t max = 0;
	struct row rows[8];
	int reps = 5, nr = 0, c, i;
	struct stat st;
	pid_t pid;

	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'd':
			dev = optarg;
			break;
		case 'c':
			snprintf(counts, sizeof(counts), "%s", optarg);
			break;
		case 'r':
			reps = atoi(optarg);
			break;
		case 'o':
			dat = optarg;
			break;
		default:
			return 2;
		}
	}
	if (reps < 1 || reps > 16)
		return 2;
	/* PA mode charges RLIMIT_MEMLOCK, even for root */
	setrlimit(RLIMIT_MEMLOCK, &rl);
	if (!dev)
		dev = getenv("VDPAMAP_TEST_DEV");
	if (!dev) {
		VDPAMAP_OPTS(vdpamap_sim_opts, so,
			     .flags = getenv("BENCH_SIM_PA") ? VDPAMAP_SIM_PA :
							       0,
			     .max_iotlb_entries = BENCH_SIM_CAPS);
		int r = vdpamap_sim_spawn(&so, bench_sim_path,
					  sizeof(bench_sim_path), &pid);

		if (r < 0)
			bench_die("sim_spawn", r);
		dev = bench_sim_path;
	}
	if (stat(dev, &st) < 0)
		bench_die(dev, -errno);
	dev_is_sock = S_ISSOCK(st.st_mode);

	{
		char tmp[128];

		snprintf(tmp, sizeof(tmp), "%s", counts);
		for (tok = strtok_r(tmp, ",", &save); tok;
		     tok = strtok_r(NULL, ",", &save))
			if (strtoul(tok, NULL, 0) > max)
				max = strtoul(tok, NULL, 0);
	}
	memfd = memfd_create("bench-guest", MFD_CLOEXEC);
	if (memfd < 0 || ftruncate(memfd, (off_t)(max * PAGE)) < 0)
		bench_die("memfd", -errno);
	mem = mmap(NULL, max * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, memfd,
		   0);
	if (mem == MAP_FAILED)
		bench_die("mmap", -errno);
	memset(mem, 0, max * PAGE);

	for (tok = strtok_r(counts, ",", &save); tok && nr < 8;
	     tok = strtok_r(NULL, ",", &save))
		run((uint32_t)strtoul(tok, NULL, 0), reps, &rows[nr++]);

	printf("library vs raw IOTLB writes on %s (%s%s), 4 KiB maps in one "
	       "batch, median of %d\n",
	       dev_is_sock ? "the simulator" : dev,
	       getenv("VDPAMAP_VM_CONFIG") ? "config " :
	       getenv("BENCH_SIM_PA")	   ? "PA mode" :
					     "VA mode",
	       getenv("VDPAMAP_VM_CONFIG") ?: "", reps);
	printf("%8s | %10s %10s %7s %11s | %10s %10s %7s\n", "maps", "lib map",
	       "raw map", "lib/raw", "lib maps/s", "lib unmap", "raw unmap",
	       "lib/raw");
	for (i = 0; i < nr; i++)
		printf("%8u | %8.3fms %8.3fms %6.2fx %11.0f | %8.3fms %8.3fms "
		       "%6.2fx\n",
		       rows[i].n, rows[i].lib_map, rows[i].raw_map,
		       rows[i].lib_map / rows[i].raw_map,
		       rows[i].n / rows[i].lib_map * 1e3, rows[i].lib_unmap,
		       rows[i].raw_unmap,
		       rows[i].lib_unmap / rows[i].raw_unmap);
	if (dat) {
		/* "-": the data lines on stdout, "@dat "-prefixed (from
		 * inside tests/harness/vdpamap-vm, whose guest keeps no files) */
		int out = !strcmp(dat, "-");
		FILE *f = out ? stdout : fopen(dat, "w");
		const char *pfx = out ? "@dat throughput " : "";

		if (!f)
			bench_die(dat, -errno);
		fprintf(f,
			"%s# maps lib_map_ms raw_map_ms lib_unmap_ms "
			"raw_unmap_ms\n",
			pfx);
		for (i = 0; i < nr; i++)
			fprintf(f, "%s%u %.3f %.3f %.3f %.3f\n", pfx, rows[i].n,
				rows[i].lib_map, rows[i].raw_map,
				rows[i].lib_unmap, rows[i].raw_unmap);
		if (!out)
			fclose(f);
	}
	if (bench_sim_path[0])
		vdpamap_sim_stop(bench_sim_path);
	munmap(mem, max * PAGE);
	close(memfd);
	return 0;
}
