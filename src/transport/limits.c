// SPDX-License-Identifier: BSD-3-Clause
/*
 * limits: the IOTLB entry caps of a simulator device, asked on a control
 * connection to the same daemon (as vdm_tp_sim_pinned() asks for pins).
 * A kernel device's caps are module parameters in sysfs: lifecycle reads
 * those itself (lifecycle/caps.c).
 */
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "vdpamap.h"
#include "transport/simproto.h"
#include "transport/transport.h"

int vdm_tp_sim_limits(struct vdm_tp *t, struct vdpamap_sim_limits *ret)
{
	struct vdpamap_sim_limits l;
	struct sockaddr_un sa;
	socklen_t sl = sizeof(sa);
	size_t len = 0;
	int c, r;

	if (!t->is_sim)
		return -ENOTTY;
	memset(&sa, 0, sizeof(sa));
	memset(&l, 0, sizeof(l));
	if (getpeername(t->fd, (struct sockaddr *)&sa, &sl) < 0)
		return -errno;
	c = vdm_sim_open(sa.sun_path, VSIM_KIND_CONTROL, 0);
	if (c < 0)
		return c;
	r = vdm_sim_call_ctl(c, VSIM_OP_LIMITS, &l, sizeof(l), &len);
	close(c);
	if (r >= 0 && len != sizeof(l))
		r = -EPROTO;
	if (r < 0)
		return r;
	*ret = l;
	return 0;
}
