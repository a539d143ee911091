/* The public header compiles alone, first thing in a C file. */
#include "vdpamap.h"

int main(void)
{
	VDPAMAP_OPTS(vdpamap_open_opts, o, .flags = 0);

	return (int)(o.sz != sizeof(o));
}
