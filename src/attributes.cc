#include "attributes.h"

#include <algorithm>
#include <iterator>
#include <vector>

namespace sticky {

namespace {

// jk_util.c: supported_properties (mod_jk 1.2.48; "list" and "maintain" make
// "worker.list" and "worker.maintain" valid).
constexpr std::string_view kSupported[] = {
    "sysprops", "stderr", "stdout", "secret", "mx", "ms", "class_path", "bridge",
    "jvm_lib", "ld_path", "cmd_line", "native_lib", "reference", "host", "source",
    "port", "type", "cachesize", "connection_pool_size", "connection_pool_minsize",
    "cache_timeout", "connection_pool_timeout", "connection_acquire_timeout",
    "recovery_options", "connect_timeout", "prepost_timeout", "ping_timeout",
    "ping_mode", "reply_timeout", "socket_timeout", "socket_connect_timeout",
    "socket_buffer", "socket_keepalive", "connection_ping_interval", "recycle_timeout",
    "lbfactor", "distance", "balanced_workers", "balance_workers", "sticky_session",
    "sticky_session_force", "session_cookie", "session_path", "set_session_cookie",
    "session_cookie_path", "local_worker", "local_worker_only", "jvm_route", "route",
    "domain", "redirect", "mount", "method", "lock", "disabled", "stopped",
    "activation", "recover_time", "error_escalation_time", "max_reply_timeouts",
    "retry_interval", "busy_limit", "max_packet_size", "css", "ns", "xmlns",
    "doctype", "prefix", "read_only", "user", "user_case_insensitive", "good", "bad",
    "secretkey", "retries", "lb_retries", "fail_on_status", "list", "maintain",
    "prefer_ipv6",
};

// jk_util.c: unique_properties. Note "worker.maintain": matched as a suffix
// after a '.', it never matches the key "worker.maintain" itself, so mod_jk
// joins repeated worker.maintain values with '*' (and then uses the first).
constexpr std::string_view kUnique[] = {
    "secret", "reference", "host", "source", "port", "type", "cachesize",
    "connection_pool_size", "connection_pool_minsize", "cache_timeout",
    "connection_pool_timeout", "connection_acquire_timeout", "recovery_options",
    "connect_timeout", "prepost_timeout", "ping_timeout", "ping_mode", "reply_timeout",
    "socket_timeout", "socket_connect_timeout", "socket_buffer", "socket_keepalive",
    "connection_ping_interval", "recycle_timeout", "lbfactor", "sticky_session",
    "sticky_session_force", "session_cookie", "session_path", "set_session_cookie",
    "session_cookie_path", "local_worker", "local_worker_only", "jvm_route", "route",
    "domain", "redirect", "method", "lock", "disabled", "stopped", "activation",
    "recover_time", "error_escalation_time", "max_reply_timeouts", "retry_interval",
    "busy_limit", "max_packet_size", "css", "read_only", "retries", "lb_retries",
    "worker.maintain", "ns", "xmlns", "doctype", "prefix", "user_case_insensitive",
    "prefer_ipv6",
};

// jk_util.c: list_properties. Not "balanced_workers": repeating the old name
// gives "a*b", a single member name.
constexpr std::string_view kList[] = {"balance_workers", "mount", "user", "good", "bad",
                         "fail_on_status", "list"};

struct Deprecated {
  std::string_view name;
  std::string_view replacement;
};
constexpr Deprecated kDeprecated[] = {
    {"sysprops", ""}, {"stderr", ""}, {"stdout", ""}, {"mx", ""}, {"ms", ""},
    {"class_path", ""}, {"bridge", ""}, {"jvm_lib", ""}, {"ld_path", ""},
    {"cmd_line", ""}, {"native_lib", ""}, {"cachesize", "connection_pool_size"},
    {"cache_timeout", "connection_pool_timeout"}, {"recycle_timeout", ""},
    {"balanced_workers", "balance_workers"}, {"jvm_route", "route"},
    {"local_worker", ""}, {"local_worker_only", ""}, {"disabled", "activation"},
    {"stopped", "activation"},
};

// What each worker type reads (jk_lb_worker.c, jk_ajp_common.c, jk_status.c,
// plus `mount`, read for every worker, and `reference`, read by the map).
// An lb's `secret` goes to its members that have none (jk_lb_worker.c init).
constexpr std::string_view kLbUsed[] = {
    "type", "reference", "balance_workers", "balanced_workers", "sticky_session",
    "sticky_session_force", "method", "lock", "retries", "lb_retries", "retry_interval",
    "recover_time", "error_escalation_time", "max_reply_timeouts", "session_cookie",
    "session_path", "set_session_cookie", "session_cookie_path", "secret",
};
constexpr std::string_view kLbUnused[] = {"mount"};
// cachesize and cache_timeout are the old names of connection_pool_size and
// connection_pool_timeout, still read when the new name is not set
// (jk_util.c jk_get_worker_cache_size, jk_get_worker_cache_timeout).
constexpr std::string_view kAjpUsed[] = {
    "type", "reference", "host", "port", "lbfactor", "route", "jvm_route", "domain",
    "redirect", "distance", "activation", "disabled", "stopped", "fail_on_status",
    "connect_timeout", "prepost_timeout", "ping_timeout", "ping_mode", "socket_timeout",
    "socket_connect_timeout", "reply_timeout", "retries", "retry_interval",
    "recovery_options", "busy_limit", "secret", "max_packet_size",
    "connection_ping_interval", "connection_pool_size", "connection_pool_minsize",
    "connection_pool_timeout", "cachesize", "cache_timeout", "socket_keepalive",
};
constexpr std::string_view kAjpUnused[] = {
    "source", "secretkey", "connection_acquire_timeout", "recycle_timeout",
    "socket_buffer", "prefer_ipv6", "mount", "local_worker", "local_worker_only",
};
constexpr std::string_view kStatus[] = {
    "type", "reference", "read_only", "user", "user_case_insensitive", "good", "bad",
    "css", "prefix", "ns", "xmlns", "doctype", "mount",
};

template <size_t N>
bool Contains(const std::string_view (&names)[N], std::string_view name) {
  return std::find(std::begin(names), std::end(names), name) != std::end(names);
}

// jk_is_some_property: `key` ends with `sep` followed by `suffix`.
bool EndsWith(std::string_view key, std::string_view sep, std::string_view suffix) {
  if (key.size() < sep.size() + suffix.size()) return false;
  return key.substr(key.size() - suffix.size()) == suffix &&
         key.substr(key.size() - suffix.size() - sep.size(), sep.size()) == sep;
}

template <size_t N>
bool EndsWithAny(std::string_view key, const std::string_view (&names)[N]) {
  for (std::string_view name : names)
    if (EndsWith(key, ".", name)) return true;
  return false;
}

size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] != b[j - 1])});
      diagonal = above;
    }
  }
  return row[b.size()];
}

}  // namespace

