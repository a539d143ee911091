// SPDX-License-Identifier: BSD-3-Clause
/*
 * clicheck: run a command and check what a script would rely on: its exit
 * status, that its stdout is exactly one JSON document valid against a
 * schema, and what its stderr says.  The CLI tests (tests/cli/meson.build,
 * suite 'cli') are made of it.
 *
 *   clicheck [--exit N] [--schema FILE] [--stdout-empty]
 *            [--stdout-has TEXT]... [--stdout-lacks TEXT]...
 *            [--stderr-has TEXT]... [--stderr-lacks TEXT]...
 *            [--memlock KiB] -- CMD ARGS...
 *
 * --memlock lowers RLIMIT_MEMLOCK for CMD (to test the PA-mode budget
 * error whatever the caller's limit).
 *
 * The schema language is the subset of JSON Schema the files in
 * tools/vdpamap/schema use, and nothing else is accepted (an unknown keyword is an
 * error, so a schema cannot silently check less than it says):
 *   type (a name or an array of names: object array string integer number
 *   boolean null), required, properties, additionalProperties (false or a
 *   schema), items, enum, minimum, minItems; $schema, $comment, title and
 *   description are ignored.
 * Exit: 0 every check passed, 1 one failed (each failure on stderr, with
 * its JSON path), 2 usage or unreadable schema.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "json.h"

/* ---- validation */
static int nerrors;

static void verr(const char *path, const char *fmt, const char *a)
{
	fprintf(stderr, "clicheck: %s: ", *path ? path : "(document)");
	fprintf(stderr, fmt, a);
	fputc('\n', stderr);
	nerrors++;
}

static const char *tname(const struct jv *v)
{
	static const char *const n[] = { "null",   "boolean", "number",
					 "string", "array",   "object" };

	return v->t == J_NUM && v->is_int ? "integer" : n[v->t];
}

static int type_ok(const struct jv *v, const char *t)
{
	if (!strcmp(t, "integer"))
		return v->t == J_NUM && v->is_int;
	if (!strcmp(t, "number"))
		return v->t == J_NUM;
	return !strcmp(t, tname(v)) ||
	       (!strcmp(t, "boolean") && v->t == J_BOOL);
}

static int jequal(const struct jv *a, const struct jv *b)
{
	if (a->t != b->t)
		return 0;
	switch (a->t) {
	case J_NULL:
		return 1;
	case J_BOOL:
		return a->b == b->b;
	case J_NUM:
		return a->n == b->n;
	case J_STR:
		return !strcmp(a->s, b->s);
	default:
		return 0; /* enums of scalars only */
	}
}

static void validate(const struct jv *v, const struct jv *s, const char *path);

static void validate(const struct jv *v, const struct jv *s, const char *path)
{
	static const char *const known[] = {
		"type",	   "required", "properties", "additionalProperties",
		"items",   "enum",     "minimum",    "minItems",
		"$schema", "$comment", "title",	     "description",
		NULL,
	};
	const struct jv *k;
	char sub[1024];
	size_t i, j;

	if (!s || s->t != J_OBJ) {
		fprintf(stderr, "clicheck: schema at %s is not an object\n",
			path);
		exit(2);
	}
	for (i = 0; i < s->len; i++) {
		for (j = 0; known[j] && strcmp(known[j], s->k[i]); j++)
			;
		if (!known[j]) {
			fprintf(stderr,
				"clicheck: schema keyword '%s' (at %s) "
				"is not supported\n",
				s->k[i], path);
			exit(2);
		}
	}
	k = jv_get(s, "type");
	if (k) {
		int ok = 0;

		if (k->t == J_STR)
			ok = type_ok(v, k->s);
		for (i = 0; k->t == J_ARR && i < k->len; i++)
			ok |= type_ok(v, k->a[i]->s);
		if (!ok) {
			verr(path, "type is %s, not the one the schema wants",
			     tname(v));
			return;
		}
	}
	k = jv_get(s, "enum");
	if (k) {
		int ok = 0;

		for (i = 0; i < k->len; i++)
			ok |= jequal(v, k->a[i]);
		if (!ok)
			verr(path, "value %s is not in the enum",
			     v->t == J_STR ? v->s : tname(v));
	}
	k = jv_get(s, "minimum");
	if (k && v->t == J_NUM && v->n < k->n)
		verr(path, "below the minimum%s", "");
	if (v->t == J_OBJ) {
		const struct jv *props = jv_get(s, "properties");
		const struct jv *add = jv_get(s, "additionalProperties");

		k = jv_get(s, "required");
		for (i = 0; k && i < k->len; i++)
			if (!jv_get(v, k->a[i]->s))
				verr(path, "required member \"%s\" missing",
				     k->a[i]->s);
		for (i = 0; i < v->len; i++) {
			const struct jv *ps = jv_get(props, v->k[i]);

			snprintf(sub, sizeof(sub), "%s.%s", path, v->k[i]);
			if (ps)
				validate(v->a[i], ps, sub);
			else if (add && add->t == J_BOOL && !add->b)
				verr(sub, "member not in the schema%s", "");
			else if (add && add->t == J_OBJ)
				validate(v->a[i], add, sub);
		}
	}
	if (v->t == J_ARR) {
		k = jv_get(s, "minItems");
		if (k && (double)v->len < k->n)
			verr(path, "fewer items than minItems%s", "");
		k = jv_get(s, "items");
		for (i = 0; k && i < v->len; i++) {
			snprintf(sub, sizeof(sub), "%s[%zu]", path, i);
			validate(v->a[i], k, sub);
		}
	}
}

