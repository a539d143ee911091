// The public headers compile alone in C++ and link with C linkage:
// vdpamap.h here, each other header in a translation unit of its own made
// from header_one.c.in (tests/abi/meson.build).
#include "vdpamap.h"

int main()
{
	struct vdpamap *h = nullptr;

	h = vdpamap_close(h);
	return h != nullptr ||
	       vdpamap_feature_name(VDPAMAP_F_IOTLB_BATCH) == nullptr;
}
