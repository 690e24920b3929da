#include "config/workers.h"

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string_view>

#include "config/attributes.h"
#include "config/hash_index.h"
#include "config/message.h"
#include "config/values.h"

namespace sticky {

namespace {


// The key that really is in the file: for an inherited key, the template's.
std::string_view OriginalKey(const Property& p) {
  return p.inherited_from.empty() ? p.key : p.inherited_from;
}

// "worker.n1.port", or "worker.n1.port" (inherited from "worker.t.port").
std::string Describe(const Property& p) {
  if (p.inherited_from.empty()) return Message({Quoted(p.key)});
  return Message({Quoted(p.key), " (inherited from ", Quoted(p.inherited_from), ")"});
}

void Report(const WorkerContext& context, Severity severity, const SourceLocation& where,
            std::string_view key, std::string message) {
  context.diagnostics->push_back(
      Diagnostic{severity, where, std::string(key), std::move(message)});
}

SourceLocation Where(const WorkerContext& context, const Property& p) {
  return SourceLocation{context.file, p.line};
}

// Reads the attributes of one worker, with a diagnostic for every value
// that is not what it should be. ok() is false once an error was reported.
class AttributeReader {
 public:
  AttributeReader(const WorkerContext& context, std::string_view worker)
      : context_(context), worker_(worker), keys_(context.keys.Of(worker)) {}

  // A worker has a few keys: looking through them is quicker than hashing
  // "worker.NAME.attribute" (a reader asks for some 50 attributes).
  const Property* Find(std::string_view attribute) const {
    if (keys_.last - keys_.first > kMostKeysLookedThrough)
      return context_.properties.Find({"worker.", worker_, ".", attribute});
    // Each key is "worker." + worker_ + "." + an attribute without a '.'.
    const size_t prefix = 7 + worker_.size() + 1;
    for (std::uint32_t index : keys_) {
      const Property& p = context_.properties.entries()[index];
      if (p.key.size() == prefix + attribute.size() && p.key.substr(prefix) == attribute)
        return &p;
    }
    return nullptr;
  }

  std::string String(std::string_view attribute, std::string_view default_value) {
    const Property* p = Find(attribute);
    return std::string(p ? p->value : default_value);
  }

  // A string mod_jk keeps in shared memory: at most kMaxNameLength bytes.
  std::string ShortString(std::string_view attribute, std::string_view default_value) {
    const Property* p = Find(attribute);
    if (p == nullptr) return std::string(default_value);
    CheckLength(*p, attribute);
    return std::string(p->value);
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
    Warning(*Find(attribute), Message({Describe(*Find(attribute)), " is ", value,
                                       ", below the minimum: mod_jk uses ", minimum}));
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
    Error(p, Message({what, " ", Quoted(p.value), " in ", Describe(p), " is ", p.value.size(),
                      " bytes long, mod_jk allows at most ", kMaxNameLength}));
  }

  void Invalid(const Property& p, const std::string& problem) {
    Warning(p, Message({"invalid value ", Quoted(p.value), " in ", Describe(p), ": ", problem}));
  }

  void Warning(const Property& p, std::string message) {
    Report(context_, Severity::kWarning, Where(context_, p), p.key, std::move(message));
  }

  void Error(const Property& p, std::string message) {
    Report(context_, Severity::kError, Where(context_, p), p.key, std::move(message));
    ok_ = false;
  }

  bool ok() const { return ok_; }

 private:
  static constexpr std::ptrdiff_t kMostKeysLookedThrough = 32;

