// SPDX-License-Identifier: BSD-3-Clause
/*
 * vdpamap demo [DEV]: the library end to end, each step timed and checked
 * with a TX -> RX loopback through the device (examples/vnet.c):
 *
 *   1 guest memory in a memfd          6 reset without it (RESYNC)
 *   2 open with the region pre-mapped  7 data group -> ASID 1
 *   3 virtio-net up, rings in guest    8 and back to ASID 0
 *     memory                           9 exec handoff: the demo execs
 *   4 loopback                           itself, the new image adopts
 *   5 reset with IOTLB_PERSIST           the device and loops a frame
 *                                     10 close
 *
 * Step 9 (--handoff STRATEGY, default auto): vdpamap_handoff_prepare(),
 * the steps so far in a memfd, execv(/proc/self/exe, "demo
 * --handoff-successor FD"); the new image adopts, loops a frame and
 * reports the strategy and the downtime (SUSPEND in the old image to the
 * first good loopback in the new one), then goes on with step 10 and
 * prints the table's end (or the whole JSON document).
 *
 * Without DEV the built-in simulator is spawned; step 6 then spawns a
 * second simulator that does not offer IOTLB_PERSIST (an older kernel), or
 * with --no-persist-sim reopens the same device without negotiating it, as
 * it does for a real device (reopening drops and rebuilds every map).
 *
 * This file: the options, the run and the cleanup; the steps and the
 * report are in the demo_*.c files (demo.h says which is where).
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "demo.h"

static void demo_usage(FILE *f)
{
	fprintf(f,
		"Usage: vdpamap [-j] [-p] [-v] demo [DEV] [--size MiB] "
		"[--no-persist-sim]\n"
		"                                   [--handoff STRATEGY]\n"
		"\n"
		"Run the library end to end and time every step: guest memory "
		"in a memfd,\n"
		"open with it pre-mapped, virtio-net up with its rings in "
		"guest memory,\n"
		"TX->RX loopback, reset with and without IOTLB_PERSIST, the "
		"data group\n"
		"moved to ASID 1 and back, an exec handoff of the device to a "
		"new image\n"
		"of this program (live update), close.  Every step after the "
		"net is up\n"
		"is checked with a loopback.\n"
		"\n"
		"  DEV                 /dev/vhost-vdpa-N or a simulator socket "
		"(default:\n"
		"                      spawn the built-in simulator)\n"
		"  -s, --size MiB      guest memory (default 64)\n"
		"  --no-persist-sim    for the no-persist reset, reopen the "
		"same simulator\n"
		"                      without negotiating IOTLB_PERSIST "
		"instead of\n"
		"                      spawning a second one that does not "
		"offer it\n"
		"  --handoff STRATEGY  exec handoff strategy: auto (default), "
		"new-owner,\n"
		"                      keeper, rebuild, or none (skip the "
		"step)\n"
		"\n"
		"Exit status 0 only if every step succeeded.\n");
}

/* --handoff STRATEGY: 0, or -1 if it is not one. */
static int parse_handoff(const char *arg, uint32_t *ret)
{
	static const struct {
		const char *name;
		uint32_t strategy;
	} tab[] = {
		{ "auto", VDPAMAP_HANDOFF_AUTO },
		{ "new-owner", VDPAMAP_HANDOFF_NEW_OWNER },
		{ "keeper", VDPAMAP_HANDOFF_KEEPER },
		{ "rebuild", VDPAMAP_HANDOFF_REBUILD },
		{ "none", DEMO_NO_HANDOFF },
	};
	size_t i;

	for (i = 0; i < sizeof(tab) / sizeof(tab[0]); i++) {
		if (!strcmp(arg, tab[i].name)) {
			*ret = tab[i].strategy;
			return 0;
		}
	}
	fprintf(stderr,
		"vdpamap demo: bad --handoff '%s' (auto, new-owner, "
		"keeper, rebuild, none)\n",
		arg);
	return -1;
}

/* The options into d (and *wfd, the hidden --handoff-successor): -1 to go
 * on, else the exit code. */
