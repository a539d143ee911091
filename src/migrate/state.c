// SPDX-License-Identifier: BSD-3-Clause
/*
 * state: the module's state on the handle, h->mig (struct vdm_migrate):
 * the active flips' records and the published dirty logs.  Allocated on
 * the first flip or dirty start; released by the free hook it registers
 * with core (core/hooks.c), which runs when the handle is freed.
 */
#include <stdlib.h>

#include "migrate/migrate.h"

void vdm_flip_free(struct vdm_flip *f)
{
	if (!f)
		return;
	free(f->groups);
	free(f->prev);
	free(f->dgrp);
	free(f->maps);
	free(f->rings);
	free(f);
}

static void dirty_free(struct vdpamap *h)
{
	uint32_t a;

	if (!h->mig->dirty)
		return;
	for (a = 0; a < h->info.nr_as; a++)
		vdm_dlog_free(h->mig->dirty[a]);
	free(h->mig->dirty);
	h->mig->dirty = NULL;
}

static void migrate_free(struct vdpamap *h)
{
	if (!h->mig)
		return;
	while (h->mig->flips) {
		struct vdm_flip *f = h->mig->flips;

		h->mig->flips = f->next;
		vdm_flip_free(f);
	}
	dirty_free(h);
	free(h->mig);
	h->mig = NULL;
	vdm_hook_set(h, VDM_HOOK_MIGRATE, NULL);
}

static const struct vdm_hook_ops migrate_hooks = {
	.free = migrate_free,
};

struct vdm_migrate *vdm_migrate_get(struct vdpamap *h)
{
	struct vdm_migrate *mig = h->mig;

	if (mig)
		return mig;
	mig = calloc(1, sizeof(*mig));
	if (!mig)
		return NULL;
	vdm_hook_set(h, VDM_HOOK_MIGRATE, &migrate_hooks);
	/* pairs with vdm_dlog_get()'s acquire load */
	__atomic_store_n(&h->mig, mig, __ATOMIC_RELEASE);
	return mig;
}
