// SPDX-License-Identifier: BSD-3-Clause
/*
 * The handoff state parser (src/handoff_state.c) on hostile input:
 * truncation at every length, a bit flip at every bit, wrong version,
 * counts out of range, overlapping entries, entries outside their region
 * or naming none, bad fds and vrings.  Each forged description is
 * re-checksummed so that the check under test, not the CRC, must catch it.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "handoff/handoff.h"
#include "handoff_hdr.h"

/* A valid description: 2 regions, 3 entries (2 in ASID 0, 1 in ASID 1),
 * 2 groups, 3 vqs, 2 vrings. */
static size_t make(uint8_t **ret)
{
	size_t len = vdm_handoff_size(2, 3, 2, 3, 2);
	uint8_t *b = calloc(1, len);
	struct vdm_ho_hdr *h = (struct vdm_ho_hdr *)b;
	struct vdm_ho_region *rg = (struct vdm_ho_region *)(h + 1);
	struct vdm_ho_entry *e = (struct vdm_ho_entry *)(rg + 2);
	uint32_t *ga = (uint32_t *)(e + 3), *vg = ga + 2;
	struct vdm_ho_vring *v = (struct vdm_ho_vring *)((uint8_t *)(vg + 3) +
							 VDM_HO_U32_PAD(2, 3));

	handoff_hdr_init(h, len, 3);
	rg[0] = (struct vdm_ho_region){
		.id = 1, .fd = 7, .len = 1 << 20, .dev_base = 0x10000000
	};
	rg[1] = (struct vdm_ho_region){
		.id = 2, .fd = 8, .len = 1 << 16, .fd_offset = 4096
	};
	e[0] = (struct vdm_ho_entry){
		.iova = 0, .size = 1 << 20, .asid = 0, .perm = 3, .region_id = 1
	};
	e[1] = (struct vdm_ho_entry){ .iova = 1 << 20,
				      .size = 4096,
				      .asid = 0,
				      .perm = 1,
				      .region_id = 2 };
	e[2] = (struct vdm_ho_entry){ .iova = 0,
				      .size = 8192,
				      .off = 8192,
				      .asid = 1,
				      .perm = 3,
				      .region_id = 2 };
	ga[0] = 0;
	ga[1] = 1;
	vg[0] = vg[1] = 0;
	vg[2] = 1;
	v[0] = (struct vdm_ho_vring){
		.idx = 0, .flags = 3, .num = 64, .kick_fd = 9, .call_fd = 10
	};
	v[1] = (struct vdm_ho_vring){ .idx = 1,
				      .flags = 3,
				      .num = 64,
				      .base = 7,
				      .kick_fd = 11,
				      .call_fd = 12 };
	vdm_handoff_seal(b);
	*ret = b;
	return len;
}

#define HDR(b) ((struct vdm_ho_hdr *)(b))
#define REG(b) ((struct vdm_ho_region *)(HDR(b) + 1))
#define ENT(b) ((struct vdm_ho_entry *)(REG(b) + 2))
#define GA(b)  ((uint32_t *)(ENT(b) + 3))
#define VR(b) \
	((struct vdm_ho_vring *)((uint8_t *)(GA(b) + 5) + VDM_HO_U32_PAD(2, 3)))

static int parse(uint8_t *b, size_t len)
{
	struct vdm_handoff_state s;

	return vdm_handoff_parse(b, len, &s);
}

static int reparse(uint8_t *b, size_t len)
{
	vdm_handoff_seal(b);
	return parse(b, len);
}

static void valid(void **st)
{
	struct vdm_handoff_state s;
	uint8_t *b;
	size_t len = make(&b);

	(void)st;
	assert_int_equal(vdm_handoff_parse(b, len, &s), 0);
	assert_ptr_equal(s.hdr, b);
	assert_int_equal(s.entries[2].asid, 1);
	assert_int_equal(s.vrings[1].base, 7);
	assert_int_equal(s.vq_group[2], 1);
	free(b);
}

