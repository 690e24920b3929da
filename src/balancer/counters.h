// Arithmetic on the zone's counters: saturating (a counter stops at its
// largest value rather than wrapping to a small one), and atomic for the
// counters that the end of an attempt changes without the zone lock.
//
// Lock-free counters (MemberState::in_flight, bytes_sent, bytes_received):
// every change to them, with the lock or without, is one of the atomic
// operations below, so that a change made without the lock is never lost
// to a read-modify-write made under it. They are relaxed: each counter is
// exact on its own, and the zone lock (a full barrier) orders them with
// everything else for whoever takes it. The zone is shared memory between
// processes; lock-free 64-bit atomics work across processes.
#ifndef STICKY_BALANCER_COUNTERS_H
#define STICKY_BALANCER_COUNTERS_H

#include <algorithm>
#include <cstdint>
#include <limits>

namespace sticky {

inline constexpr std::uint64_t kMaxCount = std::numeric_limits<std::uint64_t>::max();

inline std::uint64_t SaturatingAdd(std::uint64_t a, std::uint64_t b) {
  return a > kMaxCount - b ? kMaxCount : a + b;
}

inline std::uint64_t SaturatingMul(std::uint64_t a, std::uint64_t b) {
  if (a != 0 && b > kMaxCount / a) return kMaxCount;
  return a * b;
}

static_assert(__atomic_always_lock_free(sizeof(std::uint64_t), 0),
              "the zone's counters need lock-free 64-bit atomics");

inline std::uint64_t AtomicLoad(const std::uint64_t& counter) {
  return __atomic_load_n(&counter, __ATOMIC_RELAXED);
}

inline void AtomicStore(std::uint64_t& counter, std::uint64_t value) {
  __atomic_store_n(&counter, value, __ATOMIC_RELAXED);
}

// counter + 1, returned.
inline std::uint64_t AtomicIncrement(std::uint64_t& counter) {
  return __atomic_add_fetch(&counter, 1, __ATOMIC_RELAXED);
}

// counter - min(by, counter), returned: a count never goes below zero.
inline std::uint64_t AtomicSubtractFloor(std::uint64_t& counter, std::uint64_t by) {
  std::uint64_t old = __atomic_load_n(&counter, __ATOMIC_RELAXED);
  std::uint64_t next;
  do {
    next = old - std::min(by, old);
  } while (!__atomic_compare_exchange_n(&counter, &old, next, /*weak=*/true, __ATOMIC_RELAXED,
                                        __ATOMIC_RELAXED));
  return next;
}

// counter = SaturatingAdd(counter, by).
inline void AtomicSaturatingAdd(std::uint64_t& counter, std::uint64_t by) {
  if (by == 0) return;
  std::uint64_t old = __atomic_load_n(&counter, __ATOMIC_RELAXED);
  while (!__atomic_compare_exchange_n(&counter, &old, SaturatingAdd(old, by), /*weak=*/true,
                                      __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
  }
}

}  // namespace sticky

#endif  // STICKY_BALANCER_COUNTERS_H
