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

#include "handoff.h"

/* A valid description: 2 regions, 3 entries (2 in ASID 0, 1 in ASID 1),
 * 2 groups, 3 vqs, 2 vrings. */
static size_t make(uint8_t **ret)
{
	size_t len = vm_handoff_size(2, 3, 2, 3, 2);
	uint8_t *b = calloc(1, len);
	struct vm_ho_hdr *h = (struct vm_ho_hdr *)b;
	struct vm_ho_region *rg = (struct vm_ho_region *)(h + 1);
	struct vm_ho_entry *e = (struct vm_ho_entry *)(rg + 2);
	uint32_t *ga = (uint32_t *)(e + 3), *vg = ga + 2;
	struct vm_ho_vring *v = (struct vm_ho_vring *)((uint8_t *)(vg + 3) +
						       VM_HO_U32_PAD(2, 3));

	*h = (struct vm_ho_hdr){
		.magic = VM_HO_MAGIC, .version = VM_HO_VERSION, .total = len,
		.strategy = 2, .dev_fd = 5, .keeper_sock = 6, .keeper_pid = 99,
		.pred_pid = 98, .path = "/dev/vhost-vdpa-0", .nr_vqs = 3,
		.nr_groups = 2, .nr_as = 2, .max_vring_num = 256,
		.mem_mode = 1, .iova_first = 0, .iova_last = UINT64_MAX,
		.page_size = 4096, .status = 0xf, .next_region_id = 3,
		.nr_regions = 2, .nr_entries = 3, .nr_vrings = 2,
	};
	rg[0] = (struct vm_ho_region){ .id = 1, .fd = 7, .len = 1 << 20,
				       .dev_base = 0x10000000 };
	rg[1] = (struct vm_ho_region){ .id = 2, .fd = 8, .len = 1 << 16,
				       .fd_offset = 4096 };
	e[0] = (struct vm_ho_entry){ .iova = 0, .size = 1 << 20, .asid = 0,
				     .perm = 3, .region_id = 1 };
	e[1] = (struct vm_ho_entry){ .iova = 1 << 20, .size = 4096, .asid = 0,
				     .perm = 1, .region_id = 2 };
	e[2] = (struct vm_ho_entry){ .iova = 0, .size = 8192, .off = 8192,
				     .asid = 1, .perm = 3, .region_id = 2 };
	ga[0] = 0;
	ga[1] = 1;
	vg[0] = vg[1] = 0;
	vg[2] = 1;
	v[0] = (struct vm_ho_vring){ .idx = 0, .flags = 3, .num = 64,
				     .kick_fd = 9, .call_fd = 10 };
	v[1] = (struct vm_ho_vring){ .idx = 1, .flags = 3, .num = 64,
				     .base = 7, .kick_fd = 11, .call_fd = 12 };
	vm_handoff_seal(b);
	*ret = b;
	return len;
}

#define HDR(b) ((struct vm_ho_hdr *)(b))
#define REG(b) ((struct vm_ho_region *)(HDR(b) + 1))
#define ENT(b) ((struct vm_ho_entry *)(REG(b) + 2))
#define GA(b) ((uint32_t *)(ENT(b) + 3))
#define VR(b) ((struct vm_ho_vring *)((uint8_t *)(GA(b) + 5) + VM_HO_U32_PAD(2, 3)))

static int parse(uint8_t *b, size_t len)
{
	struct vm_handoff_state s;

	return vm_handoff_parse(b, len, &s);
}

static int reparse(uint8_t *b, size_t len)
{
	vm_handoff_seal(b);
	return parse(b, len);
}

static void valid(void **st)
{
	struct vm_handoff_state s;
	uint8_t *b;
	size_t len = make(&b);

	(void)st;
	assert_int_equal(vm_handoff_parse(b, len, &s), 0);
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
	HDR(b)->version = VM_HO_VERSION + 1;
	assert_int_equal(reparse(b, len), -EPROTONOSUPPORT);
	HDR(b)->version = VM_HO_VERSION - 1;	/* v1: unaligned vrings */
	assert_int_equal(reparse(b, len), -EPROTONOSUPPORT);
	HDR(b)->version = VM_HO_VERSION;
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
	HDR(b)->nr_entries = VM_HO_MAX_ENTRIES + 1;
	assert_int_equal(reparse(b, len), -ERANGE);
	HDR(b)->nr_entries = 3;
	HDR(b)->nr_vrings = 4;		/* > nr_vqs */
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
	REG(b)[1].id = 3;		/* >= next_region_id */
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
	ENT(b)[1].iova = 4096;		/* overlaps entry 0 */
	assert_int_equal(reparse(b, len), -EEXIST);
	ENT(b)[1].iova = 1 << 20;
	ENT(b)[1].off = 1 << 16;	/* outside its region */
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
	ENT(b)[2].asid = 0;		/* unsorted */
	assert_int_equal(reparse(b, len), -EINVAL);
	ENT(b)[2].asid = 1;
	ENT(b)[2].iova = UINT64_MAX - 4095;
	ENT(b)[2].size = 8192;		/* wraps */
	assert_int_equal(reparse(b, len), -EFAULT);
	ENT(b)[2].iova = 0;
	HDR(b)->iova_last = 4095;	/* outside the IOVA range */
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
	GA(b)[4] = 2;			/* vq 2 -> group 2 of 2 */
	assert_int_equal(reparse(b, len), -EINVAL);
	GA(b)[4] = 1;
	VR(b)[1].num = 48;
	assert_int_equal(reparse(b, len), -EINVAL);
	VR(b)[1].num = 64;
	VR(b)[1].idx = 0;		/* duplicate */
	assert_int_equal(reparse(b, len), -EINVAL);
	VR(b)[1].idx = 1;
	VR(b)[1].kick_fd = -2;
	assert_int_equal(reparse(b, len), -EINVAL);
	VR(b)[1].kick_fd = 11;
	assert_int_equal(reparse(b, len), 0);
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
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
