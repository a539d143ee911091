// SPDX-License-Identifier: BSD-3-Clause
/*
 * Fuzz the handoff state parser (src/handoff_state.c), which reads what
 * another image wrote.  The input is a description (copied into an
 * aligned buffer); the first byte's low bit re-checksums it, so that the
 * field checks behind the CRC are reached.  Oracle: a description the
 * parser accepts must be internally consistent (every array inside the
 * buffer, every entry inside its region and the IOVA range, entries of an
 * ASID disjoint, a keeper's credential and socket tag present exactly
 * when there is a keeper, the reserved words zero), a refusal names the
 * field (vdm_handoff_parse_why()), and parsing never reads outside the
 * buffer (ASan).  A quarter of the mutations aim at the keeper's
 * credential, tag and socket (version 3's fields).
 *
 *   clang -fsanitize=fuzzer,address -DLIBFUZZER -Isrc \
 *         tests/unit/fuzz_handoff.c src/handoff_state.c
 * or, without libFuzzer, a plain program mutating a valid description:
 *   fuzz_handoff [seed [iterations]]
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "handoff/handoff.h"
#include "handoff_hdr.h"
#include "fuzz_input.h"

static void oracle(const uint8_t *b, size_t len,
		   const struct vdm_handoff_state *s)
{
	const struct vdm_ho_hdr *h = s->hdr;
	const uint8_t *end = b + len;
	uint32_t i, k;

	CHECK((const uint8_t *)h == b && h->total == len);
	{
		uint8_t any = 0;

		for (i = 0; i < VDM_KP_CRED_LEN; i++)
			any |= h->keeper_cred[i];
		if (h->keeper_sock >= 0)
			CHECK(any && h->keeper_tag);
		else
			CHECK(!any && !h->keeper_tag);
	}
	CHECK((const uint8_t *)(s->vrings + h->nr_vrings) <= end);
	CHECK((const uint8_t *)(s->entries + h->nr_entries) <= end);
	for (i = 0; i < h->nr_entries; i++) {
		const struct vdm_ho_entry *e = &s->entries[i];
		const struct vdm_ho_region *r = NULL;

		for (k = 0; k < h->nr_regions; k++)
			if (s->regions[k].id == e->region_id)
				r = &s->regions[k];
		CHECK(r && e->size && e->off + e->size <= r->len &&
		      e->off + e->size >= e->off);
		CHECK(e->asid < h->nr_as && e->iova + e->size - 1 >= e->iova);
		CHECK(e->iova >= h->iova_first &&
		      e->iova + e->size - 1 <= h->iova_last);
		for (k = 0; k < i; k++) {
			const struct vdm_ho_entry *o = &s->entries[k];

			CHECK(o->asid != e->asid ||
			      o->iova + o->size - 1 < e->iova ||
			      e->iova + e->size - 1 < o->iova);
		}
	}
	for (i = 0; i < h->nr_vrings; i++)
		CHECK(s->vrings[i].idx < h->nr_vqs);
	for (i = 0; i < h->nr_groups; i++)
		CHECK(s->group_asid[i] < h->nr_as);
}

static void one(const uint8_t *data, size_t size)
{
	struct vdm_handoff_state s;
	uint64_t *al;
	uint8_t *b;
	int reseal;

	if (!size)
		return;
	reseal = data[0] & 1;
	data++;
	size--;
	al = malloc(size + 8);
	b = (uint8_t *)al;
	memcpy(b, data, size);
	if (reseal && size >= sizeof(struct vdm_ho_hdr) &&
	    ((struct vdm_ho_hdr *)b)->total == size)
		vdm_handoff_seal(b);
	{
		struct vdm_ho_why why;
		char w[256];
		int r = vdm_handoff_parse_why(b, size, &s, &why);

		/* a refusal names a field (with an index inside its
		 * array's count), an acceptance names none; the plain
		 * parser agrees */
		CHECK(vdm_handoff_why_str(&why, w, sizeof(w)) > 0);
		CHECK(r == 0 ? !why.field : why.field && *why.field);
		if (r < 0 && why.array)
			CHECK(size >= sizeof(struct vdm_ho_hdr) &&
			      why.index < VDM_HO_MAX_ENTRIES);
		CHECK(vdm_handoff_parse(b, size, &s) == r);
		if (r == 0)
			oracle(b, size, &s);
	}
	free(al);
}

