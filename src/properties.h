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
// reports every problem.
#ifndef STICKY_PROPERTIES_H
#define STICKY_PROPERTIES_H

#include <string>
#include <string_view>
#include <functional>
#include <map>
#include <vector>

#include "config.h"
#include "model.h"

namespace sticky {

// One key with its final value.
struct Property {
  std::string key;
  std::string value;
  SourceLocation where;        // the line that set or last extended the value
  std::string inherited_from;  // set for keys copied by `reference`: the key copied
};

// The map, in order of first definition (as mod_jk keeps it).
class Properties {
 public:
  const Property* Find(std::string_view key) const;
  const std::vector<Property>& entries() const { return entries_; }

  Property* FindMutable(std::string_view key);
  void Add(Property property);
  // Indexes into entries() of the keys starting with `prefix`, in order.
  std::vector<size_t> WithPrefix(std::string_view prefix) const;

 private:
  std::vector<Property> entries_;
  // Ordered (WithPrefix is a range); std::less<> finds a string_view
  // without making a std::string of it.
  std::map<std::string, size_t, std::less<>> index_;
};

// Reads `text` (the content of `file`) and appends every problem found to
// *diagnostics. Never throws on bad input.
Properties ReadProperties(std::string_view text, const std::string& file,
                          const EnvLookup& env, std::vector<Diagnostic>* diagnostics);

}  // namespace sticky

#endif  // STICKY_PROPERTIES_H
