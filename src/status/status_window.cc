#include "status/status_window.h"

#include <cstring>

namespace sticky {

static_assert(sizeof(MemberState::sticky_window) / sizeof(MemberState::sticky_window[0]) ==
              kWindowBuckets);

void CountStickyHit(MemberState& m, std::uint64_t now_ms) noexcept {
  const std::uint64_t epoch = now_ms / kWindowBucketMs;
  if (epoch != m.sticky_window_epoch) {
    // Clear the buckets between the newest written and now: they saw nothing.
    // A clock that went back (it should not: the clock is monotonic) restarts.
    if (epoch < m.sticky_window_epoch || epoch - m.sticky_window_epoch >= kWindowBuckets) {
      ClearWindow(m);
    } else {
      for (std::uint64_t e = m.sticky_window_epoch + 1; e <= epoch; ++e)
        m.sticky_window[e % kWindowBuckets] = 0;
    }
    m.sticky_window_epoch = epoch;
  }
  std::uint32_t& bucket = m.sticky_window[epoch % kWindowBuckets];
  if (bucket != UINT32_MAX) ++bucket;
}

std::uint64_t StickyLastMinute(const MemberState& m, std::uint64_t now_ms) noexcept {
  const std::uint64_t now_epoch = now_ms / kWindowBucketMs;
  std::uint64_t sum = 0;
  for (std::uint64_t k = 0; k < kWindowBuckets && k <= m.sticky_window_epoch; ++k) {
    const std::uint64_t e = m.sticky_window_epoch - k;
    if (e > now_epoch || now_epoch - e >= kWindowBuckets) continue;  // outside the window
    sum += m.sticky_window[e % kWindowBuckets];
  }
  return sum;
}

void ClearWindow(MemberState& m) noexcept {
  std::memset(m.sticky_window, 0, sizeof(m.sticky_window));
  m.sticky_window_epoch = 0;
}

}  // namespace sticky
