// The project's fixed 64-bit hash: FNV-1a over bytes, then MurmurHash3's
// fmix64 finaliser. Seedless and byte-order independent, so every process
// on every host computes the same value for the same text.
#ifndef STICKY_HASH_H
#define STICKY_HASH_H

#include <cstdint>
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

}  // namespace sticky

#endif  // STICKY_HASH_H
