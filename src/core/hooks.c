// SPDX-License-Identifier: BSD-3-Clause
/*
 * hooks: the table through which core (vdm_leave) and the handle's owner
 * (close, free) reach the modules above core at a lifecycle moment.  A
 * module registers its table when it first keeps state on the handle;
 * calls run from the top slot down, so handoff's hook runs before
 * migrate's, migrate's before lifecycle's, lifecycle's before mapping's.
 */
#include "core/internal.h"

void vdm_hook_set(struct vdpamap *h, enum vdm_hook_slot slot,
		  const struct vdm_hook_ops *ops)
{
	h->hooks[slot] = ops;
}

void vdm_hooks_leave(struct vdpamap *h)
{
	unsigned int i;

	for (i = VDM_HOOK_NR; i-- > 0;)
		if (h->hooks[i] && h->hooks[i]->leave)
			h->hooks[i]->leave(h);
}

void vdm_hooks_close(struct vdpamap *h)
{
	unsigned int i;

	for (i = VDM_HOOK_NR; i-- > 0;)
		if (h->hooks[i] && h->hooks[i]->close)
			h->hooks[i]->close(h);
}

void vdm_hooks_free(struct vdpamap *h)
{
	unsigned int i;

	/* a hook may drop its own slot: read each slot once */
	for (i = VDM_HOOK_NR; i-- > 0;) {
		const struct vdm_hook_ops *ops = h->hooks[i];

		if (ops && ops->free)
			ops->free(h);
	}
}