std::optional<WorkerKey> SplitWorkerKey(std::string_view key) {
  constexpr std::string_view kPrefix = "worker.";
  if (key.substr(0, kPrefix.size()) != kPrefix) return std::nullopt;
  std::string_view rest = key.substr(kPrefix.size());
  size_t dot = rest.rfind('.');
  if (dot == std::string_view::npos) return WorkerKey{"", std::string(rest)};
  return WorkerKey{std::string(rest.substr(0, dot)), std::string(rest.substr(dot + 1))};
}

// No attribute name holds a '.', so "ends with '.' + name" is "the text
// after the last '.' is name" (IsValidKey runs for every key of the file).
constexpr bool NoDots(const std::string_view* names, size_t n) {
  for (size_t i = 0; i < n; ++i)
    if (names[i].find('.') != std::string_view::npos) return false;
  return true;
}
static_assert(NoDots(kSupported, std::size(kSupported)));

bool IsValidKey(std::string_view key) {
  if (key.substr(0, 7) != "worker.") return true;  // a variable
  return Contains(kSupported, key.substr(key.rfind('.') + 1));
}

bool IsSupportedAttribute(std::string_view attribute) {
  return Contains(kSupported, attribute);
}

bool IsDeprecatedAttribute(std::string_view attribute) {
  for (const Deprecated& d : kDeprecated)
    if (d.name == attribute) return true;
  return false;
}

std::string_view DeprecatedReplacement(std::string_view attribute) {
  for (const Deprecated& d : kDeprecated)
    if (d.name == attribute) return d.replacement;
  return "";
}

DuplicateRule DuplicateRuleFor(std::string_view key) {
  if (EndsWithAny(key, kUnique)) return DuplicateRule::kReplace;
  if (EndsWith(key, "_", "path")) return DuplicateRule::kJoinPath;
  if (EndsWith(key, ".", "cmd_line")) return DuplicateRule::kJoinSpace;
  if (EndsWithAny(key, kList)) return DuplicateRule::kJoinList;
  return DuplicateRule::kJoinStar;
}

char JoinSeparator(DuplicateRule rule) {
  switch (rule) {
    case DuplicateRule::kJoinList: return ',';
    case DuplicateRule::kJoinPath: return ':';
    case DuplicateRule::kJoinSpace: return ' ';
    case DuplicateRule::kJoinStar:
    case DuplicateRule::kReplace: break;
  }
  return '*';
}

WorkerType ParseWorkerType(std::string_view type) {
  if (type == "ajp13") return WorkerType::kAjp13;
  if (type == "lb") return WorkerType::kLb;
  if (type == "status") return WorkerType::kStatus;
  if (type == "ajp14") return WorkerType::kAjp14;
  if (type == "ajp12") return WorkerType::kAjp12;
  return WorkerType::kUnknown;
}

bool AppliesTo(std::string_view attribute, WorkerType type) {
  switch (type) {
    case WorkerType::kLb:
      return Contains(kLbUsed, attribute) || Contains(kLbUnused, attribute);
    case WorkerType::kAjp12:
    case WorkerType::kAjp13:
    case WorkerType::kAjp14:
      return Contains(kAjpUsed, attribute) || Contains(kAjpUnused, attribute);
    case WorkerType::kStatus:
      return Contains(kStatus, attribute);
    case WorkerType::kUnknown:
      break;
  }
  return true;  // nothing sensible to say about a type mod_jk rejects
}

bool IsUnusedByNginx(std::string_view attribute, WorkerType type) {
  if (type == WorkerType::kLb) return Contains(kLbUnused, attribute);
  return Contains(kAjpUnused, attribute);
}

std::string_view ClosestAttribute(std::string_view attribute) {
  std::string_view best;
  size_t best_distance = 3;  // suggest only near misses: typos, not guesses
  for (std::string_view name : kSupported) {
    size_t d = EditDistance(attribute, name);
    if (d < best_distance) {
      best = name;
      best_distance = d;
    }
  }
  return best;
}

}  // namespace sticky
