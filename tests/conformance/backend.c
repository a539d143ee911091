// SPDX-License-Identifier: BSD-3-Clause
/* The conformance suite's backends and assertion helpers. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "backend.h"
#include "shape.h"

char test_last_err[512];
unsigned test_nr_err;

void test_log(int level, const char *msg, void *ctx)
{
	(void)ctx;
	if (level <= VDPAMAP_LOG_ERR) {
		snprintf(test_last_err, sizeof(test_last_err), "%s", msg);
		test_nr_err++;
	}
	if (getenv("VDPAMAP_TEST_LOG"))
		fprintf(stderr, "  [lib %d] %s\n", level, msg);
}

void _log_expect(unsigned since, const char *want, int line)
{
	if (!want)
		return;
	if (!*want) {
		if (test_nr_err != since)
			fail_msg("line %d: logged \"%s\", want nothing", line,
				 test_last_err);
		return;
	}
	if (test_nr_err == since)
		fail_msg("line %d: nothing logged, want \"%s\"", line, want);
	if (!strstr(test_last_err, want))
		fail_msg("line %d: logged \"%s\", want \"%s\"", line,
			 test_last_err, want);
}

static const char *flavour(void)
{
	const char *s = getenv("VDPAMAP_TEST_DEV") ?
				getenv("VDPAMAP_VM_CONFIG") :
				getenv("VDPAMAP_TEST_SIM");

	return s && *s ? s : "va";
}

int fx_setup(struct fx *f, const struct vdpamap_sim_opts *sim_opts,
	     uint64_t mem_size)
{
	const char *dev = getenv("VDPAMAP_TEST_DEV");
	const char *fl = flavour();

	memset(f, 0, sizeof(*f));
	f->memfd = -1;
	f->raw_fd = -1;
	/* vp (the harness's vp_vdpa behind the IOMMU): pages are pinned
	 * and mapped one message at a time, as vdpa_sim's permap */
	f->pa = !strcmp(fl, "pa") || !strcmp(fl, "permap") || !strcmp(fl, "vp");
	f->per_map = !strcmp(fl, "permap") || !strcmp(fl, "vp");
	if (dev && *dev) {
		snprintf(f->path, sizeof(f->path), "%s", dev);
	} else {
		VDPAMAP_OPTS(vdpamap_sim_opts, so);
		int r;

		if (sim_opts)
			so = *sim_opts;
		if (sim_shape_apply(&so) < 0)
			return -EINVAL;
		if (f->pa)
			so.flags |= VDPAMAP_SIM_PA;
		if (f->per_map)
			so.flags |= VDPAMAP_SIM_PER_MAP;
		r = vdpamap_sim_spawn(&so, f->path, sizeof(f->path),
				      &f->sim_pid);
		if (r < 0)
			return r;
		f->is_sim = 1;
	}
	if (f->pa) {
		/* PA mode charges RLIMIT_MEMLOCK even for root: make room
		 * for a few copies of guest memory (tests lower it again
		 * where they test the budget) */
		struct rlimit rl;

		if (getrlimit(RLIMIT_MEMLOCK, &rl) == 0 &&
		    rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < 256 << 20) {
			rl.rlim_cur = 256 << 20;
			if (rl.rlim_max != RLIM_INFINITY &&
			    rl.rlim_max < rl.rlim_cur)
				rl.rlim_max = rl.rlim_cur;
			if (setrlimit(RLIMIT_MEMLOCK, &rl) < 0)
				fprintf(stderr,
					"cannot raise RLIMIT_MEMLOCK: "
					"%s\n",
					strerror(errno));
		}
	}
	f->mem_size = mem_size;
	f->memfd = memfd_create("guest", MFD_CLOEXEC);
	if (f->memfd < 0 || ftruncate(f->memfd, (off_t)mem_size) < 0)
		return -errno;
	f->mem = mmap(NULL, mem_size, PROT_READ | PROT_WRITE, MAP_SHARED,
		      f->memfd, 0);
	if (f->mem == MAP_FAILED)
		return -errno;
	return 0;
}

void fx_close(struct fx *f)
{
	f->h = vdpamap_close(f->h);
}

void fx_teardown(struct fx *f)
{
	if (f->raw_fd >= 0) { /* a case that failed with it open */
		close(f->raw_fd);
		f->raw_fd = -1;
	}
	fx_close(f);
	if (f->mem && f->mem != MAP_FAILED)
		munmap(f->mem, f->mem_size);
	if (f->memfd >= 0)
		close(f->memfd);
	if (f->is_sim) {
		vdpamap_sim_stop(f->path);
		f->is_sim = 0;
	}
}

