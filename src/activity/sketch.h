// Distinct sessions, counted in fixed memory: a HyperLogLog sketch (Flajolet
// et al., 2007) of 2^11 registers of 4 bits, 1 KiB. Its standard error is
// 1.04 / sqrt(2048) = 2.3 %; below 2.5 × 2048 distinct ids it counts by the
// registers still empty (linear counting), which is closer still, and a
// sketch nothing was added to reads exactly 0.
//
// Sketches live in the shared zone (activity.h), one per member and minute,
// and are plain bytes: adding takes the zone lock the caller already holds,
// reading works on a copy. A union of sketches counts the ids seen by any of
// them, which is how a window of minutes is read.
#ifndef STICKY_ACTIVITY_SKETCH_H
#define STICKY_ACTIVITY_SKETCH_H

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace sticky {

inline constexpr unsigned kSketchIndexBits = 11;
inline constexpr std::size_t kSketchRegisters = std::size_t{1} << kSketchIndexBits;
// 4 bits hold ranks up to 15: a register reaches that once in 2^15 ids, so
// the cap matters only past tens of millions of sessions per minute.
inline constexpr std::uint8_t kSketchMaxRank = 15;

struct SessionSketch {
  std::uint32_t stamp;     // the minute it counts (MinuteStamp()); 0: unused
  std::uint32_t reserved;
  std::uint8_t registers[kSketchRegisters / 2];  // register 2k in the low nibble of byte k
};
static_assert(sizeof(SessionSketch) == 1032);

// The hash a session is counted by: its id up to the first '.', so that the
// same session still counts once when a failover gives it another route
// (Tomcat rewrites the jvmRoute suffix and keeps the rest). 0 for no id.
std::uint64_t SessionHash(std::string_view session_id) noexcept;

void SketchClear(SessionSketch& sketch, std::uint32_t stamp) noexcept;
// Counts the session of `hash` (SessionHash(), not 0).
void SketchAdd(SessionSketch& sketch, std::uint64_t hash) noexcept;

// The register-wise maximum of any number of sketches.
class SketchUnion {
 public:
  SketchUnion() noexcept;
  void Add(const SessionSketch& sketch) noexcept;
  // Distinct ids added to the sketches of the union, rounded; exact 0 when
  // none was.
  std::uint64_t Estimate() const noexcept;

 private:
  std::uint8_t rank_[kSketchRegisters];
};

// Estimate() of one sketch.
std::uint64_t SketchEstimate(const SessionSketch& sketch) noexcept;

}  // namespace sticky

#endif  // STICKY_ACTIVITY_SKETCH_H
