// SPDX-License-Identifier: BSD-3-Clause
/*
 * msg: the keeper's memory and socket helpers (ksys.h).  FREESTANDING,
 * as keeper.c: no libc, no globals, no string constants; every function
 * in the keeper's section.
 */
#include "handoff/keeper/ksys.h"

#if VDM_KEEPER_SUPPORTED

/* The fds a received message may carry that are looked at: the first is
 * kept, the others closed. */
#define K_RECV_FDS 4
/* cmsg lengths are padded to 8 bytes (CMSG_SPACE on 64-bit) */
#define K_CMSG_ALIGN(n) (((n) + 7) & ~7ULL)

KSEC void vdm_k_zero(void *p, uint64_t n)
{
	volatile uint8_t *q = p;

	while (n--)
		*q++ = 0;
}

KSEC void vdm_k_close(int32_t *fd)
{
	if (*fd >= 0)
		S1(__NR_close, *fd);
	*fd = -1;
}

KSEC long vdm_k_recv(int sock, void *buf, uint64_t len, int32_t *fd)
{
	struct k_iovec iov;
	struct k_msghdr mh;
	struct k_cmsg cm;
	long n;
	uint64_t i, nfds;

	*fd = -1;
	for (;;) {
		iov.base = buf;
		iov.len = len;
		vdm_k_zero(&mh, sizeof(mh));
		vdm_k_zero(&cm, sizeof(cm));
		mh.iov = &iov;
		mh.iovlen = 1;
		mh.control = &cm;
		mh.controllen = sizeof(cm);
		n = S3(__NR_recvmsg, sock, &mh, K_MSG_CMSG_CLOEXEC);
		if (n != -K_EINTR)
			break;
	}
	if (n >= 0 && mh.controllen >= K_CMSG_HDR + sizeof(int32_t) &&
	    cm.level == K_SOL_SOCKET && cm.type == K_SCM_RIGHTS) {
		nfds = (cm.len - K_CMSG_HDR) / sizeof(int32_t);
		for (i = 0; i < nfds && i < K_RECV_FDS; i++) {
			if (i == 0)
				*fd = cm.fd[0];
			else
				S1(__NR_close, cm.fd[i]);
		}
	}
	return n;
}

KSEC long vdm_k_send(int sock, const void *a, uint64_t alen, const void *b,
		     uint64_t blen, const int32_t *fds, int nfd)
{
	struct k_iovec iov[2];
	struct k_msghdr mh;
	struct k_cmsg cm;
	long n;
	int i;

	vdm_k_zero(&mh, sizeof(mh));
	vdm_k_zero(&cm, sizeof(cm));
	iov[0].base = (void *)a;
	iov[0].len = alen;
	iov[1].base = (void *)b;
	iov[1].len = blen;
	mh.iov = iov;
	mh.iovlen = blen ? 2 : 1;
	if (nfd > 0) {
		cm.len = K_CMSG_HDR + sizeof(int32_t) * (uint64_t)nfd;
		cm.level = K_SOL_SOCKET;
		cm.type = K_SCM_RIGHTS;
		for (i = 0; i < nfd; i++)
			cm.fd[i] = fds[i];
		mh.control = &cm;
		mh.controllen = K_CMSG_ALIGN(cm.len);
	}
	do {
		n = S3(__NR_sendmsg, sock, &mh, K_MSG_NOSIGNAL);
	} while (n == -K_EINTR);
	return n;
}

KSEC void vdm_k_reply(struct vdm_keeper_args *a, struct vdm_kp_msg *m, long ret,
		      int64_t val, uint32_t len)
{
	m->ret = (int32_t)ret;
	m->val = val;
	m->len = len;
	vdm_k_send(a->sock, m, sizeof(*m), m + 1, len, (int32_t *)0, 0);
}

#endif /* VDM_KEEPER_SUPPORTED */
