#include "config/config.h"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <iterator>
#include <set>

#include "config/attributes.h"
#include "config/hash_index.h"
#include "config/message.h"
#include "config/properties.h"
#include "config/values.h"
#include "config/workers.h"

namespace sticky {

namespace {


std::string JoinNames(const std::vector<Balancer>& balancers) {
  std::string names;
  for (const Balancer& b : balancers) names += (names.empty() ? "" : ", ") + b.name;
  return names;
}

// What a file without an lb worker defines, for the message that says so:
// "2 ajp13 workers (n1, n2) and 1 status worker (jkstatus)", in order of
// first definition of each type, at most 5 names per type.
std::string DescribeWorkers(const std::vector<OtherWorker>& others) {
  struct Group {
    std::string_view type;
    size_t count = 0;
    std::string names;
  };
  std::vector<Group> groups;
  for (const OtherWorker& w : others) {
    if (!w.defined) continue;
    auto group = std::find_if(groups.begin(), groups.end(),
                              [&w](const Group& g) { return g.type == w.type; });
    if (group == groups.end()) group = groups.insert(groups.end(), Group{w.type, 0, {}});
    if (++group->count <= 5) group->names += (group->names.empty() ? "" : ", ") + w.name;
    else if (group->count == 6) group->names += ", ...";
  }
  std::string text;
  for (size_t i = 0; i < groups.size(); ++i) {
    const Group& g = groups[i];
    text += (i == 0 ? "" : i + 1 == groups.size() ? " and " : ", ");
    text += Message({g.count, " ", g.type, g.count == 1 ? " worker (" : " workers (", g.names, ")"});
  }
  return text;
}

// worker.list, split, in order, without repeats; mod_jk's default "ajp13".
std::vector<std::string> ReadWorkerList(const Properties& properties, const std::string& file,
                                        std::vector<Diagnostic>* diagnostics) {
  const Property* p = properties.Find("worker.list");
  if (p == nullptr) return {"ajp13"};
  std::vector<std::string> list;
  std::set<std::string, std::less<>> seen;
  for (std::string& name : SplitList(p->value)) {
    if (seen.insert(name).second) list.push_back(std::move(name));
    else
      diagnostics->push_back(Diagnostic{Severity::kWarning, SourceLocation{file, p->line},
                                        std::string(p->key),
                                        Message({"worker ", Quoted(name),
                                                 " is listed more than once in \"worker.list\""})});
  }
  return list;
}

int ReadMaintain(const Properties& properties, const std::string& file,
                 std::vector<Diagnostic>* diagnostics) {
  const Property* p = properties.Find("worker.maintain");
  if (p == nullptr) return 60;
  const SourceLocation where{file, p->line};
  std::string problem;
  int seconds = ParseInt(p->value, &problem);
  if (!problem.empty())
    diagnostics->push_back(Diagnostic{Severity::kWarning, where, std::string(p->key),
                                      Message({"invalid value ", Quoted(p->value),
                                               " in \"worker.maintain\": ", problem})});
  if (seconds >= 0) return seconds;
  diagnostics->push_back(Diagnostic{Severity::kWarning, where, std::string(p->key),
                                    "\"worker.maintain\" is negative, mod_jk uses 0 (off)"});
  return 0;
}

// An lb worker outside worker.list is never built by mod_jk, so its errors
// do not stop Apache. They do not stop nginx either, but such an lb cannot
// be used: its errors become warnings and it is left out of the model.
void DowngradeUnlistedErrors(std::string_view name, std::vector<Diagnostic>* diagnostics) {
  std::vector<Diagnostic> kept;
  for (Diagnostic& d : *diagnostics) {
    if (d.severity == Severity::kNotice) continue;
    if (d.severity == Severity::kError) {
      d.severity = Severity::kWarning;
      d.message = Message({d.message, " (lb worker ", Quoted(name),
                           " is not in \"worker.list\", so mod_jk ignores this; nginx cannot "
                           "use it)"});
    }
    kept.push_back(std::move(d));
  }
  *diagnostics = std::move(kept);
}

// A set of names (views): sorted once, then looked up. One allocation, where
// a std::set makes one per name.
class Names {
 public:
  Names() = default;
  template <typename Iterator>
  Names(Iterator first, Iterator last) : names_(first, last) {
    Sort();
  }
  void Add(std::string_view name) { names_.push_back(name); }
  // After Add(), before Contains().
  void Sort() { std::sort(names_.begin(), names_.end()); }
  bool Contains(std::string_view name) const {
    return std::binary_search(names_.begin(), names_.end(), name);
  }

