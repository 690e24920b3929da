// The Properties container: the entries in order of definition, an index
// by key, and the bytes their views point into.
#include <algorithm>
#include <array>
#include <memory>
#include <string>

#include "config/properties.h"
#include "config/properties_reader.h"

namespace sticky {

using properties_reader::CopyBytes;

// The bytes the entries' views point into: the text, then what is built
// from it, in blocks that never move.
struct Properties::Storage {
  static constexpr size_t kFirstBlock = 1024;
  static constexpr size_t kLargestBlock = size_t{1} << 20;

  std::vector<std::unique_ptr<char[]>> blocks;
  char* next = nullptr;
  size_t left = 0;
  size_t block_size = kFirstBlock;
  // Find's key when it is too long for the stack: kept, so that repeated
  // lookups of long keys (references copying them) allocate once. A file is
  // read by one thread: nginx reads configuration in its master process.
  std::string long_key;
};

Properties::Properties() : storage_(std::make_unique<Storage>()) {}
Properties::~Properties() = default;
Properties::Properties(Properties&& other) noexcept = default;
Properties& Properties::operator=(Properties&& other) noexcept = default;

const Property* Properties::Find(std::string_view key) const {
  return Find(key, HashText(key));
}

const Property* Properties::Find(std::string_view key, std::uint64_t hash) const {
  const std::ptrdiff_t found =
      index_.Find(hash, [this, key](size_t i) { return entries_[i].key == key; });
  return found < 0 ? nullptr : &entries_[static_cast<size_t>(found)];
}

const Property* Properties::Find(std::initializer_list<std::string_view> pieces) const {
  std::uint64_t hash;
  return Find(pieces, &hash);
}

const Property* Properties::Find(std::initializer_list<std::string_view> pieces,
                                 std::uint64_t* hash) const {
  // Keys are short: the pieces are put together on the stack.
  std::array<char, 256> buffer;
  size_t size = 0;
  for (std::string_view piece : pieces) size += piece.size();
  std::string_view key;
  if (size > buffer.size()) {
    std::string& long_key = storage_->long_key;
    long_key.clear();
    for (std::string_view piece : pieces) long_key.append(piece);
    key = long_key;
  } else {
    char* end = buffer.data();
    for (std::string_view piece : pieces) end = CopyBytes(end, piece);
    key = std::string_view(buffer.data(), size);
  }
  *hash = HashText(key);
  return Find(key, *hash);
}

Property* Properties::FindMutable(std::string_view key) {
  return const_cast<Property*>(Find(key));
}

void Properties::Reserve(size_t entries) {
  entries_.reserve(entries);
  index_.Reserve(entries);
}

void Properties::Add(const Property& property) { Add(property, HashText(property.key)); }

void Properties::Add(const Property& property, std::uint64_t hash) {
  index_.Add(hash, entries_.size());
  entries_.push_back(property);
}

char* Properties::Allocate(size_t size) {
  Storage& s = *storage_;
  if (size <= s.left) {
    char* bytes = s.next;
    s.next += size;
    s.left -= size;
    return bytes;
  }
  // Something as large as half a block gets a block of its own: the rest of
  // the current one stays usable.
  if (size > s.block_size / 2) {
    s.blocks.emplace_back(new char[size]);
    return s.blocks.back().get();
  }
  s.blocks.emplace_back(new char[s.block_size]);
  s.next = s.blocks.back().get() + size;
  s.left = s.block_size - size;
  s.block_size = std::min(s.block_size * 2, Storage::kLargestBlock);
  return s.blocks.back().get();
}

std::string_view Properties::Keep(std::string_view text) {
  if (text.empty()) return {};
  char* bytes = Allocate(text.size());
  CopyBytes(bytes, text);
  return {bytes, text.size()};
}

}  // namespace sticky
