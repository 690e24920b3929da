#include "config/attributes.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
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

// --- what is known of each supported attribute, found by its name ----------

// Longer than every supported attribute.
constexpr size_t kMaxAttributeSize = 32;

constexpr bool In(const std::string_view* names, size_t n, std::string_view name) {
  for (size_t i = 0; i < n; ++i)
    if (names[i] == name) return true;
  return false;
}
template <size_t N>
constexpr bool In(const std::string_view (&names)[N], std::string_view name) {
  return In(names, N, name);
}

// Every name of `names` is supported (but `except`).
template <size_t N>
constexpr bool AllSupported(const std::string_view (&names)[N], std::string_view except = "") {
  for (std::string_view name : names)
    if (name != except && !In(kSupported, name)) return false;
  return true;
}
constexpr std::string_view kDottedUnique = "worker.maintain";
static_assert(AllSupported(kUnique, kDottedUnique) && AllSupported(kList) &&
              AllSupported(kLbUsed) && AllSupported(kLbUnused) && AllSupported(kAjpUsed) &&
              AllSupported(kAjpUnused) && AllSupported(kStatus));

// The tables an attribute is in.
enum AttributeFlag : std::uint16_t {
  kUniqueFlag = 1 << 0,
  kListFlag = 1 << 1,
  kLbUsedFlag = 1 << 2,
  kLbUnusedFlag = 1 << 3,
  kAjpUsedFlag = 1 << 4,
  kAjpUnusedFlag = 1 << 5,
  kStatusFlag = 1 << 6,
};

constexpr size_t kAttributes = std::size(kSupported);

// The supported attributes by length, then text, with their number (place
// in kSupported), what they are, and where each length starts: a name is
// looked for among those of its length only (IsValidKey runs for every
// key of a file, and the other questions for most).
struct AttributeTable {
  const char* text[kAttributes] = {};
  std::uint8_t number[kAttributes] = {};
  std::uint8_t first_of_size[kMaxAttributeSize + 2] = {};  // [size, size + 1): names that long
  std::uint16_t flags[kAttributes] = {};                    // by number
  std::int8_t deprecated[kAttributes] = {};                 // by number: index in kDeprecated, or -1
};

constexpr AttributeTable MakeAttributeTable() {
  AttributeTable table;
  size_t placed = 0;
  for (size_t size = 0; size <= kMaxAttributeSize; ++size) {
    table.first_of_size[size] = static_cast<std::uint8_t>(placed);
    for (size_t i = 0; i < kAttributes; ++i) {
      if (kSupported[i].size() != size) continue;
      table.text[placed] = kSupported[i].data();
      table.number[placed] = static_cast<std::uint8_t>(i);
      ++placed;
    }
  }
  table.first_of_size[kMaxAttributeSize + 1] = static_cast<std::uint8_t>(placed);
  for (size_t i = 0; i < kAttributes; ++i) {
    const std::string_view name = kSupported[i];
    std::uint16_t flags = 0;
    if (In(kUnique, name)) flags |= kUniqueFlag;
    if (In(kList, name)) flags |= kListFlag;
    if (In(kLbUsed, name)) flags |= kLbUsedFlag;
    if (In(kLbUnused, name)) flags |= kLbUnusedFlag;
    if (In(kAjpUsed, name)) flags |= kAjpUsedFlag;
    if (In(kAjpUnused, name)) flags |= kAjpUnusedFlag;
    if (In(kStatus, name)) flags |= kStatusFlag;
    table.flags[i] = flags;
    table.deprecated[i] = -1;
    for (size_t d = 0; d < std::size(kDeprecated); ++d)
      if (kDeprecated[d].name == name) table.deprecated[i] = static_cast<std::int8_t>(d);
  }
  return table;
}

constexpr AttributeTable kAttributeTable = MakeAttributeTable();

constexpr bool AllDeprecatedSupported() {
  for (const Deprecated& d : kDeprecated)
    if (!In(kSupported, d.name)) return false;
  return true;
}
static_assert(AllDeprecatedSupported());

// kSupported's number for `name`, or -1.
int AttributeNumber(std::string_view name) {
  const size_t size = name.size();
  if (size > kMaxAttributeSize) return -1;
  const AttributeTable& t = kAttributeTable;
  for (size_t i = t.first_of_size[size]; i < t.first_of_size[size + 1]; ++i)
    if (std::memcmp(t.text[i], name.data(), size) == 0) return t.number[i];
  return -1;
}

std::uint16_t FlagsOf(std::string_view attribute) {
  const int number = AttributeNumber(attribute);
  return number < 0 ? 0 : kAttributeTable.flags[number];
}

// jk_is_some_property: `key` ends with `sep` followed by `suffix`.
bool EndsWith(std::string_view key, std::string_view sep, std::string_view suffix) {
  if (key.size() < sep.size() + suffix.size()) return false;
  return key.substr(key.size() - suffix.size()) == suffix &&
         key.substr(key.size() - suffix.size() - sep.size(), sep.size()) == sep;
}

// The text after the last '.' of `key` (all of it when it has none).
std::string_view LastSegment(std::string_view key) {
  const char* begin = key.data();
  const char* end = begin + key.size();
  const char* p = end;
  while (p != begin && p[-1] != '.') --p;
  return std::string_view(p, static_cast<size_t>(end - p));
}

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

