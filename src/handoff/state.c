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
#include <stdio.h>
#include <string.h>

#include "handoff/handoff.h"

/* vdpamap.h values, repeated so that this file links alone */
#define HO_STRAT_NEW_OWNER 1
#define HO_STRAT_KEEPER	   2
#define HO_STRAT_REBUILD   3
#define HO_MEM_PA	   1
#define HO_MEM_VA	   2

uint32_t vdm_crc32(uint32_t crc, const void *buf, size_t len)
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

size_t vdm_handoff_size(uint32_t nr_regions, uint32_t nr_entries,
			uint32_t nr_groups, uint32_t nr_vqs, uint32_t nr_vrings)
{
	uint64_t n;

	if (nr_regions > VDM_HO_MAX_REGIONS ||
	    nr_entries > VDM_HO_MAX_ENTRIES || nr_groups > VDM_HO_MAX_VQS ||
	    nr_vqs > VDM_HO_MAX_VQS || nr_vrings > nr_vqs)
		return 0;
	n = sizeof(struct vdm_ho_hdr) +
	    (uint64_t)nr_regions * sizeof(struct vdm_ho_region) +
	    (uint64_t)nr_entries * sizeof(struct vdm_ho_entry) +
	    (uint64_t)nr_groups * 4 + (uint64_t)nr_vqs * 4 +
	    VDM_HO_U32_PAD(nr_groups, nr_vqs) +
	    (uint64_t)nr_vrings * sizeof(struct vdm_ho_vring);
	return (size_t)n;
}

#define CRC_OFF (offsetof(struct vdm_ho_hdr, crc) + sizeof(uint32_t))

void vdm_handoff_seal(void *buf)
{
	struct vdm_ho_hdr *h = buf;

	h->crc = vdm_crc32(0, (const uint8_t *)buf + CRC_OFF,
			   (size_t)h->total - CRC_OFF);
}

/* Record why the description is refused (the first check that fails) and
 * return err.  arr NULL: a header field. */
static int bad(struct vdm_ho_why *why, int err, const char *arr, uint32_t idx,
	       const char *field)
{
	if (why) {
		why->array = arr;
		why->index = idx;
		why->field = field;
	}
	return err;
}
#define HDR_BAD(err, field) bad(why, err, NULL, 0, field)
/* a number in a field's message: the version adopt wants */
#define VDM_STR_(x) #x
#define VDM_STR(x)  VDM_STR_(x)

int vdm_ho_cred_eq(const uint8_t *a, const uint8_t *b)
{
	volatile uint8_t diff = 0, any = 0;
	size_t i;

	/* every byte, whatever the first difference */
	for (i = 0; i < VDM_KP_CRED_LEN; i++) {
		diff |= (uint8_t)(a[i] ^ b[i]);
		any |= a[i];
	}
	return (diff == 0) & (any != 0);
}

int vdm_ho_sock_name(uint64_t tag, char *buf, size_t len)
{
	return snprintf(buf, len, "vdpamap-keeper-%016llx",
			(unsigned long long)tag);
}

/* A keeper (keeper_sock >= 0) has a credential and a socket tag; no
 * keeper, neither. */
static int check_keeper_auth(const struct vdm_ho_hdr *h, struct vdm_ho_why *why)
{
	uint8_t any = 0;
	size_t i;

	for (i = 0; i < sizeof(h->keeper_cred); i++)
		any |= h->keeper_cred[i];
	if (h->keeper_sock >= 0 && !any)
		return HDR_BAD(-EINVAL, "keeper_cred: zero, and there is a "
					"keeper");
	if (h->keeper_sock >= 0 && !h->keeper_tag)
		return HDR_BAD(-EINVAL, "keeper_tag: zero, and there is a "
					"keeper");
	if (h->keeper_sock < 0 && (any || h->keeper_tag))
		return HDR_BAD(-EINVAL, "keeper_cred, keeper_tag: set, and "
					"there is no keeper");
	return 0;
}

