#include "workers.h"

#include <algorithm>
#include <cstdint>
#include <map>
#include <set>
#include <string_view>

#include "attributes.h"
#include "values.h"

namespace sticky {

namespace {

std::string Quote(std::string_view s) { return "\"" + std::string(s) + "\""; }

// The key that really is in the file: for an inherited key, the template's.
const std::string& OriginalKey(const Property& p) {
  return p.inherited_from.empty() ? p.key : p.inherited_from;
}

// "worker.n1.port", or "worker.n1.port" (inherited from "worker.t.port").
std::string Describe(const Property& p) {
  if (p.inherited_from.empty()) return Quote(p.key);
  return Quote(p.key) + " (inherited from " + Quote(p.inherited_from) + ")";
}

void Report(const WorkerContext& context, Severity severity, const SourceLocation& where,
            const std::string& key, std::string message) {
  context.diagnostics->push_back(Diagnostic{severity, where, key, std::move(message)});
}

// Reads the attributes of one worker, with a diagnostic for every value
// that is not what it should be. ok() is false once an error was reported.
class AttributeReader {
 public:
  AttributeReader(const WorkerContext& context, const std::string& worker)
      : context_(context), worker_(worker) {}

  const Property* Find(std::string_view attribute) const {
    key_.assign("worker.").append(worker_).append(".").append(attribute);
    return context_.properties.Find(key_);
  }

  std::string String(std::string_view attribute, const std::string& default_value) {
    const Property* p = Find(attribute);
    return p ? p->value : default_value;
  }

  // A string mod_jk keeps in shared memory: at most kMaxNameLength bytes.
  std::string ShortString(std::string_view attribute, const std::string& default_value) {
    const Property* p = Find(attribute);
    if (p == nullptr) return default_value;
    CheckLength(*p, attribute);
    return p->value;
  }

  int Int(std::string_view attribute, int default_value) {
    const Property* p = Find(attribute);
    if (p == nullptr) return default_value;
    std::string problem;
    int value = ParseInt(p->value, &problem);
    if (!problem.empty()) Invalid(*p, problem);
    return value;
  }

  // mod_jk raises some values silently to a minimum; we say so.
  int AtLeast(std::string_view attribute, int default_value, int minimum) {
    int value = Int(attribute, default_value);
    if (value >= minimum) return value;
    Warning(*Find(attribute), Describe(*Find(attribute)) + " is " + std::to_string(value) +
                                  ", below the minimum: mod_jk uses " +
                                  std::to_string(minimum));
    return minimum;
  }

  bool Bool(std::string_view attribute, bool default_value) {
    const Property* p = Find(attribute);
    if (p == nullptr) return default_value;
    std::string problem;
    bool value = ParseBool(p->value, default_value, &problem);
    if (!problem.empty()) Invalid(*p, problem);
    return value;
  }

  template <typename T, typename Parse>
  T Enum(std::string_view attribute, T default_value, Parse parse) {
    const Property* p = Find(attribute);
    if (p == nullptr) return default_value;
    std::string problem;
    T value = parse(p->value, &problem);
    if (!problem.empty()) Invalid(*p, problem);
    return value;
  }

  void CheckLength(const Property& p, std::string_view what) {
    if (p.value.size() <= kMaxNameLength) return;
    Error(p, std::string(what) + " " + Quote(p.value) + " in " + Describe(p) + " is " +
                 std::to_string(p.value.size()) + " bytes long, mod_jk allows at most " +
                 std::to_string(kMaxNameLength));
  }

  void Invalid(const Property& p, const std::string& problem) {
    Warning(p, "invalid value " + Quote(p.value) + " in " + Describe(p) + ": " + problem);
  }

  void Warning(const Property& p, std::string message) {
    Report(context_, Severity::kWarning, p.where, p.key, std::move(message));
  }

  void Error(const Property& p, std::string message) {
    Report(context_, Severity::kError, p.where, p.key, std::move(message));
    ok_ = false;
  }

  bool ok() const { return ok_; }

