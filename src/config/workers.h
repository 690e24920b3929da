// Builds lb workers and their members, and the one-member balancers of the
// ajp13/ajp14 workers of worker.list, from the property map, checking what
// mod_jk's lb and ajp workers check when Apache starts (jk_lb_worker.c
// validate/init, jk_ajp_common.c, jk_worker.c), and reading every value the
// way mod_jk does (values.h).
#ifndef STICKY_WORKERS_H
#define STICKY_WORKERS_H

#include <cstddef>
#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "config/model.h"
#include "config/properties.h"

namespace sticky {

// Every worker with at least one "worker.NAME.*" key, and the indexes of
// its keys in Properties::entries(), in map order. The names are views into
// the keys of the Properties, which must outlive this.
class WorkerKeys {
 public:
  explicit WorkerKeys(const Properties& properties);

  struct Range {
    const std::uint32_t* begin() const { return first; }
    const std::uint32_t* end() const { return last; }
    bool empty() const { return first == last; }
    std::uint32_t front() const { return *first; }
    const std::uint32_t* first;
    const std::uint32_t* last;
  };
  // The keys of worker `name`: empty when it is not defined.
  Range Of(std::string_view name) const;
  // The workers, in order of their first key.
  const std::vector<std::string_view>& names() const { return names_; }

 private:
  // The worker `name`'s number (its place in names_), or -1; and where
  // its slot is (empty when it has none).
  std::ptrdiff_t Find(std::string_view name, size_t* slot) const;
  // Places every name again, in a table at most a quarter full.
  void Rehash();

  std::vector<std::string_view> names_;
  // Open addressing over names_ (number + 1; 0: empty), at most half full.
  std::vector<std::uint32_t> slots_;
  // The keys of worker n are indexes_[starts_[n]] to indexes_[starts_[n + 1]]:
  // one array for all (a map of vectors allocates per worker).
  std::vector<std::uint32_t> starts_;
  std::vector<std::uint32_t> indexes_;
};

// (line, key) of the notices and warnings given about a key: a template
// inherited by many workers gets one message, not one per worker. What was
// added since a Mark() can be forgotten (the messages of an lb worker that
// is left out are dropped).
class ReportedKeys {
 public:
  // True the first time (line, key) is added. `key` must outlive this.
  bool Add(unsigned line, std::string_view key) {
    auto [it, added] = seen_.emplace(line, key);
    if (added) added_.push_back(it);
    return added;
  }
  size_t Mark() const { return added_.size(); }
  void ForgetSince(size_t mark) {
    for (size_t i = mark; i < added_.size(); ++i) seen_.erase(added_[i]);
    added_.resize(mark);
  }

 private:
  using Seen = std::set<std::pair<unsigned, std::string_view>>;
  Seen seen_;
  std::vector<Seen::iterator> added_;  // in the order added
};

// What the builders share: the map, the defined workers and where problems go.
struct WorkerContext {
  const Properties& properties;
  const std::string& file;
  WorkerKeys keys;
  std::vector<Diagnostic>* diagnostics;
  // The keys are views into `properties`.
  ReportedKeys* reported;
};

// The value of worker.NAME.type, or mod_jk's default "ajp13" (a view into
// context.properties, or of a literal).
std::string_view WorkerTypeName(const WorkerContext& context, std::string_view name);

// Where to point a message about worker `name` as a whole: its first key
// (or worker.list, for a listed worker without keys).
SourceLocation WorkerLocation(const WorkerContext& context, std::string_view name);

bool IsDefined(const WorkerContext& context, std::string_view name);

// Fills *balancer from worker.NAME.* (NAME of type lb) and its members.
// Problems go to context.diagnostics; returns false when one is an error.
bool BuildBalancer(const WorkerContext& context, std::string_view name, Balancer* balancer);

// Fills *balancer with a one-member balancer (Balancer::single) made from
// worker.NAME.*, a defined ajp13/ajp14 worker of worker.list, read as mod_jk
// reads such a worker; the lb attributes keep their defaults. Problems go to
// context.diagnostics; returns false when one is an error.
bool BuildSingle(const WorkerContext& context, std::string_view name, Balancer* balancer);

// The checks mod_jk makes on a worker of worker.list that is neither an lb
// nor a defined ajp13/ajp14 worker (BuildSingle reads those): known type,
// name and host lengths.
void CheckListedWorker(const WorkerContext& context, std::string_view name);

// Warns about attributes that mod_jk does not read for the worker's type
// (e.g. lbfactor on an lb worker): they have no effect.
void CheckAttributesApply(const WorkerContext& context, std::string_view name);

}  // namespace sticky

#endif  // STICKY_WORKERS_H