  const WorkerContext& context_;
  const std::string_view worker_;
  const WorkerKeys::Range keys_;
  bool ok_ = true;
};

bool CheckNameLength(const WorkerContext& context, std::string_view name) {
  if (name.size() <= kMaxNameLength) return true;
  Report(context, Severity::kError, WorkerLocation(context, name), "",
         Message({"worker name ", Quoted(name), " is ", name.size(),
                  " bytes long, mod_jk allows at most ", kMaxNameLength}));
  return false;
}

// Keeps the attributes nginx does not use in *unused, with a notice each.
void CollectUnused(const WorkerContext& context, std::string_view name, WorkerType type,
                   std::vector<std::pair<std::string, std::string>>* unused) {
  for (size_t index : context.keys.Of(name)) {
    const Property& p = context.properties.entries()[index];
    std::string_view attribute = SplitWorkerKey(p.key)->attribute;
    if (!IsUnusedByNginx(attribute, type)) continue;
    unused->emplace_back(std::string(attribute), std::string(p.value));
    if (context.reported->Add(p.line, OriginalKey(p)))
      Report(context, Severity::kNotice, Where(context, p), OriginalKey(p),
             Message({Quoted(OriginalKey(p)), " is not used by nginx"}));
  }
}

// jk_ajp_common.c: the ping_mode bits, from jk_ajp_get_cping_mode.
constexpr int kPingConnect = 1;
constexpr int kPingPrepost = 2;
constexpr int kPingInterval = 4;

// jk_ajp_get_cping_mode: C, P and I (any case) add their bit, A (any case)
// means all three and ends the scan; other characters are skipped. Sets
// *problem when there are such characters.
int ParsePingMode(std::string_view mode, std::string* problem) {
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
    *problem = Message({"mod_jk ignores ", Quoted(ignored), " (the letters are C, P, I and A)"});
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
bool ReadAjpWorker(const WorkerContext& context, std::string_view name, std::string_view lb,
                   WorkerType type, Member* m) {
  AttributeReader r(context, name);
  m->type = WorkerTypeName(context, name);
  bool ok = true;
  if (type == WorkerType::kAjp14) {
    if (r.Find("secretkey") == nullptr) {
      Report(context, Severity::kError, m->where, "",
             Message({"ajp14 worker ", Quoted(name), " has no \"worker.", name,
                      ".secretkey\", which mod_jk requires"}));
      ok = false;
    }
    const Property* type_key = r.Find("type");
    Report(context, Severity::kNotice, Where(context, *type_key), OriginalKey(*type_key),
           Message({"ajp14 worker ", Quoted(name),
                    " is spoken to as ajp13: mod_jk's ajp14 adds a login handshake that Tomcat "
                    "no longer implements, so its \"secretkey\" is not used"}));
  }

  m->host = r.ShortString("host", "localhost");
  m->port = r.Int("port", type == WorkerType::kAjp14 ? 8011 : 8009);
  if (m->port < 0 || m->port > 65535)
    r.Error(*r.Find("port"), Message({"port ", m->port, " in ", Describe(*r.Find("port")),
                                      " is not between 0 and 65535"}));
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
              lb.empty() ? Message({"port 0 in ", Describe(*r.Find("port")), ": worker ",
                                    Quoted(name), " cannot be reached, nginx sets it to Stopped"})
                         : Message({"port 0 in ", Describe(*r.Find("port")),
                                    ": mod_jk sets member ", Quoted(name), " to Stopped"}));
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
        r.Warning(*p, Message({"invalid status ", Quoted(word), " in ", Describe(*p),
                               ": not an HTTP status code (or its negative), ignored"}));
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
      r.Warning(*p, Message({Describe(*p), " is ", written,
                             written > 65536 && m->max_packet_size != 65536
                                 ? ", so large that mod_jk's rounding overflows"
                             : written > 65536 ? ", above the maximum"
                             : written < 8192  ? ", below the minimum"
                                               : ", not a multiple of 1024",
                             ": mod_jk uses ", m->max_packet_size,
                             " (Tomcat's packetSize must match)"}));
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
    r.Warning(*pool_key, Message({Describe(*pool_key), " is 0: mod_jk would have no connection for ",
                                  Quoted(name),
                                  ", so every request to it would fail; nginx uses its default "
                                  "pool size"}));
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
bool BuildMember(const WorkerContext& context, std::string_view name, std::string_view lb,
                 const Property& list, Member* m) {
  m->name = name;
  m->where = IsDefined(context, name) ? WorkerLocation(context, name) : Where(context, list);
  if (!IsDefined(context, name)) {
    // mod_jk would make it an ajp13 worker for localhost:8009: a typo, surely.
    Report(context, Severity::kError, Where(context, list), list.key,
           Message({"member ", Quoted(name), " of lb worker ", Quoted(lb), " in ", Describe(list),
                    " is not defined: there is no \"worker.", name, ".*\" key"}));
    return false;
  }
  if (!CheckNameLength(context, name)) return false;

  AttributeReader r(context, name);
  m->type = WorkerTypeName(context, name);
  WorkerType type = ParseWorkerType(m->type);
  const Property* type_key = r.Find("type");
  SourceLocation type_where = type_key ? Where(context, *type_key) : m->where;
  if (type == WorkerType::kUnknown) {
    Report(context, Severity::kError, type_where, type_key->key,
           Message({"unknown type ", Quoted(m->type), " in ", Describe(*type_key),
                    " (ajp13, ajp14, lb or status)"}));
    return false;
  }
  if (type != WorkerType::kAjp13 && type != WorkerType::kAjp14) {
    Report(context, Severity::kError, type_where, type_key ? type_key->key : std::string_view(),
           Message({"member ", Quoted(name), " of lb worker ", Quoted(lb), " has type ",
                    Quoted(m->type), ": lb members must be ajp13 or ajp14 workers"}));
    return false;
  }
  return ReadAjpWorker(context, name, lb, type, m);
}

// Where a member's route came from, for the duplicate-route message.
SourceLocation RouteLocation(const WorkerContext& context, const Member& m) {
  AttributeReader r(context, m.name);
  if (const Property* p = r.Find("route")) return Where(context, *p);
  if (const Property* p = r.Find("jvm_route")) return Where(context, *p);
  return m.where;
}

}  // namespace

WorkerKeys::WorkerKeys(const Properties& properties) {
  const std::vector<Property>& entries = properties.entries();
  // The worker of each key (-1: none), numbered in order of first key.
  std::vector<std::int32_t> worker_of(entries.size(), -1);
  std::vector<std::uint32_t> counts;
  names_.reserve(entries.size() / 4 + 4);  // a few keys per worker
  counts.reserve(entries.size() / 4 + 4);
  for (size_t i = 0; i < entries.size(); ++i) {
    std::optional<WorkerKey> key = SplitWorkerKey(entries[i].key);
    if (!key || key->worker.empty()) continue;
    size_t slot;
    std::ptrdiff_t n = Find(key->worker, &slot);
    if (n < 0) {
      n = static_cast<std::ptrdiff_t>(names_.size());
      names_.push_back(key->worker);
      counts.push_back(0);
      if (2 * names_.size() > slots_.size()) Rehash();  // places this one too
      else slots_[slot] = static_cast<std::uint32_t>(n + 1);
    }
    worker_of[i] = static_cast<std::int32_t>(n);
    ++counts[static_cast<size_t>(n)];
  }
  // Each worker's keys in map order, one worker after the other.
  starts_.assign(names_.size() + 1, 0);
  for (size_t n = 0; n < names_.size(); ++n) starts_[n + 1] = starts_[n] + counts[n];
  indexes_.resize(starts_.back());
  std::vector<std::uint32_t> next(starts_.begin(), starts_.end() - 1);
  for (size_t i = 0; i < entries.size(); ++i)
    if (worker_of[i] >= 0) indexes_[next[static_cast<size_t>(worker_of[i])]++] = static_cast<std::uint32_t>(i);
}

std::ptrdiff_t WorkerKeys::Find(std::string_view name, size_t* slot) const {
  *slot = 0;
  if (slots_.empty()) return -1;
  const size_t mask = slots_.size() - 1;
  size_t i = HashText(name) & mask;
  for (; slots_[i] != 0; i = (i + 1) & mask)
    if (names_[slots_[i] - 1] == name) return static_cast<std::ptrdiff_t>(slots_[i] - 1);
  *slot = i;
  return -1;
}

void WorkerKeys::Rehash() {
  size_t size = 16;  // a power of two, for the mask
  while (size < 4 * names_.size()) size *= 2;
  slots_.assign(size, 0);
  for (size_t n = 0; n < names_.size(); ++n) {
    size_t slot;
    Find(names_[n], &slot);
    slots_[slot] = static_cast<std::uint32_t>(n + 1);
  }
}

WorkerKeys::Range WorkerKeys::Of(std::string_view name) const {
  size_t slot;
  const std::ptrdiff_t n = Find(name, &slot);
  if (n < 0) return Range{nullptr, nullptr};
  const std::uint32_t* indexes = indexes_.data();
  return Range{indexes + starts_[static_cast<size_t>(n)], indexes + starts_[static_cast<size_t>(n) + 1]};
}

std::string_view WorkerTypeName(const WorkerContext& context, std::string_view name) {
  const Property* p = context.properties.Find({"worker.", name, ".type"});
  return p ? p->value : "ajp13";
}

SourceLocation WorkerLocation(const WorkerContext& context, std::string_view name) {
  WorkerKeys::Range keys = context.keys.Of(name);
  if (!keys.empty()) return Where(context, context.properties.entries()[keys.front()]);
  if (const Property* list = context.properties.Find("worker.list")) return Where(context, *list);
  return SourceLocation{context.file, 0};
}

bool IsDefined(const WorkerContext& context, std::string_view name) {
  return !context.keys.Of(name).empty();
}

bool BuildBalancer(const WorkerContext& context, std::string_view name, Balancer* b) {
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
    Report(context, Severity::kError, list ? Where(context, *list) : b->where,
           Message({"worker.", name, ".balance_workers"}),
           Message({"lb worker ", Quoted(name), " has no members: \"worker.", name,
                    ".balance_workers\" is missing or empty"}));
    ok = false;
  }