static void truncation(void **st)
{
	uint8_t *b, *c;
	size_t len = make(&b), i;

	(void)st;
	for (i = 0; i < len; i++) {
		c = malloc(i ? i : 1);
		memcpy(c, b, i);
		assert_int_equal(parse(c, i), -EMSGSIZE);
		free(c);
	}
	/* trailing bytes */
	c = calloc(1, len + 8);
	memcpy(c, b, len);
	assert_int_equal(parse(c, len + 8), -EMSGSIZE);
	free(c);
	free(b);
}

static void bit_flips(void **st)
{
	uint8_t *b;
	size_t len = make(&b), i;
	int k;

	(void)st;
	for (i = 0; i < len; i++)
		for (k = 0; k < 8; k++) {
			int r;

			b[i] ^= (uint8_t)(1 << k);
			r = parse(b, len);
			assert_true(r < 0);
			if (i >= 24)
				assert_int_equal(r, -EBADMSG);
			b[i] ^= (uint8_t)(1 << k);
		}
	assert_int_equal(parse(b, len), 0);
	free(b);
}

static void version_and_magic(void **st)
{
	uint8_t *b;
	size_t len = make(&b);

	(void)st;
	HDR(b)->version = VDM_HO_VERSION + 1;
	assert_int_equal(reparse(b, len), -EPROTONOSUPPORT);
	HDR(b)->version = VDM_HO_VERSION - 1; /* v3: no phase times */
	assert_int_equal(reparse(b, len), -EPROTONOSUPPORT);
	HDR(b)->version = VDM_HO_VERSION;
	HDR(b)->magic++;
	assert_int_equal(reparse(b, len), -EBADMSG);
	free(b);
}

static void counts(void **st)
{
	uint8_t *b;
	size_t len = make(&b);

	(void)st;
	HDR(b)->nr_entries = 4;
	assert_int_equal(reparse(b, len), -ERANGE);
	HDR(b)->nr_entries = VDM_HO_MAX_ENTRIES + 1;
	assert_int_equal(reparse(b, len), -ERANGE);
	HDR(b)->nr_entries = 3;
	HDR(b)->nr_vrings = 4; /* > nr_vqs */
	assert_int_equal(reparse(b, len), -ERANGE);
	HDR(b)->nr_vrings = 2;
	HDR(b)->nr_as = 0;
	assert_int_equal(reparse(b, len), -ERANGE);
	HDR(b)->nr_as = 2;
	HDR(b)->nr_regions = UINT32_MAX;
	assert_int_equal(reparse(b, len), -ERANGE);
	HDR(b)->nr_regions = 2;
	assert_int_equal(reparse(b, len), 0);
	free(b);
}

static void header_fields(void **st)
{
	uint8_t *b;
	size_t len = make(&b);

	(void)st;
	HDR(b)->strategy = 7;
	assert_int_equal(reparse(b, len), -EINVAL);
	HDR(b)->strategy = 2;
	HDR(b)->keeper_sock = -1;
	assert_int_equal(reparse(b, len), -EINVAL);
	HDR(b)->keeper_sock = 6;
	memset(HDR(b)->path, 'x', sizeof(HDR(b)->path));
	assert_int_equal(reparse(b, len), -EINVAL);
	strcpy(HDR(b)->path, "/dev/x");
	HDR(b)->page_size = 4095;
	assert_int_equal(reparse(b, len), -EINVAL);
	HDR(b)->page_size = 4096;
	HDR(b)->mem_mode = 3;
	assert_int_equal(reparse(b, len), -EINVAL);
	HDR(b)->mem_mode = 1;
	assert_int_equal(reparse(b, len), 0);
	free(b);
}