static int check_hdr(const struct vdm_ho_hdr *h, struct vdm_ho_why *why)
{
	if (h->strategy < HO_STRAT_NEW_OWNER || h->strategy > HO_STRAT_REBUILD)
		return HDR_BAD(-EINVAL, "strategy: not NEW_OWNER, KEEPER or "
					"REBUILD");
	if (h->strategy == HO_STRAT_KEEPER &&
	    (h->keeper_sock < 0 || h->keeper_pid <= 0))
		return HDR_BAD(-EINVAL, "keeper_sock, keeper_pid: KEEPER "
					"without a keeper");
	if (h->strategy != HO_STRAT_REBUILD && h->dev_fd < 0)
		return HDR_BAD(-EINVAL, "dev_fd: none, and the strategy is "
					"not REBUILD");
	if (h->dev_fd < -1)
		return HDR_BAD(-EINVAL, "dev_fd: below -1");
	if (h->keeper_sock < -1)
		return HDR_BAD(-EINVAL, "keeper_sock: below -1");
	if (h->pred_pid <= 0)
		return HDR_BAD(-EINVAL, "pred_pid: not positive");
	if (!memchr(h->path, 0, sizeof(h->path)) || !h->path[0])
		return HDR_BAD(-EINVAL, "path: empty or not NUL-terminated");
	if (!h->nr_vqs || h->nr_vqs > VDM_HO_MAX_VQS)
		return HDR_BAD(-ERANGE, "nr_vqs: 0 or above 4096");
	if (!h->nr_groups || h->nr_groups > VDM_HO_MAX_VQS)
		return HDR_BAD(-ERANGE, "nr_groups: 0 or above 4096");
	if (!h->nr_as || h->nr_as > VDM_HO_MAX_VQS)
		return HDR_BAD(-ERANGE, "nr_as: 0 or above 4096");
	if (h->nr_regions > VDM_HO_MAX_REGIONS)
		return HDR_BAD(-ERANGE, "nr_regions: above 4096");
	if (h->nr_entries > VDM_HO_MAX_ENTRIES)
		return HDR_BAD(-ERANGE, "nr_entries: above 2^20");
	if (h->nr_vrings > h->nr_vqs)
		return HDR_BAD(-ERANGE, "nr_vrings: above nr_vqs");
	if (h->mem_mode != HO_MEM_PA && h->mem_mode != HO_MEM_VA)
		return HDR_BAD(-EINVAL, "mem_mode: not PA (1) or VA (2)");
	if (h->is_sim > 1)
		return HDR_BAD(-EINVAL, "is_sim: not 0 or 1");
	if (h->iova_first > h->iova_last)
		return HDR_BAD(-EINVAL, "iova_first: above iova_last");
	if (!h->page_size || (h->page_size & (h->page_size - 1)) ||
	    h->page_size > (1ULL << 30))
		return HDR_BAD(-EINVAL, "page_size: 0, not a power of two or "
					"above 1 GiB");
	if (h->status > 0xff)
		return HDR_BAD(-EINVAL, "status: above 0xff");
	if (!h->next_region_id)
		return HDR_BAD(-EINVAL, "next_region_id: 0");
	if (h->caps_flags & ~VDM_HO_CAPS_KNOWN)
		return HDR_BAD(-EINVAL, "caps_flags: unknown bits");
	if (h->reserved1)
		return HDR_BAD(-EINVAL, "reserved1: not zero");
	if (!memchr(h->parent, 0, sizeof(h->parent)))
		return HDR_BAD(-EINVAL, "parent: not terminated");
	return check_keeper_auth(h, why);
}

#define REG_BAD(err, field) bad(why, err, "regions", i, field)

