// Internal to the workers.properties reader (properties.cc, the line
// reading; properties_references.cc, `reference` resolution;
// properties_store.cc, the Properties container): what they share.
#ifndef STICKY_CONFIG_PROPERTIES_READER_H
#define STICKY_CONFIG_PROPERTIES_READER_H

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "config/hash_index.h"
#include "config/properties.h"

namespace sticky {
namespace properties_reader {

// memcpy of a view, which may be empty with no data (memcpy's pointers must
// not be null even for 0 bytes).
inline char* CopyBytes(char* to, std::string_view from) {
  if (!from.empty()) std::memcpy(to, from.data(), from.size());
  return to + from.size();
}

// fgets(buf, 8192, fp) returns at most 8191 bytes: the rest of a longer line
// comes back from the next call, as if it were a line of its own.
inline constexpr size_t kFgetsBytes = 8191;
// jk_map_replace_properties gives up when `rec++ > 20`: 21 "$(" are looked at.
inline constexpr int kMaxSubstitutions = 21;
// jk_map_resolve_references: JK_MAP_RECURSION.
inline constexpr int kMaxReferenceDepth = 20;
// Only a pathological file gets near this; it stops runaway inheritance.
inline constexpr size_t kMaxEntries = 100000;
// What looking at one key for a reference costs, in bytes of the budget.
inline constexpr size_t kLookedAtBytes = 32;
// Keys and values quoted in messages: the start of a longer one is enough.
inline constexpr size_t kMaxQuoted = 200;

inline constexpr std::string_view kReference = ".reference";

// isspace() in the C locale, which mod_jk's trim() uses.
inline bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

inline std::string_view Trim(std::string_view s) {
  const char* begin = s.data();
  const char* end = begin + s.size();
  while (begin != end && IsSpace(*begin)) ++begin;
  while (end != begin && IsSpace(end[-1])) --end;
  return std::string_view(begin, static_cast<size_t>(end - begin));
}

inline bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

inline bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// Some editors start a UTF-8 file with these bytes; mod_jk reads them as
// text, so they become part of the first line's key.
inline constexpr std::string_view kUtf8ByteOrderMark = "\xEF\xBB\xBF";

// What the reader reports, one kind per message: each kind is shown
// kMaxDiagnosticsOfAKind times at most.
enum class Kind : std::uint8_t {
  kLongLine,
  kNulByte,
  kNoEquals,
  kUnknownAttribute,
  kWorkerCase,
  kKeyPrefix,
  kNoWorkerName,
  kDeprecated,
  kBackslash,
  kTooManySubstitutions,
  kUnclosedSubstitution,
  kUndefinedVariable,
  kDuplicateReplaced,
  kDuplicateJoined,
  kReferenceTooDeep,
  kReferenceMatchesNothing,
  kTooManyKeys,
  kInheritedUnsupported,
  kTooMuchBuilt,
  kCount
};

// The keys under each prefix a reference can name: jk_map_inherit_
// properties copies every key starting with "<value of the reference>.".
// The values of the keys ending in ".reference" are known once the file is
// read, and copies of such keys keep them, so the prefixes are fixed before
// the first copy: each added key is listed under the prefixes it starts
// with, found by hashing its text up to each '.' of the lengths that occur.
// No ordered index (a tree of keys compared byte by byte) is needed.
class PrefixIndex {
 public:
  // `prefix` (without its '.') may be asked for. REQUIRES: before AddKey;
  // `prefix` outlives this.
  void AddPrefix(std::string_view prefix) {
    if (FindPrefix(prefix) >= 0) return;
    index_.Add(HashText(prefix), prefixes_.size());
    prefixes_.push_back(Prefix{prefix});
    if (lengths_.size() <= prefix.size()) lengths_.resize(prefix.size() + 1);
    lengths_[prefix.size()] = true;
  }

  // Lists `key` (entry `index`) under every prefix it starts with.
  void AddKey(std::string_view key, std::uint32_t index) {
    const size_t end = std::min(key.size(), lengths_.size());
    for (size_t dot = key.find('.'); dot < end; dot = key.find('.', dot + 1)) {
      if (!lengths_[dot]) continue;
      const std::ptrdiff_t found = FindPrefix(key.substr(0, dot));
      if (found < 0) continue;
      Prefix& prefix = prefixes_[static_cast<size_t>(found)];
      const auto posting = static_cast<std::uint32_t>(postings_.size());
      postings_.push_back(Posting{index, kNone});
      if (prefix.last == kNone) prefix.first = posting;
      else postings_[prefix.last].next = posting;
      prefix.last = posting;
    }
  }

