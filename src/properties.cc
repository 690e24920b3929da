#include "properties.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdint>
#include <optional>
#include <set>
#include <unordered_map>

#include "attributes.h"

namespace sticky {

const Property* Properties::Find(std::string_view key) const {
  auto it = index_.find(key);
  return it == index_.end() ? nullptr : &entries_[it->second];
}

Property* Properties::FindMutable(std::string_view key) {
  auto it = index_.find(key);
  return it == index_.end() ? nullptr : &entries_[it->second];
}

void Properties::Add(Property property) {
  index_.emplace(property.key, entries_.size());
  entries_.push_back(std::move(property));
}

std::vector<size_t> Properties::WithPrefix(std::string_view prefix) const {
  std::vector<size_t> found;
  for (auto it = index_.lower_bound(prefix);
       it != index_.end() && it->first.compare(0, prefix.size(), prefix) == 0; ++it)
    found.push_back(it->second);
  std::sort(found.begin(), found.end());  // map order = order of definition
  return found;
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
// The longest supported attribute, "connection_acquire_timeout": "did you
// mean" suggests names at most 2 edits away, so a longer unknown attribute
// gets no suggestion, and the edit distances need not be computed (they
// cost its length times every name's).
constexpr size_t kLongestAttribute = 26;
constexpr size_t kMaxSuggestionEdits = 2;
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
  while (!s.empty() && IsSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsSpace(s.back())) s.remove_suffix(1);
  return s;
}

bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

std::string Quote(std::string_view s) {
  if (s.size() > kMaxQuoted) return "\"" + std::string(s.substr(0, kMaxQuoted)) + "...\"";
  return "\"" + std::string(s) + "\"";
}

// What the reader reports, one kind per message: each kind is shown
// kMaxDiagnosticsOfAKind times at most.
enum class Kind : std::uint8_t {
  kLongLine,
  kNulByte,
  kNoEquals,
  kUnknownAttribute,
  kWorkerCase,
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
  void ReadPiece(std::string_view piece, unsigned line, bool after_backslash,
                 bool* ends_with_backslash);
  void CheckKey(std::string_view key, const SourceLocation& where);
  std::string Substitute(std::string_view value, const std::string& key,
                         const SourceLocation& where);
  void Store(const std::string& key, const std::string& value, const SourceLocation& where);
  bool ResolveChain(const std::string& prefix, int depth, const Property& start);
  bool Inherit(const Property& reference, const std::string& to);
  void Report(Kind kind, Severity severity, const SourceLocation& where, std::string_view key,
              std::string message);
  // True, counting one more left out, when `kind` has been shown as often as
  // it may: the caller then skips making the message.
  bool Full(Kind kind);
  // Takes `bytes` that references or substitutions add from the budget;
  // false (with one error for the whole file) when it is spent.
  bool Charge(size_t bytes, const SourceLocation& where, std::string_view key);

  const std::string& file_;
  const EnvLookup& env_;
  std::vector<Diagnostic>* diagnostics_;
  Properties properties_;
  struct KindCount {
    size_t shown = 0;
    size_t omitted = 0;
    std::optional<Diagnostic> first;
  };
  std::array<KindCount, static_cast<size_t>(Kind::kCount)> kinds_;
  size_t file_bytes_ = 0;
  size_t budget_total_ = 0;
  size_t budget_ = 0;
  bool over_budget_ = false;
  bool too_many_keys_ = false;