int fx_open(struct fx *f, const struct vdpamap_open_opts *opts)
{
	VDPAMAP_OPTS(vdpamap_open_opts, o, .log_fn = test_log,
		     .log_level = VDPAMAP_LOG_DEBUG);
	struct vdpamap_region rg = {
		.hva = f->mem,
		.len = f->mem_size,
		.fd = f->memfd,
	};
	int r;

	if (opts)
		o = *opts;
	if (!o.log_fn) {
		o.log_fn = test_log;
		o.log_level = VDPAMAP_LOG_DEBUG;
	}
	r = vdpamap_open(f->path, &o, &f->h);
	if (r < 0)
		return r;
	if (!o.nr_regions) {
		r = vdpamap_region_add(f->h, &rg, &f->region_id);
		if (r < 0) {
			fx_close(f);
			return r;
		}
	}
	return 0;
}

struct sum_ctx {
	uint64_t count, sum;
};

static uint64_t mix(uint64_t a, uint64_t b)
{
	a ^= b + 0x9e3779b97f4a7c15ULL + (a << 6) + (a >> 2);
	return a;
}

static int sum_cb(const struct vdpamap_entry *e, void *ctx)
{
	struct sum_ctx *c = ctx;

	c->count++;
	c->sum = mix(c->sum, e->iova);
	c->sum = mix(c->sum, e->size);
	c->sum = mix(c->sum, (uintptr_t)e->hva);
	return 0;
}

static void sim_sum(struct fx *f, uint32_t asid, uint64_t *count, uint64_t *sum)
{
	struct vdpamap_sim_entry *ents;
	int n, i;

	n = vdpamap_sim_table(f->path, asid, NULL, 0);
	assert_true(n >= 0);
	ents = calloc(n ? n : 1, sizeof(*ents));
	assert_non_null(ents);
	assert_int_equal(vdpamap_sim_table(f->path, asid, ents, n), n);
	*count = n;
	*sum = 0;
	for (i = 0; i < n; i++) {
		*sum = mix(*sum, ents[i].iova);
		*sum = mix(*sum, ents[i].size);
		*sum = mix(*sum, ents[i].uaddr);
	}
	free(ents);
}

void snap_take(struct fx *f, struct snap *s)
{
	struct vdpamap_stats st;
	struct vdpamap_info in;
	uint32_t a;

	memset(s, 0, sizeof(*s));
	assert_int_equal(vdpamap_get_info(f->h, &in), 0);
	for (a = 0; a < in.nr_as && a < 4; a++) {
		struct sum_ctx c = { 0 };

		assert_int_equal(vdpamap_foreach_entry(f->h, a, sum_cb, &c), 0);
		s->count[a] = c.count;
		s->sum[a] = c.sum;
		if (f->is_sim)
			sim_sum(f, a, &s->sim_count[a], &s->sim_sum[a]);
	}
	assert_int_equal(vdpamap_get_stats(f->h, &st), 0);
	s->writes = st.iotlb_writes;
}

void snap_equal(struct fx *f, const struct snap *a)
{
	struct snap b;

	snap_take(f, &b);
	assert_memory_equal(a, &b, sizeof(b));
}

void mirror_matches_device(struct fx *f)
{
	struct snap s;
	int a;

	if (!f->is_sim)
		return;
	snap_take(f, &s);
	for (a = 0; a < 4; a++) {
		assert_int_equal(s.count[a], s.sim_count[a]);
		assert_int_equal(s.sum[a], s.sim_sum[a]);
	}
}

int _map(struct fx *f, uint32_t asid, uint64_t iova, uint64_t off,
	 uint64_t size, uint32_t perm)
{
	return vdpamap_map(f->h, asid, iova, f->mem + off, size, perm);
}

void _map_err(struct fx *f, int err, uint32_t asid, uint64_t iova, void *hva,
	      uint64_t size, uint32_t perm, int line)
{
	struct snap s;
	int r;

	snap_take(f, &s);
	r = vdpamap_map(f->h, asid, iova, hva, size, perm);
	if (r != -err)
		fail_msg("line %d: map asid %u iova 0x%llx size 0x%llx: got %d "
			 "(%s), want -%d (%s)",
			 line, asid, (unsigned long long)iova,
			 (unsigned long long)size, r, strerror(-r), err,
			 strerror(err));
	snap_equal(f, &s);
}

int _unmap(struct fx *f, uint32_t asid, uint64_t iova, uint64_t size)
{
	return vdpamap_unmap(f->h, asid, iova, size);
}

void _unmap_err(struct fx *f, int err, uint32_t asid, uint64_t iova,
		uint64_t size, int line)
{
	struct snap s;
	int r;

	snap_take(f, &s);
	r = vdpamap_unmap(f->h, asid, iova, size);
	if (r != -err)
		fail_msg("line %d: unmap asid %u iova 0x%llx size 0x%llx: got "
			 "%d (%s), want -%d (%s)",
			 line, asid, (unsigned long long)iova,
			 (unsigned long long)size, r, strerror(-r), err,
			 strerror(err));
	snap_equal(f, &s);
}