static int check_regions(const struct vdm_ho_hdr *h,
			 const struct vdm_ho_region *rg, struct vdm_ho_why *why)
{
	uint64_t mask =
		(h->flags & 1u /* ALLOW_UNALIGNED */) ? 0 : h->page_size - 1;
	uint32_t i, k;

	for (i = 0; i < h->nr_regions; i++) {
		const struct vdm_ho_region *r = &rg[i];

		if (r->fd < 0)
			return REG_BAD(-EINVAL, "fd: negative");
		if (!r->len)
			return REG_BAD(-EINVAL, "len: 0");
		if (r->id == 0 || r->id >= h->next_region_id)
			return REG_BAD(-EINVAL, "id: 0 or not below "
						"next_region_id");
		if ((r->len | r->fd_offset | r->dev_base) & mask)
			return REG_BAD(-EINVAL, "len, fd_offset, dev_base: not "
						"page-aligned");
		if (r->fd_offset + r->len < r->fd_offset ||
		    r->fd_offset + r->len > (uint64_t)INT64_MAX)
			return REG_BAD(-EINVAL, "fd_offset: + len overflows");
		if (r->dev_base && r->dev_base + r->len - 1 < r->dev_base)
			return REG_BAD(-EINVAL, "dev_base: + len wraps");
		if (r->perm > 3)
			return REG_BAD(-EINVAL, "perm: above RW (3)");
		for (k = 0; k < i; k++)
			if (rg[k].id == r->id)
				return REG_BAD(-EEXIST,
					       "id: an earlier region's");
	}
	return 0;
}

static const struct vdm_ho_region *region_by_id(const struct vdm_ho_hdr *h,
						const struct vdm_ho_region *rg,
						uint32_t id)
{
	uint32_t i;

	for (i = 0; i < h->nr_regions; i++)
		if (rg[i].id == id)
			return &rg[i];
	return NULL;
}

#define ENT_BAD(err, field) bad(why, err, "entries", i, field)

static int check_entries(const struct vdm_ho_hdr *h,
			 const struct vdm_ho_region *rg,
			 const struct vdm_ho_entry *e, struct vdm_ho_why *why)
{
	uint64_t mask = (h->flags & 1u) ? 0 : h->page_size - 1;
	uint32_t i;

	for (i = 0; i < h->nr_entries; i++) {
		const struct vdm_ho_entry *x = &e[i];
		const struct vdm_ho_region *r;
		uint64_t last;

		if (x->asid >= h->nr_as)
			return ENT_BAD(-EINVAL, "asid: not below nr_as");
		if (!x->size)
			return ENT_BAD(-EINVAL, "size: 0");
		if (x->perm < 1 || x->perm > 3)
			return ENT_BAD(-EINVAL, "perm: not RO (1), WO (2) or "
						"RW (3)");
		if ((x->iova | x->size | x->off) & mask)
			return ENT_BAD(-EINVAL, "iova, size, off: not "
						"page-aligned");
		last = x->iova + x->size - 1;
		if (last < x->iova)
			return ENT_BAD(-EFAULT, "size: iova + size wraps");
		if (x->iova < h->iova_first || last > h->iova_last)
			return ENT_BAD(-EFAULT, "iova: outside the IOVA range");
		r = region_by_id(h, rg, x->region_id);
		if (!r)
			return ENT_BAD(-ENOENT, "region_id: no such region");
		if (x->off >= r->len || x->size > r->len - x->off)
			return ENT_BAD(-EFAULT, "off, size: outside its "
						"region");
		if (i) {
			const struct vdm_ho_entry *p = &e[i - 1];

			/* sorted by (asid, iova): an O(n) overlap check */
			if (x->asid < p->asid)
				return ENT_BAD(-EINVAL, "asid: not sorted by "
							"(asid, iova)");
			if (x->asid == p->asid &&
			    x->iova <= p->iova + p->size - 1)
				return x->iova >= p->iova ?
					       ENT_BAD(-EEXIST,
						       "iova: inside the "
						       "previous entry") :
					       ENT_BAD(-EINVAL,
						       "iova: not sorted "
						       "(below the previous "
						       "entry, overlapping "
						       "it)");
		}
	}
	return 0;
}

static int check_vrings(const struct vdm_ho_hdr *h, const uint32_t *group_asid,
			const uint32_t *vq_group, const struct vdm_ho_vring *v,
			struct vdm_ho_why *why)
{
	uint32_t i;