/* ---- running the command */
static long long memlock_kib = -1;

static int run(char **argv, char **out, size_t *olen, char **err, size_t *elen,
	       int *status)
{
	int po[2], pe[2];
	struct pollfd pf[2];
	size_t cap[2] = { 0, 0 }, *len[2] = { olen, elen };
	char **buf[2] = { out, err };
	pid_t pid;
	int open_fds = 2, i;

	*out = *err = NULL;
	*olen = *elen = 0;
	if (pipe(po) < 0 || pipe(pe) < 0)
		return -errno;
	pid = fork();
	if (pid < 0)
		return -errno;
	if (!pid) {
		dup2(po[1], 1);
		dup2(pe[1], 2);
		close(po[0]);
		close(pe[0]);
		close(po[1]);
		close(pe[1]);
		if (memlock_kib >= 0) {
			struct rlimit rl = { (rlim_t)memlock_kib << 10,
					     (rlim_t)memlock_kib << 10 };

			if (setrlimit(RLIMIT_MEMLOCK, &rl) < 0) {
				perror("clicheck: RLIMIT_MEMLOCK");
				_exit(127);
			}
		}
		execvp(argv[0], argv);
		fprintf(stderr, "clicheck: exec %s: %s\n", argv[0],
			strerror(errno));
		_exit(127);
	}
	close(po[1]);
	close(pe[1]);
	pf[0] = (struct pollfd){ .fd = po[0], .events = POLLIN };
	pf[1] = (struct pollfd){ .fd = pe[0], .events = POLLIN };
	while (open_fds) {
		if (poll(pf, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		for (i = 0; i < 2; i++) {
			ssize_t n;

			if (pf[i].fd < 0 || !pf[i].revents)
				continue;
			if (*len[i] + 4096 + 1 > cap[i]) {
				cap[i] = cap[i] * 2 + 8192;
				*buf[i] = realloc(*buf[i], cap[i]);
				if (!*buf[i])
					return -ENOMEM;
			}
			n = read(pf[i].fd, *buf[i] + *len[i], 4096);
			if (n <= 0) {
				close(pf[i].fd);
				pf[i].fd = -1;
				open_fds--;
				continue;
			}
			*len[i] += (size_t)n;
			(*buf[i])[*len[i]] = '\0';
		}
	}
	for (i = 0; i < 2; i++)
		if (!*buf[i])
			*buf[i] = calloc(1, 1);
	if (waitpid(pid, status, 0) < 0)
		return -errno;
	return 0;
}

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "r");
	char *b = NULL;
	size_t cap = 0, n;

	*len = 0;
	if (!f)
		return NULL;
	for (;;) {
		if (*len + 4096 > cap) {
			cap = cap * 2 + 8192;
			b = realloc(b, cap);
			if (!b)
				exit(2);
		}
		n = fread(b + *len, 1, 4096, f);
		if (!n)
			break;
		*len += n;
	}
	fclose(f);
	return b;
}

static void usage(void)
{
	fprintf(stderr,
		"Usage: clicheck [--exit N] [--schema FILE] "
		"[--stdout-empty] [--stdout-has TEXT]...\n"
		"                [--stdout-lacks TEXT]... [--stderr-has TEXT]... "
		"[--stderr-lacks TEXT]...\n"
		"                [--memlock KiB] -- CMD ARGS...\n");
	exit(2);
}