void fx_info(struct fx *f, struct vdpamap_info *in)
{
	struct vdpamap *h = NULL;
	int r;

	if (f->h) {
		assert_int_equal(vdpamap_get_info(f->h, in), 0);
		return;
	}
	r = vdpamap_open(f->path, NULL, &h);
	if (r < 0)
		fail_msg("open %s for its info: %s", f->path, strerror(-r));
	assert_int_equal(vdpamap_get_info(h, in), 0);
	vdpamap_close(h);
}

int fx_offers(struct fx *f, uint64_t feat)
{
	struct vdpamap_info in;

	fx_info(f, &in);
	return (in.backend_offered & feat) == feat;
}

static void need_bits(uint64_t offered, uint64_t feat)
{
	char names[256] = "";
	size_t n = 0;
	uint64_t miss;
	int b;

	miss = feat & ~offered;
	if (!miss)
		return;
	for (b = 0; b < 64; b++) {
		const char *nm = vdpamap_feature_name(1ULL << b);

		if (!(miss & (1ULL << b)))
			continue;
		n += (size_t)snprintf(names + n, sizeof(names) - n, "%s%s",
				      n ? ", " : "", nm ? nm : "?");
		if (n >= sizeof(names))
			break;
	}
	skip_because("device lacks %s (offer 0x%llx)", names,
		     (unsigned long long)offered);
}

void fx_need(struct fx *f, uint64_t feat)
{
	struct vdpamap_info in;

	fx_info(f, &in);
	need_bits(in.backend_offered, feat);
}

int fx_plays_device(void)
{
	const char *pr = getenv("VDPAMAP_TEST_SIM_PROFILE");

	return getenv("VDPAMAP_TEST_DEV") || (pr && strchr(pr, '/'));
}

static void default_info(struct vdpamap_info *in)
{
	struct fx f;

	assert_int_equal(fx_setup(&f, NULL, 1 << 20), 0);
	fx_info(&f, in);
	fx_teardown(&f);
}

void fx_need_default(uint64_t feat)
{
	struct vdpamap_info in;

	default_info(&in);
	need_bits(in.backend_offered, feat);
}

void fx_need_default_iova(uint64_t first, uint64_t last)
{
	struct vdpamap_info in;

	default_info(&in);
	if (in.iova_first != first || in.iova_last != last)
		skip_because("device's IOVA range is [0x%llx, 0x%llx], not "
			     "[0x%llx, 0x%llx]",
			     (unsigned long long)in.iova_first,
			     (unsigned long long)in.iova_last,
			     (unsigned long long)first,
			     (unsigned long long)last);
}

void fx_need_desc_asid(void)
{
	/* the kernel's device (vdpa_sim offers no DESC_ASID) and a profile
	 * playing one exactly: as the device offers; else the simulator
	 * offering it, modelled on mlx5, where the kernel has the ioctl */
	if (fx_plays_device())
		fx_need_default(VDPAMAP_F_DESC_ASID);
	if (sim_profile_kernel_is("linux-6.1") ||
	    sim_profile_kernel_is("linux-5.10"))
		skip_because("the profile's kernel has no "
			     "GET_VRING_DESC_GROUP (DESC_ASID)");
}

static void need_count(struct fx *f, uint32_t nr, int which)
{
	static const char *const what[] = { "address space", "vq group", "vq" };
	struct vdpamap_info in;
	uint32_t have;

	fx_info(f, &in);
	have = which == 0 ? in.nr_as : which == 1 ? in.nr_groups : in.nr_vqs;
	if (have >= nr)
		return;
	skip_because("device has %u %s%s, needs %u (offer 0x%llx)", have,
		     what[which], have == 1 ? "" : "s", nr,
		     (unsigned long long)in.backend_offered);
}

void fx_need_as(struct fx *f, uint32_t nr)
{
	need_count(f, nr, 0);
}

void fx_need_groups(struct fx *f, uint32_t nr)
{
	need_count(f, nr, 1);
}

void fx_need_vqs(struct fx *f, uint32_t nr)
{
	need_count(f, nr, 2);
}

void fx_need_iova(struct fx *f, uint64_t first, uint64_t last)
{
	struct vdpamap_info in;

	fx_info(f, &in);
	if (first >= in.iova_first && last <= in.iova_last)
		return;
	skip_because("device's IOVA range [0x%llx, 0x%llx] lacks "
		     "[0x%llx, 0x%llx]",
		     (unsigned long long)in.iova_first,
		     (unsigned long long)in.iova_last,
		     (unsigned long long)first, (unsigned long long)last);
}

int fx_has_as(struct fx *f, uint32_t asid)
{
	struct vdpamap_info in;

	fx_info(f, &in);
	return asid < in.nr_as;
}
