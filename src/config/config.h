// workers.properties text -> the configuration model (model.h), read exactly
// as mod_jk 1.2.48 reads it, with a diagnostic for everything mod_jk rejects
// (errors) or silently does that would surprise a user (warnings).
#ifndef STICKY_CONFIG_H
#define STICKY_CONFIG_H

#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "config/model.h"

namespace sticky {

// Looks up a process environment variable for `$(name)`; tests pass their own.
using EnvLookup = std::function<std::optional<std::string>(const std::string&)>;

// The real environment (getenv).
EnvLookup ProcessEnvironment();

// Reads `text` (the content of `file`, whose name is used in diagnostics only)
// and builds the model. Never throws on bad input: problems become
// diagnostics and Config::ok() is false when any of them is an error.
Config LoadConfig(std::string_view text, const std::string& file, const EnvLookup& env);

// The balancer an upstream uses (`lb=NAME` or `worker=NAME`): with `name`,
// the lb worker of that name, else the ajp13/ajp14 worker of that name in
// worker.list as a one-member balancer (Config::singles). Without, the first
// lb worker named in worker.list, else the only lb worker of the file, else
// the first ajp13/ajp14 worker named in worker.list. Returns nullptr and sets
// *error (one sentence, nginx's voice) when there is no such worker or the
// choice is ambiguous (several lb workers, none listed, no ajp13/ajp14 one).
const Balancer* SelectBalancer(const Config& config, std::string_view name, std::string* error);

}  // namespace sticky

#endif  // STICKY_CONFIG_H
