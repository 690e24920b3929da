// The syntax layer of workers.properties: text -> the key/value map mod_jk
// builds from it (jk_map.c), with a diagnostic for everything mod_jk rejects
// and for what it silently does that would surprise a user.
//
// Reproduced from mod_jk 1.2.48, in order:
//  - lines are read with fgets() into an 8192-byte buffer: a longer line is
//    cut every 8191 bytes and each piece is read as a line of its own;
//  - everything from the first '#' is a comment; the line is trimmed; a line
//    without '=' is ignored; key and value are the trimmed text around the
//    first '='; an empty key or value ignores the line;
//  - "worker." keys must end in a supported attribute (else an error);
//  - $(name) in the value is replaced by the value of an earlier key, else
//    by the environment; unknown names stay as they are;
//  - a repeated key is merged (see DuplicateRule);
//  - after the whole text, worker.X.reference=worker.T copies worker.T.*
//    to worker.X.* where X has no value of its own, nesting up to 20 levels.
// mod_jk stops at the first error; this reader goes on, so that one run
// reports every problem, within limits that keep its time and memory in
// proportion to the file: at most kMaxFileBytes of text, at most
// kMaxDiagnosticsOfAKind diagnostics of each kind (then one line counting
// the rest), and a budget for what references and $(name) add to the file.
#ifndef STICKY_PROPERTIES_H
#define STICKY_PROPERTIES_H

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "config/hash_index.h"
#include "config/model.h"

namespace sticky {

// One key with its final value. The views point into the Properties that
// holds the key (its copy of the text, or what references, substitutions
// and repeated keys built) and live as long as it does.
struct Property {
  std::string_view key;
  std::string_view value;
  unsigned line = 0;                // the line that set or last extended the value
  std::string_view inherited_from;  // set for keys copied by `reference`: the key copied
};

// The map, in order of first definition (as mod_jk keeps it). A Properties
// is read once, by one thread; moving it keeps the views of its entries.
class Properties {
 public:
  Properties();
  ~Properties();
  Properties(Properties&& other) noexcept;
  Properties& operator=(Properties&& other) noexcept;

  const Property* Find(std::string_view key) const;
  // The key that is `pieces` one after the other ({"worker.", name, ".port"}),
  // found without making it.
  const Property* Find(std::initializer_list<std::string_view> pieces) const;
  // The same, and *hash is the key's hash, for Add(): a key looked for and
  // then added is hashed once.
  const Property* Find(std::initializer_list<std::string_view> pieces, std::uint64_t* hash) const;
  const std::vector<Property>& entries() const { return entries_; }

  // For the reader.
  // Room for `entries` entries (an estimate: more can be added).
  void Reserve(size_t entries);
  Property* FindMutable(std::string_view key);
  // REQUIRES: no entry has `property.key`; its views point into this
  // Properties (Keep, Allocate) or into something that outlives it.
  void Add(const Property& property);
  // REQUIRES: as Add(property); `hash` is HashText(property.key).
  void Add(const Property& property, std::uint64_t hash);
  // A copy of `text` that lives as long as this Properties.
  std::string_view Keep(std::string_view text);
  // `size` bytes that live as long as this Properties.
  char* Allocate(size_t size);

 private:
  struct Storage;

  const Property* Find(std::string_view key, std::uint64_t hash) const;

  std::vector<Property> entries_;
  // entries_ by the hash of their key: a lookup hashes the key once and
  // compares one key, and adding a key allocates nothing but the table's
  // growth.
  IndexByHash index_;
  std::unique_ptr<Storage> storage_;  // on the heap: the views survive moves
};

// A workers file larger than this is refused (mod_jk reads any size; no
// real one comes near it).
inline constexpr size_t kMaxFileBytes = size_t{16} << 20;

// Diagnostics of one kind shown per file; the rest are counted in one line
// (OmittedDiagnostic).
inline constexpr size_t kMaxDiagnosticsOfAKind = 100;

// What references and $(name) substitutions may add to the keys and values
// of a file of `file_bytes` bytes: kBuiltBytesBase + kBuiltBytesPerByte x
// its size, at most kMaxBuiltBytes (a loop or an exponential chain of
// substitutions would otherwise take any time and memory). A key copied by
// a reference counts its key and value, and every key a reference looks at
// 32 bytes more.
//
// What real files build: mod_jk's example files at most 2.3 times their
// size, a 1,000-worker file with a 4-key template 1.2 times. A template
// makes the most of it when its workers have nothing of their own: each
// "worker.N.reference=worker.T" line (with its balance_workers line, some 64
// bytes) then builds about 70 bytes per key of the template, so the file
// builds about as many times its size as the template has keys: 10 times
// for 10 keys, 28 times for 30 (t/unit/config_limits_test.cc, 2,000 such
// workers). A worker with its own host or port line builds a third less.
// A template with every attribute mod_jk reads for an AJP worker (about 40)
// and workers with a host of their own build 26 to 28 times their size.
// Hence 32 times, plus 16 KiB so that a small file never comes near it.
inline constexpr size_t kBuiltBytesBase = size_t{16} << 10;
inline constexpr size_t kBuiltBytesPerByte = 32;
inline constexpr size_t kMaxBuiltBytes = size_t{256} << 20;
size_t BuiltBytesBudget(size_t file_bytes);

// False, with one error in *diagnostics naming `file` and the limit, when
// `text` is over kMaxFileBytes.
bool CheckFileSize(std::string_view text, const std::string& file,
                   std::vector<Diagnostic>* diagnostics);

// The line that stands for `count` diagnostics left out, of the same kind
// and severity as `first` (the first one shown).
Diagnostic OmittedDiagnostic(const Diagnostic& first, size_t count);

// Reads `text` (the content of `file`) and appends every problem found to
// *diagnostics. Never throws on bad input.
Properties ReadProperties(std::string_view text, const std::string& file,
                          const EnvLookup& env, std::vector<Diagnostic>* diagnostics);

}  // namespace sticky

#endif  // STICKY_PROPERTIES_H