  // What this reader reported, as (hash of line, key and message, index in
  // *diagnostics_): a template that fails fails once. At most
  // kMaxDiagnosticsOfAKind per kind, so a plain list.
  std::vector<std::pair<size_t, size_t>> reported_;
  // Prefixes whose references are already copied in.
  std::set<std::string> resolved_;
  // `.reference` keys copied from a reference already resolved: mod_jk
  // empties a reference once it has copied it (values[i] = NULL), so such a
  // copy holds NULL and is never resolved.
  std::set<std::string> spent_;
};

void Reader::Report(Kind kind, Severity severity, const SourceLocation& where,
                    std::string_view key, std::string message) {
  if (Full(kind)) return;
  const size_t hash = std::hash<std::string_view>()(key) * 31 +
                      std::hash<std::string_view>()(message) * 7 + where.line;
  for (const auto& [h, index] : reported_) {
    const Diagnostic& d = (*diagnostics_)[index];
    if (h == hash && d.where.line == where.line && d.key == key && d.message == message) return;
  }
  reported_.emplace_back(hash, diagnostics_->size());
  KindCount& k = kinds_[static_cast<size_t>(kind)];
  ++k.shown;
  diagnostics_->push_back(Diagnostic{severity, where, std::string(key), std::move(message)});
  if (!k.first) k.first = diagnostics_->back();
}

bool Reader::Full(Kind kind) {
  KindCount& k = kinds_[static_cast<size_t>(kind)];
  if (k.shown < kMaxDiagnosticsOfAKind) return false;
  ++k.omitted;
  return true;
}

void Reader::ReportOmitted() {
  for (const KindCount& k : kinds_)
    if (k.omitted > 0 && k.first) diagnostics_->push_back(OmittedDiagnostic(*k.first, k.omitted));
}

bool Reader::Charge(size_t bytes, const SourceLocation& where, std::string_view key) {
  if (!over_budget_ && bytes <= budget_) {
    budget_ -= bytes;
    return true;
  }
  if (!over_budget_)
    Report(Kind::kTooMuchBuilt, Severity::kError, where, key,
           "references and \"$(...)\" substitutions build more than " +
               std::to_string(budget_total_) + " bytes of keys and values from the " +
               std::to_string(file_bytes_) + " bytes of the file (the limit is " +
               std::to_string(kBuiltBytesBase >> 10) + " KiB + " +
               std::to_string(kBuiltBytesPerByte) + " times the file's size, at most " +
               std::to_string(kMaxBuiltBytes >> 20) + " MiB), at " + Quote(key) +
               ": is there a loop?");
  over_budget_ = true;
  return false;
}

// ClosestAttribute() costs an edit distance per supported name: it is
// remembered per thread, for the same typo in many workers of a file and
// in the files read after it (a bounded set, emptied when full).
std::string_view Suggestion(const std::string& attribute) {
  constexpr size_t kRemembered = 4096;
  if (attribute.size() > kLongestAttribute + kMaxSuggestionEdits) return {};
  thread_local std::unordered_map<std::string, std::string_view> remembered;
  auto found = remembered.find(attribute);
  if (found != remembered.end()) return found->second;
  if (remembered.size() >= kRemembered) remembered.clear();
  return remembered.emplace(attribute, ClosestAttribute(attribute)).first->second;
}

void Reader::ReadText(std::string_view text) {
  file_bytes_ = text.size();
  budget_ = budget_total_ = BuiltBytesBudget(text.size());
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
    SourceLocation where{file_, line};
    if (content.size() > kFgetsBytes)
      Report(Kind::kLongLine, Severity::kWarning, where, "",
             "line is longer than 8191 bytes: mod_jk reads every 8191 bytes of it "
             "as a line of its own");
    if (content.find('\0') != std::string_view::npos)
      Report(Kind::kNulByte, Severity::kWarning, where, "",
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
  SourceLocation where{file_, line};
  piece = piece.substr(0, piece.find('\0'));  // C strings end there
  piece = piece.substr(0, piece.find('#'));
  piece = Trim(piece);
  if (piece.empty()) return;

  size_t equals = piece.find('=');
  if (equals == std::string_view::npos) {
    std::string message = "line without \"=\" is ignored";
    if (after_backslash)
      message += ": the line before ends with \"\\\", but workers.properties has no "
                 "line continuation";
    Report(Kind::kNoEquals, Severity::kWarning, where, "", std::move(message));
    return;
  }
  std::string key(Trim(piece.substr(0, equals)));
  std::string_view value = Trim(piece.substr(equals + 1));
  if (key.empty() || value.empty()) return;  // mod_jk skips it, unchecked
  *ends_with_backslash = EndsWith(value, "\\");

  if (!IsValidKey(key)) {
    if (Full(Kind::kUnknownAttribute)) return;
    std::string attribute = SplitWorkerKey(key)->attribute;
    std::string message = "unknown attribute " + Quote(attribute) + " in " + Quote(key);
    std::string_view closest = Suggestion(attribute);
    if (!closest.empty()) message += ", did you mean " + Quote(closest) + "?";
    Report(Kind::kUnknownAttribute, Severity::kError, where, key, std::move(message));
    return;
  }
  CheckKey(key, where);
  if (*ends_with_backslash && StartsWith(key, "worker."))
    Report(Kind::kBackslash, Severity::kWarning, where, key,
           "value of " + Quote(key) + " ends with \"\\\": workers.properties has no line "
           "continuation, mod_jk keeps the \"\\\" in the value");
  Store(key, Substitute(value, key, where), where);
}

// Warnings about keys that mod_jk accepts without a word.
void Reader::CheckKey(std::string_view key, const SourceLocation& where) {
  std::optional<WorkerKey> worker_key = SplitWorkerKey(key);
  if (!worker_key) {
    std::string lower(key.substr(0, 7));
    std::transform(lower.begin(), lower.end(), lower.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (lower == "worker.")
      Report(Kind::kWorkerCase, Severity::kWarning, where, key,
             Quote(key) + " does not start with \"worker.\" (keys are case-sensitive), so "
             "mod_jk reads it as a variable: did you mean " +
                 Quote("worker." + std::string(key.substr(7))) + "?");
    return;
  }
  const std::string& attribute = worker_key->attribute;
  if (worker_key->worker.empty() && attribute != "list" && attribute != "maintain")
    Report(Kind::kNoWorkerName, Severity::kWarning, where, key,
           Quote(key) + " names no worker (expected \"worker.NAME." + attribute +
               "\"), mod_jk ignores it");
  if (IsDeprecatedAttribute(attribute)) {
    std::string_view replacement = DeprecatedReplacement(attribute);
    Report(Kind::kDeprecated, Severity::kWarning, where, key,
           replacement.empty()
               ? "attribute " + Quote(attribute) + " in " + Quote(key) +
                     " is deprecated and has no effect"
               : "attribute " + Quote(attribute) + " in " + Quote(key) +
                     " is deprecated, use " + Quote(replacement));
  }
}

// $(name) -> the value of an earlier key, else of the environment. The text
// put in is not scanned again; an unknown name stays as it is.
std::string Reader::Substitute(std::string_view value, const std::string& key,
                               const SourceLocation& where) {
  std::string result(value);
  size_t start = 0;
  for (int seen = 0;; ++seen) {
    size_t open = result.find("$(", start);
    if (open == std::string::npos) break;
    if (seen == kMaxSubstitutions) {
      Report(Kind::kTooManySubstitutions, Severity::kWarning, where, key,
             "more than 21 \"$(\" in the value of " + Quote(key) +
                 ": mod_jk leaves the rest as it is");
      break;
    }
    size_t close = result.find(')', open);
    if (close == std::string::npos) {
      Report(Kind::kUnclosedSubstitution, Severity::kWarning, where, key,
             "\"$(\" without \")\" in the value of " + Quote(key) + ", kept as it is");
      break;
    }
    std::string name = result.substr(open + 2, close - open - 2);
    std::optional<std::string> replacement;
    if (const Property* p = properties_.Find(name)) replacement = p->value;
    else if (env_) replacement = env_(name);
    if (!replacement) {
      Report(Kind::kUndefinedVariable, Severity::kWarning, where, key,
             Quote("$(" + name + ")") + " in the value of " + Quote(key) +
                 " is not defined before this line nor in the environment, mod_jk "
                 "keeps it as it is");
      start = close;
      continue;
    }
    if (!Charge(replacement->size(), where, key)) break;
    result.replace(open, close + 1 - open, *replacement);
    start = open + replacement->size();
  }
  return result;
}

void Reader::Store(const std::string& key, const std::string& value,
                   const SourceLocation& where) {
  Property* old = properties_.FindMutable(key);
  if (old == nullptr) {
    properties_.Add(Property{key, value, where, ""});
    return;
  }
  DuplicateRule rule = DuplicateRuleFor(key);
  if (rule == DuplicateRule::kReplace) {
    if (!Full(Kind::kDuplicateReplaced))
      Report(Kind::kDuplicateReplaced, Severity::kWarning, where, key,
             "duplicate " + Quote(key) + ": the value " + Quote(old->value) + " of line " +
                 std::to_string(old->where.line) + " is replaced by " + Quote(value));
    old->value = value;
  } else {
    old->value += JoinSeparator(rule);
    old->value += value;
    if (rule != DuplicateRule::kJoinList && !Full(Kind::kDuplicateJoined)) {
      std::string message = "duplicate " + Quote(key) + " (first set on line " +
                            std::to_string(old->where.line) +
                            "): mod_jk does not replace the value, it joins both into " +
                            Quote(old->value);
      if (EndsWith(key, ".balanced_workers"))
        message += ", a single member name: use \"balance_workers\", which can be repeated";
      Report(Kind::kDuplicateJoined, Severity::kWarning, where, key, std::move(message));
    }
  }
  old->where = where;
}

// jk_map_resolve_references, run once after the whole file is read: for
// every key worker.X.reference (in map order, keys added on the way
// included), resolve the referenced prefix first, then copy from it.
void Reader::ResolveReferences() {
  for (size_t i = 0; i < properties_.entries().size(); ++i) {
    if (over_budget_ || too_many_keys_) return;  // the file is refused anyway
    const Property& p = properties_.entries()[i];
    if (!StartsWith(p.key, "worker.") || !EndsWith(p.key, kReference)) continue;
    if (spent_.count(p.key)) continue;
    Property start = p;  // a copy: entries() grows while resolving
    ResolveChain(start.key.substr(0, start.key.size() - kReference.size()), 1, start);
  }
}

// Makes `prefix`.* complete: first what `prefix`.reference points to, then
// the copy. `depth` counts like mod_jk's: its limit allows 19 hops.
bool Reader::ResolveChain(const std::string& prefix, int depth, const Property& start) {
  if (depth > kMaxReferenceDepth) {
    Report(Kind::kReferenceTooDeep, Severity::kError, start.where, start.key,
           "references starting at " + Quote(start.key) + " nest more than 20 levels "
           "deep (mod_jk's limit): is there a loop?");
    return false;
  }
  if (resolved_.count(prefix)) return true;  // copying again would add nothing
  const Property* found = properties_.Find(prefix + std::string(kReference));
  if (found == nullptr || spent_.count(found->key)) return true;
  Property reference = *found;
  if (!ResolveChain(reference.value, depth + 1, start)) return false;
  if (!Inherit(reference, prefix + ".")) return false;
  resolved_.insert(prefix);
  return true;
}

// jk_map_inherit_properties: copies `reference.value`.* to `to`*, keeping
// what `to` already has.
bool Reader::Inherit(const Property& reference, const std::string& to) {
  std::string from = reference.value + ".";
  std::vector<size_t> sources = properties_.WithPrefix(from);
  if (sources.empty()) {
    std::string message = "reference " + Quote(reference.value) + " in " +
                          Quote(reference.key) + " matches no key (\"" + from + "*\")";
    if (EndsWith(reference.value, "."))
      message += ": write the prefix without the trailing \".\"";
    else if (!StartsWith(reference.value, "worker.") &&
             !properties_.WithPrefix("worker." + from).empty())
      message += ", did you mean " + Quote("worker." + reference.value) + "?";
    Report(Kind::kReferenceMatchesNothing, Severity::kError, reference.where, reference.key,
           std::move(message));
    return false;
  }
  // Every key looked at counts, copied or not: a reference to a prefix that
  // most keys share, resolved again and again, is work even when few keys
  // are new.
  if (!Charge(sources.size() * kLookedAtBytes, reference.where, reference.key)) return false;
  for (size_t index : sources) {
    // Worker "a.b" referencing worker.a must not copy worker.a.b.* into
    // worker.a.b.b.*: mod_jk does, and then copies its copies forever.
    if (StartsWith(properties_.entries()[index].key, to)) continue;
    std::string key = to + properties_.entries()[index].key.substr(from.size());
    if (properties_.Find(key) != nullptr) continue;
    if (properties_.entries().size() >= kMaxEntries) {
      Report(Kind::kTooManyKeys, Severity::kError, reference.where, reference.key,
             "references in " + Quote(reference.key) + " create too many keys");
      too_many_keys_ = true;
      return false;
    }
    // properties_ grows below: copy the source first.
    Property source = properties_.entries()[index];
    if (!Charge(key.size() + source.value.size(), reference.where, reference.key)) return false;
    if (!IsValidKey(key) && !Full(Kind::kInheritedUnsupported))
      Report(Kind::kInheritedUnsupported, Severity::kWarning, source.where, key,
             Quote(key) + " inherited from " + Quote(source.key) +
                 " is not a supported attribute, mod_jk ignores it");
    std::string origin = source.inherited_from.empty() ? source.key : source.inherited_from;
    // A copy of a reference already resolved is spent, as in mod_jk (whose
    // copy holds NULL by then). Resolving it would copy the reference it came
    // from once more, one level deeper each time, until memory runs out
    // (found by fuzzing: t/unit/fuzz_regression_test.cc).
    if (EndsWith(source.key, kReference) &&
        (spent_.count(source.key) ||
         resolved_.count(source.key.substr(0, source.key.size() - kReference.size()))))
      spent_.insert(key);
    properties_.Add(Property{std::move(key), std::move(source.value), std::move(source.where),
                             std::move(origin)});
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
