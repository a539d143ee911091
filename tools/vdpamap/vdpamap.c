// SPDX-License-Identifier: BSD-3-Clause
/*
 * vdpamap: the command-line tool.  Parses the global options and hands the
 * rest of the command line to one cmd_*() per subcommand (cli.h).
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "vdpamap.h"

#ifndef VDPAMAP_TOOL_VERSION
#define VDPAMAP_TOOL_VERSION "unknown"
#endif

struct subcmd {
	const char *name;
	int (*fn)(struct cli *c);
	const char *help;
};

static const struct subcmd subcmds[] = {
	{ "demo", cmd_demo,
	  "pre-map, loopback, reset, ASID moves: the library end to end" },
	{ "info", cmd_info, "everything a vhost-vdpa device reports" },
	{ "dev", cmd_dev, "vdpa devices: show | add | del (netlink)" },
	{ "mgmtdev", cmd_mgmtdev, "vdpa management devices: show (netlink)" },
	{ "map-bench", cmd_mapbench,
	  "time mapping N MiB (batched or not), with a progress bar" },
	{ "sim", cmd_sim,
	  "a simulator daemon at a socket path: start | stop | status | list" },
};

static void usage(FILE *f)
{
	size_t i;

	fprintf(f, "Usage: vdpamap [OPTIONS] COMMAND [ARGS...]\n"
		   "\n"
		   "Own a vhost-vdpa device (or the built-in simulator) with "
		   "libvdpamap.\n"
		   "\n"
		   "Options:\n"
		   "  -j, --json      print one JSON document on stdout\n"
		   "  -p, --pretty    indent the JSON (implies --json)\n"
		   "  -v, --verbose   library log on stderr (twice: debug)\n"
		   "  -h, --help      this text\n"
		   "      --version   print the version\n"
		   "\n"
		   "Commands:\n");
	for (i = 0; i < sizeof(subcmds) / sizeof(subcmds[0]); i++)
		fprintf(f, "  %-9s %s\n", subcmds[i].name, subcmds[i].help);
	fprintf(f,
		"\n"
		"Run 'vdpamap COMMAND --help' for a command's options.\n"
		"Exit status: 0 ok, 1 failed, 2 usage, 77 not possible here.\n");
}

void cli_output_opt(struct cli *c, int o)
{
	switch (o) {
	case 'p':
		c->json = c->pretty = 1;
		break;
	case 'j':
		c->json = 1;
		break;
	case 'v':
		c->verbose++;
		break;
	}
}

int main(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "pretty", no_argument, NULL, 'p' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct cli c = { 0 };
	size_t i;
	int o;

	/* '+': stop at the subcommand, its options are its own */
	while ((o = getopt_long(argc, argv, "+jpvh", lopts, NULL)) != -1) {
		switch (o) {
		case 'j':
		case 'p':
		case 'v':
			cli_output_opt(&c, o);
			break;
		case 'h':
			usage(stdout);
			return CLI_EXIT_OK;
		case 'V':
			printf("vdpamap %s (library API %d.%d)\n",
			       VDPAMAP_TOOL_VERSION, VDPAMAP_VERSION_MAJOR,
			       VDPAMAP_VERSION_MINOR);
			return CLI_EXIT_OK;
		default:
			usage(stderr);
			return CLI_EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return CLI_EXIT_USAGE;
	}
	if (!strcmp(argv[optind], "help")) {
		usage(stdout);
		return CLI_EXIT_OK;
	}
	c.argc = argc - optind;
	c.argv = argv + optind;
	for (i = 0; i < sizeof(subcmds) / sizeof(subcmds[0]); i++) {
		if (!strcmp(argv[optind], subcmds[i].name)) {
			optind = 0; /* glibc: full re-initialisation */
			return subcmds[i].fn(&c);
		}
	}
	fprintf(stderr, "vdpamap: unknown command '%s'\n", argv[optind]);
	usage(stderr);
	return CLI_EXIT_USAGE;
}