  // Names and routes are looked up in hash indexes (one allocation each, a
  // std::set or std::map makes one per member: files with a thousand
  // members exist).
  IndexByHash seen(names.size());  // name -> index in `names`
  std::vector<SourceLocation> route_where;
  route_where.reserve(names.size());
  b->members.reserve(names.size());
  for (size_t n = 0; n < names.size(); ++n) {
    const std::string& member_name = names[n];
    const size_t hash = HashText(member_name);
    if (seen.Find(hash, [&](size_t k) { return names[k] == member_name; }) >= 0) {
      // mod_jk builds it twice and then fails: both have the same route.
      Report(context, Severity::kError, Where(context, *list), list->key,
             Message({"member ", Quoted(member_name), " is listed twice in ", Describe(*list),
                      ", mod_jk refuses two members with the same route"}));
      ok = false;
      continue;
    }
    seen.Add(hash, n);
    Member m;
    if (!BuildMember(context, member_name, name, *list, &m)) ok = false;
    route_where.push_back(RouteLocation(context, m));
    b->members.push_back(std::move(m));
  }

  // The first member of each route.
  IndexByHash first_with_route(b->members.size());  // route -> index in b->members
  auto with_route = [&](std::string_view route, size_t hash) {
    return first_with_route.Find(hash, [&](size_t k) { return b->members[k].route == route; });
  };
  for (size_t i = 0; i < b->members.size(); ++i) {
    const size_t hash = HashText(b->members[i].route);
    const std::ptrdiff_t first = with_route(b->members[i].route, hash);
    if (first < 0) {
      first_with_route.Add(hash, i);
      continue;
    }
    const size_t j = static_cast<size_t>(first);
    Report(context, Severity::kError, route_where[i],
           Message({"worker.", b->members[i].name, ".route"}),
           Message({"members ", Quoted(b->members[j].name), " and ", Quoted(b->members[i].name),
                    " of lb worker ", Quoted(name), " have the same route ",
                    Quoted(b->members[i].route), ": set \"worker.", b->members[i].name,
                    ".route\" to the jvmRoute of its Tomcat"}));
    ok = false;
  }
  for (const Member& m : b->members) {
    if (m.redirect.empty()) continue;
    if (with_route(m.redirect, HashText(m.redirect)) >= 0) continue;
    AttributeReader mr(context, m.name);
    mr.Warning(*mr.Find("redirect"),
               Message({"redirect ", Quoted(m.redirect), " in ", Describe(*mr.Find("redirect")),
                        " is not the route of a member of lb worker ", Quoted(name),
                        ", mod_jk ignores it"}));
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

bool BuildSingle(const WorkerContext& context, std::string_view name, Balancer* b) {
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

void CheckListedWorker(const WorkerContext& context, std::string_view name) {
  if (!CheckNameLength(context, name)) return;
  AttributeReader r(context, name);
  std::string_view type_name = WorkerTypeName(context, name);
  WorkerType type = ParseWorkerType(type_name);
  if (type == WorkerType::kUnknown) {
    const Property& p = *r.Find("type");
    r.Error(p, Message({"unknown type ", Quoted(type_name), " in ", Describe(p),
                        " (ajp13, ajp14, lb or status)"}));
    return;
  }
  if (type == WorkerType::kStatus || type == WorkerType::kLb) return;
  r.ShortString("host", "localhost");
}

void CheckAttributesApply(const WorkerContext& context, std::string_view name) {
  WorkerKeys::Range keys = context.keys.Of(name);
  if (keys.empty()) return;
  std::string_view type_name = WorkerTypeName(context, name);
  WorkerType type = ParseWorkerType(type_name);
  for (size_t index : keys) {
    const Property& p = context.properties.entries()[index];
    std::string_view attribute = SplitWorkerKey(p.key)->attribute;
    // Deprecated ones already have their own warning.
    if (AppliesTo(attribute, type) || IsDeprecatedAttribute(attribute)) continue;
    if (!context.reported->Add(p.line, OriginalKey(p))) continue;
    Report(context, Severity::kWarning, Where(context, p), OriginalKey(p),
           Message({"attribute ", Quoted(attribute), " in ", Describe(p), " has no effect on ",
                    type_name, " worker ", Quoted(name)}));
  }
}

}  // namespace sticky