static void regions(void **st)
{
	uint8_t *b;
	size_t len = make(&b);

	(void)st;
	REG(b)[1].id = 1;
	assert_int_equal(reparse(b, len), -EEXIST);
	REG(b)[1].id = 3; /* >= next_region_id */
	assert_int_equal(reparse(b, len), -EINVAL);
	REG(b)[1].id = 2;
	REG(b)[1].fd = -1;
	assert_int_equal(reparse(b, len), -EINVAL);
	REG(b)[1].fd = 8;
	REG(b)[1].len = 100;
	assert_int_equal(reparse(b, len), -EINVAL);
	REG(b)[1].len = 1 << 16;
	REG(b)[1].fd_offset = UINT64_MAX - 4095;
	assert_int_equal(reparse(b, len), -EINVAL);
	REG(b)[1].fd_offset = 4096;
	assert_int_equal(reparse(b, len), 0);
	free(b);
}

static void entries(void **st)
{
	uint8_t *b;
	size_t len = make(&b);

	(void)st;
	ENT(b)[1].iova = 4096; /* overlaps entry 0 */
	assert_int_equal(reparse(b, len), -EEXIST);
	ENT(b)[1].iova = 1 << 20;
	ENT(b)[1].off = 1 << 16; /* outside its region */
	assert_int_equal(reparse(b, len), -EFAULT);
	ENT(b)[1].off = 0;
	ENT(b)[1].size = 1 << 17;
	assert_int_equal(reparse(b, len), -EFAULT);
	ENT(b)[1].size = 4096;
	ENT(b)[1].region_id = 9;
	assert_int_equal(reparse(b, len), -ENOENT);
	ENT(b)[1].region_id = 2;
	ENT(b)[1].perm = 0;
	assert_int_equal(reparse(b, len), -EINVAL);
	ENT(b)[1].perm = 1;
	ENT(b)[2].asid = 2;
	assert_int_equal(reparse(b, len), -EINVAL);
	ENT(b)[2].asid = 0; /* unsorted */
	assert_int_equal(reparse(b, len), -EINVAL);
	ENT(b)[2].asid = 1;
	ENT(b)[2].iova = UINT64_MAX - 4095;
	ENT(b)[2].size = 8192; /* wraps */
	assert_int_equal(reparse(b, len), -EFAULT);
	ENT(b)[2].iova = 0;
	HDR(b)->iova_last = 4095; /* outside the IOVA range */
	assert_int_equal(reparse(b, len), -EFAULT);
	HDR(b)->iova_last = UINT64_MAX;
	assert_int_equal(reparse(b, len), 0);
	free(b);
}

static void vrings_groups(void **st)
{
	uint8_t *b;
	size_t len = make(&b);

	(void)st;
	GA(b)[1] = 2;
	assert_int_equal(reparse(b, len), -EINVAL);
	GA(b)[1] = 1;
	GA(b)[4] = 2; /* vq 2 -> group 2 of 2 */
	assert_int_equal(reparse(b, len), -EINVAL);
	GA(b)[4] = 1;
	VR(b)[1].num = 48;
	assert_int_equal(reparse(b, len), -EINVAL);
	VR(b)[1].num = 64;
	VR(b)[1].idx = 0; /* duplicate */
	assert_int_equal(reparse(b, len), -EINVAL);
	VR(b)[1].idx = 1;
	VR(b)[1].kick_fd = -2;
	assert_int_equal(reparse(b, len), -EINVAL);
	VR(b)[1].kick_fd = 11;
	assert_int_equal(reparse(b, len), 0);
	free(b);
}

/* ---- the reason: each class of corruption names its field */
static char why_buf[256];

/* re-checksum b, parse it: want errno err and a reason starting with want */
/* the function behind the macro why_is() (STYLE.md: helpers in threes):
 * NOLINTNEXTLINE(bugprone-reserved-identifier) */
