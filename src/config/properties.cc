#include "config/properties.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdint>
#include <cstring>
#include <optional>

#include "config/attributes.h"
#include "config/hash_index.h"
#include "config/message.h"

namespace sticky {

namespace {

// The hash of a key for Properties' table (in memory only: it need not be the
// same on every machine): its 8-byte words, each mixed in with a multiply and
// a shift, then MurmurHash3's finalizer.
std::uint32_t Hash(std::string_view key) {
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
  return static_cast<std::uint32_t>(hash);
}

// memcpy of a view, which may be empty with no data (memcpy's pointers must
// not be null even for 0 bytes).
char* CopyBytes(char* to, std::string_view from) {
  if (!from.empty()) std::memcpy(to, from.data(), from.size());
  return to + from.size();
}

size_t CountLines(std::string_view text) {
  size_t lines = 1;
  for (size_t pos = text.find('\n'); pos != std::string_view::npos; pos = text.find('\n', pos + 1))
    ++lines;
  return lines;
}

}  // namespace

// The bytes the entries' views point into: the text, then what is built
// from it, in blocks that never move.
struct Properties::Storage {
  static constexpr size_t kFirstBlock = 1024;
  static constexpr size_t kLargestBlock = size_t{1} << 20;

  std::vector<std::unique_ptr<char[]>> blocks;
  char* next = nullptr;
  size_t left = 0;
  size_t block_size = kFirstBlock;
};

Properties::Properties() : storage_(std::make_unique<Storage>()) {}
Properties::~Properties() = default;
Properties::Properties(Properties&& other) noexcept = default;
Properties& Properties::operator=(Properties&& other) noexcept = default;

const Property* Properties::Find(std::string_view key) const {
  if (slots_.empty()) return nullptr;
  const std::uint32_t hash = Hash(key);
  const size_t mask = slots_.size() - 1;
  for (size_t i = hash & mask;; i = (i + 1) & mask) {
    const Slot& slot = slots_[i];
    if (slot.entry_plus_one == 0) return nullptr;
    const Property& p = entries_[slot.entry_plus_one - 1];
    if (slot.hash == hash && p.key == key) return &p;
  }
}

const Property* Properties::Find(std::initializer_list<std::string_view> pieces) const {
  // Keys are short: the pieces are put together on the stack.
  std::array<char, 256> buffer;
  size_t size = 0;
  for (std::string_view piece : pieces) size += piece.size();
  if (size > buffer.size()) {
    std::string key;
    for (std::string_view piece : pieces) key.append(piece);
    return Find(key);
  }
  char* end = buffer.data();
  for (std::string_view piece : pieces) end = CopyBytes(end, piece);
  return Find(std::string_view(buffer.data(), size));
}

Property* Properties::FindMutable(std::string_view key) {
  return const_cast<Property*>(Find(key));
}

void Properties::Reserve(size_t entries) {
  entries_.reserve(entries);
  while (2 * entries > slots_.size()) Grow();
}

void Properties::Grow() {
  std::vector<Slot> old(std::max<size_t>(64, slots_.size() * 2));
  old.swap(slots_);
  const size_t mask = slots_.size() - 1;
  for (const Slot& slot : old) {
    if (slot.entry_plus_one == 0) continue;
    size_t i = slot.hash & mask;
    while (slots_[i].entry_plus_one != 0) i = (i + 1) & mask;
    slots_[i] = slot;
  }
}

void Properties::Add(const Property& property) {
  if ((entries_.size() + 1) * 2 > slots_.size()) Grow();
  const std::uint32_t hash = Hash(property.key);
  const size_t mask = slots_.size() - 1;
  size_t i = hash & mask;
  while (slots_[i].entry_plus_one != 0) i = (i + 1) & mask;
  entries_.push_back(property);
  slots_[i] = Slot{static_cast<std::uint32_t>(entries_.size()), hash};
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

namespace {

// fgets(buf, 8192, fp) returns at most 8191 bytes: the rest of a longer line
// comes back from the next call, as if it were a line of its own.
constexpr size_t kFgetsBytes = 8191;
// jk_map_replace_properties gives up when `rec++ > 20`: 21 "$(" are looked at.
constexpr int kMaxSubstitutions = 21;
// jk_map_resolve_references: JK_MAP_RECURSION.
constexpr int kMaxReferenceDepth = 20;
// Only a pathological file gets near this; it stops runaway inheritance.
constexpr size_t kMaxEntries = 100000;
// What looking at one key for a reference costs, in bytes of the budget.
constexpr size_t kLookedAtBytes = 32;
// Keys and values quoted in messages: the start of a longer one is enough.
constexpr size_t kMaxQuoted = 200;

constexpr std::string_view kReference = ".reference";

// isspace() in the C locale, which mod_jk's trim() uses.
bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

std::string_view Trim(std::string_view s) {
  const char* begin = s.data();
  const char* end = begin + s.size();
  while (begin != end && IsSpace(*begin)) ++begin;
  while (end != begin && IsSpace(end[-1])) --end;
  return std::string_view(begin, static_cast<size_t>(end - begin));
}

bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// A key or value in a message (message.h).

// What the reader reports, one kind per message: each kind is shown
// kMaxDiagnosticsOfAKind times at most.
// Some editors start a UTF-8 file with these bytes; mod_jk reads them as
// text, so they become part of the first line's key.
constexpr std::string_view kUtf8ByteOrderMark = "\xEF\xBB\xBF";

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
    if (2 * (prefixes_.size() + 1) > slots_.size()) Grow();
    Insert(prefixes_.size(), Hash(prefix));
    prefixes_.push_back(Prefix{prefix, Hash(prefix)});
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
    size_t hash;
    std::uint32_t first = kNone;  // postings_, a list in the order added
    std::uint32_t last = kNone;
  };
  struct Posting {
    std::uint32_t index;  // of the entry
    std::uint32_t next;
  };

  static size_t Hash(std::string_view text) { return std::hash<std::string_view>()(text); }

  std::ptrdiff_t FindPrefix(std::string_view text) const {
    if (slots_.empty()) return -1;
    const size_t hash = Hash(text);
    const size_t mask = slots_.size() - 1;
    for (size_t i = hash & mask; slots_[i] != 0; i = (i + 1) & mask) {
      const Prefix& prefix = prefixes_[slots_[i] - 1];
      if (prefix.hash == hash && prefix.text == text) return static_cast<std::ptrdiff_t>(slots_[i] - 1);
    }
    return -1;
  }

  void Insert(size_t prefix, size_t hash) {
    const size_t mask = slots_.size() - 1;
    size_t i = hash & mask;
    while (slots_[i] != 0) i = (i + 1) & mask;
    slots_[i] = static_cast<std::uint32_t>(prefix + 1);
  }

  void Grow() {
    slots_.assign(std::max<size_t>(16, 2 * slots_.size()), 0);
    for (size_t i = 0; i < prefixes_.size(); ++i) Insert(i, prefixes_[i].hash);
  }

  std::vector<Prefix> prefixes_;
  std::vector<std::uint32_t> slots_;  // open addressing over prefixes_: index + 1, 0 empty
  std::vector<bool> lengths_;         // lengths_[n]: a prefix is n bytes long
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

bool Reader::Full(Kind kind) {
  KindCount& k = kinds_[static_cast<size_t>(kind)];
  if (k.shown < kMaxDiagnosticsOfAKind) return false;
  ++k.omitted;
  return true;
}

void Reader::Report(Kind kind, Severity severity, unsigned line, std::string_view key,
                    std::string message) {
  const size_t hash = std::hash<std::string_view>()(key) * 31 +
                      std::hash<std::string_view>()(message) * 7 + line;
  auto same = [&](size_t index) {
    const Diagnostic& d = (*diagnostics_)[index];
    return d.where.line == line && d.key == key && d.message == message;
  };
  if (reported_.Find(hash, same) >= 0) return;
  reported_.Add(hash, diagnostics_->size());
  KindCount& k = kinds_[static_cast<size_t>(kind)];
  if (k.shown++ == 0) k.first = diagnostics_->size();
  diagnostics_->push_back(
      Diagnostic{severity, SourceLocation{file_, line}, std::string(key), std::move(message)});
}

void Reader::ReportOmitted() {
  for (const KindCount& k : kinds_)
    if (k.omitted > 0)  // then some were shown
      diagnostics_->push_back(OmittedDiagnostic((*diagnostics_)[k.first], k.omitted));
}

bool Reader::Charge(size_t bytes, unsigned line, std::string_view key) {
  if (!over_budget_ && bytes <= budget_) {
    budget_ -= bytes;
    return true;
  }
  if (!over_budget_ && !Full(Kind::kTooMuchBuilt))
    Report(Kind::kTooMuchBuilt, Severity::kError, line, key,
           Message({"references and \"$(...)\" substitutions build more than ", budget_total_,
                    " bytes of keys and values from the ", file_bytes_,
                    " bytes of the file (the limit is ", kBuiltBytesBase >> 10, " KiB + ",
                    kBuiltBytesPerByte, " times the file's size, at most ",
                    kMaxBuiltBytes >> 20, " MiB), at ", Quoted(key, kMaxQuoted), ": is there a loop?"}));
  over_budget_ = true;
  return false;
}

void Reader::ReadText(std::string_view text) {
  file_bytes_ = text.size();
  budget_ = budget_total_ = BuiltBytesBudget(text.size());
  text = properties_.Keep(text);  // keys and values are views of it
  // A key per line at most, and "k=v\n" is 4 bytes: room for that many.
  const size_t most = std::min(CountLines(text), text.size() / 4 + 1);
  properties_.Reserve(most);
  states_.reserve(most);
  unsigned line = 0;
  bool previous_ends_with_backslash = false;
  size_t pos = 0;
  while (pos < text.size()) {
    ++line;
    size_t newline = text.find('\n', pos);
    size_t end = newline == std::string_view::npos ? text.size() : newline + 1;
    std::string_view physical = text.substr(pos, end - pos);
    pos = end;

    std::string_view content = physical;
    if (EndsWith(content, "\n")) content.remove_suffix(1);
    if (EndsWith(content, "\r")) content.remove_suffix(1);
    if (content.size() > kFgetsBytes && !Full(Kind::kLongLine))
      Report(Kind::kLongLine, Severity::kWarning, line, "",
             "line is longer than 8191 bytes: mod_jk reads every 8191 bytes of it "
             "as a line of its own");
    if (content.find('\0') != std::string_view::npos && !Full(Kind::kNulByte))
      Report(Kind::kNulByte, Severity::kWarning, line, "",
             "line contains a NUL byte: mod_jk ignores what follows it");

    bool ends_with_backslash = false;
    for (size_t offset = 0; offset < physical.size(); offset += kFgetsBytes)
      ReadPiece(physical.substr(offset, kFgetsBytes), line, previous_ends_with_backslash,
                &ends_with_backslash);
    previous_ends_with_backslash = ends_with_backslash;
  }
}

// One fgets() buffer: jk_map_read_properties + jk_map_read_property.
void Reader::ReadPiece(std::string_view piece, unsigned line, bool after_backslash,
                       bool* ends_with_backslash) {
  piece = piece.substr(0, piece.find('\0'));  // C strings end there
  piece = piece.substr(0, piece.find('#'));
  piece = Trim(piece);
  if (piece.empty()) return;

  size_t equals = piece.find('=');
  if (equals == std::string_view::npos) {
    if (Full(Kind::kNoEquals)) return;
    Report(Kind::kNoEquals, Severity::kWarning, line, "",
           after_backslash ? "line without \"=\" is ignored: the line before ends with \"\\\", "
                             "but workers.properties has no line continuation"
           : piece == kUtf8ByteOrderMark
               ? "line without \"=\" is ignored: it starts with a UTF-8 byte order mark, "
                 "which mod_jk reads as text (here harmless)"
               : "line without \"=\" is ignored");
    return;
  }
  std::string_view key = Trim(piece.substr(0, equals));
  std::string_view value = Trim(piece.substr(equals + 1));
  if (key.empty() || value.empty()) return;  // mod_jk skips it, unchecked
  *ends_with_backslash = EndsWith(value, "\\");

  if (!IsValidKey(key)) {
    if (Full(Kind::kUnknownAttribute)) return;
    std::string_view attribute = SplitWorkerKey(key)->attribute;
    std::string_view closest = ClosestAttribute(attribute);
    Report(Kind::kUnknownAttribute, Severity::kError, line, key,
           closest.empty()
               ? Message({"unknown attribute ", Quoted(attribute, kMaxQuoted), " in ", Quoted(key, kMaxQuoted)})
               : Message({"unknown attribute ", Quoted(attribute, kMaxQuoted), " in ", Quoted(key, kMaxQuoted),
                          ", did you mean ", Quoted(closest, kMaxQuoted), "?"}));
    return;
  }
  CheckKey(key, line);
  if (*ends_with_backslash && StartsWith(key, "worker.") && !Full(Kind::kBackslash))
    Report(Kind::kBackslash, Severity::kWarning, line, key,
           Message({"value of ", Quoted(key, kMaxQuoted),
                    " ends with \"\\\": workers.properties has no line continuation, mod_jk "
                    "keeps the \"\\\" in the value"}));
  Store(key, Substitute(value, key, line), line);
}

// Warnings about keys that mod_jk accepts without a word.
void Reader::CheckKey(std::string_view key, unsigned line) {
  std::optional<WorkerKey> worker_key = SplitWorkerKey(key);
  if (!worker_key) {
    // Text before "worker." (a byte order mark, a ';' meant as a comment, a
    // pasted prompt) makes the key a variable that nothing reads.
    const size_t worker_at = key.find("worker.");
    if (worker_at != std::string_view::npos && worker_at > 0 &&
        SplitWorkerKey(key.substr(worker_at)) && !Full(Kind::kKeyPrefix)) {
      const std::string_view prefix = key.substr(0, worker_at);
      const std::string_view meant = key.substr(worker_at);
      Report(Kind::kKeyPrefix, Severity::kWarning, line, key,
             StartsWith(prefix, kUtf8ByteOrderMark)
                 ? Message({Quoted(meant, kMaxQuoted),
                            " follows a UTF-8 byte order mark, so mod_jk reads the mark as "
                            "part of the key and ignores the line: save the file without it"})
                 : Message({Quoted(key, kMaxQuoted), " does not start with \"worker.\", so mod_jk reads it "
                            "as a variable and ignores it",
                            prefix.front() == ';' ? " (comments start with \"#\")" : ""}));
      return;
    }
    if (key.size() < 7 || !std::equal(key.begin(), key.begin() + 7, "worker.",
                                      [](char a, char b) {
                                        return std::tolower(static_cast<unsigned char>(a)) == b;
                                      }))
      return;
    if (!Full(Kind::kWorkerCase))
      Report(Kind::kWorkerCase, Severity::kWarning, line, key,
             Message({Quoted(key, kMaxQuoted),
                      " does not start with \"worker.\" (keys are case-sensitive), so mod_jk "
                      "reads it as a variable: did you mean ",
                      Quoted("worker." + std::string(key.substr(7)), kMaxQuoted), "?"}));
    return;
  }
  const std::string_view attribute = worker_key->attribute;
  if (worker_key->worker.empty() && attribute != "list" && attribute != "maintain" &&
      !Full(Kind::kNoWorkerName))
    Report(Kind::kNoWorkerName, Severity::kWarning, line, key,
           Message({Quoted(key, kMaxQuoted), " names no worker (expected \"worker.NAME.", attribute,
                    "\"), mod_jk ignores it"}));
  if (IsDeprecatedAttribute(attribute) && !Full(Kind::kDeprecated)) {
    std::string_view replacement = DeprecatedReplacement(attribute);
    Report(Kind::kDeprecated, Severity::kWarning, line, key,
           replacement.empty()
               ? Message({"attribute ", Quoted(attribute, kMaxQuoted), " in ", Quoted(key, kMaxQuoted),
                          " is deprecated and has no effect"})
               : Message({"attribute ", Quoted(attribute, kMaxQuoted), " in ", Quoted(key, kMaxQuoted),
                          " is deprecated, use ", Quoted(replacement, kMaxQuoted)}));
  }
}

// $(name) -> the value of an earlier key, else of the environment. The text
// put in is not scanned again; an unknown name stays as it is. A value
// without "$(" is returned as it is, else what it becomes is kept in
// properties_.
std::string_view Reader::Substitute(std::string_view value, std::string_view key,
                                    unsigned line) {
  if (value.find("$(") == std::string_view::npos) return value;
  std::string& result = scratch_;
  result.assign(value);
  size_t start = 0;
  for (int seen = 0;; ++seen) {
    size_t open = result.find("$(", start);
    if (open == std::string::npos) break;
    if (seen == kMaxSubstitutions) {
      if (!Full(Kind::kTooManySubstitutions))
        Report(Kind::kTooManySubstitutions, Severity::kWarning, line, key,
               Message({"more than 21 \"$(\" in the value of ", Quoted(key, kMaxQuoted),
                        ": mod_jk leaves the rest as it is"}));
      break;
    }
    size_t close = result.find(')', open);
    if (close == std::string::npos) {
      if (!Full(Kind::kUnclosedSubstitution))
        Report(Kind::kUnclosedSubstitution, Severity::kWarning, line, key,
               Message({"\"$(\" without \")\" in the value of ", Quoted(key, kMaxQuoted), ", kept as it is"}));
      break;
    }
    std::string name = result.substr(open + 2, close - open - 2);
    std::optional<std::string> from_env;
    std::string_view replacement;
    if (const Property* p = properties_.Find(name)) {
      replacement = p->value;
    } else if (env_ && (from_env = env_(name))) {
      replacement = *from_env;
    } else {
      if (!Full(Kind::kUndefinedVariable))
        Report(Kind::kUndefinedVariable, Severity::kWarning, line, key,
               Message({Quoted("$(" + name + ")", kMaxQuoted), " in the value of ", Quoted(key, kMaxQuoted),
                        " is not defined before this line nor in the environment, mod_jk "
                        "keeps it as it is"}));
      start = close;
      continue;
    }
    if (!Charge(replacement.size(), line, key)) break;
    result.replace(open, close + 1 - open, replacement);
    start = open + replacement.size();
  }
  return properties_.Keep(result);
}

void Reader::Add(const Property& property) {
  properties_.Add(property);
  states_.emplace_back();
  if (prefixes_made_)
    prefixes_.AddKey(property.key, static_cast<std::uint32_t>(states_.size() - 1));
}

void Reader::Store(std::string_view key, std::string_view value, unsigned line) {
  Property* old = properties_.FindMutable(key);
  if (old == nullptr) {
    Add(Property{key, value, line, {}});
    return;
  }
  DuplicateRule rule = DuplicateRuleFor(key);
  if (rule == DuplicateRule::kReplace) {
    if (!Full(Kind::kDuplicateReplaced))
      Report(Kind::kDuplicateReplaced, Severity::kWarning, line, key,
             Message({"duplicate ", Quoted(key, kMaxQuoted), ": the value ", Quoted(old->value, kMaxQuoted), " of line ",
                      old->line, " is replaced by ", Quoted(value, kMaxQuoted)}));
    old->value = value;
    states_[IndexOf(*old)].room = 0;
  } else {
    Join(old, JoinSeparator(rule), value);
    if (rule != DuplicateRule::kJoinList && !Full(Kind::kDuplicateJoined)) {
      Report(Kind::kDuplicateJoined, Severity::kWarning, line, key,
             Message({"duplicate ", Quoted(key, kMaxQuoted), " (first set on line ", old->line,
                      "): mod_jk does not replace the value, it joins both into ",
                      Quoted(old->value, kMaxQuoted),
                      EndsWith(key, ".balanced_workers")
                          ? ", a single member name: use \"balance_workers\", which can be "
                            "repeated"
                          : ""}));
    }
  }
  old->line = line;
}

// old value + separator + value, grown in place when it owns the room (a
// key repeated n times costs in proportion to its final value, not n times).
void Reader::Join(Property* p, char separator, std::string_view value) {
  EntryState& state = states_[IndexOf(*p)];
  const size_t size = p->value.size() + 1 + value.size();
  char* bytes;
  if (size <= state.room) {
    bytes = const_cast<char*>(p->value.data());  // from Properties::Allocate(), p's own
  } else {
    state.room = 2 * size;
    bytes = properties_.Allocate(state.room);
    CopyBytes(bytes, p->value);
  }
  bytes[p->value.size()] = separator;
  CopyBytes(bytes + p->value.size() + 1, value);
  p->value = std::string_view(bytes, size);
}

// jk_map_resolve_references, run once after the whole file is read: for
// every key worker.X.reference (in map order, keys added on the way
// included), resolve the referenced prefix first, then copy from it.
void Reader::ResolveReferences() {
  for (size_t i = 0; i < properties_.entries().size(); ++i) {
    if (over_budget_ || too_many_keys_) return;  // the file is refused anyway
    const Property start = properties_.entries()[i];  // entries() grows while resolving
    if (!StartsWith(start.key, "worker.") || !EndsWith(start.key, kReference)) continue;
    if (states_[i].spent) continue;
    ResolveChain(start.key.substr(0, start.key.size() - kReference.size()), 1, start);
  }
}

// Makes `prefix`.* complete: first what `prefix`.reference points to, then
// the copy. `depth` counts like mod_jk's: its limit allows 19 hops.
bool Reader::ResolveChain(std::string_view prefix, int depth, const Property& start) {
  if (depth > kMaxReferenceDepth) {
    if (!Full(Kind::kReferenceTooDeep))
      Report(Kind::kReferenceTooDeep, Severity::kError, start.line, start.key,
             Message({"references starting at ", Quoted(start.key, kMaxQuoted),
                      " nest more than 20 levels deep (mod_jk's limit): is there a loop?"}));
    return false;
  }
  const Property* found = properties_.Find({prefix, kReference});
  if (found == nullptr) return true;
  const size_t index = IndexOf(*found);
  // Resolved: copying again would add nothing.
  if (states_[index].resolved || states_[index].spent) return true;
  const Property reference = *found;
  if (!ResolveChain(reference.value, depth + 1, start)) return false;
  if (!Inherit(reference, prefix)) return false;
  states_[index].resolved = true;
  return true;
}

// The prefixes are the values of the keys ending in ".reference" (the keys
// a reference copies), and "worker." + each (for "did you mean").
void Reader::IndexPrefixes() {
  if (prefixes_made_) return;
  const std::vector<Property>& entries = properties_.entries();
  for (const Property& p : entries) {
    if (!EndsWith(p.key, kReference)) continue;
    prefixes_.AddPrefix(p.value);
    if (!StartsWith(p.value, "worker."))
      prefixes_.AddPrefix(properties_.Keep(Message({"worker.", p.value})));
  }
  for (size_t i = 0; i < entries.size(); ++i)
    prefixes_.AddKey(entries[i].key, static_cast<std::uint32_t>(i));
  prefixes_made_ = true;
}

void Reader::KeysUnder(std::string_view prefix, std::vector<std::uint32_t>* found) {
  IndexPrefixes();
  if (prefixes_.KeysUnder(prefix, found)) return;
  // Not a prefix of the index (the index has every prefix references ask
  // for): looked for in every key.
  found->clear();
  const std::vector<Property>& entries = properties_.entries();
  for (size_t i = 0; i < entries.size(); ++i)
    if (entries[i].key.size() > prefix.size() && StartsWith(entries[i].key, prefix) &&
        entries[i].key[prefix.size()] == '.')
      found->push_back(static_cast<std::uint32_t>(i));
}

// jk_map_inherit_properties: copies `reference.value`.* to `to`.*, keeping
// what `to` already has.
bool Reader::Inherit(const Property& reference, std::string_view to) {
  std::vector<std::uint32_t>& sources = sources_;
  KeysUnder(reference.value, &sources);
  if (sources.empty()) {
    if (Full(Kind::kReferenceMatchesNothing)) return false;
    std::string message = Message({"reference ", Quoted(reference.value, kMaxQuoted), " in ",
                                   Quoted(reference.key, kMaxQuoted), " matches no key (\"",
                                   reference.value, ".*\")"});
    if (EndsWith(reference.value, ".")) {
      message += ": write the prefix without the trailing \".\"";
    } else if (!StartsWith(reference.value, "worker.")) {
      const std::string with_worker = Message({"worker.", reference.value});
      KeysUnder(with_worker, &sources);
      if (!sources.empty()) message += Message({", did you mean ", Quoted(with_worker, kMaxQuoted), "?"});
    }
    Report(Kind::kReferenceMatchesNothing, Severity::kError, reference.line, reference.key,
           std::move(message));
    return false;
  }
  // Every key looked at counts, copied or not: a reference to a prefix that
  // most keys share, resolved again and again, is work even when few keys
  // are new.
  if (!Charge(sources.size() * kLookedAtBytes, reference.line, reference.key)) return false;
  const size_t from_size = reference.value.size() + 1;  // with its '.'
  for (std::uint32_t index : sources) {
    // properties_ grows below: a copy of the source (its views stay valid).
    const Property source = properties_.entries()[index];
    // Worker "a.b" referencing worker.a must not copy worker.a.b.* into
    // worker.a.b.b.*: mod_jk does, and then copies its copies forever.
    if (source.key.size() > to.size() && StartsWith(source.key, to) &&
        source.key[to.size()] == '.')
      continue;
    const std::string_view rest = source.key.substr(from_size);
    if (properties_.Find({to, ".", rest}) != nullptr) continue;
    if (properties_.entries().size() >= kMaxEntries) {
      if (!Full(Kind::kTooManyKeys))
        Report(Kind::kTooManyKeys, Severity::kError, reference.line, reference.key,
               Message({"references in ", Quoted(reference.key, kMaxQuoted), " create too many keys"}));
      too_many_keys_ = true;
      return false;
    }
    const size_t key_size = to.size() + 1 + rest.size();
    if (!Charge(key_size + source.value.size(), reference.line, reference.key)) return false;
    char* bytes = properties_.Allocate(key_size);
    *CopyBytes(bytes, to) = '.';
    CopyBytes(bytes + to.size() + 1, rest);
    const std::string_view key(bytes, key_size);
    if (!IsValidKey(key) && !Full(Kind::kInheritedUnsupported))
      Report(Kind::kInheritedUnsupported, Severity::kWarning, source.line, key,
             Message({Quoted(key, kMaxQuoted), " inherited from ", Quoted(source.key, kMaxQuoted),
                      " is not a supported attribute, mod_jk ignores it"}));
    std::string_view origin = source.inherited_from.empty() ? source.key : source.inherited_from;
    // A copy of a reference already resolved is spent, as in mod_jk (whose
    // copy holds NULL by then). Resolving it would copy the reference it came
    // from once more, one level deeper each time, until memory runs out
    // (found by fuzzing: t/unit/fuzz_regression_test.cc).
    const bool spent = EndsWith(source.key, kReference) &&
                       (states_[index].spent || states_[index].resolved);
    // The value is the source's: it no longer changes once the file is read.
    Add(Property{key, source.value, source.line, origin});
    states_.back().spent = spent;
  }
  return true;
}

}  // namespace

size_t BuiltBytesBudget(size_t file_bytes) {
  if (file_bytes >= (kMaxBuiltBytes - kBuiltBytesBase) / kBuiltBytesPerByte) return kMaxBuiltBytes;
  return kBuiltBytesBase + kBuiltBytesPerByte * file_bytes;
}

bool CheckFileSize(std::string_view text, const std::string& file,
                   std::vector<Diagnostic>* diagnostics) {
  if (text.size() <= kMaxFileBytes) return true;
  diagnostics->push_back(Diagnostic{
      Severity::kError, SourceLocation{file, 0}, "",
      "the file is " + std::to_string(text.size()) + " bytes, over the limit of " +
          std::to_string(kMaxFileBytes >> 20) + " MiB (" + std::to_string(kMaxFileBytes) +
          " bytes) for a workers file: it is not read"});
  return false;
}

Diagnostic OmittedDiagnostic(const Diagnostic& first, size_t count) {
  const char* what = first.severity == Severity::kError     ? "errors"
                     : first.severity == Severity::kWarning ? "warnings"
                                                            : "notices";
  std::string message = std::to_string(count) + " more " + what + " like ";
  if (first.where.line > 0) {
    message += "the one on line " + std::to_string(first.where.line);
  } else {
    message += "\"";
    message.append(first.message, 0, 80);
    message += first.message.size() > 80 ? "...\"" : "\"";
  }
  message += " are not shown (at most " + std::to_string(kMaxDiagnosticsOfAKind) +
             " of each kind are)";
  return Diagnostic{first.severity, SourceLocation{first.where.file, 0}, "", std::move(message)};
}

Properties ReadProperties(std::string_view text, const std::string& file,
                          const EnvLookup& env, std::vector<Diagnostic>* diagnostics) {
  if (!CheckFileSize(text, file, diagnostics)) return Properties();
  Reader reader(file, env, diagnostics);
  reader.ReadText(text);
  reader.ResolveReferences();
  reader.ReportOmitted();
  return reader.Take();
}

}  // namespace sticky
