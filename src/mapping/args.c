// SPDX-License-Identifier: BSD-3-Clause
/*
 * args: the arguments of a map or an unmap on their own, before any tree
 * is looked at (txn.c checks them against the mirror and the
 * transaction's overlay): the range and its ASID; for a map also perm,
 * alignment, and the region hva lies in (that its memory is still
 * mapped, the commit checks: vma.c).
 */
#include <unistd.h>

#include "mapping/mapping.h"

int vdm_check_range(struct vdpamap *h, uint32_t asid, uint64_t iova,
		    uint64_t size)
{
	if (!size) {
		vdm_err(h, "asid %u iova 0x%llx: size 0", asid,
			(unsigned long long)iova);
		return -EINVAL;
	}
	if (asid >= h->info.nr_as) {
		vdm_err(h, "asid %u out of range (%u address spaces)", asid,
			h->info.nr_as);
		return -EINVAL;
	}
	if (asid && !vdm_has_feature(h, VDPAMAP_F_IOTLB_ASID)) {
		vdm_err(h,
			"asid %u needs IOTLB_ASID (not negotiated): the "
			"device would put it in ASID 0",
			asid);
		return -EOPNOTSUPP;
	}
	if (iova + (size - 1) < iova) {
		vdm_err(h, "asid %u iova 0x%llx size 0x%llx wraps past 2^64-1",
			asid, (unsigned long long)iova,
			(unsigned long long)size);
		return -EOVERFLOW;
	}
	return 0;
}

uint64_t vdm_pa_mask(const struct vdpamap *h)
{
	if (h->info.mem_mode != VDPAMAP_MEMMODE_PA)
		return 0;
	return (uint64_t)sysconf(_SC_PAGESIZE) - 1;
}

int vdm_map_check_args(struct vdpamap *h, uint32_t asid, uint64_t iova,
		       void *hva, uint64_t size, uint32_t perm, uint64_t mask,
		       struct vdm_region **ret_rg)
{
	uint64_t uhva = (uintptr_t)hva;
	int r;

	if (perm != VDPAMAP_PERM_RO && perm != VDPAMAP_PERM_WO &&
	    perm != VDPAMAP_PERM_RW) {
		vdm_err(h, "perm %u: not RO (1), WO (2) or RW (3)", perm);
		return -EINVAL;
	}
	r = vdm_check_range(h, asid, iova == VDPAMAP_IOVA_ANY ? 0 : iova, size);
	if (r < 0)
		return r;
	if ((uhva | size | (iova == VDPAMAP_IOVA_ANY ? 0 : iova)) & mask) {
		vdm_err(h,
			"asid %u iova 0x%llx hva %p size 0x%llx: not aligned "
			"to page size 0x%llx",
			asid, (unsigned long long)iova, hva,
			(unsigned long long)size,
			(unsigned long long)h->page_size);
		return -EINVAL;
	}
	if (uhva + (size - 1) < uhva) {
		vdm_err(h, "hva %p size 0x%llx wraps", hva,
			(unsigned long long)size);
		return -EOVERFLOW;
	}
	if ((uhva | size | (iova == VDPAMAP_IOVA_ANY ? 0 : iova)) &
	    vdm_pa_mask(h)) {
		vdm_err(h,
			"asid %u iova 0x%llx hva %p size 0x%llx: PA mode pins "
			"whole pages of 0x%llx: the device would hold more "
			"than the map (ALLOW_UNALIGNED and page_size below it "
			"are for VA-mode devices)",
			asid, (unsigned long long)iova, hva,
			(unsigned long long)size,
			(unsigned long long)(vdm_pa_mask(h) + 1));
		return -EINVAL;
	}
	*ret_rg = vdm_region_find(h, uhva, size);
	if (!*ret_rg) {
		vdm_err(h,
			"hva [%p, +0x%llx) is not inside one registered "
			"region",
			hva, (unsigned long long)size);
		return -EFAULT;
	}
	/* its region was mapped when added; that it still is, the commit
	 * checks once for all its maps (vdm_mem_check_msgs()) */
	return 0;
}