  // The keys listed under `prefix`, in the order added; false when `prefix`
  // was not added.
  bool KeysUnder(std::string_view prefix, std::vector<std::uint32_t>* keys) const {
    const std::ptrdiff_t found = FindPrefix(prefix);
    if (found < 0) return false;
    keys->clear();
    for (std::uint32_t p = prefixes_[static_cast<size_t>(found)].first; p != kNone;
         p = postings_[p].next)
      keys->push_back(postings_[p].index);
    return true;
  }

 private:
  static constexpr std::uint32_t kNone = ~std::uint32_t{0};
  struct Prefix {
    std::string_view text;
    std::uint32_t first = kNone;  // postings_, a list in the order added
    std::uint32_t last = kNone;
  };
  struct Posting {
    std::uint32_t index;  // of the entry
    std::uint32_t next;
  };

  std::ptrdiff_t FindPrefix(std::string_view text) const {
    return index_.Find(HashText(text), [this, text](size_t i) { return prefixes_[i].text == text; });
  }

  std::vector<Prefix> prefixes_;
  IndexByHash index_;          // prefixes_ by the hash of their text
  std::vector<bool> lengths_;  // lengths_[n]: a prefix is n bytes long
  std::vector<Posting> postings_;
};

class Reader {
 public:
  Reader(const std::string& file, const EnvLookup& env, std::vector<Diagnostic>* diagnostics)
      : file_(file), env_(env), diagnostics_(diagnostics) {}

  void ReadText(std::string_view text);
  void ResolveReferences();
  // One line per kind of diagnostic that had more than could be shown.
  void ReportOmitted();
  Properties Take() { return std::move(properties_); }

 private:
  // What the reader knows of an entry besides the entry itself.
  struct EntryState {
    // jk_map_resolve_references: a `.reference` key whose prefix is
    // resolved already (copying again would add nothing).
    bool resolved = false;
    // A `.reference` key copied from a reference already resolved: mod_jk
    // empties a reference once it has copied it (values[i] = NULL), so such
    // a copy holds NULL and is never resolved.
    bool spent = false;
    // Bytes of Properties::Allocate() the value owns and may grow into, for
    // a key repeated many times (its value is joined each time).
    size_t room = 0;
  };

  void ReadPiece(std::string_view piece, unsigned line, bool after_backslash,
                 bool* ends_with_backslash);
  void CheckKey(std::string_view key, unsigned line);
  std::string_view Substitute(std::string_view value, std::string_view key, unsigned line);
  void Store(std::string_view key, std::string_view value, unsigned line);
  void Join(Property* p, char separator, std::string_view value);
  void Add(const Property& property);
  // REQUIRES: `hash` is HashText(property.key).
  void Add(const Property& property, std::uint64_t hash);
  size_t IndexOf(const Property& property) const {
    return static_cast<size_t>(&property - properties_.entries().data());
  }
  bool ResolveChain(std::string_view prefix, int depth, const Property& start);
  bool Inherit(const Property& reference, std::string_view to);
  // The keys starting with `prefix` + ".", in order of definition, into
  // *found.
  void KeysUnder(std::string_view prefix, std::vector<std::uint32_t>* found);
  void IndexPrefixes();
  // True, counting one more left out, when `kind` has been shown as often as
  // it may: the caller then skips making the message.
  bool Full(Kind kind);
  // REQUIRES: !Full(kind) was just checked.
  void Report(Kind kind, Severity severity, unsigned line, std::string_view key,
              std::string message);
  // Takes `bytes` that references or substitutions add from the budget;
  // false (with one error for the whole file) when it is spent.
  bool Charge(size_t bytes, unsigned line, std::string_view key);

  const std::string& file_;
  const EnvLookup& env_;
  std::vector<Diagnostic>* diagnostics_;
  Properties properties_;
  std::vector<EntryState> states_;  // one per entry of properties_
  struct KindCount {
    size_t shown = 0;
    size_t omitted = 0;
    size_t first = 0;  // index in *diagnostics_ of the first one shown
  };
  std::array<KindCount, static_cast<size_t>(Kind::kCount)> kinds_;
  size_t file_bytes_ = 0;
  size_t budget_total_ = 0;
  size_t budget_ = 0;
  bool over_budget_ = false;
  bool too_many_keys_ = false;

  // What this reader reported, by hash of line, key and message (indexes
  // in *diagnostics_): a template that fails fails once.
  IndexByHash reported_;

  // Made when the first reference is resolved, then kept up to date.
  PrefixIndex prefixes_;
  bool prefixes_made_ = false;

  // Reused buffers: a value being substituted, the keys a reference copies.
  std::string scratch_;
  std::vector<std::uint32_t> sources_;
};

}  // namespace properties_reader
}  // namespace sticky

#endif  // STICKY_CONFIG_PROPERTIES_READER_H
