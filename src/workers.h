// Builds lb workers and their members, and the one-member balancers of the
// ajp13/ajp14 workers of worker.list, from the property map, checking what
// mod_jk's lb and ajp workers check when Apache starts (jk_lb_worker.c
// validate/init, jk_ajp_common.c, jk_worker.c), and reading every value the
// way mod_jk does (values.h).
#ifndef STICKY_WORKERS_H
#define STICKY_WORKERS_H

#include <map>
#include <set>
#include <string>
#include <vector>

#include "model.h"
#include "properties.h"

namespace sticky {

// What the builders share: the map, the defined workers and where problems go.
struct WorkerContext {
  const Properties& properties;
  const std::string& file;
  // Every worker with at least one "worker.NAME.*" key: the indexes of its
  // keys in properties.entries(), in map order.
  std::map<std::string, std::vector<size_t>> keys;
  std::vector<Diagnostic>* diagnostics;
  // (line, key) of the notices and warnings given about a key: a template
  // inherited by many workers gets one message, not one per worker.
  std::set<std::pair<unsigned, std::string>>* reported;
};

// The value of worker.NAME.type, or mod_jk's default "ajp13".
std::string WorkerTypeName(const WorkerContext& context, const std::string& name);

// Where to point a message about worker `name` as a whole: its first key
// (or worker.list, for a listed worker without keys).
SourceLocation WorkerLocation(const WorkerContext& context, const std::string& name);

bool IsDefined(const WorkerContext& context, const std::string& name);

// Fills *balancer from worker.NAME.* (NAME of type lb) and its members.
// Problems go to context.diagnostics; returns false when one is an error.
bool BuildBalancer(const WorkerContext& context, const std::string& name,
                   Balancer* balancer);

// Fills *balancer with a one-member balancer (Balancer::single) made from
// worker.NAME.*, a defined ajp13/ajp14 worker of worker.list, read as mod_jk
// reads such a worker; the lb attributes keep their defaults. Problems go to
// context.diagnostics; returns false when one is an error.
bool BuildSingle(const WorkerContext& context, const std::string& name, Balancer* balancer);

// The checks mod_jk makes on a worker of worker.list that is neither an lb
// nor a defined ajp13/ajp14 worker (BuildSingle reads those): known type,
// name and host lengths.
void CheckListedWorker(const WorkerContext& context, const std::string& name);

// Warns about attributes that mod_jk does not read for the worker's type
// (e.g. lbfactor on an lb worker): they have no effect.
void CheckAttributesApply(const WorkerContext& context, const std::string& name);

}  // namespace sticky

#endif  // STICKY_WORKERS_H
