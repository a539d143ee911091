/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * handoff_hdr: the header of a valid handoff description for the tests
 * that build one by hand (test_handoff_state.c, fuzz_handoff.c): the
 * KEEPER strategy with a live keeper, 2 regions, 2 groups, 3 vqs and 2
 * vrings; the caller lays out the arrays behind it.
 *
 * Header-only; depends on src/handoff/handoff.h.
 */
#ifndef VDPAMAP_TESTS_HANDOFF_HDR_H
#define VDPAMAP_TESTS_HANDOFF_HDR_H

#include <stddef.h>
#include <stdint.h>

#include "handoff/handoff.h"

static inline void handoff_hdr_init(struct vdm_ho_hdr *h, size_t len,
				    uint32_t nr_entries)
{
	*h = (struct vdm_ho_hdr){
		.magic = VDM_HO_MAGIC,
		.version = VDM_HO_VERSION,
		.total = len,
		.strategy = 2,
		.dev_fd = 5,
		.keeper_sock = 6,
		.keeper_pid = 99,
		.pred_pid = 98,
		.path = "/dev/vhost-vdpa-0",
		.nr_vqs = 3,
		.nr_groups = 2,
		.nr_as = 2,
		.max_vring_num = 256,
		.mem_mode = 1,
		.iova_first = 0,
		.iova_last = UINT64_MAX,
		.page_size = 4096,
		.status = 0xf,
		.next_region_id = 3,
		.nr_regions = 2,
		.nr_entries = nr_entries,
		.nr_vrings = 2,
		.keeper_cred = { 0x5e, 0xc2, 0xe7, [15] = 1 },
		.keeper_tag = 0x0123456789abcdefULL,
	};
}

#endif
