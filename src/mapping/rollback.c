// SPDX-License-Identifier: BSD-3-Clause
/*
 * rollback: undo what the device accepted of a commit that failed (txn.c),
 * by sending the inverse messages in reverse order.  An UPDATE the device
 * refuses there puts its entry on the lost list (map.c replays it).
 */
#include <stdlib.h>

#include "mapping/mapping.h"
#include "uapi/vhost_vdpa.h"

int vdm_rollback(struct vdpamap *h, const struct vdm_msg *msgs, size_t n)
{
	struct vdm_msg *inv;
	size_t i, k = 0, pos = 0;
	int failed = 0;

	inv = calloc(n ? n : 1, sizeof(*inv));
	if (!inv)
		return -ENOMEM;
	for (i = n; i-- > 0;) {
		inv[k].e = msgs[i].e;
		inv[k].type = msgs[i].type == VHOST_IOTLB_UPDATE ?
				      VHOST_IOTLB_INVALIDATE :
				      VHOST_IOTLB_UPDATE;
		k++;
	}
	while (pos < k) {
		size_t w = 0, done;
		int err = 0;

		/* drop what an earlier failure made pointless: an UPDATE of
		 * an entry already there, an INVALIDATE of one not there */
		for (i = pos; i < k; i++) {
			bool in = inv[i].e->in_mirror;

			if ((inv[i].type == VHOST_IOTLB_UPDATE) != in)
				inv[pos + w++] = inv[i];
		}
		k = pos + w;
		if (pos >= k)
			break;
		done = vdm_iotlb_run(h, inv + pos, k - pos, vdm_mirror_apply,
				     &err);
		pos += done;
		if (err && pos < k) {
			struct vdm_entry *e = inv[pos].e;

			failed = err;
			if (inv[pos].type == VHOST_IOTLB_UPDATE &&
			    !e->txn_new) {
				e->lost = true;
				e->lost_next = h->map->lost;
				h->map->lost = e;
			}
			pos++;
		} else if (err) {
			failed = err; /* a BATCH_END after the last one */
		}
	}
	free(inv);
	return failed;
}
