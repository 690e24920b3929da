#include "activity/sketch.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "balancer/hash.h"

namespace sticky {

std::uint64_t SessionHash(std::string_view session_id) noexcept {
  const std::string_view base = session_id.substr(0, session_id.find('.'));
  if (base.empty()) return 0;
  const std::uint64_t h = WordHash(base);
  return h != 0 ? h : 1;
}

void SketchClear(SessionSketch& sketch, std::uint32_t stamp) noexcept {
  sketch.stamp = stamp;
  sketch.reserved = 0;
  std::memset(sketch.registers, 0, sizeof sketch.registers);
}

void SketchAdd(SessionSketch& sketch, std::uint64_t hash) noexcept {
  const std::size_t index = static_cast<std::size_t>(hash >> (64 - kSketchIndexBits));
  // The rank: 1 + the leading zeros of the remaining bits; a guard bit
  // keeps the count finite when they are all zero.
  const std::uint64_t rest = (hash << kSketchIndexBits) | (std::uint64_t{1} << (kSketchIndexBits - 1));
  const std::uint8_t rank =
      static_cast<std::uint8_t>(std::min<int>(__builtin_clzll(rest) + 1, kSketchMaxRank));
  std::uint8_t& byte = sketch.registers[index / 2];
  const unsigned shift = (index % 2) * 4;
  const std::uint8_t old = static_cast<std::uint8_t>((byte >> shift) & 0x0f);
  if (rank > old)
    byte = static_cast<std::uint8_t>((byte & ~(0x0f << shift)) | (rank << shift));
}

SketchUnion::SketchUnion() noexcept { std::memset(rank_, 0, sizeof rank_); }

void SketchUnion::Add(const SessionSketch& sketch) noexcept {
  for (std::size_t k = 0; k < kSketchRegisters / 2; ++k) {
    const std::uint8_t byte = sketch.registers[k];
    rank_[2 * k] = std::max<std::uint8_t>(rank_[2 * k], byte & 0x0f);
    rank_[2 * k + 1] = std::max<std::uint8_t>(rank_[2 * k + 1], byte >> 4);
  }
}

std::uint64_t SketchUnion::Estimate() const noexcept {
  constexpr double m = static_cast<double>(kSketchRegisters);
  double sum = 0;
  std::size_t empty = 0;
  for (std::uint8_t r : rank_) {
    sum += std::ldexp(1.0, -static_cast<int>(r));
    if (r == 0) ++empty;
  }
  if (empty == kSketchRegisters) return 0;
  const double alpha = 0.7213 / (1 + 1.079 / m);
  double estimate = alpha * m * m / sum;
  if (estimate <= 2.5 * m && empty > 0) estimate = m * std::log(m / static_cast<double>(empty));
  return static_cast<std::uint64_t>(std::llround(estimate));
}

std::uint64_t SketchEstimate(const SessionSketch& sketch) noexcept {
  SketchUnion u;
  u.Add(sketch);
  return u.Estimate();
}

}  // namespace sticky