#ifdef LIBFUZZER
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	one(data, size);
	return 0;
}
#else
/* a valid description to mutate: 2 regions, up to 6 entries */
static size_t seed_desc(uint8_t *out, uint32_t nent)
{
	size_t len = vdm_handoff_size(2, nent, 2, 3, 2);
	/* built aligned, then copied behind the mode byte */
	static uint64_t tmp[4096 / 8];
	struct vdm_ho_hdr *h = (struct vdm_ho_hdr *)tmp;
	struct vdm_ho_region *rg = (struct vdm_ho_region *)(h + 1);
	struct vdm_ho_entry *e = (struct vdm_ho_entry *)(rg + 2);
	uint32_t *ga = (uint32_t *)(e + nent);
	struct vdm_ho_vring *v = (struct vdm_ho_vring *)((uint8_t *)(ga + 5) +
							 VDM_HO_U32_PAD(2, 3));
	uint32_t i;

	memset(out, 0, len + 1);
	memset(tmp, 0, len);
	out[0] = 1;
	handoff_hdr_init(h, len, nent);
	rg[0] = (struct vdm_ho_region){ .id = 1, .fd = 7, .len = 1 << 20 };
	rg[1] = (struct vdm_ho_region){ .id = 2, .fd = 8, .len = 1 << 20 };
	for (i = 0; i < nent; i++)
		e[i] = (struct vdm_ho_entry){ .iova = (uint64_t)i << 20,
					      .size = 1 << 16,
					      .perm = 3,
					      .region_id = 1 + (i & 1),
					      .off = (uint64_t)i << 16 };
	ga[4] = 1;
	v[0] = (struct vdm_ho_vring){
		.idx = 0, .flags = 3, .num = 64, .kick_fd = -1, .call_fd = -1
	};
	v[1] = (struct vdm_ho_vring){
		.idx = 1, .flags = 1, .num = 64, .kick_fd = -1, .call_fd = -1
	};
	memcpy(out + 1, tmp, len);
	return len + 1;
}

int main(int argc, char **argv)
{
	unsigned long seed = argc > 1 ? strtoul(argv[1], NULL, 0) : 1;
	unsigned long iters = argc > 2 ? strtoul(argv[2], NULL, 0) : 20000;
	uint8_t buf[4096];
	unsigned long it;

	srandom((unsigned int)seed);
	for (it = 0; it < iters; it++) {
		size_t len = seed_desc(buf, (uint32_t)(random() % 7));
		int n = 1 + (int)(random() % 4), k;

		for (k = 0; k < n && len > 1; k++) {
			size_t at = 1 + (size_t)random() % (len - 1);

			if (random() % 4 == 0) {
				/* version 3's and 4's fields: the
				 * credential, the tag, the keeper socket,
				 * the predecessor's last step */
				static const size_t off[] = {
					offsetof(struct vdm_ho_hdr,
						 keeper_cred),
					offsetof(struct vdm_ho_hdr, keeper_tag),
					offsetof(struct vdm_ho_hdr,
						 keeper_sock),
					offsetof(struct vdm_ho_hdr,
						 t_handed_ns),
				};
				size_t o = off[random() % 4];
				size_t w = o == off[0] ? VDM_KP_CRED_LEN : 8;

				at = 1 + o + (size_t)random() % w;
				if (at >= len)
					continue;
				if (random() % 2)
					buf[at] ^=
						(uint8_t)(1 << (random() % 8));
				else if (o == off[2] && 1 + o + 4 <= len)
					memset(buf + 1 + o, 0xff, 4); /* -1 */
				else
					memset(buf + 1 + o, 0,
					       1 + o + w <= len ? w :
								  len - 1 - o);
				continue;
			}
			switch (random() % 4) {
			case 0:
				buf[at] ^= (uint8_t)(1 << (random() % 8));
				break;
			case 1:
				buf[at] = (uint8_t)random();
				break;
			case 2: /* a small integer into a field */
				if (at + 4 <= len) {
					uint32_t x =
						(uint32_t)(random() % 9) - 1;

					memcpy(buf + at, &x, 4);
				}
				break;
			default:
				len = at; /* truncate */
				break;
			}
		}
		if (random() % 2)
			buf[0] |= 1;
		one(buf, len);
	}
	printf("fuzz_handoff: %lu iterations, seed %lu: ok\n", iters, seed);
	return 0;
}
#endif