static void _why_is(uint8_t *b, size_t len, int err, const char *want, int line)
{
	struct vdm_handoff_state s;
	struct vdm_ho_why why;
	int r;

	vdm_handoff_seal(b);
	memset(&why, 0xa5, sizeof(why));
	r = vdm_handoff_parse_why(b, len, &s, &why);
	vdm_handoff_why_str(&why, why_buf, sizeof(why_buf));
	if (r != err || strncmp(why_buf, want, strlen(want)))
		fail_msg("line %d: got %d \"%s\", want %d \"%s\"", line, r,
			 why_buf, err, want);
	/* the plain parser agrees */
	assert_int_equal(vdm_handoff_parse(b, len, &s), err);
}
#define why_is(b, len, err, want) _why_is(b, len, err, want, __LINE__)

/* set field to bad, check the reason, put it back (and check it parses) */
#define CASE(b, len, field, bad, err, want)       \
	do {                                      \
		__typeof__(field) old_ = (field); \
		(field) = (bad);                  \
		why_is(b, len, err, want);        \
		(field) = old_;                   \
		why_is(b, len, 0, "valid");       \
	} while (0)

static void reasons(void **st)
{
	struct vdm_handoff_state s;
	struct vdm_ho_why why;
	uint8_t *b, *c;
	size_t len = make(&b);

	(void)st;
	why_is(b, len, 0, "valid");
	/* framing: read without re-checksumming */
	assert_int_equal(vdm_handoff_parse_why(b, 10, &s, &why), -EMSGSIZE);
	vdm_handoff_why_str(&why, why_buf, sizeof(why_buf));
	assert_string_equal(why_buf, "length: shorter than the header");
	assert_int_equal(vdm_handoff_parse_why(b, len - 8, &s, &why),
			 -EMSGSIZE);
	vdm_handoff_why_str(&why, why_buf, sizeof(why_buf));
	assert_non_null(strstr(why_buf, "total: not the length read"));
	b[len - 1] ^= 1;
	assert_int_equal(vdm_handoff_parse_why(b, len, &s, &why), -EBADMSG);
	vdm_handoff_why_str(&why, why_buf, sizeof(why_buf));
	assert_string_equal(why_buf, "crc: checksum mismatch");
	b[len - 1] ^= 1;
	c = malloc(len);
	memcpy(c, b, len);
	c[0] ^= 1;
	assert_int_equal(vdm_handoff_parse_why(c, len, &s, &why), -EBADMSG);
	vdm_handoff_why_str(&why, why_buf, sizeof(why_buf));
	assert_non_null(strstr(why_buf, "magic"));
	free(c);
	/* NULL why is allowed */
	assert_int_equal(vdm_handoff_parse_why(b, len, &s, NULL), 0);
	CASE(b, len, HDR(b)->version, VDM_HO_VERSION + 1, -EPROTONOSUPPORT,
	     "version: ");
	/* header */
	CASE(b, len, HDR(b)->strategy, 7, -EINVAL, "strategy: ");
	CASE(b, len, HDR(b)->keeper_pid, 0, -EINVAL, "keeper_sock, keeper_pid");
	CASE(b, len, HDR(b)->dev_fd, -1, -EINVAL, "dev_fd: none");
	HDR(b)->strategy = 3; /* REBUILD: dev_fd may be -1 */
	CASE(b, len, HDR(b)->dev_fd, -2, -EINVAL, "dev_fd: below -1");
	HDR(b)->strategy = 2;
	CASE(b, len, HDR(b)->keeper_sock, -2, -EINVAL,
	     "keeper_sock, keeper_pid");
	HDR(b)->strategy = 1; /* NEW_OWNER: keeper_sock is checked alone */
	CASE(b, len, HDR(b)->keeper_sock, -2, -EINVAL, "keeper_sock: below -1");
	HDR(b)->strategy = 2;
	CASE(b, len, HDR(b)->pred_pid, 0, -EINVAL, "pred_pid: ");
	CASE(b, len, HDR(b)->path[0], 0, -EINVAL, "path: ");
	CASE(b, len, HDR(b)->nr_vqs, 0, -ERANGE, "nr_vqs: ");
	CASE(b, len, HDR(b)->nr_groups, VDM_HO_MAX_VQS + 1, -ERANGE,
	     "nr_groups: ");
	CASE(b, len, HDR(b)->nr_as, 0, -ERANGE, "nr_as: ");
	CASE(b, len, HDR(b)->nr_regions, UINT32_MAX, -ERANGE, "nr_regions: ");
	CASE(b, len, HDR(b)->nr_entries, VDM_HO_MAX_ENTRIES + 1, -ERANGE,
	     "nr_entries: ");
	CASE(b, len, HDR(b)->nr_vrings, 4, -ERANGE, "nr_vrings: ");
	CASE(b, len, HDR(b)->nr_entries, 4, -ERANGE,
	     "nr_regions, nr_entries, nr_groups, nr_vqs, nr_vrings: sizes");
	CASE(b, len, HDR(b)->mem_mode, 3, -EINVAL, "mem_mode: ");
	CASE(b, len, HDR(b)->is_sim, 2, -EINVAL, "is_sim: ");
	HDR(b)->iova_last = (1ULL << 40) - 1;
	CASE(b, len, HDR(b)->iova_first, 1ULL << 40, -EINVAL, "iova_first: ");
	HDR(b)->iova_last = UINT64_MAX;
	CASE(b, len, HDR(b)->page_size, 4095, -EINVAL, "page_size: ");
	CASE(b, len, HDR(b)->status, 0x100, -EINVAL, "status: ");
	CASE(b, len, HDR(b)->next_region_id, 0, -EINVAL, "next_region_id: ");
	CASE(b, len, HDR(b)->caps_flags, 1u << 4, -EINVAL, "caps_flags: ");
	CASE(b, len, HDR(b)->reserved1, 1, -EINVAL, "reserved1: ");
	memset(HDR(b)->parent, 'x', sizeof(HDR(b)->parent));
	why_is(b, len, -EINVAL, "parent: ");
	memset(HDR(b)->parent, 0, sizeof(HDR(b)->parent));
	why_is(b, len, 0, "valid");
	/* the keeper's credential: with a keeper, every byte of it counts;
	 * all zero is none */
	CASE(b, len, HDR(b)->keeper_cred[0], 0x5f, 0, "valid");
	{
		uint8_t keep[VDM_KP_CRED_LEN];

		memcpy(keep, HDR(b)->keeper_cred, sizeof(keep));
		memset(HDR(b)->keeper_cred, 0, sizeof(keep));
		why_is(b, len, -EINVAL,
		       "keeper_cred: zero, and there is a "
		       "keeper");
		memcpy(HDR(b)->keeper_cred, keep, sizeof(keep));
	}
	CASE(b, len, HDR(b)->keeper_tag, 0, -EINVAL, "keeper_tag: zero");
	/* no keeper (NEW_OWNER from a plain handle): neither may be set */
	HDR(b)->strategy = 1;
	CASE(b, len, HDR(b)->keeper_sock, -1, -EINVAL,
	     "keeper_cred, keeper_tag: set, and there is no keeper");
	HDR(b)->strategy = 2;
	/* regions */
	CASE(b, len, REG(b)[1].fd, -1, -EINVAL, "regions[1].fd: ");
	CASE(b, len, REG(b)[1].len, 0, -EINVAL, "regions[1].len: 0");
	CASE(b, len, REG(b)[0].id, 0, -EINVAL, "regions[0].id: 0 or not below");
	CASE(b, len, REG(b)[1].id, 3, -EINVAL, "regions[1].id: 0 or not below");
	CASE(b, len, REG(b)[1].fd_offset, 100, -EINVAL,
	     "regions[1].len, fd_offset, dev_base: not page-aligned");
	CASE(b, len, REG(b)[1].fd_offset, UINT64_MAX - 4095, -EINVAL,
	     "regions[1].fd_offset: ");
	CASE(b, len, REG(b)[1].dev_base, UINT64_MAX - 4095, -EINVAL,
	     "regions[1].dev_base: ");
	CASE(b, len, REG(b)[1].perm, 4, -EINVAL, "regions[1].perm: ");
	CASE(b, len, REG(b)[1].id, 1, -EEXIST, "regions[1].id: an earlier");
	/* entries */
	CASE(b, len, ENT(b)[2].asid, 2, -EINVAL, "entries[2].asid: not below");
	CASE(b, len, ENT(b)[1].size, 0, -EINVAL, "entries[1].size: 0");
	CASE(b, len, ENT(b)[1].perm, 0, -EINVAL, "entries[1].perm: ");
	CASE(b, len, ENT(b)[1].off, 8, -EINVAL,
	     "entries[1].iova, size, off: not page-aligned");
	CASE(b, len, ENT(b)[2].iova, UINT64_MAX - 4095, -EFAULT,
	     "entries[2].size: iova + size wraps"); /* size 8192 */
	HDR(b)->iova_first = 4096;
	why_is(b, len, -EFAULT, "entries[0].iova: outside the IOVA range");
	HDR(b)->iova_first = 0;
	CASE(b, len, ENT(b)[1].region_id, 9, -ENOENT, "entries[1].region_id: ");
	CASE(b, len, ENT(b)[1].off, 1 << 16, -EFAULT,
	     "entries[1].off, size: outside its region");
	ENT(b)[1].asid = 1; /* then entry 2 back in ASID 0 */
	ENT(b)[2].asid = 0;
	why_is(b, len, -EINVAL, "entries[2].asid: not sorted");
	ENT(b)[1].asid = 0;
	ENT(b)[2].asid = 1;
	CASE(b, len, ENT(b)[1].iova, 4096, -EEXIST,
	     "entries[1].iova: inside the previous entry");
	ENT(b)[0].iova = 8192; /* entry 1 (at 1 MiB) starts inside */
	ENT(b)[1].iova = 4096; /* below entry 0, overlapping it */
	why_is(b, len, -EINVAL, "entries[1].iova: not sorted");
	ENT(b)[0].iova = 0;
	ENT(b)[1].iova = 1 << 20;
	/* groups, vqs, vrings */
	CASE(b, len, GA(b)[1], 2, -EINVAL, "group_asid[1].asid: ");
	CASE(b, len, GA(b)[4], 2, -EINVAL, "vq_group[2].group: ");
	CASE(b, len, VR(b)[1].idx, 3, -EINVAL, "vrings[1].idx: not below");
	CASE(b, len, VR(b)[1].idx, 0, -EINVAL, "vrings[1].idx: duplicate");
	CASE(b, len, VR(b)[1].flags, 7, -EINVAL, "vrings[1].flags: ");
	CASE(b, len, VR(b)[1].num, 48, -EINVAL, "vrings[1].num: ");
	CASE(b, len, VR(b)[1].base, 0x10000, -EINVAL, "vrings[1].base: ");
	CASE(b, len, VR(b)[1].kick_fd, -2, -EINVAL, "vrings[1].kick_fd: ");
	CASE(b, len, VR(b)[0].call_fd, -2, -EINVAL, "vrings[0].call_fd: ");
	/* a vring not set: only idx and flags count */
	VR(b)[1].flags = 0;
	VR(b)[1].num = 3;
	why_is(b, len, 0, "valid");
	free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(valid),
		cmocka_unit_test(truncation),
		cmocka_unit_test(bit_flips),
		cmocka_unit_test(version_and_magic),
		cmocka_unit_test(counts),
		cmocka_unit_test(header_fields),
		cmocka_unit_test(regions),
		cmocka_unit_test(entries),
		cmocka_unit_test(vrings_groups),
		cmocka_unit_test(reasons),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
