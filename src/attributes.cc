#include "attributes.h"

#include <algorithm>
#include <array>
#include <iterator>

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

// Shorter first, then in text order: most names differ in length, so a
// binary search mostly compares sizes.
constexpr bool ShorterOrBefore(std::string_view a, std::string_view b) {
  return a.size() != b.size() ? a.size() < b.size() : a < b;
}

// `names` in ShorterOrBefore order, made at compile time (IsValidKey looks up
// every key of a file).
template <size_t N>
constexpr std::array<std::string_view, N> Sorted(const std::string_view (&names)[N]) {
  std::array<std::string_view, N> sorted{};
  for (size_t i = 0; i < N; ++i) {
    size_t j = i;
    for (; j > 0 && ShorterOrBefore(names[i], sorted[j - 1]); --j) sorted[j] = sorted[j - 1];
    sorted[j] = names[i];
  }
  return sorted;
}

template <size_t N>
bool InSorted(const std::array<std::string_view, N>& sorted, std::string_view name) {
  auto it = std::lower_bound(sorted.begin(), sorted.end(), name, ShorterOrBefore);
  return it != sorted.end() && *it == name;
}

constexpr auto kSupportedSorted = Sorted(kSupported);
constexpr auto kUniqueSorted = Sorted(kUnique);
constexpr auto kListSorted = Sorted(kList);

// jk_is_some_property: `key` ends with `sep` followed by `suffix`.
bool EndsWith(std::string_view key, std::string_view sep, std::string_view suffix) {
  if (key.size() < sep.size() + suffix.size()) return false;
  return key.substr(key.size() - suffix.size()) == suffix &&
         key.substr(key.size() - suffix.size() - sep.size(), sep.size()) == sep;
}


// Longer than every supported attribute.
constexpr size_t kMaxAttributeSize = 32;

constexpr bool ShorterThan(const std::string_view* names, size_t n, size_t size) {
  for (size_t i = 0; i < n; ++i)
    if (names[i].size() >= size) return false;
  return true;
}
static_assert(ShorterThan(kSupported, std::size(kSupported), kMaxAttributeSize));

// Supported attributes are made of 'a'-'z', '_' and digits ("prefer_ipv6"):
// their letters, numbered; -1 for any other byte.
constexpr size_t kLetters = 26 + 1 + 10;
constexpr int Letter(char c) {
  return c >= 'a' && c <= 'z' ? c - 'a' : c == '_' ? 26 : c >= '0' && c <= '9' ? 27 + (c - '0') : -1;
}
constexpr bool OnlyLetters(const std::string_view* names, size_t n) {
  for (size_t i = 0; i < n; ++i)
    for (char c : names[i])
      if (Letter(c) < 0) return false;
  return true;
}
static_assert(OnlyLetters(kSupported, std::size(kSupported)));

// The edit distance of a pattern of at most 64 bytes to supported
// attributes, with Myers' bit-parallel algorithm (in Hyyrö's form for whole
// strings): a column of the edit table is a few operations on 64-bit words,
// so a name costs a few operations per letter, and no branch (ClosestAttribute
// compares a typo with every supported name).
class BitParallelDistance {
 public:
  // REQUIRES: 0 < pattern.size() <= 64.
  explicit BitParallelDistance(std::string_view pattern) : size_(pattern.size()) {
    for (size_t i = 0; i < pattern.size(); ++i) {
      const int letter = Letter(pattern[i]);
      if (letter >= 0) matches_[letter] |= std::uint64_t{1} << i;
    }
  }

  // REQUIRES: `name` is a supported attribute (Letter() of each byte >= 0).
  size_t To(std::string_view name) const {
    const std::uint64_t all = size_ == 64 ? ~std::uint64_t{0} : (std::uint64_t{1} << size_) - 1;
    const unsigned last = static_cast<unsigned>(size_ - 1);
    std::uint64_t plus = all, minus = 0;  // vertical deltas of the column
    size_t distance = size_;
    for (char c : name) {
      const std::uint64_t equal = matches_[Letter(c)];
      const std::uint64_t xv = equal | minus;
      const std::uint64_t xh = (((equal & plus) + plus) ^ plus) | equal;
      std::uint64_t horizontal_plus = minus | ~(xh | plus);
      std::uint64_t horizontal_minus = plus & xh;
      distance += ((horizontal_plus >> last) & 1) - ((horizontal_minus >> last) & 1);
      horizontal_plus = (horizontal_plus << 1) | 1;  // row 0 of the table counts up
      horizontal_minus <<= 1;
      plus = (horizontal_minus | ~(xv | horizontal_plus)) & all;
      minus = horizontal_plus & xv;
    }
    return distance;
  }

 private:
  std::uint64_t matches_[kLetters] = {};  // bit i: pattern[i] is that letter
  size_t size_;
};

}  // namespace

std::optional<WorkerKey> SplitWorkerKey(std::string_view key) {
  constexpr std::string_view kPrefix = "worker.";
  if (key.substr(0, kPrefix.size()) != kPrefix) return std::nullopt;
  std::string_view rest = key.substr(kPrefix.size());
  size_t dot = rest.rfind('.');
  if (dot == std::string_view::npos) return WorkerKey{{}, rest};
  return WorkerKey{rest.substr(0, dot), rest.substr(dot + 1)};
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
  return InSorted(kSupportedSorted, key.substr(key.rfind('.') + 1));
}

bool IsSupportedAttribute(std::string_view attribute) {
  return InSorted(kSupportedSorted, attribute);
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

// Every name of kUnique but "worker.maintain", and of kList, is one segment:
// a key ends with '.' + name when the text after its last '.' is name.
constexpr std::string_view kDottedUnique = "worker.maintain";
constexpr bool NoDotsBut(const std::string_view* names, size_t n, std::string_view but) {
  for (size_t i = 0; i < n; ++i)
    if (names[i] != but && names[i].find('.') != std::string_view::npos) return false;
  return true;
}
static_assert(NoDotsBut(kUnique, std::size(kUnique), kDottedUnique));
static_assert(NoDotsBut(kList, std::size(kList), ""));

DuplicateRule DuplicateRuleFor(std::string_view key) {
  const size_t dot = key.rfind('.');
  const std::string_view last =
      dot == std::string_view::npos ? std::string_view() : key.substr(dot + 1);
  if (InSorted(kUniqueSorted, last) || EndsWith(key, ".", kDottedUnique))
    return DuplicateRule::kReplace;
  if (EndsWith(key, "_", "path")) return DuplicateRule::kJoinPath;
  if (last == "cmd_line") return DuplicateRule::kJoinSpace;
  if (InSorted(kListSorted, last)) return DuplicateRule::kJoinList;
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
  // suggest only near misses: typos, not guesses
  constexpr size_t kFarthest = 2;
  // No name is near a longer attribute, or than one edit per letter.
  if (attribute.size() > kMaxAttributeSize + kFarthest) return {};
  std::string_view best;
  size_t best_distance = kFarthest + 1;
  if (attribute.empty()) {
    for (std::string_view name : kSupported)
      if (name.size() < best_distance) best = name, best_distance = name.size();
    return best;
  }
  const BitParallelDistance distance(attribute);
  for (std::string_view name : kSupported) {
    // Lengths that far apart need as many edits.
    const size_t apart =
        attribute.size() > name.size() ? attribute.size() - name.size() : name.size() - attribute.size();
    if (apart >= best_distance) continue;
    const size_t d = distance.To(name);
    if (d < best_distance) {
      best = name;
      best_distance = d;
      if (d == 0) break;
    }
  }
  return best;
}

}  // namespace sticky
