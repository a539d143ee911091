// SPDX-License-Identifier: BSD-3-Clause
/*
 * The handoff state description: size, seal (CRC-32) and the parser.  The
 * parser treats its input as hostile (it comes from another image through
 * an fd number anyone could have put in the environment): every count is
 * bounded before it is used in arithmetic, every offset is checked before
 * it is dereferenced, nothing is allocated and nothing outside buf is
 * touched.  No I/O: the fuzzer (tests/unit/fuzz_handoff.c) links it alone.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "handoff.h"

/* vdpamap.h values, repeated so that this file links alone */
#define HO_STRAT_NEW_OWNER	1
#define HO_STRAT_KEEPER		2
#define HO_STRAT_REBUILD	3
#define HO_MEM_PA		1
#define HO_MEM_VA		2

uint32_t vm_crc32(uint32_t crc, const void *buf, size_t len)
{
	static uint32_t table[256];
	const uint8_t *p = buf;
	size_t i;

	if (!__atomic_load_n(&table[1], __ATOMIC_ACQUIRE)) {
		uint32_t t[256];

		for (i = 0; i < 256; i++) {
			uint32_t c = (uint32_t)i;
			int k;

			for (k = 0; k < 8; k++)
				c = (c & 1) ? 0xedb88320u ^ (c >> 1) : c >> 1;
			t[i] = c;
		}
		for (i = 0; i < 256; i++)
			__atomic_store_n(&table[i], t[i], __ATOMIC_RELEASE);
	}
	crc = ~crc;
	for (i = 0; i < len; i++)
		crc = table[(crc ^ p[i]) & 0xff] ^ (crc >> 8);
	return ~crc;
}

size_t vm_handoff_size(uint32_t nr_regions, uint32_t nr_entries,
		       uint32_t nr_groups, uint32_t nr_vqs, uint32_t nr_vrings)
{
	uint64_t n;

	if (nr_regions > VM_HO_MAX_REGIONS || nr_entries > VM_HO_MAX_ENTRIES ||
	    nr_groups > VM_HO_MAX_VQS || nr_vqs > VM_HO_MAX_VQS ||
	    nr_vrings > nr_vqs)
		return 0;
	n = sizeof(struct vm_ho_hdr) +
	    (uint64_t)nr_regions * sizeof(struct vm_ho_region) +
	    (uint64_t)nr_entries * sizeof(struct vm_ho_entry) +
	    (uint64_t)nr_groups * 4 + (uint64_t)nr_vqs * 4 +
	    VM_HO_U32_PAD(nr_groups, nr_vqs) +
	    (uint64_t)nr_vrings * sizeof(struct vm_ho_vring);
	return (size_t)n;
}

#define CRC_OFF (offsetof(struct vm_ho_hdr, crc) + sizeof(uint32_t))

void vm_handoff_seal(void *buf)
{
	struct vm_ho_hdr *h = buf;

	h->crc = vm_crc32(0, (const uint8_t *)buf + CRC_OFF,
			  (size_t)h->total - CRC_OFF);
}

static int check_hdr(const struct vm_ho_hdr *h)
{
	if (h->strategy < HO_STRAT_NEW_OWNER || h->strategy > HO_STRAT_REBUILD)
		return -EINVAL;
	if (h->strategy == HO_STRAT_KEEPER &&
	    (h->keeper_sock < 0 || h->keeper_pid <= 0))
		return -EINVAL;
	if (h->strategy != HO_STRAT_REBUILD && h->dev_fd < 0)
		return -EINVAL;
	if (h->dev_fd < -1 || h->keeper_sock < -1 || h->pred_pid <= 0)
		return -EINVAL;
	if (!memchr(h->path, 0, sizeof(h->path)) || !h->path[0])
		return -EINVAL;
	if (!h->nr_vqs || !h->nr_groups || !h->nr_as ||
	    h->nr_vqs > VM_HO_MAX_VQS || h->nr_groups > VM_HO_MAX_VQS ||
	    h->nr_as > VM_HO_MAX_VQS)
		return -ERANGE;
	if (h->nr_regions > VM_HO_MAX_REGIONS ||
	    h->nr_entries > VM_HO_MAX_ENTRIES || h->nr_vrings > h->nr_vqs)
		return -ERANGE;
	if (h->mem_mode != HO_MEM_PA && h->mem_mode != HO_MEM_VA)
		return -EINVAL;
	if (h->is_sim > 1 || h->iova_first > h->iova_last)
		return -EINVAL;
	if (!h->page_size || (h->page_size & (h->page_size - 1)) ||
	    h->page_size > (1ULL << 30))
		return -EINVAL;
	if (h->status > 0xff || !h->next_region_id)
		return -EINVAL;
	return 0;
}

