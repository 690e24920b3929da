// Recent activity of a member, for the status page's drain view: when an
// operator has drained (Disabled) a member, its sticky requests of the last
// minute and its requests in flight say when its sessions have died out.
//
// The counts live in the member's zone record (MemberState, "status page"
// block): six buckets of 10 seconds in a ring, indexed by the bucket number
// (now_ms / 10000) modulo 6, and the number of the newest bucket written.
// A bucket older than the window is cleared before it is reused, so the sum
// over the buckets still inside the window is the count of the last 50 to 60
// seconds. Zone lock held for CountStickyHit(); the readers work on copies.
#ifndef STICKY_STATUS_WINDOW_H
#define STICKY_STATUS_WINDOW_H

#include <cstdint>

#include "balancer/state.h"

namespace sticky {

inline constexpr std::uint64_t kWindowBucketMs = 10000;
inline constexpr std::uint64_t kWindowBuckets = 6;  // = the size of MemberState::sticky_window

// A sticky hit on `m` at `now_ms`.
void CountStickyHit(MemberState& m, std::uint64_t now_ms) noexcept;

// Sticky hits of `m` in the last minute (the buckets still in the window).
std::uint64_t StickyLastMinute(const MemberState& m, std::uint64_t now_ms) noexcept;

// Clears the window (a reset of the member).
void ClearWindow(MemberState& m) noexcept;

}  // namespace sticky

#endif  // STICKY_STATUS_WINDOW_H
