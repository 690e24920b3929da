// What mod_jk knows about the attribute names of workers.properties: which
// are supported, deprecated, "unique" or lists (jk_util.c's tables), how a
// repeated key is merged, and which attributes each worker type reads.
//
// mod_jk matches most of these by *suffix*: a key "is" a `port` key when it
// ends in ".port", whatever comes before. The functions here keep that rule,
// because it decides e.g. that "worker.maintain" is not in the unique table
// (the entry there is "worker.maintain", which would need a dot before it).
#ifndef STICKY_ATTRIBUTES_H
#define STICKY_ATTRIBUTES_H

#include <optional>
#include <string>
#include <string_view>

namespace sticky {

// mod_jk's limit for names, hosts, routes, domains, cookie names... (the
// shared-memory strings): longer values make startup fail.
constexpr size_t kMaxNameLength = 60;

// "worker.n1.port" -> {"n1", "port"}; "worker.list" -> {"", "list"};
// "worker.a.b.port" -> {"a.b", "port"} (mod_jk builds keys by concatenation,
// so a dotted worker name works). nullopt for keys not starting "worker.".
// Views into `key`.
struct WorkerKey {
  std::string_view worker;
  std::string_view attribute;
};
std::optional<WorkerKey> SplitWorkerKey(std::string_view key);

// True for every key mod_jk accepts: keys that do not start with "worker."
// (variables), and "worker." keys ending in ".<supported attribute>".
bool IsValidKey(std::string_view key);
bool IsSupportedAttribute(std::string_view attribute);

// Deprecated attributes are still read; `replacement` is the attribute to
// use instead, or empty when the attribute no longer does anything.
bool IsDeprecatedAttribute(std::string_view attribute);
std::string_view DeprecatedReplacement(std::string_view attribute);

// How mod_jk merges a key that appears again (jk_map_handle_duplicates).
enum class DuplicateRule {
  kReplace,    // "unique" attributes: the last value wins, with a warning
  kJoinList,   // list attributes: "a" + "b" -> "a,b" (the documented way)
  kJoinPath,   // keys ending in "_path": joined with ':'
  kJoinSpace,  // keys ending in ".cmd_line": joined with ' '
  kJoinStar,   // everything else, variables included: joined with '*'
};
DuplicateRule DuplicateRuleFor(std::string_view key);
char JoinSeparator(DuplicateRule rule);

// The kinds of worker mod_jk 1.2.48 can create ("type=", case-sensitive).
enum class WorkerType { kAjp12, kAjp13, kAjp14, kLb, kStatus, kUnknown };
WorkerType ParseWorkerType(std::string_view type);

// Whether mod_jk reads `attribute` for a worker of `type` at all.
bool AppliesTo(std::string_view attribute, WorkerType type);

// For lb workers and ajp13/ajp14 workers: attributes mod_jk reads but nginx
// has no use for (source, secretkey, socket_buffer, ...).
bool IsUnusedByNginx(std::string_view attribute, WorkerType type);

// The supported attribute closest to `attribute` (for "did you mean"): the
// first one fewer than 3 edits away (insertions, deletions, substitutions)
// with the fewest, or empty when none is. A few operations per letter of
// each supported name: a file may have a typo on every line.
std::string_view ClosestAttribute(std::string_view attribute);

}  // namespace sticky

#endif  // STICKY_ATTRIBUTES_H
