// SPDX-License-Identifier: BSD-3-Clause
/*
 * trim: the keeper's VDM_KP_TRIM (keeper.h, "Trim"): unmap every mapping
 * of the old address space but the keeper's own area, the pages of its
 * code section and the ranges the successor asked to keep, pass after
 * pass over /proc/self/maps.  FREESTANDING, as keeper.c: no libc, no
 * globals, no string constants; every function in the keeper's section
 * (ksys.h says why that matters most here).
 */
#include "handoff/keeper/ksys.h"

#if VDM_KEEPER_SUPPORTED

#define K_TRIM_PASSES 16
/* a page_size from the library outside [K_PAGE_MIN, K_PAGE_MAX] or not a
 * power of two is not believed: the largest base page there is (arm64's
 * 64 KiB) keeps at least what any base page would */
#define K_PAGE_MIN	    4096ULL
#define K_PAGE_MAX	    (1ULL << 20)
#define K_PAGE_LARGEST_BASE (1ULL << 16)

struct k_keep {
	uint64_t lo, hi; /* [lo, hi) */
};

KINL uint64_t k_pc(void)
{
	uint64_t pc;

#if defined(__x86_64__)
	__asm__ volatile("lea 0(%%rip), %0" : "=r"(pc));
#else
	__asm__ volatile("adr %0, ." : "=r"(pc));
#endif
	return pc;
}

/* The shadow stack pointer, 0 without one.  RDSSP is a NOP where shadow
 * stacks are off (or unknown to the CPU), leaving the 0. */
KINL uint64_t k_ssp(void)
{
	uint64_t ssp = 0;

#if defined(__x86_64__)
	__asm__ volatile("rdsspq %0" : "+r"(ssp));
#endif
	return ssp;
}

/* An arm64 Guarded Control Stack (Linux 6.13+): its VMA is not found as
 * safely as x86's shadow stack (GCSPR_EL0 may trap), so such a keeper
 * does not trim.  Older kernels: EINVAL, no GCS. */
KSEC static int k_gcs_on(void)
{
#if defined(__aarch64__)
	uint64_t st = 0;

	return S5(__NR_prctl, K_PR_GET_SHADOW_STACK_STATUS, &st, 0, 0, 0) ==
		       0 &&
	       (st & 1);
#else
	return 0;
#endif
}

