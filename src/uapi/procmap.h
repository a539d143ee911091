/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * procmap: the PROCMAP_QUERY ioctl on /proc/PID/maps (Linux 6.11), which
 * answers one VMA at a time instead of the whole file as text.  Debian
 * 12's linux-libc-dev (6.1) lacks it; the layout is the kernel's ABI
 * (include/uapi/linux/fs.h).  An older kernel answers ENOTTY.
 *
 * Depends on: <linux/ioctl.h>, <linux/types.h>.
 */
#ifndef VDPAMAP_UAPI_PROCMAP_H
#define VDPAMAP_UAPI_PROCMAP_H

#include <linux/ioctl.h>
#include <linux/types.h>

#ifndef PROCMAP_QUERY
/* query_flags (also the permission bits of vma_flags) */
#define PROCMAP_QUERY_VMA_READABLE   0x01
#define PROCMAP_QUERY_VMA_WRITABLE   0x02
#define PROCMAP_QUERY_VMA_EXECUTABLE 0x04
#define PROCMAP_QUERY_VMA_SHARED     0x08
/* the VMA covering query_addr or, failing that, the next one */
#define PROCMAP_QUERY_COVERING_OR_NEXT_VMA 0x10
/* only VMAs with a file behind them (shmem and memfd included) */
#define PROCMAP_QUERY_FILE_BACKED_VMA 0x20

struct procmap_query {
	__u64 size; /* sizeof(struct procmap_query) */
	__u64 query_flags;
	__u64 query_addr;
	/* out */
	__u64 vma_start, vma_end; /* [start, end) */
	__u64 vma_flags;
	__u64 vma_page_size;
	__u64 vma_offset;
	__u64 inode;
	__u32 dev_major, dev_minor;
	/* in/out: buffers for the name and build id, unused here (0) */
	__u32 vma_name_size, build_id_size;
	__u64 vma_name_addr, build_id_addr;
};

#define PROCMAP_QUERY _IOWR('f', 17, struct procmap_query)
#endif

#endif
