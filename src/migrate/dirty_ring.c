// SPDX-License-Identifier: BSD-3-Clause
/*
 * dirty_ring: ring mode's bounded multi-producer ring of page numbers
 * (Vyukov's array queue).  Producers claim a slot by CAS on the tail and
 * publish it with a release store of the slot's sequence; the one
 * harvester (under the log's harvest mutex) reads slots in order with
 * acquire.  One ring per ASID, not per marker thread: no thread
 * registration, any thread may mark, and sparse writers (the use case)
 * rarely meet on the tail.  A full ring is not an error: the caller puts
 * the page in the bitmap instead (dirty_log.c).
 */
#include <stdlib.h>

#include "migrate/migrate.h"

int vdm_dring_init(struct vdm_dlog *lg, uint32_t n)
{
	uint32_t i;

	lg->ring = aligned_alloc(VDM_CACHELINE, n * sizeof(*lg->ring));
	if (!lg->ring)
		return -ENOMEM;
	for (i = 0; i < n; i++)
		lg->ring[i] = (struct vdm_dcell){ .seq = i };
	lg->ring_n = n;
	return 0;
}

bool vdm_dring_push(struct vdm_dlog *lg, uint64_t page)
{
	uint64_t pos = __atomic_load_n(&lg->tail, __ATOMIC_RELAXED);

	for (;;) {
		struct vdm_dcell *c = &lg->ring[pos & (lg->ring_n - 1)];
		uint64_t seq = __atomic_load_n(&c->seq, __ATOMIC_ACQUIRE);
		int64_t dif = (int64_t)(seq - pos);

		if (dif == 0) {
			if (__atomic_compare_exchange_n(&lg->tail, &pos,
							pos + 1, true,
							__ATOMIC_RELAXED,
							__ATOMIC_RELAXED)) {
				__atomic_store_n(&c->page, page,
						 __ATOMIC_RELAXED);
				__atomic_store_n(&c->seq, pos + 1,
						 __ATOMIC_RELEASE);
				return true;
			}
		} else if (dif < 0) {
			return false; /* full */
		} else {
			pos = __atomic_load_n(&lg->tail, __ATOMIC_RELAXED);
		}
	}
}

bool vdm_dring_pop(struct vdm_dlog *lg, uint64_t *page)
{
	struct vdm_dcell *c = &lg->ring[lg->head & (lg->ring_n - 1)];

	if (__atomic_load_n(&c->seq, __ATOMIC_ACQUIRE) != lg->head + 1)
		return false; /* empty, or a producer mid-write */
	*page = __atomic_load_n(&c->page, __ATOMIC_RELAXED);
	__atomic_store_n(&c->seq, lg->head + lg->ring_n, __ATOMIC_RELEASE);
	lg->head++;
	return true;
}