int main(int argc, char **argv)
{
	const char *schema_path = NULL, *has[16], *lacks[16];
	const char *ohas[16], *olacks[16];
	int nhas = 0, nlacks = 0, nohas = 0, nolacks = 0;
	int want_exit = 0, stdout_empty = 0, i, status;
	char *out, *err, *sbuf;
	size_t olen, elen, slen, at;
	const char *perr;
	struct jv *doc, *schema;
	int failed = 0;

	for (i = 1; i < argc && strcmp(argv[i], "--"); i++) {
		if (!strcmp(argv[i], "--exit") && i + 1 < argc)
			want_exit = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--schema") && i + 1 < argc)
			schema_path = argv[++i];
		else if (!strcmp(argv[i], "--memlock") && i + 1 < argc)
			memlock_kib = atoll(argv[++i]);
		else if (!strcmp(argv[i], "--stdout-empty"))
			stdout_empty = 1;
		else if (!strcmp(argv[i], "--stdout-has") && i + 1 < argc &&
			 nohas < 16)
			ohas[nohas++] = argv[++i];
		else if (!strcmp(argv[i], "--stdout-lacks") && i + 1 < argc &&
			 nolacks < 16)
			olacks[nolacks++] = argv[++i];
		else if (!strcmp(argv[i], "--stderr-has") && i + 1 < argc &&
			 nhas < 16)
			has[nhas++] = argv[++i];
		else if (!strcmp(argv[i], "--stderr-lacks") && i + 1 < argc &&
			 nlacks < 16)
			lacks[nlacks++] = argv[++i];
		else
			usage();
	}
	if (i + 1 >= argc)
		usage();
	if (run(argv + i + 1, &out, &olen, &err, &elen, &status) < 0) {
		perror("clicheck: run");
		return 2;
	}
	fwrite(err, 1, elen, stderr); /* for the test log */
	/* run() sets status when it returns 0 (the analyser lets a failed
	 * poll() leave errno 0):
	 * NOLINTNEXTLINE(clang-analyzer-core.UndefinedBinaryOperatorResult) */
	if (!WIFEXITED(status) || WEXITSTATUS(status) != want_exit) {
		fprintf(stderr, "clicheck: %s: exit status %d, want %d\n",
			argv[i + 1],
			WIFEXITED(status) ? WEXITSTATUS(status) :
					    128 + WTERMSIG(status),
			want_exit);
		failed = 1;
	}
	if (stdout_empty && olen) {
		fprintf(stderr, "clicheck: stdout not empty: %.200s\n", out);
		failed = 1;
	}
	for (i = 0; i < nohas; i++)
		if (!strstr(out, ohas[i])) {
			fprintf(stderr,
				"clicheck: stdout lacks \"%s\": "
				"%.400s\n",
				ohas[i], out);
			failed = 1;
		}
	for (i = 0; i < nolacks; i++)
		if (strstr(out, olacks[i])) {
			fprintf(stderr,
				"clicheck: stdout has \"%s\": "
				"%.400s\n",
				olacks[i], out);
			failed = 1;
		}
	for (i = 0; i < nhas; i++)
		if (!strstr(err, has[i])) {
			fprintf(stderr, "clicheck: stderr lacks \"%s\"\n",
				has[i]);
			failed = 1;
		}
	for (i = 0; i < nlacks; i++)
		if (strstr(err, lacks[i])) {
			fprintf(stderr, "clicheck: stderr has \"%s\"\n",
				lacks[i]);
			failed = 1;
		}
	if (schema_path) {
		sbuf = slurp(schema_path, &slen);
		if (!sbuf) {
			fprintf(stderr, "clicheck: %s: %s\n", schema_path,
				strerror(errno));
			return 2;
		}
		schema = jv_parse(sbuf, slen, &perr, &at);
		if (!schema) {
			fprintf(stderr, "clicheck: %s: byte %zu: %s\n",
				schema_path, at, perr);
			return 2;
		}
		doc = jv_parse(out, olen, &perr, &at);
		if (!doc) {
			fprintf(stderr,
				"clicheck: stdout is not one JSON "
				"document: byte %zu: %s\n%.400s\n",
				at, perr, out);
			failed = 1;
		} else {
			validate(doc, schema, "$");
			if (nerrors) {
				fprintf(stderr,
					"clicheck: %d schema error%s "
					"(%s)\n",
					nerrors, nerrors == 1 ? "" : "s",
					schema_path);
				failed = 1;
			}
		}
	}
	if (!failed)
		fprintf(stderr, "clicheck: ok\n");
	return failed;
}
