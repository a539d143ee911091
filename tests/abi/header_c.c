/* The public headers compile alone, first thing in a C file: vdpamap.h
 * here, each other header in a translation unit of its own made from
 * header_one.c.in (tests/abi/meson.build). */
#include "vdpamap.h"

int main(void)
{
	VDPAMAP_OPTS(vdpamap_open_opts, o, .flags = 0);

	return (int)(o.sz != sizeof(o));
}
