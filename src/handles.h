// The opaque handles of sticky_core.h that more than one boundary file
// needs. Internal to the core: the glue only sees the typedefs.
#ifndef STICKY_HANDLES_H
#define STICKY_HANDLES_H

#include "model.h"
#include "sticky_core.h"

// One lb worker of a loaded configuration; owned by the configuration.
struct sticky_lb_s {
  const sticky::Balancer* rep;
};

#endif  // STICKY_HANDLES_H
