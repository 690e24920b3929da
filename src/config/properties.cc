#include "config/properties.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdint>
#include <cstring>
#include <optional>

#include "config/attributes.h"
#include "config/message.h"
#include "config/properties_reader.h"

namespace sticky {
namespace properties_reader {
namespace {

size_t CountLines(std::string_view text) {
  size_t lines = 1;
  for (size_t pos = text.find('\n'); pos != std::string_view::npos; pos = text.find('\n', pos + 1))
    ++lines;
  return lines;
}

}  // namespace

bool Reader::Full(Kind kind) {
  KindCount& k = kinds_[static_cast<size_t>(kind)];
  if (k.shown < kMaxDiagnosticsOfAKind) return false;
  ++k.omitted;
  return true;
}

void Reader::Report(Kind kind, Severity severity, unsigned line, std::string_view key,
                    std::string message) {
  const size_t hash = HashText(key) * 31 + HashText(message) * 7 + line;
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

void Reader::Add(const Property& property) { Add(property, HashText(property.key)); }

void Reader::Add(const Property& property, std::uint64_t hash) {
  properties_.Add(property, hash);
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

}  // namespace properties_reader

using properties_reader::Reader;

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