 private:
  std::vector<std::string_view> names_;
};

// File order: by line, messages about no line last.
bool BeforeInFile(const Diagnostic& a, const Diagnostic& b) {
  auto line = [](const Diagnostic& d) { return d.where.line == 0 ? ~0u : d.where.line; };
  return line(a) < line(b);
}

// Stable: messages of one line keep the order they were made in. Lists come
// mostly in order (the reader's: its lines, then its references): only what
// follows the sorted start is sorted, then merged with it.
void SortByLine(std::vector<Diagnostic>* diagnostics) {
  const auto begin = diagnostics->begin(), end = diagnostics->end();
  const auto rest = std::is_sorted_until(begin, end, BeforeInFile);
  if (rest == end) return;
  std::stable_sort(rest, end, BeforeInFile);
  std::inplace_merge(begin, rest, end, BeforeInFile);
}

// The kind of a diagnostic: its severity and its message without what is
// between quote marks and without digits ("duplicate \"\": the value \"\"
// of line  is replaced by \"\""), hashed (FNV-1a; two kinds that collide
// are merely counted together).
std::uint64_t KindOf(const Diagnostic& d) {
  std::uint64_t hash = 14695981039346656037ull ^ static_cast<std::uint64_t>(d.severity);
  const std::string_view message = d.message;
  size_t pos = 0;
  auto add = [&hash](unsigned char c) { hash = (hash ^ c) * 1099511628211ull; };
  while (pos < message.size()) {
    // What is not quoted, digits left out; then the quote marks, without
    // what is between them (found with memchr, not byte by byte).
    const size_t quote = std::min(message.find('"', pos), message.size());
    for (; pos < quote; ++pos) {
      const auto c = static_cast<unsigned char>(message[pos]);
      if (static_cast<unsigned>(c - '0') > 9) add(c);
    }
    if (quote == message.size()) break;
    add('"');
    pos = message.find('"', quote + 1);  // an unclosed quote runs to the end
    if (pos == std::string_view::npos) break;
    add('"');
    ++pos;
  }
  return hash;
}

// The diagnostics of the workers as they are shown: in file order, each
// message once (a member of two lb workers is read twice), at most
// kMaxDiagnosticsOfAKind of each kind, then, per kind that had more, one
// line counting the rest. Done on their indexes: each one shown is moved
// once (files with thousands of lb workers make thousands of messages).
void OrderDiagnostics(std::vector<Diagnostic>* diagnostics) {
  std::vector<Diagnostic>& all = *diagnostics;
  std::vector<std::uint32_t> order(all.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = static_cast<std::uint32_t>(i);
  if (!std::is_sorted(all.begin(), all.end(), BeforeInFile))
    std::stable_sort(order.begin(), order.end(), [&all](std::uint32_t a, std::uint32_t b) {
      return BeforeInFile(all[a], all[b]);
    });

  // Each message once: order[0, unique) are the first of each.
  IndexByHash seen(all.size());  // hash of (line, severity, key, message) -> place in order
  size_t unique = 0;
  for (size_t i = 0; i < order.size(); ++i) {
    const Diagnostic& d = all[order[i]];
    const size_t hash = HashText(d.key) * 31 + HashText(d.message) * 7 + d.where.line * 3 +
                        static_cast<size_t>(d.severity);
    auto same = [&](size_t k) {
      const Diagnostic& u = all[order[k]];
      return u.where.line == d.where.line && u.severity == d.severity && u.key == d.key &&
             u.message == d.message;
    };
    if (seen.Find(hash, same) >= 0) continue;
    seen.Add(hash, unique);
    order[unique++] = order[i];
  }
  order.resize(unique);

  // At most kMaxDiagnosticsOfAKind of each kind (a list that short needs no
  // counting).
  const bool cap = order.size() > kMaxDiagnosticsOfAKind;
  struct Count {
    size_t first;  // index in `shown`
    size_t shown;
    size_t omitted;
  };
  std::vector<Count> counts;
  IndexByHash kinds(cap ? order.size() : 0);  // kind -> index in `counts`
  std::vector<Diagnostic> shown;
  shown.reserve(order.size());
  for (std::uint32_t index : order) {
    Diagnostic& d = all[index];
    if (cap) {
      const std::uint64_t kind = KindOf(d);
      std::ptrdiff_t found = kinds.Find(kind, [](size_t) { return true; });
      if (found < 0) {
        found = static_cast<std::ptrdiff_t>(counts.size());
        kinds.Add(kind, counts.size());
        counts.push_back(Count{shown.size(), 0, 0});
      }
      Count& c = counts[static_cast<size_t>(found)];
      if (c.shown == kMaxDiagnosticsOfAKind) {
        ++c.omitted;
        continue;
      }
      ++c.shown;
    }
    shown.push_back(std::move(d));
  }
  for (const Count& c : counts)
    if (c.omitted > 0) shown.push_back(OmittedDiagnostic(shown[c.first], c.omitted));
  all = std::move(shown);
}

// `first` and `second` in file order (each is already): what a stable sort
// of the two one after the other gives. Merged from the back into `first`.
std::vector<Diagnostic> Merge(std::vector<Diagnostic> first, std::vector<Diagnostic> second) {
  size_t i = first.size(), j = second.size(), k = i + j;
  first.resize(k);
  while (j > 0) {
    // On the same line, those of `first` stay first.
    if (i > 0 && BeforeInFile(second[j - 1], first[i - 1])) first[--k] = std::move(first[--i]);
    else first[--k] = std::move(second[--j]);
  }
  return first;
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
  read.reserve(32);  // what a file with problems usually has, in one allocation
  Properties properties = ReadProperties(text, file, env, &read);

  ReportedKeys reported;
  WorkerContext context{properties, file, WorkerKeys(properties), &config.diagnostics, &reported};
  const std::vector<std::string_view>& definition_order = context.keys.names();

  config.worker_list = ReadWorkerList(properties, file, &config.diagnostics);
  config.maintain = ReadMaintain(properties, file, &config.diagnostics);
  const Names listed_names(config.worker_list.begin(), config.worker_list.end());
  auto listed = [&](std::string_view name) { return listed_names.Contains(name); };

  // Every lb worker, with its members.
  for (std::string_view name : definition_order) {
    if (WorkerTypeName(context, name) != "lb") continue;
    Balancer balancer;
    std::vector<Diagnostic> found;
    const size_t reported_before = reported.Mark();
    context.diagnostics = &found;
    bool ok = BuildBalancer(context, name, &balancer);
    context.diagnostics = &config.diagnostics;
    if (!ok && !listed(name)) {
      DowngradeUnlistedErrors(name, &found);
      reported.ForgetSince(reported_before);  // its notices were dropped
    } else {
      config.balancers.push_back(std::move(balancer));
    }
    config.diagnostics.insert(config.diagnostics.end(), std::make_move_iterator(found.begin()),
                              std::make_move_iterator(found.end()));
  }

  Names members;
  for (const Balancer& b : config.balancers)
    for (const Member& m : b.members) members.Add(m.name);
  members.Sort();

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
    if (members.Contains(name)) continue;
    if (list != nullptr && !IsDefined(context, name))
      config.diagnostics.push_back(Diagnostic{
          Severity::kWarning, SourceLocation{file, list->line}, std::string(list->key),
          Message({"worker ", Quoted(name),
                   " of \"worker.list\" is not defined: mod_jk makes it an ajp13 worker for "
                   "localhost:8009"})});
    CheckListedWorker(context, name);
  }

  // Attributes that do nothing on the workers mod_jk builds.
  Names built(members);
  for (const std::string& name : config.worker_list) built.Add(name);
  for (const Balancer& b : config.balancers) built.Add(b.name);
  built.Sort();
  for (std::string_view name : definition_order)
    if (built.Contains(name)) CheckAttributesApply(context, name);

  // Everything else that is defined (templates, status workers, ...).
  config.others.reserve(definition_order.size());
  for (std::string_view name : definition_order) {
    std::string_view type = WorkerTypeName(context, name);
    if (type == "lb" || members.Contains(name)) continue;
    config.others.push_back(
        OtherWorker{std::string(name), std::string(type), WorkerLocation(context, name)});
  }
  for (const std::string& name : config.worker_list)
    if (!IsDefined(context, name) && !members.Contains(name))
      config.others.push_back(OtherWorker{
          name, "ajp13", SourceLocation{file, list ? list->line : 0}, /*defined=*/false});

  OrderDiagnostics(&config.diagnostics);
  SortByLine(&read);
  config.diagnostics = Merge(std::move(read), std::move(config.diagnostics));
  return config;
}

const Balancer* SelectBalancer(const Config& config, std::string_view name, std::string* error) {
  // For the error messages only: not made when a balancer is found.
  auto known = [&config] {
    std::string known;
    if (!config.balancers.empty()) known = "lb workers: " + JoinNames(config.balancers);
    if (!config.singles.empty())
      known += (known.empty() ? "" : "; ") +
               std::string("ajp13/ajp14 workers of \"worker.list\": ") +
               JoinNames(config.singles);
    if (known.empty())
      known = config.file +
              " has no usable lb worker and no ajp13 or ajp14 worker in \"worker.list\"";
    return known;
  };
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
      *error = Message({"no lb, ajp13 or ajp14 worker ", Quoted(name), " in ", config.file, " (",
                        known(), ")"});
    } else if (type != "ajp13" && type != "ajp14") {
      *error = Message({"worker ", Quoted(name), " in ", config.file, " is not an lb worker but ",
                        type, " (", known(), ")"});
    } else if (listed(name)) {
      *error = Message({"worker ", Quoted(name), " of \"worker.list\" in ", config.file,
                        " is not defined: there is no \"worker.", name, ".*\" key (", known(),
                        ")"});
    } else {
      *error = Message({type, " worker ", Quoted(name), " in ", config.file,
                        " is not in \"worker.list\": add it there to use it on its own (",
                        known(), ")"});
    }
    return nullptr;
  }

  for (const std::string& worker : config.worker_list)
    for (const Balancer& b : config.balancers)
      if (b.name == worker) return &b;
  if (config.balancers.size() == 1) return &config.balancers.front();
  if (!config.singles.empty()) return &config.singles.front();
  if (config.balancers.empty()) {
    const std::string defined = DescribeWorkers(config.others);
    *error = defined.empty()
                 ? Message({"no lb worker in ", config.file, ": it defines no worker"})
                 : Message({"no lb worker in ", config.file, ": it defines ", defined,
                            ", and its \"worker.list\" names no ajp13 or ajp14 worker. "
                            "Balance them with an lb worker (worker.NAME.type=lb and "
                            "worker.NAME.balance_workers=...), or list one in \"worker.list\" "
                            "and use it alone with worker=NAME"});
    return nullptr;
  }
  *error = Message({"several lb workers in ", config.file, " (", JoinNames(config.balancers),
                    ") and none in \"worker.list\": use lb=NAME"});
  return nullptr;
}

}  // namespace sticky
