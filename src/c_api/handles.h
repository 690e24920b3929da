// The opaque handles of sticky_core.h that more than one boundary file
// needs. Internal to the core: the glue only sees the typedefs.
#ifndef STICKY_HANDLES_H
#define STICKY_HANDLES_H

#include <cstdio>
#include <string>

#include "config/model.h"
#include "c_api/sticky_core.h"

// *err = message, cut to the buffer's size.
inline void StickySetError(sticky_error_t* err, const std::string& message) {
  std::snprintf(err->message, sizeof(err->message), "%s", message.c_str());
}

// One lb worker of a loaded configuration; owned by the configuration.
struct sticky_lb_s {
  const sticky::Balancer* rep;
};

namespace sticky {
class Selector;
}

// What the status and admin boundary reads of a balancer handle (defined in
// sticky_core_balancer.cc, which owns sticky_balancer_s).
const sticky::Balancer& StickyBalancerModel(const sticky_balancer_t* b);
const sticky::Selector& StickyBalancerSelector(const sticky_balancer_t* b);
unsigned StickyBalancerMaintain(const sticky_balancer_t* b);

#endif  // STICKY_HANDLES_H
