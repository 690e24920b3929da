#include "config.h"

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <iterator>
#include <set>
#include <unordered_map>

#include "attributes.h"
#include "properties.h"
#include "values.h"
#include "workers.h"

namespace sticky {

namespace {

std::string Quote(std::string_view s) { return "\"" + std::string(s) + "\""; }

std::string JoinNames(const std::vector<Balancer>& balancers) {
  std::string names;
  for (const Balancer& b : balancers) names += (names.empty() ? "" : ", ") + b.name;
  return names;
}

// worker.list, split, in order, without repeats; mod_jk's default "ajp13".
std::vector<std::string> ReadWorkerList(const Properties& properties,
                                        std::vector<Diagnostic>* diagnostics) {
  const Property* p = properties.Find("worker.list");
  if (p == nullptr) return {"ajp13"};
  std::vector<std::string> list;
  std::set<std::string, std::less<>> seen;
  for (std::string& name : SplitList(p->value)) {
    if (seen.insert(name).second) list.push_back(std::move(name));
    else
      diagnostics->push_back(Diagnostic{Severity::kWarning, p->where, p->key,
                                        "worker " + Quote(name) +
                                            " is listed more than once in \"worker.list\""});
  }
  return list;
}

int ReadMaintain(const Properties& properties, std::vector<Diagnostic>* diagnostics) {
  const Property* p = properties.Find("worker.maintain");
  if (p == nullptr) return 60;
  std::string problem;
  int seconds = ParseInt(p->value, &problem);
  if (!problem.empty())
    diagnostics->push_back(Diagnostic{Severity::kWarning, p->where, p->key,
                                      "invalid value " + Quote(p->value) +
                                          " in \"worker.maintain\": " + problem});
  if (seconds >= 0) return seconds;
  diagnostics->push_back(Diagnostic{Severity::kWarning, p->where, p->key,
                                    "\"worker.maintain\" is negative, mod_jk uses 0 (off)"});
  return 0;
}

// An lb worker outside worker.list is never built by mod_jk, so its errors
// do not stop Apache. They do not stop nginx either, but such an lb cannot
// be used: its errors become warnings and it is left out of the model.
void DowngradeUnlistedErrors(const std::string& name, std::vector<Diagnostic>* diagnostics) {
  std::vector<Diagnostic> kept;
  for (Diagnostic& d : *diagnostics) {
    if (d.severity == Severity::kNotice) continue;
    if (d.severity == Severity::kError) {
      d.severity = Severity::kWarning;
      d.message += " (lb worker " + Quote(name) +
                   " is not in \"worker.list\", so mod_jk ignores this; nginx cannot use it)";
    }
    kept.push_back(std::move(d));
  }
  *diagnostics = std::move(kept);
}

// File order (messages about no line last).
void SortByLine(std::vector<Diagnostic>* diagnostics) {
  auto line = [](const Diagnostic& d) { return d.where.line == 0 ? ~0u : d.where.line; };
  std::stable_sort(diagnostics->begin(), diagnostics->end(),
                   [&](const Diagnostic& a, const Diagnostic& b) { return line(a) < line(b); });
}

// File order, each message once: a member of two lb workers is read twice.
void SortDiagnostics(std::vector<Diagnostic>* diagnostics) {
  SortByLine(diagnostics);
  // hash of (line, severity, key, message) -> index in `unique`
  std::unordered_multimap<size_t, size_t> seen;
  std::vector<Diagnostic> unique;
  for (Diagnostic& d : *diagnostics) {
    const size_t hash = std::hash<std::string>()(d.key) * 31 +
                        std::hash<std::string>()(d.message) * 7 + d.where.line * 3 +
                        static_cast<size_t>(d.severity);
    bool repeated = false;
    for (auto [it, end] = seen.equal_range(hash); it != end && !repeated; ++it) {
      const Diagnostic& u = unique[it->second];
      repeated = u.where.line == d.where.line && u.severity == d.severity && u.key == d.key &&
                 u.message == d.message;
    }
    if (repeated) continue;
    seen.emplace(hash, unique.size());
    unique.push_back(std::move(d));
  }
  *diagnostics = std::move(unique);
}

// The kind of a diagnostic: its severity and its message without what is
// quoted and without numbers ("duplicate \"\": the value \"\" of line  is
// replaced by \"\""), hashed (FNV-1a; two kinds that collide are merely
// counted together).
std::uint64_t KindOf(const Diagnostic& d) {
  std::uint64_t hash = 14695981039346656037ull ^ static_cast<std::uint64_t>(d.severity);
  bool quoted = false;
  for (char c : d.message) {
    if (c == '"') quoted = !quoted;
    else if (quoted || (c >= '0' && c <= '9')) continue;
    hash = (hash ^ static_cast<unsigned char>(c)) * 1099511628211ull;
  }
  return hash;
}

// At most kMaxDiagnosticsOfAKind of each kind, in order; then, per kind
// that had more, one line counting the rest.
void CapDiagnostics(std::vector<Diagnostic>* diagnostics) {
  struct Count {
    size_t first;  // index in `kept`
    size_t shown;
    size_t omitted;
  };
  std::unordered_map<std::uint64_t, size_t> kinds;
  std::vector<Count> counts;
  std::vector<Diagnostic> kept;
  for (Diagnostic& d : *diagnostics) {
    auto [it, added] = kinds.emplace(KindOf(d), counts.size());
    if (added) counts.push_back(Count{kept.size(), 0, 0});
    Count& c = counts[it->second];
    if (c.shown < kMaxDiagnosticsOfAKind) {
      ++c.shown;
      kept.push_back(std::move(d));
    } else {
      ++c.omitted;
    }
  }
  for (const Count& c : counts)
    if (c.omitted > 0) kept.push_back(OmittedDiagnostic(kept[c.first], c.omitted));
  *diagnostics = std::move(kept);
}

}  // namespace

EnvLookup ProcessEnvironment() {
  return [](const std::string& name) -> std::optional<std::string> {
    const char* value = std::getenv(name.c_str());
    if (value == nullptr) return std::nullopt;
    return std::string(value);
  };
}

Config LoadConfig(std::string_view text, const std::string& file, const EnvLookup& env) {
  Config config;
  config.file = file;
  if (!CheckFileSize(text, file, &config.diagnostics)) return config;
  // The reader caps its own diagnostics as it goes (it must not even make
  // the messages past the cap); those of the workers are capped at the end.
  std::vector<Diagnostic> read;
  Properties properties = ReadProperties(text, file, env, &read);

  std::set<std::pair<unsigned, std::string>> reported;
  WorkerContext context{properties, file, {}, &config.diagnostics, &reported};
  std::vector<std::string> definition_order;
  for (size_t i = 0; i < properties.entries().size(); ++i) {
    std::optional<WorkerKey> key = SplitWorkerKey(properties.entries()[i].key);
    if (!key || key->worker.empty()) continue;
    std::vector<size_t>& keys = context.keys[key->worker];
    if (keys.empty()) definition_order.push_back(key->worker);
    keys.push_back(i);
  }

  config.worker_list = ReadWorkerList(properties, &config.diagnostics);
  config.maintain = ReadMaintain(properties, &config.diagnostics);
  const std::set<std::string, std::less<>> listed_names(config.worker_list.begin(),
                                                        config.worker_list.end());
  auto listed = [&](const std::string& name) { return listed_names.count(name) > 0; };

  // Every lb worker, with its members.
  std::set<std::string> members;
  for (const std::string& name : definition_order) {
    if (WorkerTypeName(context, name) != "lb") continue;
    Balancer balancer;
    std::vector<Diagnostic> found;
    auto reported_before = reported;
    context.diagnostics = &found;
    bool ok = BuildBalancer(context, name, &balancer);
    context.diagnostics = &config.diagnostics;
    if (!ok && !listed(name)) {
      DowngradeUnlistedErrors(name, &found);
      reported = std::move(reported_before);  // its notices were dropped
    } else {
      for (const Member& m : balancer.members) members.insert(m.name);
      config.balancers.push_back(std::move(balancer));
    }
    config.diagnostics.insert(config.diagnostics.end(), found.begin(), found.end());
  }

  // What mod_jk builds besides: the other workers of worker.list. Each
  // defined ajp13/ajp14 one is also a one-member balancer (members of an lb
  // included: mod_jk builds a listed member a second time, on its own).
  const Property* list = properties.Find("worker.list");
  for (const std::string& name : config.worker_list) {
    WorkerType type = ParseWorkerType(WorkerTypeName(context, name));
    if (type == WorkerType::kLb) continue;
    if ((type == WorkerType::kAjp13 || type == WorkerType::kAjp14) && IsDefined(context, name)) {
      Balancer single;
      BuildSingle(context, name, &single);
      config.singles.push_back(std::move(single));
      continue;
    }
    if (members.count(name)) continue;
    if (list != nullptr && !IsDefined(context, name))
      config.diagnostics.push_back(Diagnostic{
          Severity::kWarning, list->where, list->key,
          "worker " + Quote(name) + " of \"worker.list\" is not defined: mod_jk makes it "
          "an ajp13 worker for localhost:8009"});
    CheckListedWorker(context, name);
  }

  // Attributes that do nothing on the workers mod_jk builds.
  std::set<std::string> built(members);
  for (const std::string& name : config.worker_list) built.insert(name);
  for (const Balancer& b : config.balancers) built.insert(b.name);
  for (const std::string& name : definition_order)
    if (built.count(name)) CheckAttributesApply(context, name);

  // Everything else that is defined (templates, status workers, ...).
  for (const std::string& name : definition_order) {
    std::string type = WorkerTypeName(context, name);
    if (type == "lb" || members.count(name)) continue;
    config.others.push_back(OtherWorker{name, type, WorkerLocation(context, name)});
  }
  for (const std::string& name : config.worker_list)
    if (!IsDefined(context, name) && !members.count(name))
      config.others.push_back(OtherWorker{
          name, "ajp13", list ? list->where : SourceLocation{file, 0}});

  SortDiagnostics(&config.diagnostics);
  CapDiagnostics(&config.diagnostics);
  read.insert(read.end(), std::make_move_iterator(config.diagnostics.begin()),
              std::make_move_iterator(config.diagnostics.end()));
  config.diagnostics = std::move(read);
  SortByLine(&config.diagnostics);
  return config;
}

const Balancer* SelectBalancer(const Config& config, std::string_view name, std::string* error) {
  std::string in_file = " in " + config.file;
  std::string known;
  if (!config.balancers.empty()) known = "lb workers: " + JoinNames(config.balancers);
  if (!config.singles.empty())
    known += (known.empty() ? "" : "; ") +
             std::string("ajp13/ajp14 workers of \"worker.list\": ") + JoinNames(config.singles);
  if (known.empty())
    known = config.file +
            " has no usable lb worker and no ajp13 or ajp14 worker in \"worker.list\"";
  auto listed = [&](std::string_view worker) {
    return std::find(config.worker_list.begin(), config.worker_list.end(), worker) !=
           config.worker_list.end();
  };

  if (!name.empty()) {
    for (const Balancer& b : config.balancers)
      if (b.name == name) return &b;
    for (const Balancer& b : config.singles)
      if (b.name == name) return &b;
    // Why not: an ajp13/ajp14 worker outside worker.list (mod_jk builds only
    // listed workers, lb members aside), a listed name with no keys, or
    // another type.
    std::string type;
    for (const OtherWorker& w : config.others)
      if (w.name == name) type = w.type;
    for (const Balancer& b : config.balancers)
      for (const Member& m : b.members)
        if (type.empty() && m.name == name) type = m.type;
    if (type.empty()) {
      *error = "no lb, ajp13 or ajp14 worker " + Quote(name) + in_file + " (" + known + ")";
    } else if (type != "ajp13" && type != "ajp14") {
      *error = "worker " + Quote(name) + in_file + " is not an lb worker but " + type + " (" +
               known + ")";
    } else if (listed(name)) {
      *error = "worker " + Quote(name) + " of \"worker.list\"" + in_file +
               " is not defined: there is no \"worker." + std::string(name) + ".*\" key (" +
               known + ")";
    } else {
      *error = type + " worker " + Quote(name) + in_file +
               " is not in \"worker.list\": add it there to use it on its own (" + known + ")";
    }
    return nullptr;
  }

  for (const std::string& worker : config.worker_list)
    for (const Balancer& b : config.balancers)
      if (b.name == worker) return &b;
  if (config.balancers.size() == 1) return &config.balancers.front();
  if (!config.singles.empty()) return &config.singles.front();
  if (config.balancers.empty()) {
    *error = "no lb worker" + in_file + ", and no ajp13 or ajp14 worker in its \"worker.list\"";
    return nullptr;
  }
  *error = "several lb workers" + in_file + " (" + JoinNames(config.balancers) +
           ") and none in \"worker.list\": use lb=NAME";
  return nullptr;
}

}  // namespace sticky