	for (i = 0; i < h->nr_groups; i++)
		if (group_asid[i] >= h->nr_as)
			return bad(why, -EINVAL, "group_asid", i,
				   "asid: not below nr_as");
	for (i = 0; i < h->nr_vqs; i++)
		if (vq_group[i] >= h->nr_groups)
			return bad(why, -EINVAL, "vq_group", i,
				   "group: not below nr_groups");
	for (i = 0; i < h->nr_vrings; i++) {
		const struct vdm_ho_vring *r = &v[i];

#define VR_BAD(field) bad(why, -EINVAL, "vrings", i, field)
		if (r->idx >= h->nr_vqs)
			return VR_BAD("idx: not below nr_vqs");
		if (i && r->idx <= v[i - 1].idx)
			return VR_BAD("idx: duplicate or not ascending");
		if (r->flags & ~3u)
			return VR_BAD("flags: unknown bits");
		if (!(r->flags & VDM_HO_VRING_SET))
			continue;
		if (!r->num || (r->num & (r->num - 1)) ||
		    (h->max_vring_num && r->num > h->max_vring_num))
			return VR_BAD("num: 0, not a power of two or above "
				      "max_vring_num");
		if (r->base > 0xffff)
			return VR_BAD("base: above 0xffff");
		if (r->kick_fd < -1)
			return VR_BAD("kick_fd: below -1");
		if (r->call_fd < -1)
			return VR_BAD("call_fd: below -1");
#undef VR_BAD
	}
	return 0;
}

int vdm_handoff_why_str(const struct vdm_ho_why *why, char *buf, size_t len)
{
	int n;

	if (!why->field)
		n = snprintf(buf, len, "valid");
	else if (why->array)
		n = snprintf(buf, len, "%s[%u].%s", why->array, why->index,
			     why->field);
	else
		n = snprintf(buf, len, "%s", why->field);
	return n;
}

int vdm_handoff_parse_why(const void *buf, size_t len,
			  struct vdm_handoff_state *out, struct vdm_ho_why *why)
{
	const struct vdm_ho_hdr *h = buf;
	const uint8_t *p = buf;
	struct vdm_handoff_state s;
	size_t need, off;
	int r;

	if (why)
		*why = (struct vdm_ho_why){ 0 };
	if (!buf || !out)
		return -EINVAL;
	if (len < sizeof(*h))
		return HDR_BAD(-EMSGSIZE, "length: shorter than the header");
	if (h->magic != VDM_HO_MAGIC)
		return HDR_BAD(-EBADMSG, "magic: not a handoff description");
	if (h->total != len)
		return HDR_BAD(-EMSGSIZE, "total: not the length read "
					  "(truncated, or trailing bytes)");
	if (h->version != VDM_HO_VERSION)
		return HDR_BAD(-EPROTONOSUPPORT,
			       "version: not this library's (" VDM_STR(
				       VDM_HO_VERSION) ")");
	if (vdm_crc32(0, p + CRC_OFF, len - CRC_OFF) != h->crc)
		return HDR_BAD(-EBADMSG, "crc: checksum mismatch");
	r = check_hdr(h, why);
	if (r < 0)
		return r;
	need = vdm_handoff_size(h->nr_regions, h->nr_entries, h->nr_groups,
				h->nr_vqs, h->nr_vrings);
	if (!need || need != len)
		return HDR_BAD(-ERANGE, "nr_regions, nr_entries, nr_groups, "
					"nr_vqs, nr_vrings: sizes do not add "
					"up to total");

	off = sizeof(*h);
	s.hdr = h;
	s.regions = (const void *)(p + off);
	off += (size_t)h->nr_regions * sizeof(struct vdm_ho_region);
	s.entries = (const void *)(p + off);
	off += (size_t)h->nr_entries * sizeof(struct vdm_ho_entry);
	s.group_asid = (const void *)(p + off);
	off += (size_t)h->nr_groups * 4;
	s.vq_group = (const void *)(p + off);
	off += (size_t)h->nr_vqs * 4;
	off += VDM_HO_U32_PAD(h->nr_groups, h->nr_vqs);
	s.vrings = (const void *)(p + off);

	r = check_regions(h, s.regions, why);
	if (r < 0)
		return r;
	r = check_entries(h, s.regions, s.entries, why);
	if (r < 0)
		return r;
	r = check_vrings(h, s.group_asid, s.vq_group, s.vrings, why);
	if (r < 0)
		return r;
	*out = s;
	return 0;
}

int vdm_handoff_parse(const void *buf, size_t len,
		      struct vdm_handoff_state *out)
{
	return vdm_handoff_parse_why(buf, len, out, NULL);
}
