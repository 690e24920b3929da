// mod_jk's `worker.X.reference`: after the whole file is read, each
// reference copies the keys of the worker it names (jk_map_resolve_references
// and jk_map_inherit_properties), within the reader's budget.
#include <string>
#include <vector>

#include "config/attributes.h"
#include "config/message.h"
#include "config/properties_reader.h"

namespace sticky {
namespace properties_reader {

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
    std::uint64_t hash;
    if (properties_.Find({to, ".", rest}, &hash) != nullptr) continue;
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
    Add(Property{key, source.value, source.line, origin}, hash);
    states_.back().spent = spent;
  }
  return true;
}

}  // namespace properties_reader
}  // namespace sticky
