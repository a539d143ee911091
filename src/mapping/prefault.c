// SPDX-License-Identifier: BSD-3-Clause
/*
 * prefault: fault guest memory in on worker threads before it is mapped.
 * Page faults run in parallel; pinning under the device's lock does not,
 * so doing the faults first shortens the serial part.  Work is cut in
 * chunks handed out through an atomic cursor.
 */
#include <pthread.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "mapping/mapping.h"

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif
#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22
#endif

#define CHUNK (32ULL << 20)

struct pf_work {
	const struct vdpamap_region *r;
	uint32_t n;
	uint64_t total_chunks;
	uint64_t *first_chunk; /* per region: its first chunk index */
	uint64_t cursor;
	int err;
};

static void pf_chunk(struct pf_work *w, uint64_t c)
{
	uint32_t i = 0;
	uint64_t off, len;
	char *p;

	while (i + 1 < w->n && w->first_chunk[i + 1] <= c)
		i++;
	off = (c - w->first_chunk[i]) * CHUNK;
	len = w->r[i].len - off < CHUNK ? w->r[i].len - off : CHUNK;
	p = (char *)w->r[i].hva + off;
	if (madvise(p, len, MADV_POPULATE_WRITE) == 0)
		return;
	/* read-only mappings cannot be write-populated */
	if (madvise(p, len, MADV_POPULATE_READ) == 0)
		return;
	__atomic_store_n(&w->err, -errno, __ATOMIC_RELAXED);
}

static void *pf_thread(void *arg)
{
	struct pf_work *w = arg;
	uint64_t c;

	while ((c = __atomic_fetch_add(&w->cursor, 1, __ATOMIC_RELAXED)) <
	       w->total_chunks)
		pf_chunk(w, c);
	return NULL;
}

int vdm_prefault(struct vdpamap *h, const struct vdpamap_region *r, uint32_t n,
		 uint32_t threads)
{
	struct pf_work w = { .r = r, .n = n };
	pthread_t *tids;
	uint32_t i, started = 0;

	if (!n)
		return 0;
	if (threads > 64)
		threads = 64;
	w.first_chunk = calloc(n, sizeof(*w.first_chunk));
	tids = calloc(threads, sizeof(*tids));
	if (!w.first_chunk || !tids) {
		free(w.first_chunk);
		free(tids);
		return -ENOMEM;
	}
	for (i = 0; i < n; i++) {
		w.first_chunk[i] = w.total_chunks;
		w.total_chunks += (r[i].len + CHUNK - 1) / CHUNK;
	}
	for (i = 0; i < threads; i++)
		if (pthread_create(&tids[i], NULL, pf_thread, &w) == 0)
			started++;
		else
			break;
	pf_thread(&w); /* the caller works too */
	for (i = 0; i < started; i++)
		pthread_join(tids[i], NULL);
	free(tids);
	free(w.first_chunk);
	if (w.err) {
		vdm_warn(h, "pre-fault: madvise: %d (maps go on, slower)",
			 w.err);
	}
	return 0;
}
