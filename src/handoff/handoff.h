/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * handoff: passing an open device, with its maps intact, to the image a
 * process execs into (live update); docs/handoff.md tells the whole story.
 * The module's files, each one concept, bottom to top (a file calls only
 * files listed before it):
 *  - state.c: the description's format: size, CRC seal, the untrusted
 *    parser (no I/O, links alone for the fuzzer);
 *  - describe.c: a live handle as a description, the sealed memfd that
 *    carries it, and what a description says about reopening;
 *  - fds.c: the fds that cross the exec (CLOEXEC cleared, restored);
 *  - suspend.c: stopping the device for the exec and starting it again,
 *    and the rings' positions (GET_VRING_BASE);
 *  - keeper_ctl.c: creating the mm keeper (keeper/keeper.c, freestanding),
 *    talking to it, taking over from it, ending it;
 *  - handle.c: the handle's handoff state (struct vdm_handoff) and its
 *    hooks (leave: re-send the state to the keeper; close; free);
 *  - prepare.c: prepare and cancel, in the predecessor;
 *  - new_owner.c: the NEW_OWNER successor (VHOST_NEW_OWNER, REMAP);
 *  - rebuild.c: reopen and re-create (REBUILD adopt, and in place after
 *    the keeper died);
 *  - adopt.c: the successor takes over what the description names;
 *  - reattach.c: a new process takes over from a keeper whose successor
 *    died;
 *  - info.c: the queries (handoff info, regions, vrings).
 *
 * Wire layout of the state (little endian, host ABI, all fields naturally
 * aligned): struct vdm_ho_hdr, then nr_regions struct vdm_ho_region, then
 * nr_entries struct vdm_ho_entry, then nr_groups u32 group->ASID, then
 * nr_vqs u32 vq->group, 4 bytes of padding when the two u32 arrays hold an
 * odd number of values (VDM_HO_U32_PAD), then nr_vrings struct
 * vdm_ho_vring.  hdr.crc is the CRC-32 (IEEE) of every byte after the crc
 * field.
 *
 * May include: every module below (lifecycle/lifecycle.h brings
 * mapping, iotlb, core, transport, iova_tree), the freestanding keeper's
 * protocol (keeper/keeper.h), liburcu-bp (rebuild.c's grace period), libc.
 */
#ifndef VDPAMAP_HANDOFF_H
#define VDPAMAP_HANDOFF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "handoff/keeper/keeper.h"
#include "lifecycle/lifecycle.h"

#define VDM_HO_MAGIC 0x4f444e4148504456ULL /* "VDPHANDO" */
/* 2: vring records 8-aligned; 3: the keeper's credential and socket tag;
 * 4: the predecessor's phase times (suspend_cost_ns, t_handed_ns) and
 * the IOTLB entry caps */
#define VDM_HO_VERSION	   4
#define VDM_HO_MAX_REGIONS 4096
#define VDM_HO_MAX_ENTRIES (1u << 20)
#define VDM_HO_MAX_VQS	   4096
#define VDM_HO_PATH_MAX	   108
#define VDM_HO_CAPS_KNOWN                                    \
	(VDPAMAP_CAPS_ENFORCED | VDPAMAP_CAPS_PARENT_KNOWN | \
	 VDPAMAP_CAPS_SET_MAP | VDPAMAP_CAPS_COUNT_UNKNOWN)

struct vdm_ho_hdr {
	uint64_t magic;
	uint32_t version;
	uint32_t crc;	   /* CRC-32 of bytes [16, total) */
	uint64_t total;	   /* bytes of the whole description */
	uint32_t strategy; /* VDPAMAP_HANDOFF_* (not AUTO) */
	uint32_t flags;	   /* the handle's open flags */
	/* device identity: fstat() of dev_fd */
	uint64_t dev_dev, dev_ino, dev_rdev;
	int32_t dev_fd;	     /* fd number across the exec; -1 for
					   rebuild (the exec closes it) */
	int32_t keeper_sock; /* keeper strategy, else -1 */
	int32_t keeper_pid;
	int32_t pred_pid;
	char path[VDM_HO_PATH_MAX]; /* device path, NUL-terminated */
	uint64_t token;		    /* keeper's address-space token (sim) */
	/* what the device reported and what was negotiated */
	uint32_t device_id, nr_vqs, nr_groups, nr_as;
	uint32_t config_size, max_vring_num, mem_mode, is_sim;
	uint64_t device_features, backend_offered, backend_acked;
	uint64_t iova_first, iova_last;
	uint64_t driver_features;
	uint64_t page_size;
	uint32_t status; /* virtio status */
	uint32_t next_region_id;
	uint64_t t_suspend_ns; /* CLOCK_MONOTONIC at SUSPEND */
	uint64_t t_prepare_ns; /* prepare's own cost */
	uint32_t nr_regions, nr_entries, nr_vrings;
	/* version 4 (the former reserved0): what SUSPEND and the rings'
	 * positions cost, saturated; only reported, never trusted */
	uint32_t suspend_cost_ns;
	/* version 3 (the former reserved[0..2]): with a keeper
	 * (keeper_sock >= 0) its re-attach credential and the random part
	 * of its socket's name, both non-zero; without one, both zero */
	uint8_t keeper_cred[VDM_KP_CRED_LEN];
	uint64_t keeper_tag;
	/* version 4 (the former reserved[0]): CLOCK_MONOTONIC at the
	 * predecessor's last step before the exec (the header is written
	 * again then, and sealed); the successor's exec phase starts here */
	uint64_t t_handed_ns;
	/* version 4: the IOTLB entry caps as the predecessor read them at
	 * open (vdpamap_info's caps fields), so that the successor need not
	 * walk sysfs again inside the downtime; parent NUL-terminated */
	uint32_t max_iotlb_entries, parent_max_iotlb_entries;
	uint32_t caps_flags, reserved1; /* reserved1: 0 */
	char parent[16];
};

struct vdm_ho_region {
	uint32_t id;
	int32_t fd; /* fd number across the exec */
	uint64_t len, fd_offset;
	uint64_t dev_base; /* where the device sees offset 0 */
	uint32_t perm;
	uint32_t reserved0;
	uint64_t iova;
	uint64_t ino; /* st_ino of fd (0: unchecked) */
};

struct vdm_ho_entry {
	uint64_t iova, size;
	uint64_t off; /* offset of the entry in its region */
	uint32_t asid, perm;
	uint32_t region_id;
	/* the kernel IOTLB entries it makes (vdm_entry.nents), so that the
	 * successor's cap checks count as the predecessor's did; 0: not
	 * counted or unknown, counted again by the successor when a commit
	 * nears the cap (adopt.c).  reserved0 in version 3 (0.1), whose
	 * descriptions adopt refuses by their version */
	uint32_t nents;
};

#define VDM_HO_VRING_SET     1u
#define VDM_HO_VRING_ENABLED 2u

/* Bytes after the two u32 arrays that keep the vring records 8-aligned. */
#define VDM_HO_U32_PAD(nr_groups, nr_vqs) \
	((((uint64_t)(nr_groups) + (nr_vqs)) & 1) ? 4 : 0)

struct vdm_ho_vring {
	uint32_t idx, flags;
	uint32_t num, base;
	uint64_t desc, avail, used;
	int32_t kick_fd, call_fd;
};

/* A parsed, validated description: pointers into the caller's buffer. */
struct vdm_handoff_state {
	const struct vdm_ho_hdr *hdr;
	const struct vdm_ho_region *regions;
	const struct vdm_ho_entry *entries;
	const uint32_t *group_asid;
	const uint32_t *vq_group;
	const struct vdm_ho_vring *vrings;
};

uint32_t vdm_crc32(uint32_t crc, const void *buf, size_t len);
/* Bytes a description with these counts takes, or 0 on overflow. */
size_t vdm_handoff_size(uint32_t nr_regions, uint32_t nr_entries,
			uint32_t nr_groups, uint32_t nr_vqs,
			uint32_t nr_vrings);
/* Seal hdr->crc over a complete buffer of hdr->total bytes. */
void vdm_handoff_seal(void *buf);
/* Validate buf (untrusted) and point out into it.  Errors, nothing kept:
 *  -EMSGSIZE  shorter than the header or than hdr.total says, or longer
 *  -EBADMSG   bad magic or checksum
 *  -EPROTONOSUPPORT other version
 *  -ERANGE    a count out of its bounds or inconsistent with total
 *  -EINVAL    a field out of range (strategy, perm, fds, sizes, alignment,
 *             path not terminated, vring, group -> asid)
 *  -ENOENT    an entry names a region that does not exist
 *  -EFAULT    an entry outside its region, or outside the IOVA range
 *  -EEXIST    two entries of one ASID overlap, or two regions share an id */
int vdm_handoff_parse(const void *buf, size_t len,
		      struct vdm_handoff_state *out);

/* Why a description was refused: the first check that failed.  array NULL
 * means a header field; otherwise the element array[index] ("regions",
 * "entries", "group_asid", "vq_group", "vrings").  field is a static
 * string naming the field and what is wrong with it ("fd: negative");
 * NULL when the description is valid. */
struct vdm_ho_why {
	const char *array;
	uint32_t index;
	const char *field;
};
/* vdm_handoff_parse(), and why (may be NULL) says why it refused. */
int vdm_handoff_parse_why(const void *buf, size_t len,
			  struct vdm_handoff_state *out,
			  struct vdm_ho_why *why);
/* "regions[1].fd: negative", "crc: checksum mismatch" ("valid" when
 * nothing failed) into buf; returns what snprintf() does. */
int vdm_handoff_why_str(const struct vdm_ho_why *why, char *buf, size_t len);

/* The keeper's re-attach socket name for tag, without the leading NUL
 * ("vdpamap-keeper-<16 hex digits>"); its length. */
#define VDM_HO_SOCK_NAME_MAX 40
int vdm_ho_sock_name(uint64_t tag, char *buf, size_t len);
/* 1 if a and b (VDM_KP_CRED_LEN bytes) are equal and not all zero, in a
 * time that does not depend on where they differ. */
int vdm_ho_cred_eq(const uint8_t *a, const uint8_t *b);

/* ---- the handle's handoff state (handle.c) */
struct vdpamap;

struct vdm_handoff {
	uint32_t strategy; /* VDPAMAP_HANDOFF_* in use */
	int prepared;	   /* predecessor: between prepare and exec */
	int adopted;	   /* successor */
	int state_fd;	   /* predecessor: the sealed memfd */
	/* the keeper: its socket, pid, pidfd, death, trim (transport.h);
	 * with strategy KEEPER in the successor kl.tp is the handle's
	 * transport */
	struct vdm_kp_link kl;
	int keeper_ours;   /* created by this prepare (cancel ends it) */
	void *keeper_area; /* predecessor that created the keeper */
	uint64_t token;	   /* the keeper's token (simulator) */
	int cleared[64];   /* fds whose CLOEXEC prepare cleared */
	uint32_t nr_cleared;
	int suspended; /* prepare suspended the device */
	int trim_due;  /* successor: the keeper's trim waits for the first
			  frame (keeper_ctl.c) */
	/* the keeper's re-attach credential and socket tag (made by the
	 * prepare that created it, else from the state; 0: no keeper) */
	uint8_t cred[VDM_KP_CRED_LEN];
	uint64_t tag;
	char path[VDM_HO_PATH_MAX];
	uint64_t t_suspend_ns, prepare_ns, adopt_ns, adopted_ns, adopt_writes;
	/* the downtime by phase (vdpamap_handoff_phases), ns */
	struct vdm_ho_phases {
		uint64_t suspend, pred, exec, parse, map, takeover, resume;
		uint64_t t_entry; /* adopt's entry, CLOCK_MONOTONIC */
		uint64_t t_first; /* the application's first-frame mark */
	} ph;
};

static inline uint64_t vdm_ho_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static inline const char *vdm_ho_strategy_name(uint32_t s)
{
	switch (s) {
	case VDPAMAP_HANDOFF_NEW_OWNER:
		return "new-owner";
	case VDPAMAP_HANDOFF_KEEPER:
		return "keeper";
	case VDPAMAP_HANDOFF_REBUILD:
		return "rebuild";
	default:
		return "?";
	}
}

/* ---- describe.c */
struct vdm_ho_ser {
	uint32_t strategy;
	int32_t dev_fd, keeper_sock;
	uint64_t t_suspend;
	uint64_t t_prepare; /* prepare's cost up to serializing */
};

/* The predecessor's last step: the header of the description in fd
 * (buf, len: what it holds) gets the phase times, is sealed again and the
 * memfd sealed against writes; 0 or -errno.  *ret_handed (may be NULL):
 * the time of that step written into it. */
int vdm_ho_memfd_finish(int fd, void *buf, size_t len, uint64_t t_suspend,
			uint64_t suspend_cost, uint64_t *ret_handed);
/* h as a sealed description (malloc'ed into *ret_buf). */
int vdm_ho_serialize(struct vdpamap *h, const struct vdm_ho_ser *so,
		     void **ret_buf, size_t *ret_len);
/* A sealed memfd holding buf (CLOEXEC as asked), or -errno; seal false:
 * not sealed yet (vdm_ho_memfd_finish() will). */
int vdm_ho_memfd(const void *buf, size_t len, bool cloexec, bool seal);
/* Read a whole sealed state fd into a malloc'ed buffer. */
int vdm_ho_read(int fd, void **ret, size_t *ret_len);
/* One vring record of a description as the public struct. */
void vdm_ho_vring_of(const struct vdm_ho_vring *sv, struct vdpamap_vring *v);
/* The open options a successor's handle gets: the caller's log, the
 * description's open flags and page size. */
void vdm_ho_open_opts(const struct vdpamap_open_opts *opts,
		      const struct vdm_ho_hdr *hd, struct vdpamap_open_opts *o);
/* Open options of adopt/reattach: 0, -EINVAL (too small) or -E2BIG
 * (unknown non-zero tail), logged through opts' log_fn. */
int vdm_ho_open_opts_check(const struct vdpamap_open_opts *opts);
/* Log for adopt, which has no handle yet: through opts' log_fn (ERR). */
void vdm_ho_adopt_log(const struct vdpamap_open_opts *opts, const char *fmt,
		      ...) __attribute__((format(printf, 2, 3)));

/* ---- fds.c */
int vdm_ho_set_cloexec(int fd, bool on, bool *was);
/* Clear CLOEXEC on every fd the description so names and on extra[];
 * remembered for vdm_ho_fds_restore(). */
int vdm_ho_fds_pass(struct vdpamap *h, const struct vdm_ho_ser *so,
		    const int *extra, uint32_t nextra);
/* CLOEXEC again on what vdm_ho_fds_pass() cleared (cancel, failure). */
void vdm_ho_fds_restore(struct vdpamap *h);
/* The successor: CLOEXEC again on every fd it inherited. */
void vdm_ho_fds_reclaim(const struct vdm_handoff_state *s);

/* ---- suspend.c */
/* Stop the device for the exec when it runs (DRIVER_OK), keeping
 * DRIVER_OK, if SUSPEND and RESUME were both negotiated: only what can be
 * resumed is suspended (cancel, a failed prepare and the successor resume
 * it).  Otherwise it is handed over running, logged at INFO. */
int vdm_ho_suspend(struct vdpamap *h, uint32_t strategy);
/* Start again what vdm_ho_suspend() stopped (cancel, failed prepare). */
int vdm_ho_resume_ours(struct vdpamap *h);
/* The successor: RESUME a suspended device when RESUME was negotiated. */
int vdm_ho_resume(struct vdpamap *h);
/* Each set ring's position into the vring state (GET_VRING_BASE);
 * strategy names what needs them in the log of a refusal. */
int vdm_ho_vring_bases(struct vdpamap *h, uint32_t strategy);
/* Before anything stops: the parent answers GET_VRING_BASE (one ring
 * asked), else the strategy is refused with its errno, logged. */
int vdm_ho_vring_base_check(struct vdpamap *h, uint32_t strategy);

/* ---- keeper_ctl.c */
bool vdm_ho_keeper_live(struct vdpamap *h);
/* Wait (a little) for a keeper to exit and reap it. */
void vdm_ho_keeper_reap(int pidfd);
/* Forget the keeper; tell: ask it to exit (or end it, if ours and its
 * socket broke) and reap it. */
void vdm_ho_keeper_drop(struct vdpamap *h, bool tell);
/* Drop a keeper this prepare created; a poison it caused goes too. */
void vdm_ho_keeper_undo(struct vdpamap *h);
int vdm_ho_keeper_create(struct vdpamap *h, uint32_t grace_ms);
/* Ask the keeper on sock to exit (no reply awaited beyond its ack). */
void vdm_ho_keeper_tell_exit(int sock);
/* Tell a keeper of an earlier handoff to go and reap it. */
void vdm_ho_keeper_dismiss(int sock, int32_t pid);
/* The successor's link to the keeper the description names. */
int vdm_ho_keeper_link(struct vdpamap *h, struct vdm_handoff *ho,
		       const struct vdm_ho_hdr *hd);
int vdm_ho_keeper_takeover(struct vdpamap *h, const struct vdm_ho_hdr *hd);
/* After the first frame (or the first vdpamap_handoff_get_info()): the
 * trim takeover deferred, once. */
void vdm_ho_keeper_trim_due(struct vdpamap *h);

/* ---- handle.c */
struct vdm_handoff *vdm_ho_new(void);
/* h->ho is set (or replaced, or NULL): hook leave, close and free. */
void vdm_ho_attach(struct vdpamap *h, struct vdm_handoff *ho);

/* ---- new_owner.c */
#ifdef VDPAMAP_NEW_OWNER
int vdm_ho_new_owner_takeover(struct vdpamap *h);
#endif

/* ---- rebuild.c */
/* Open the description's device anew and re-create everything it says.
 * use_used: each ring's position from its used index (the keeper that
 * could have told it is dead). */
int vdm_ho_rebuild_open(const struct vdm_handoff_state *s,
			const struct vdpamap_open_opts *opts, void **hvas,
			bool use_used, struct vdpamap **ret);

/* ---- adopt.c */
int vdm_ho_adopt_parsed(const struct vdm_handoff_state *s,
			const struct vdpamap_open_opts *opts,
			struct vdpamap **ret);

#endif
