/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * cli: the vdpamap command-line tool's shared pieces.  tools/vdpamap/vdpamap.c
 * parses global options and dispatches to one cmd_*() per subcommand.
 * Exit codes: 0 success, 1 failure of the operation, 2 usage error,
 * 77 "not possible here" (e.g. no vdpa module).  With json set, a command
 * prints exactly one JSON document on stdout and diagnostics on stderr.
 */
#ifndef VDPAMAP_CLI_H
#define VDPAMAP_CLI_H

#include <stdio.h>

struct cli {
	int json;    /* -j / --json */
	int pretty;  /* -p / --pretty */
	int verbose; /* -v */
	int argc;
	char **argv; /* the subcommand's own arguments, argv[0] =
				   its name */
};

#define CLI_EXIT_OK    0
#define CLI_EXIT_FAIL  1
#define CLI_EXIT_USAGE 2
#define CLI_EXIT_SKIP  77

int cmd_demo(struct cli *c); /* tools/vdpamap/cmd_demo.c */
int cmd_info(struct cli *c); /* tools/vdpamap/cmd_info.c */
/* The IOTLB entry caps of in as one line, in buf (cmd_info.c). */
struct vdpamap_info;
const char *cli_caps_text(const struct vdpamap_info *in, char *buf, size_t len);
int cmd_dev(struct cli *c);	/* tools/vdpamap/cmd_mgmt.c: dev add|del|show */
int cmd_mgmtdev(struct cli *c); /* tools/vdpamap/cmd_mgmt.c: mgmtdev show */
int cmd_mapbench(struct cli *c); /* tools/vdpamap/cmd_mapbench.c */
int cmd_sim(struct cli *c); /* tools/vdpamap/cmd_sim.c: start|stop|status */

/* "64 MiB", "1.5 GiB", "512 B": binary units for tables (cmd_mapbench.c) */
const char *cli_size(unsigned long long bytes, char *buf, size_t len);

/* -j, -p (implies -j) and -v, taken by the tool and every subcommand
 * alike (tools/vdpamap/vdpamap.c). */
void cli_output_opt(struct cli *c, int o);

/* Minimal JSON writer (tools/vdpamap/json.c): strings are escaped. */
struct json {
	FILE *f;
	int depth;
	int first[32];
	int pretty;
};
void json_init(struct json *j, FILE *f, int pretty);
void json_obj_open(struct json *j, const char *key); /* key NULL: value */
void json_obj_close(struct json *j);
void json_arr_open(struct json *j, const char *key);
void json_arr_close(struct json *j);
void json_str(struct json *j, const char *key, const char *v);
void json_u64(struct json *j, const char *key, unsigned long long v);
void json_i64(struct json *j, const char *key, long long v);
void json_bool(struct json *j, const char *key, int v);
void json_double(struct json *j, const char *key, double v);
void json_end(struct json *j); /* final newline */

#endif