static int demo_parse(struct cli *c, struct demo *d, int *wfd)
{
	static const struct option lopts[] = {
		{ "size", required_argument, NULL, 's' },
		{ "no-persist-sim", no_argument, NULL, 'N' },
		{ "handoff", required_argument, NULL, 'H' },
		{ "handoff-successor", required_argument, NULL, 'S' },
		{ "json", no_argument, NULL, 'j' },
		{ "pretty", no_argument, NULL, 'p' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	unsigned long long mib;
	char *end;
	int o;

	while ((o = getopt_long(c->argc, c->argv, "s:jpvh", lopts, NULL)) !=
	       -1) {
		switch (o) {
		case 's':
			errno = 0;
			mib = strtoull(optarg, &end, 0);
			if (errno || *end || !mib || mib > (1ULL << 20)) {
				fprintf(stderr,
					"vdpamap demo: bad --size '%s' "
					"(MiB, 1..1048576)\n",
					optarg);
				return CLI_EXIT_USAGE;
			}
			d->size = (uint64_t)mib << 20;
			break;
		case 'N':
			d->no_persist_sim = 1;
			break;
		case 'H':
			if (parse_handoff(optarg, &d->handoff) < 0)
				return CLI_EXIT_USAGE;
			break;
		case 'S': /* hidden: this image is step 9's new one */
			*wfd = atoi(optarg);
			break;
		case 'j':
		case 'p':
		case 'v':
			cli_output_opt(c, o);
			break;
		case 'h':
			demo_usage(stdout);
			return CLI_EXIT_OK;
		default:
			demo_usage(stderr);
			return CLI_EXIT_USAGE;
		}
	}
	if (*wfd < 0 && optind < c->argc)
		d->dev = c->argv[optind++];
	if (*wfd < 0 && optind < c->argc) {
		demo_usage(stderr);
		return CLI_EXIT_USAGE;
	}
	return -1;
}

/* Steps 1 to 10 in the first image (step 9 execs: a successful run ends
 * in the new image's demo_successor path).  -1 if the run could not even
 * start (no simulator), else 0: the steps say how it went. */
static int demo_run(struct demo *d)
{
	int r;

	d->t_start = now_ns();
	if (!d->dev) {
		r = demo_spawn_sim(d, 0);
		if (r < 0) {
			fprintf(stderr,
				"vdpamap demo: spawning the simulator: "
				"%s\n",
				strerror(-r));
			return -1;
		}
		d->dev = d->sim[0];
		d->spawned = 1;
	}
	snprintf(d->dev0, sizeof(d->dev0), "%s", d->dev);
	if (!d->c->json)
		demo_print_header(d);

	r = step_memory(d);
	if (!r)
		r = step_open(d);
	if (!r)
		r = step_net_up(d);
	if (!r)
		r = step_loop(d);
	if (!r)
		r = step_reset_persist(d);
	if (!r)
		r = step_reset_resync(d);
	if (!r)
		r = step_asid(d);
	if (!r)
		r = step_handoff(d); /* returns only if it failed */
	if (!r)
		step_close(d);
	return 0;
}

/* Whatever is left after a failure, in reverse order of acquisition. */
static void demo_cleanup(struct demo *d)
{
	int i;

	demo_close_handle(d);
	if (d->mem)
		munmap(d->mem, d->size);
	if (d->memfd >= 0)
		close(d->memfd);
	for (i = 0; i < d->nsims; i++)
		if (d->sim[i][0])
			vdpamap_sim_stop(d->sim[i]);
}

int cmd_demo(struct cli *c)
{
	struct demo *d;
	struct wire *w = NULL;
	uint64_t total;
	int r, rc, wfd = -1;

	d = calloc(1, sizeof(*d));
	if (!d)
		return CLI_EXIT_FAIL;
	d->c = c;
	d->memfd = -1;
	d->size = 64ULL << 20;
	d->handoff = VDPAMAP_HANDOFF_AUTO;
	rc = demo_parse(c, d, &wfd);
	if (rc >= 0)
		goto out_free;
	rc = CLI_EXIT_FAIL;
	if (wfd >= 0) {
		/* exec'd by step 9 of the demo that ran steps 1 to 8 */
		w = demo_take(d, wfd);
		if (!w)
			goto out_free;
		r = step_adopted(d, w);
		if (!r)
			step_close(d);
	} else if (demo_run(d) < 0) {
		goto out_free;
	}
	total = now_ns() - d->t_start;
	demo_cleanup(d);

	if (c->json) {
		demo_print_json(d, total);
	} else if (d->failed) {
		printf("demo FAILED (%.3f ms)\n", ms(total));
	} else {
		printf("demo ok: every step succeeded (%.3f ms)\n", ms(total));
	}
	rc = d->failed ? CLI_EXIT_FAIL : CLI_EXIT_OK;
out_free:
	free(d);
	free(w);
	return rc;
}