struct LetterTable {
  std::int8_t of[256] = {};  // Letter() of each byte
};
constexpr LetterTable MakeLetterTable() {
  LetterTable table;
  for (int c = 0; c < 256; ++c) table.of[c] = static_cast<std::int8_t>(Letter(static_cast<char>(c)));
  return table;
}
constexpr LetterTable kLetterTable = MakeLetterTable();

// The edit distance of a pattern of at most 64 bytes to supported
// attributes, with Myers' bit-parallel algorithm (in Hyyrö's form for whole
// strings): a column of the edit table is a few operations on 64-bit words,
// so a name costs a few operations per letter, and no branch (ClosestAttribute
// compares a typo with every supported name).
class BitParallelDistance {
 public:
  // REQUIRES: 0 < pattern.size() <= 64.
  explicit BitParallelDistance(std::string_view pattern) : size_(pattern.size()) {
    const char* text = pattern.data();
    for (size_t i = 0; i < size_; ++i) {
      const int letter = kLetterTable.of[static_cast<unsigned char>(text[i])];
      if (letter >= 0) matches_[letter] |= std::uint64_t{1} << i;
    }
  }

  // REQUIRES: `name` is a supported attribute (Letter() of each byte >= 0).
  size_t To(std::string_view name) const {
    const std::uint64_t all = size_ == 64 ? ~std::uint64_t{0} : (std::uint64_t{1} << size_) - 1;
    const unsigned last = static_cast<unsigned>(size_ - 1);
    std::uint64_t plus = all, minus = 0;  // vertical deltas of the column
    size_t distance = size_;
    const char* text = name.data();
    for (size_t i = 0, n = name.size(); i < n; ++i) {
      const std::uint64_t equal = matches_[kLetterTable.of[static_cast<unsigned char>(text[i])]];
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
  constexpr size_t kPrefix = 7;  // "worker."
  if (key.size() < kPrefix || std::memcmp(key.data(), "worker.", kPrefix) != 0) return std::nullopt;
  const std::string_view rest(key.data() + kPrefix, key.size() - kPrefix);
  const std::string_view attribute = LastSegment(rest);
  if (attribute.size() == rest.size()) return WorkerKey{{}, rest};
  return WorkerKey{std::string_view(rest.data(), rest.size() - attribute.size() - 1), attribute};
}

bool IsValidKey(std::string_view key) {
  if (key.size() < 7 || std::memcmp(key.data(), "worker.", 7) != 0) return true;  // a variable
  return AttributeNumber(LastSegment(key)) >= 0;
}

bool IsSupportedAttribute(std::string_view attribute) { return AttributeNumber(attribute) >= 0; }

bool IsDeprecatedAttribute(std::string_view attribute) {
  const int number = AttributeNumber(attribute);
  return number >= 0 && kAttributeTable.deprecated[number] >= 0;
}

std::string_view DeprecatedReplacement(std::string_view attribute) {
  const int number = AttributeNumber(attribute);
  if (number < 0 || kAttributeTable.deprecated[number] < 0) return "";
  return kDeprecated[kAttributeTable.deprecated[number]].replacement;
}

// Every name of kUnique but "worker.maintain", and of kList, is one segment
// (as every supported attribute): a key ends with '.' + name when the text
// after its last '.' is name.
constexpr bool NoDotsBut(const std::string_view* names, size_t n, std::string_view but) {
  for (size_t i = 0; i < n; ++i)
    if (names[i] != but && names[i].find('.') != std::string_view::npos) return false;
  return true;
}
static_assert(NoDotsBut(kSupported, std::size(kSupported), ""));
static_assert(NoDotsBut(kUnique, std::size(kUnique), kDottedUnique));

DuplicateRule DuplicateRuleFor(std::string_view key) {
  const std::string_view last = LastSegment(key);
  // A key without a '.' ends with no '.' + name.
  const std::uint16_t flags = last.size() == key.size() ? 0 : FlagsOf(last);
  if ((flags & kUniqueFlag) || EndsWith(key, ".", kDottedUnique)) return DuplicateRule::kReplace;
  if (EndsWith(key, "_", "path")) return DuplicateRule::kJoinPath;
  if (last.size() != key.size() && last == "cmd_line") return DuplicateRule::kJoinSpace;
  if (flags & kListFlag) return DuplicateRule::kJoinList;
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
  const std::uint16_t flags = FlagsOf(attribute);
  switch (type) {
    case WorkerType::kLb:
      return (flags & (kLbUsedFlag | kLbUnusedFlag)) != 0;
    case WorkerType::kAjp12:
    case WorkerType::kAjp13:
    case WorkerType::kAjp14:
      return (flags & (kAjpUsedFlag | kAjpUnusedFlag)) != 0;
    case WorkerType::kStatus:
      return (flags & kStatusFlag) != 0;
    case WorkerType::kUnknown:
      break;
  }
  return true;  // nothing sensible to say about a type mod_jk rejects
}

bool IsUnusedByNginx(std::string_view attribute, WorkerType type) {
  return (FlagsOf(attribute) & (type == WorkerType::kLb ? kLbUnusedFlag : kAjpUnusedFlag)) != 0;
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
