// SPDX-License-Identifier: BSD-3-Clause
/*
 * handle: the handle's handoff state (struct vdm_handoff, h->ho) and its
 * hooks in core's table: on leave, a successor a keeper serves re-sends
 * the state to the keeper after every change (for a re-attach); on close
 * the keeper is told to exit and reaped; on free the state goes.
 */
#include <stdlib.h>
#include <unistd.h>

#include "handoff/handoff.h"

static void kl_log(void *ctx, int level, const char *msg)
{
	vdm_log(ctx, level, "%s", msg);
}

/* The keeper is dead: the device has no owner any more. */
static void kl_lost(void *ctx, const char *why)
{
	vdm_poison(ctx, "%s", why);
}

struct vdm_handoff *vdm_ho_new(void)
{
	struct vdm_handoff *ho = calloc(1, sizeof(*ho));

	if (!ho)
		return NULL;
	ho->state_fd = -1;
	vdm_kp_link_init(&ho->kl);
	ho->kl.log = kl_log;
	ho->kl.lost = kl_lost;
	return ho;
}

/* Keep the re-attach state current. */
static void handoff_sync(struct vdpamap *h)
{
	struct vdm_ho_ser so;
	size_t len = 0;
	void *buf = NULL;
	int fd;

	if (!h->ho || !h->ho->kl.stale || !vdm_ho_keeper_live(h) ||
	    h->ho->prepared)
		return;
	so = (struct vdm_ho_ser){ .strategy = VDPAMAP_HANDOFF_KEEPER,
				  .dev_fd = h->tp->fd,
				  .keeper_sock = h->ho->kl.sock };
	if (vdm_ho_serialize(h, &so, &buf, &len) < 0)
		return;
	fd = vdm_ho_memfd(buf, len, true, true);
	free(buf);
	if (fd < 0)
		return;
	if (vdm_kp_call(&h->ho->kl, VDM_KP_SETSTATE, 0, 0, NULL, 0, fd, NULL) ==
	    0)
		h->ho->kl.stale = 0;
	close(fd);
}

static void handoff_close(struct vdpamap *h)
{
	vdm_ho_keeper_drop(h, true);
}

static void handoff_free(struct vdpamap *h)
{
	if (!h->ho)
		return;
	vdm_ho_keeper_drop(h, false);
	if (h->ho->state_fd >= 0)
		close(h->ho->state_fd);
	free(h->ho);
	h->ho = NULL;
	vdm_hook_set(h, VDM_HOOK_HANDOFF, NULL);
}

static const struct vdm_hook_ops handoff_hooks = {
	.leave = handoff_sync,
	.close = handoff_close,
	.free = handoff_free,
};

void vdm_ho_attach(struct vdpamap *h, struct vdm_handoff *ho)
{
	h->ho = ho;
	if (ho)
		ho->kl.ctx = h;
	vdm_hook_set(h, VDM_HOOK_HANDOFF, ho ? &handoff_hooks : NULL);
}