static int check_regions(const struct vm_ho_hdr *h,
			 const struct vm_ho_region *rg)
{
	uint64_t mask = (h->flags & 1u /* ALLOW_UNALIGNED */) ? 0 :
							    h->page_size - 1;
	uint32_t i, k;

	for (i = 0; i < h->nr_regions; i++) {
		const struct vm_ho_region *r = &rg[i];

		if (r->fd < 0 || !r->len || r->id == 0 ||
		    r->id >= h->next_region_id)
			return -EINVAL;
		if ((r->len | r->fd_offset | r->dev_base) & mask)
			return -EINVAL;
		if (r->fd_offset + r->len < r->fd_offset ||
		    r->fd_offset + r->len > (uint64_t)INT64_MAX ||
		    (r->dev_base && r->dev_base + r->len - 1 < r->dev_base))
			return -EINVAL;
		if (r->perm > 3)
			return -EINVAL;
		for (k = 0; k < i; k++)
			if (rg[k].id == r->id)
				return -EEXIST;
	}
	return 0;
}

static const struct vm_ho_region *region_by_id(const struct vm_ho_hdr *h,
					       const struct vm_ho_region *rg,
					       uint32_t id)
{
	uint32_t i;

	for (i = 0; i < h->nr_regions; i++)
		if (rg[i].id == id)
			return &rg[i];
	return NULL;
}

static int check_entries(const struct vm_ho_hdr *h,
			 const struct vm_ho_region *rg,
			 const struct vm_ho_entry *e)
{
	uint64_t mask = (h->flags & 1u) ? 0 : h->page_size - 1;
	uint32_t i;

	for (i = 0; i < h->nr_entries; i++) {
		const struct vm_ho_entry *x = &e[i];
		const struct vm_ho_region *r;
		uint64_t last;

		if (x->asid >= h->nr_as || !x->size || x->perm < 1 ||
		    x->perm > 3 || ((x->iova | x->size | x->off) & mask))
			return -EINVAL;
		last = x->iova + x->size - 1;
		if (last < x->iova || x->iova < h->iova_first ||
		    last > h->iova_last)
			return -EFAULT;
		r = region_by_id(h, rg, x->region_id);
		if (!r)
			return -ENOENT;
		if (x->off >= r->len || x->size > r->len - x->off)
			return -EFAULT;
		if (i) {
			const struct vm_ho_entry *p = &e[i - 1];

			/* sorted by (asid, iova): an O(n) overlap check */
			if (x->asid < p->asid)
				return -EINVAL;
			if (x->asid == p->asid && x->iova <= p->iova + p->size - 1)
				return x->iova >= p->iova ? -EEXIST : -EINVAL;
		}
	}
	return 0;
}

static int check_vrings(const struct vm_ho_hdr *h, const uint32_t *group_asid,
			const uint32_t *vq_group, const struct vm_ho_vring *v)
{
	uint32_t i;

	for (i = 0; i < h->nr_groups; i++)
		if (group_asid[i] >= h->nr_as)
			return -EINVAL;
	for (i = 0; i < h->nr_vqs; i++)
		if (vq_group[i] >= h->nr_groups)
			return -EINVAL;
	for (i = 0; i < h->nr_vrings; i++) {
		const struct vm_ho_vring *r = &v[i];

		if (r->idx >= h->nr_vqs || (r->flags & ~3u) ||
		    (i && r->idx <= v[i - 1].idx))
			return -EINVAL;
		if (!(r->flags & VM_HO_VRING_SET))
			continue;
		if (!r->num || (r->num & (r->num - 1)) ||
		    (h->max_vring_num && r->num > h->max_vring_num) ||
		    r->base > 0xffff || r->kick_fd < -1 || r->call_fd < -1)
			return -EINVAL;
	}
	return 0;
}

int vm_handoff_parse(const void *buf, size_t len, struct vm_handoff_state *out)
{
	const struct vm_ho_hdr *h = buf;
	const uint8_t *p = buf;
	struct vm_handoff_state s;
	size_t need, off;
	int r;

	if (!buf || !out)
		return -EINVAL;
	if (len < sizeof(*h))
		return -EMSGSIZE;
	if (h->magic != VM_HO_MAGIC)
		return -EBADMSG;
	if (h->total != len)
		return -EMSGSIZE;
	if (h->version != VM_HO_VERSION)
		return -EPROTONOSUPPORT;
	if (vm_crc32(0, p + CRC_OFF, len - CRC_OFF) != h->crc)
		return -EBADMSG;
	r = check_hdr(h);
	if (r < 0)
		return r;
	need = vm_handoff_size(h->nr_regions, h->nr_entries, h->nr_groups,
			       h->nr_vqs, h->nr_vrings);
	if (!need || need != len)
		return -ERANGE;

	off = sizeof(*h);
	s.hdr = h;
	s.regions = (const void *)(p + off);
	off += (size_t)h->nr_regions * sizeof(struct vm_ho_region);
	s.entries = (const void *)(p + off);
	off += (size_t)h->nr_entries * sizeof(struct vm_ho_entry);
	s.group_asid = (const void *)(p + off);
	off += (size_t)h->nr_groups * 4;
	s.vq_group = (const void *)(p + off);
	off += (size_t)h->nr_vqs * 4;
	off += VM_HO_U32_PAD(h->nr_groups, h->nr_vqs);
	s.vrings = (const void *)(p + off);

	r = check_regions(h, s.regions);
	if (r < 0)
		return r;
	r = check_entries(h, s.regions, s.entries);
	if (r < 0)
		return r;
	r = check_vrings(h, s.group_asid, s.vq_group, s.vrings);
	if (r < 0)
		return r;
	*out = s;
	return 0;
}
