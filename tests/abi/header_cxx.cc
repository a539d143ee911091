// The public header compiles alone in C++ and links with C linkage.
#include "vdpamap.h"

int main()
{
	struct vdpamap *h = nullptr;

	h = vdpamap_close(h);
	return h != nullptr || vdpamap_feature_name(VDPAMAP_F_IOTLB_BATCH) == nullptr;
}
