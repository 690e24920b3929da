#include "properties.h"

#include <algorithm>
#include <cctype>
#include <set>
#include <tuple>

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

std::string Quote(std::string_view s) { return "\"" + std::string(s) + "\""; }

class Reader {
 public:
  Reader(const std::string& file, const EnvLookup& env, std::vector<Diagnostic>* diagnostics)
      : file_(file), env_(env), diagnostics_(diagnostics) {}

  void ReadText(std::string_view text);
  void ResolveReferences();
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
  void Report(Severity severity, const SourceLocation& where, std::string_view key,
              std::string message);

  const std::string& file_;
  const EnvLookup& env_;
  std::vector<Diagnostic>* diagnostics_;
  Properties properties_;
  // (line, key, message) already reported: a template that fails fails once.
  std::set<std::tuple<unsigned, std::string, std::string>> reported_;
  // Prefixes whose references are already copied in.
  std::set<std::string> resolved_;
  // `.reference` keys copied from a reference already resolved: mod_jk
  // empties a reference once it has copied it (values[i] = NULL), so such a
  // copy holds NULL and is never resolved.
  std::set<std::string> spent_;
};

void Reader::Report(Severity severity, const SourceLocation& where, std::string_view key,
                    std::string message) {
  if (!reported_.emplace(where.line, std::string(key), message).second) return;
  diagnostics_->push_back(Diagnostic{severity, where, std::string(key), std::move(message)});
}

void Reader::ReadText(std::string_view text) {
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
      Report(Severity::kWarning, where, "",
             "line is longer than 8191 bytes: mod_jk reads every 8191 bytes of it "
             "as a line of its own");
    if (content.find('\0') != std::string_view::npos)
      Report(Severity::kWarning, where, "",
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
    Report(Severity::kWarning, where, "", std::move(message));
    return;
  }
  std::string key(Trim(piece.substr(0, equals)));
  std::string_view value = Trim(piece.substr(equals + 1));
  if (key.empty() || value.empty()) return;  // mod_jk skips it, unchecked
  *ends_with_backslash = EndsWith(value, "\\");

  if (!IsValidKey(key)) {
    std::string attribute = SplitWorkerKey(key)->attribute;
    std::string message = "unknown attribute " + Quote(attribute) + " in " + Quote(key);
    std::string_view closest = ClosestAttribute(attribute);
    if (!closest.empty()) message += ", did you mean " + Quote(closest) + "?";
    Report(Severity::kError, where, key, std::move(message));
    return;
  }
  CheckKey(key, where);
  if (*ends_with_backslash && StartsWith(key, "worker."))
    Report(Severity::kWarning, where, key,
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
      Report(Severity::kWarning, where, key,
             Quote(key) + " does not start with \"worker.\" (keys are case-sensitive), so "
             "mod_jk reads it as a variable: did you mean " +
                 Quote("worker." + std::string(key.substr(7))) + "?");
    return;
  }
  const std::string& attribute = worker_key->attribute;
  if (worker_key->worker.empty() && attribute != "list" && attribute != "maintain")
    Report(Severity::kWarning, where, key,
           Quote(key) + " names no worker (expected \"worker.NAME." + attribute +
               "\"), mod_jk ignores it");
  if (IsDeprecatedAttribute(attribute)) {
    std::string_view replacement = DeprecatedReplacement(attribute);
    Report(Severity::kWarning, where, key,
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
      Report(Severity::kWarning, where, key,
             "more than 21 \"$(\" in the value of " + Quote(key) +
                 ": mod_jk leaves the rest as it is");
      break;
    }
    size_t close = result.find(')', open);
    if (close == std::string::npos) {
      Report(Severity::kWarning, where, key,
             "\"$(\" without \")\" in the value of " + Quote(key) + ", kept as it is");
      break;
    }
    std::string name = result.substr(open + 2, close - open - 2);
    std::optional<std::string> replacement;
    if (const Property* p = properties_.Find(name)) replacement = p->value;
    else if (env_) replacement = env_(name);
    if (!replacement) {
      Report(Severity::kWarning, where, key,
             Quote("$(" + name + ")") + " in the value of " + Quote(key) +
                 " is not defined before this line nor in the environment, mod_jk "
                 "keeps it as it is");
      start = close;
      continue;
    }
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
  std::string old_line = std::to_string(old->where.line);
  DuplicateRule rule = DuplicateRuleFor(key);
  if (rule == DuplicateRule::kReplace) {
    Report(Severity::kWarning, where, key,
           "duplicate " + Quote(key) + ": the value " + Quote(old->value) + " of line " +
               old_line + " is replaced by " + Quote(value));
    old->value = value;
  } else {
    old->value += JoinSeparator(rule);
    old->value += value;
    if (rule != DuplicateRule::kJoinList) {
      std::string message = "duplicate " + Quote(key) + " (first set on line " + old_line +
                            "): mod_jk does not replace the value, it joins both into " +
                            Quote(old->value);
      if (EndsWith(key, ".balanced_workers"))
        message += ", a single member name: use \"balance_workers\", which can be repeated";
      Report(Severity::kWarning, where, key, std::move(message));
    }
  }
  old->where = where;
}

// jk_map_resolve_references, run once after the whole file is read: for
// every key worker.X.reference (in map order, keys added on the way
// included), resolve the referenced prefix first, then copy from it.
void Reader::ResolveReferences() {
  for (size_t i = 0; i < properties_.entries().size(); ++i) {
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
    Report(Severity::kError, start.where, start.key,
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
    Report(Severity::kError, reference.where, reference.key, std::move(message));
    return false;
  }
  for (size_t index : sources) {
    Property source = properties_.entries()[index];
    // Worker "a.b" referencing worker.a must not copy worker.a.b.* into
    // worker.a.b.b.*: mod_jk does, and then copies its copies forever.
    if (StartsWith(source.key, to)) continue;
    std::string key = to + source.key.substr(from.size());
    if (properties_.Find(key) != nullptr) continue;
    if (properties_.entries().size() >= kMaxEntries) {
      Report(Severity::kError, reference.where, reference.key,
             "references in " + Quote(reference.key) + " create too many keys");
      return false;
    }
    if (!IsValidKey(key))
      Report(Severity::kWarning, source.where, key,
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
    properties_.Add(Property{key, source.value, source.where, origin});
  }
  return true;
}

}  // namespace

Properties ReadProperties(std::string_view text, const std::string& file,
                          const EnvLookup& env, std::vector<Diagnostic>* diagnostics) {
  Reader reader(file, env, diagnostics);
  reader.ReadText(text);
  reader.ResolveReferences();
  return reader.Take();
}

}  // namespace sticky
