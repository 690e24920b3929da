// Indexes (into a caller's array) found by a 64-bit hash: open addressing
// with linear probing, at most half full, in one allocation (a
// std::unordered_map makes one per element, which counts when a file has
// thousands of diagnostics). The caller keeps what the indexes point to and
// says, for each index of the same hash, whether it is the one looked for.
#ifndef STICKY_HASH_INDEX_H
#define STICKY_HASH_INDEX_H

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>
#include <vector>

namespace sticky {

// The hash of a text for an IndexByHash (in memory only: it need not be the
// same on every machine): its 8-byte words, each mixed in with a multiply
// and a shift, then MurmurHash3's finalizer.
inline std::uint64_t HashText(std::string_view key) {
  std::uint64_t hash = key.size();
  auto mix = [&hash](std::uint64_t word) {
    hash = (hash ^ word) * 0x9e3779b97f4a7c15ull;
    hash ^= hash >> 29;
  };
  size_t i = 0;
  for (; i + 8 <= key.size(); i += 8) {
    std::uint64_t word;
    std::memcpy(&word, key.data() + i, 8);
    mix(word);
  }
  if (i < key.size()) {
    std::uint64_t word = 0;
    std::memcpy(&word, key.data() + i, key.size() - i);
    mix(word);
  }
  hash ^= hash >> 33;
  hash *= 0xff51afd7ed558ccdull;
  hash ^= hash >> 33;
  return hash;
}

class IndexByHash {
 public:
  // Room for `expected` indexes before growing.
  explicit IndexByHash(size_t expected = 0) { Reserve(expected); }

  // Room for `expected` indexes before growing.
  void Reserve(size_t expected) {
    if (expected > 0) Resize(expected);
  }

  // The first index added with `hash` for which same(index) is true, or -1.
  template <typename Same>
  std::ptrdiff_t Find(std::uint64_t hash, Same same) const {
    if (slots_.empty()) return -1;
    const size_t mask = slots_.size() - 1;
    for (size_t i = hash & mask; slots_[i].index_plus_one != 0; i = (i + 1) & mask)
      if (slots_[i].hash == hash && same(slots_[i].index_plus_one - 1))
        return static_cast<std::ptrdiff_t>(slots_[i].index_plus_one - 1);
    return -1;
  }

  void Add(std::uint64_t hash, size_t index) {
    if (2 * (count_ + 1) > slots_.size()) Resize(count_ + 1);
    Place(Slot{hash, index + 1});
    ++count_;
  }

 private:
  struct Slot {
    std::uint64_t hash = 0;
    size_t index_plus_one = 0;  // 0: empty
  };

  void Place(const Slot& slot) {
    const size_t mask = slots_.size() - 1;
    size_t i = slot.hash & mask;
    while (slots_[i].index_plus_one != 0) i = (i + 1) & mask;
    slots_[i] = slot;
  }

  // A table at most half full with `count` indexes (a power of two: the
  // mask), the ones there placed again.
  void Resize(size_t count) {
    size_t size = 16;
    while (size < 2 * count) size *= 2;
    if (size <= slots_.size()) return;
    std::vector<Slot> old(size);
    old.swap(slots_);
    for (const Slot& slot : old)
      if (slot.index_plus_one != 0) Place(slot);
  }

  std::vector<Slot> slots_;
  size_t count_ = 0;
};

}  // namespace sticky

#endif  // STICKY_HASH_INDEX_H