KSEC static uint64_t k_now_ns(void)
{
	struct {
		int64_t s, ns;
	} ts;

	ts.s = ts.ns = 0;
	S2(__NR_clock_gettime, K_CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.s * K_NSEC_PER_SEC + (uint64_t)ts.ns;
}

/* "/proc/self/maps", one byte at a time: no string constant */
KSEC static void k_maps_path(char *p)
{
	volatile char *q = p;

	q[0] = '/';
	q[1] = 'p';
	q[2] = 'r';
	q[3] = 'o';
	q[4] = 'c';
	q[5] = '/';
	q[6] = 's';
	q[7] = 'e';
	q[8] = 'l';
	q[9] = 'f';
	q[10] = '/';
	q[11] = 'm';
	q[12] = 'a';
	q[13] = 'p';
	q[14] = 's';
	q[15] = 0;
}

KSEC static uint64_t k_hex(const uint8_t **pp, const uint8_t *end)
{
	const uint8_t *p = *pp;
	uint64_t v = 0;

	for (; p < end; p++) {
		if (*p >= '0' && *p <= '9')
			v = v * 16 + (uint64_t)(*p - '0');
		else if (*p >= 'a' && *p <= 'f')
			v = v * 16 + (uint64_t)(*p - 'a' + 10);
		else
			break;
	}
	*pp = p;
	return v;
}

/* Unmap [s, e) but the kept ranges (sorted by lo); returns how many
 * pieces went. */
KSEC static int k_unmap_gaps(uint64_t s, uint64_t e, const struct k_keep *k,
			     int nk, uint64_t *bytes)
{
	uint64_t cur = s;
	int i, did = 0;

	for (i = 0; i <= nk && cur < e; i++) {
		uint64_t lo = i < nk ? k[i].lo : e;

		if (i < nk && k[i].hi <= cur)
			continue;
		if (lo > e)
			lo = e;
		if (lo > cur && S2(__NR_munmap, cur, lo - cur) == 0) {
			*bytes += lo - cur;
			did++;
		}
		if (i < nk && k[i].hi > cur)
			cur = k[i].hi;
	}
	return did;
}

/* One pass over /proc/self/maps (whole lines that fit the buffer).
 * Returns the pieces unmapped or -errno; *nvma: the lines seen. */
KSEC static long k_trim_pass(struct vdm_keeper_args *a, const struct k_keep *k,
			     int nk, uint64_t whole1, uint64_t whole2,
			     uint64_t *bytes, uint32_t *nvma)
{
	const uint8_t *p, *q, *end;
	char path[16];
	uint64_t len = 0, s, e;
	long fd, r = 0, did = 0;

	k_maps_path(path);
	fd = S4(__NR_openat, K_AT_FDCWD, path, K_O_RDONLY_CLOEXEC, 0);
	if (fd < 0)
		return fd;
	while (len < VDM_KP_BUF) {
		r = S3(__NR_read, fd, a->buf + len, VDM_KP_BUF - len);
		if (r == -K_EINTR)
			continue;
		if (r <= 0)
			break;
		len += (uint64_t)r;
	}
	S1(__NR_close, fd);
	if (r < 0)
		return r;
	*nvma = 0;
	for (p = a->buf, end = a->buf + len; p < end; p = q + 1) {
		for (q = p; q < end && *q != '\n'; q++)
			;
		if (q == end)
			break; /* cut by the buffer: next pass */
		s = k_hex(&p, q);
		if (p == q || *p != '-')
			continue;
		p++;
		e = k_hex(&p, q);
		(*nvma)++;
		if (e <= s || (whole1 >= s && whole1 < e) ||
		    (whole2 >= s && whole2 < e))
			continue;
		did += k_unmap_gaps(s, e, k, nk, bytes);
	}
	return did;
}

/* Same address space as the peer (the predecessor before its exec)?
 * kcmp() unavailable or refused: trust the request. */
KSEC static int k_same_mm(struct vdm_keeper_args *a)
{
	if (a->peer_pid <= 0)
		return 0;
	return S5(__NR_kcmp, S0(__NR_getpid), a->peer_pid, K_KCMP_VM, 0, 0) ==
	       0;
}

KSEC __attribute__((noinline)) void vdm_k_trim(struct vdm_keeper_args *a,
					       struct vdm_kp_msg *m, int32_t fd)
{
	struct k_keep k[VDM_KP_MAX_RANGES + 2], t;
	const struct vdm_kp_range *rg = (const struct vdm_kp_range *)(m + 1);
	uint64_t ps = a->page_size, pc = k_pc(), whole = 0, bytes = 0, t0;
	uint32_t nvma = 0, first = 0;
	int nk = 0, i, j, pass;
	long r = 0;

	if (m->len % sizeof(*rg) || m->len / sizeof(*rg) > VDM_KP_MAX_RANGES) {
		r = -K_EINVAL;
	} else if (k_same_mm(a)) {
		r = -K_EBUSY;
	} else if (k_gcs_on()) {
		r = -K_EOPNOTSUPP;
	}
	if (r < 0) {
		if (fd >= 0)
			S1(__NR_close, fd);
		vdm_k_reply(a, m, r, 0, 0);
		return;
	}
	if (ps < K_PAGE_MIN || ps > K_PAGE_MAX || (ps & (ps - 1)))
		ps = K_PAGE_LARGEST_BASE;
	/* our area: args, buffer, stack */
	k[nk].lo = (uint64_t)(uintptr_t)a;
	k[nk++].hi = (uint64_t)(uintptr_t)a + VDM_KP_AREA;
	/* our code: the section's pages, or the whole VMA if unsure */
	if (a->code_lo && a->code_lo <= pc && pc < a->code_hi) {
		k[nk].lo = a->code_lo & ~(ps - 1);
		k[nk++].hi = (a->code_hi + ps - 1) & ~(ps - 1);
	} else {
		whole = pc;
	}
	for (i = 0; i < (int)(m->len / sizeof(*rg)); i++) {
		uint64_t lo = rg[i].start & ~(ps - 1);
		uint64_t hi = (rg[i].start + rg[i].len + ps - 1) & ~(ps - 1);

		if (!rg[i].len || hi <= lo)
			continue;
		k[nk].lo = lo;
		k[nk++].hi = hi;
	}
	for (i = 1; i < nk; i++)
		for (j = i; j > 0 && k[j - 1].lo > k[j].lo; j--) {
			t = k[j];
			k[j] = k[j - 1];
			k[j - 1] = t;
		}
	/* val: our pid, the successor's check that its socket is served
	 * by the keeper the description names (it sends no PING) */
	vdm_k_reply(a, m, 0, S0(__NR_getpid), 0);

	t0 = k_now_ns();
	for (pass = 0; pass < K_TRIM_PASSES; pass++) {
		r = k_trim_pass(a, k, nk, whole, k_ssp(), &bytes, &nvma);
		if (r < 0)
			break;
		if (!pass)
			first = nvma;
		if (!r)
			break;
	}
	if (!a->trim.trims)
		a->trim.vmas_before = first;
	a->trim.trims++;
	a->trim.bytes += bytes;
	a->trim.vmas_kept = nvma;
	a->trim.err = r < 0 ? (int32_t)r : 0;
	a->trim.ns = k_now_ns() - t0;
	if (fd >= 0) {
		vdm_k_send(fd, &a->trim, sizeof(a->trim), (void *)0, 0,
			   (int32_t *)0, 0);
		S1(__NR_close, fd);
	}
}

#endif /* VDM_KEEPER_SUPPORTED */