 private:
  mutable std::string key_;  // Find()'s key, reused: it runs for every attribute of every worker
  const WorkerContext& context_;
  const std::string& worker_;
  bool ok_ = true;
};

bool CheckNameLength(const WorkerContext& context, const std::string& name) {
  if (name.size() <= kMaxNameLength) return true;
  Report(context, Severity::kError, WorkerLocation(context, name), "",
         "worker name " + Quote(name) + " is " + std::to_string(name.size()) +
             " bytes long, mod_jk allows at most " + std::to_string(kMaxNameLength));
  return false;
}

// Keeps the attributes nginx does not use in *unused, with a notice each.
void CollectUnused(const WorkerContext& context, const std::string& name, WorkerType type,
                   std::vector<std::pair<std::string, std::string>>* unused) {
  auto keys = context.keys.find(name);
  if (keys == context.keys.end()) return;
  for (size_t index : keys->second) {
    const Property& p = context.properties.entries()[index];
    std::string attribute = SplitWorkerKey(p.key)->attribute;
    if (!IsUnusedByNginx(attribute, type)) continue;
    unused->emplace_back(attribute, p.value);
    if (context.reported->emplace(p.where.line, OriginalKey(p)).second)
      Report(context, Severity::kNotice, p.where, OriginalKey(p),
             Quote(OriginalKey(p)) + " is not used by nginx");
  }
}

// jk_ajp_common.c: the ping_mode bits, from jk_ajp_get_cping_mode.
constexpr int kPingConnect = 1;
constexpr int kPingPrepost = 2;
constexpr int kPingInterval = 4;

// jk_ajp_get_cping_mode: C, P and I (any case) add their bit, A (any case)
// means all three and ends the scan; other characters are skipped. Sets
// *problem when there are such characters.
int ParsePingMode(const std::string& mode, std::string* problem) {
  int bits = 0;
  std::string ignored;
  for (char c : mode) {
    switch (c) {
      case 'C': case 'c': bits |= kPingConnect; continue;
      case 'P': case 'p': bits |= kPingPrepost; continue;
      case 'I': case 'i': bits |= kPingInterval; continue;
      case 'A': case 'a': bits = kPingConnect | kPingPrepost | kPingInterval; break;
      default:
        if (ignored.find(c) == std::string::npos) ignored += c;
        continue;
    }
    break;  // 'A'
  }
  if (!ignored.empty())
    *problem = "mod_jk ignores " + Quote(ignored) + " (the letters are C, P, I and A)";
  return bits;
}

// jk_util.c jk_get_max_packet_size: rounded up to a multiple of 1024 in
// mod_jk's int arithmetic (which wraps), then kept within 8192..65536.
int ModJkPacketSize(int written) {
  constexpr int kDefault = 8192, kMax = 65536, kAlign = 1024;
  auto aligned = static_cast<int32_t>((static_cast<uint32_t>(written) + (kAlign - 1)) &
                                      ~static_cast<uint32_t>(kAlign - 1));
  if (aligned < kDefault) return kDefault;
  if (aligned > kMax) return kMax;
  return aligned;
}

// The attributes of an ajp13/ajp14 worker (jk_ajp_common.c ajp_validate and
// ajp_init, jk_ajp14_worker.c, and what jk_lb_worker.c reads of a member).
// `lb` is the lb worker it is a member of, or empty for a worker of
// worker.list used on its own. The name, its definition and its type are
// already checked.
bool ReadAjpWorker(const WorkerContext& context, const std::string& name, const std::string& lb,
                   WorkerType type, Member* m) {
  AttributeReader r(context, name);
  m->type = WorkerTypeName(context, name);
  bool ok = true;
  if (type == WorkerType::kAjp14) {
    if (r.Find("secretkey") == nullptr) {
      Report(context, Severity::kError, m->where, "",
             "ajp14 worker " + Quote(name) + " has no \"worker." + name +
                 ".secretkey\", which mod_jk requires");
      ok = false;
    }
    const Property* type_key = r.Find("type");
    Report(context, Severity::kNotice, type_key->where, OriginalKey(*type_key),
           "ajp14 worker " + Quote(name) + " is spoken to as ajp13: mod_jk's ajp14 adds a "
           "login handshake that Tomcat no longer implements, so its \"secretkey\" is not "
           "used");
  }

  m->host = r.ShortString("host", "localhost");
  m->port = r.Int("port", type == WorkerType::kAjp14 ? 8011 : 8009);
  if (m->port < 0 || m->port > 65535)
    r.Error(*r.Find("port"), "port " + std::to_string(m->port) + " in " +
                                 Describe(*r.Find("port")) + " is not between 0 and 65535");
  m->lbfactor = r.AtLeast("lbfactor", 1, 1);
  if (r.Find("route")) m->route = r.ShortString("route", name);
  else m->route = r.ShortString("jvm_route", name);
  m->domain = r.ShortString("domain", "");
  if (m->domain.empty() && m->route.find('.') != std::string::npos)
    m->domain = m->route.substr(0, m->route.find('.'));
  m->redirect = r.ShortString("redirect", "");
  m->distance = r.Int("distance", 0);
  if (r.Find("activation"))
    m->activation = r.Enum("activation", Activation::kActive, ParseActivation);
  else if (r.Bool("stopped", false)) m->activation = Activation::kStopped;
  else if (r.Bool("disabled", false)) m->activation = Activation::kDisabled;
  if (m->port == 0 && m->activation != Activation::kStopped) {
    r.Warning(*r.Find("port"),
              "port 0 in " + Describe(*r.Find("port")) +
                  (lb.empty() ? ": worker " + Quote(name) +
                                    " cannot be reached, nginx sets it to Stopped"
                              : ": mod_jk sets member " + Quote(name) + " to Stopped"));
    m->activation = Activation::kStopped;
  }

  if (const Property* p = r.Find("fail_on_status")) {
    for (const std::string& word : SplitList(p->value)) {
      std::string problem;
      int status = ParseInt(word, &problem);
      int64_t code = status < 0 ? -int64_t{status} : status;
      if (problem.empty() && code >= 100 && code <= 599)
        m->fail_on_status.push_back(status);
      else
        r.Warning(*p, "invalid status " + Quote(word) + " in " + Describe(*p) +
                          ": not an HTTP status code (or its negative), ignored");
    }
  }

  // ajp_init: a CPing timeout of 0 (set or not) becomes ping_timeout when
  // ping_mode asks for that CPing; so does an interval of 0.
  m->ping_timeout = r.Int("ping_timeout", 10000);
  m->ping_mode = r.String("ping_mode", "");
  int ping_mode = r.Enum("ping_mode", 0, ParsePingMode);
  m->connect_timeout = r.Int("connect_timeout", 0);
  if ((ping_mode & kPingConnect) && m->connect_timeout == 0) m->connect_timeout = m->ping_timeout;
  m->prepost_timeout = r.Int("prepost_timeout", 0);
  if ((ping_mode & kPingPrepost) && m->prepost_timeout == 0) m->prepost_timeout = m->ping_timeout;
  m->ping_interval = r.Int("connection_ping_interval", 0);
  if ((ping_mode & kPingInterval) && m->ping_interval == 0)
    m->ping_interval = m->ping_timeout / 100;  // ms / 1000 * 10: ten CPong waits, in s

  m->socket_timeout = r.Int("socket_timeout", 0);
  // In mod_jk's int arithmetic, which wraps.
  auto seconds_in_ms = static_cast<int32_t>(
      static_cast<uint32_t>(static_cast<int64_t>(m->socket_timeout) * 1000));
  m->socket_connect_timeout = r.Int("socket_connect_timeout", seconds_in_ms);
  m->socket_keepalive = r.Bool("socket_keepalive", false);
  m->reply_timeout = r.Int("reply_timeout", 0);
  m->retries = r.AtLeast("retries", 2, 1);
  m->retry_interval = r.Int("retry_interval", 100);
  m->recovery_options = r.Int("recovery_options", 0);
  m->busy_limit = r.Int("busy_limit", 0);

  m->secret = r.String("secret", "");
  if (const Property* p = r.Find("max_packet_size")) {
    int written = r.Int("max_packet_size", 8192);
    m->max_packet_size = ModJkPacketSize(written);
    if (m->max_packet_size != written)
      r.Warning(*p, Describe(*p) + " is " + std::to_string(written) +
                        (written > 65536 && m->max_packet_size != 65536
                             ? ", so large that mod_jk's rounding overflows"
                         : written > 65536 ? ", above the maximum"
                         : written < 8192  ? ", below the minimum"
                                           : ", not a multiple of 1024") +
                        ": mod_jk uses " + std::to_string(m->max_packet_size) +
                        " (Tomcat's packetSize must match)");
  }

  // jk_get_worker_cache_size: connection_pool_size when it is >= 0, else
  // the old cachesize, else the web server's default.
  const Property* pool_key = r.Find("connection_pool_size");
  if (pool_key) m->pool_size = r.Int("connection_pool_size", -1);
  if (m->pool_size < 0 && r.Find("cachesize")) {
    pool_key = r.Find("cachesize");
    m->pool_size = r.Int("cachesize", -1);
  }
  if (m->pool_size == 0)
    r.Warning(*pool_key, Describe(*pool_key) + " is 0: mod_jk would have no connection for " +
                             Quote(name) + ", so every request to it would fail; nginx uses "
                             "its default pool size");
  if (m->pool_size < 0) m->pool_size = -1;
  m->pool_minsize = r.Int("connection_pool_minsize", m->pool_size > 0
                                                         ? (m->pool_size + 1) / 2 : -1);
  // jk_get_worker_cache_timeout: the same with connection_pool_timeout and
  // cache_timeout, default 0.
  m->pool_timeout = r.Find("connection_pool_timeout") ? r.Int("connection_pool_timeout", -1) : -1;
  if (m->pool_timeout < 0) m->pool_timeout = r.Int("cache_timeout", 0);

  CollectUnused(context, name, type, &m->unused);
  return ok && r.ok();
}

// One member of lb worker `lb`, listed in `list` (its balance_workers key).
bool BuildMember(const WorkerContext& context, const std::string& name, const std::string& lb,
                 const Property& list, Member* m) {
  m->name = name;
  m->where = IsDefined(context, name) ? WorkerLocation(context, name) : list.where;
  if (!IsDefined(context, name)) {
    // mod_jk would make it an ajp13 worker for localhost:8009: a typo, surely.
    Report(context, Severity::kError, list.where, list.key,
           "member " + Quote(name) + " of lb worker " + Quote(lb) + " in " + Describe(list) +
               " is not defined: there is no \"worker." + name + ".*\" key");
    return false;
  }
  if (!CheckNameLength(context, name)) return false;

  AttributeReader r(context, name);
  m->type = WorkerTypeName(context, name);
  WorkerType type = ParseWorkerType(m->type);
  const Property* type_key = r.Find("type");
  SourceLocation type_where = type_key ? type_key->where : m->where;
  if (type == WorkerType::kUnknown) {
    Report(context, Severity::kError, type_where, type_key->key,
           "unknown type " + Quote(m->type) + " in " + Describe(*type_key) +
               " (ajp13, ajp14, lb or status)");
    return false;
  }
  if (type != WorkerType::kAjp13 && type != WorkerType::kAjp14) {
    Report(context, Severity::kError, type_where, type_key ? type_key->key : "",
           "member " + Quote(name) + " of lb worker " + Quote(lb) + " has type " +
               Quote(m->type) + ": lb members must be ajp13 or ajp14 workers");
    return false;
  }
  return ReadAjpWorker(context, name, lb, type, m);
}

// Where a member's route came from, for the duplicate-route message.
SourceLocation RouteLocation(const WorkerContext& context, const Member& m) {
  AttributeReader r(context, m.name);
  if (const Property* p = r.Find("route")) return p->where;
  if (const Property* p = r.Find("jvm_route")) return p->where;
  return m.where;
}

}  // namespace

std::string WorkerTypeName(const WorkerContext& context, const std::string& name) {
  const Property* p = context.properties.Find("worker." + name + ".type");
  return p ? p->value : "ajp13";
}

SourceLocation WorkerLocation(const WorkerContext& context, const std::string& name) {
  auto keys = context.keys.find(name);
  if (keys != context.keys.end())
    return context.properties.entries()[keys->second.front()].where;
  if (const Property* list = context.properties.Find("worker.list")) return list->where;
  return SourceLocation{context.file, 0};
}

bool IsDefined(const WorkerContext& context, const std::string& name) {
  return context.keys.count(name) != 0;
}

bool BuildBalancer(const WorkerContext& context, const std::string& name, Balancer* b) {
  AttributeReader r(context, name);
  b->name = name;
  b->where = WorkerLocation(context, name);
  bool ok = CheckNameLength(context, name);

  // balance_workers, else the old balanced_workers (not both: mod_jk reads one).
  const Property* list = r.Find("balance_workers");
  std::vector<std::string> names = list ? SplitList(list->value) : std::vector<std::string>();
  if (names.empty() && r.Find("balanced_workers")) {
    list = r.Find("balanced_workers");
    names = SplitList(list->value);
  }
  if (names.empty()) {
    Report(context, Severity::kError, list ? list->where : b->where,
           "worker." + name + ".balance_workers",
           "lb worker " + Quote(name) + " has no members: \"worker." + name +
               ".balance_workers\" is missing or empty");
    ok = false;
  }

  std::set<std::string> seen;
  std::vector<SourceLocation> route_where;
  for (const std::string& member_name : names) {
    if (!seen.insert(member_name).second) {
      // mod_jk builds it twice and then fails: both have the same route.
      Report(context, Severity::kError, list->where, list->key,
             "member " + Quote(member_name) + " is listed twice in " + Describe(*list) +
                 ", mod_jk refuses two members with the same route");
      ok = false;
      continue;
    }
    Member m;
    if (!BuildMember(context, member_name, name, *list, &m)) ok = false;
    route_where.push_back(RouteLocation(context, m));
    b->members.push_back(std::move(m));
  }

  // The first member of each route (a map, not a pairwise scan: files with
  // a thousand members exist).
  std::map<std::string_view, size_t> first_with_route;
  for (size_t i = 0; i < b->members.size(); ++i) {
    auto [it, first] = first_with_route.emplace(b->members[i].route, i);
    if (first) continue;
    const size_t j = it->second;
    Report(context, Severity::kError, route_where[i],
           "worker." + b->members[i].name + ".route",
           "members " + Quote(b->members[j].name) + " and " + Quote(b->members[i].name) +
               " of lb worker " + Quote(name) + " have the same route " +
               Quote(b->members[i].route) + ": set \"worker." + b->members[i].name +
               ".route\" to the jvmRoute of its Tomcat");
    ok = false;
  }
  for (const Member& m : b->members) {
    if (m.redirect.empty()) continue;
    if (first_with_route.count(m.redirect)) continue;
    AttributeReader mr(context, m.name);
    mr.Warning(*mr.Find("redirect"),
               "redirect " + Quote(m.redirect) + " in " + Describe(*mr.Find("redirect")) +
                   " is not the route of a member of lb worker " + Quote(name) +
                   ", mod_jk ignores it");
  }

  // jk_lb_worker.c init: the lb's secret goes to the members without one.
  const std::string secret = r.String("secret", "");
  for (Member& m : b->members)
    if (m.secret.empty()) m.secret = secret;

  b->sticky_session = r.Bool("sticky_session", true);
  b->sticky_session_force = r.Bool("sticky_session_force", false);
  b->method = r.Enum("method", Method::kRequest, ParseMethod);
  b->lock = r.Enum("lock", Lock::kOptimistic, ParseLock);
  b->retries = r.AtLeast("retries", 2, 1);
  b->lb_retries = r.AtLeast("lb_retries", 2, 1);
  b->retry_interval = r.Int("retry_interval", 100);
  b->recover_time = r.AtLeast("recover_time", 60, 1);
  b->error_escalation_time = r.Int("error_escalation_time", b->recover_time / 2);
  b->max_reply_timeouts = r.Int("max_reply_timeouts", 0);
  b->session_cookie = r.ShortString("session_cookie", "JSESSIONID");
  b->session_path = r.ShortString("session_path", ";jsessionid");
  b->set_session_cookie = r.Bool("set_session_cookie", false);
  b->session_cookie_path = r.ShortString("session_cookie_path", "/");

  CollectUnused(context, name, WorkerType::kLb, &b->unused);
  return ok && r.ok();
}

bool BuildSingle(const WorkerContext& context, const std::string& name, Balancer* b) {
  b->name = name;
  b->single = true;
  b->where = WorkerLocation(context, name);
  Member m;
  m.name = name;
  m.where = b->where;
  bool ok = CheckNameLength(context, name) &&
            ReadAjpWorker(context, name, "", ParseWorkerType(WorkerTypeName(context, name)), &m);
  // mod_jk reads activation only for lb members: a worker mounted on its own
  // serves whatever its `activation` says (port 0 still stops it).
  if (m.port != 0) m.activation = Activation::kActive;
  b->members.push_back(std::move(m));
  return ok;
}

void CheckListedWorker(const WorkerContext& context, const std::string& name) {
  if (!CheckNameLength(context, name)) return;
  AttributeReader r(context, name);
  std::string type_name = WorkerTypeName(context, name);
  WorkerType type = ParseWorkerType(type_name);
  if (type == WorkerType::kUnknown) {
    const Property& p = *r.Find("type");
    r.Error(p, "unknown type " + Quote(type_name) + " in " + Describe(p) +
                   " (ajp13, ajp14, lb or status)");
    return;
  }
  if (type == WorkerType::kStatus || type == WorkerType::kLb) return;
  r.ShortString("host", "localhost");
}

void CheckAttributesApply(const WorkerContext& context, const std::string& name) {
  auto keys = context.keys.find(name);
  if (keys == context.keys.end()) return;
  std::string type_name = WorkerTypeName(context, name);
  WorkerType type = ParseWorkerType(type_name);
  for (size_t index : keys->second) {
    const Property& p = context.properties.entries()[index];
    std::string attribute = SplitWorkerKey(p.key)->attribute;
    // Deprecated ones already have their own warning.
    if (AppliesTo(attribute, type) || IsDeprecatedAttribute(attribute)) continue;
    if (!context.reported->emplace(p.where.line, OriginalKey(p)).second) continue;
    Report(context, Severity::kWarning, p.where, OriginalKey(p),
           "attribute " + Quote(attribute) + " in " + Describe(p) + " has no effect on " +
               type_name + " worker " + Quote(name));
  }
}

}  // namespace sticky
