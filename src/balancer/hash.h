// The project's 64-bit hashes. Fnv1a() then Fmix64() (MurmurHash3's
// finaliser) is seedless and byte-order independent, so every process on
// every host computes the same value for the same text: the failover's
// rendezvous uses it. WordHash() is faster and for what stays on one
// machine.
#ifndef STICKY_HASH_H
#define STICKY_HASH_H

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace sticky {

inline constexpr std::uint64_t kFnvOffset = 14695981039346656037ull;
inline constexpr std::uint64_t kFnvPrime = 1099511628211ull;

inline std::uint64_t Fnv1a(std::uint64_t hash, std::string_view bytes) noexcept {
  for (char c : bytes) {
    hash ^= static_cast<unsigned char>(c);
    hash *= kFnvPrime;
  }
  return hash;
}

// FNV-1a's low bits mix poorly; the finaliser spreads every input bit.
inline std::uint64_t Fmix64(std::uint64_t k) noexcept {
  k ^= k >> 33;
  k *= 0xff51afd7ed558ccdull;
  k ^= k >> 33;
  k *= 0xc4ceb9fe1a85ec53ull;
  k ^= k >> 33;
  return k;
}

// 8 and 4 bytes at p as a number, in the machine's byte order.
inline std::uint64_t Load64(const char* p) noexcept {
  std::uint64_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
inline std::uint32_t Load32(const char* p) noexcept {
  std::uint32_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

// A faster hash for what stays on one machine (the route table, the session
// sketches of the shared zone): whole words rather than FNV-1a's byte loop,
// the last word overlapping the one before, then Fmix64. It depends on the
// machine's byte order, so it is not for what other hosts must agree on.
inline std::uint64_t WordHash(std::string_view bytes) noexcept {
  const char* p = bytes.data();
  std::size_t n = bytes.size();
  std::uint64_t h = kFnvOffset ^ n;
  if (n >= 8) {
    for (; n > 8; p += 8, n -= 8) h = (h ^ Load64(p)) * kFnvPrime;
    h ^= Load64(p + n - 8);
  } else if (n >= 4) {
    h ^= (std::uint64_t{Load32(p)} << 32) | Load32(p + n - 4);
  } else if (n > 0) {
    h ^= (std::uint64_t{static_cast<unsigned char>(p[0])} << 16) |
         (std::uint64_t{static_cast<unsigned char>(p[n / 2])} << 8) |
         static_cast<unsigned char>(p[n - 1]);
  }
  return Fmix64(h * kFnvPrime);
}

}  // namespace sticky

#endif  // STICKY_HASH_H
