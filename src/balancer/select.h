// Choosing a member for a request: mod_jk's get_most_suitable_worker()
// (jk_lb_worker.c in mod_jk), with a deterministic failover for
// sessions whose member is down.
//
// A Selector is built once per configuration from a Balancer (it may
// allocate then) and is read-only afterwards, so worker processes share it
// after fork(). Select() runs per attempt: it allocates nothing and writes
// nothing — the zone is only read; the outcome is reported separately
// (ReportStart/ReportEnd in state.h), as nginx splits peer.get from
// peer.free.
#ifndef STICKY_SELECT_H
#define STICKY_SELECT_H

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "config/model.h"
#include "balancer/session.h"
#include "balancer/state.h"

namespace sticky {

// The members already tried by one request: bit i of word i / 64. The
// caller owns the words (TriedWords(member_count) of them, zeroed).
constexpr std::size_t TriedWords(std::size_t members) { return (members + 63) / 64; }
inline void MarkTried(std::uint64_t* tried, std::size_t member) noexcept {
  tried[member / 64] |= std::uint64_t{1} << (member % 64);
}
inline bool WasTried(const std::uint64_t* tried, std::size_t member) noexcept {
  return tried != nullptr && ((tried[member / 64] >> (member % 64)) & 1) != 0;
}

// What one attempt needs besides the zone.
struct SelectRequest {
  const SessionCandidate* candidates = nullptr;  // from FindSessionCandidates()
  std::size_t candidate_count = 0;
  const std::uint64_t* tried = nullptr;  // never chosen again; nullptr: none tried
  std::uint64_t now_ms = 0;
  std::uint64_t rotation = 0;  // tie-break offset for new sessions, e.g. Zone::rotation
};

enum class Verdict : std::uint8_t {
  kMember,     // use Decision::member
  kNone,       // nothing usable: the glue answers "no live upstreams" (NGX_BUSY)
  kForce503,   // sticky_session_force and the session's member is unusable: 503
};

// How the member was found; for logs, variables and tests.
enum class Reason : std::uint8_t {
  kNone,
  kStickyRoute,     // the session's route named it
  kStickyDomain,    // the session's route named its domain
  kRedirect,        // the session's member is unusable; its `redirect`
  kDomainFailover,  // the session's member is unusable; a member of its domain
  kRendezvous,      // the session's member is unusable; the session's stable replacement
  kBalanced,        // a new session: lowest distance, then lowest lb_value
  kHotStandby,      // nothing usable by value: the redirect of a member (find_failover_worker)
};

const char* ReasonName(Reason reason) noexcept;

struct Decision {
  Verdict verdict = Verdict::kNone;
  Reason reason = Reason::kNone;
  int member = -1;             // member (and zone record) index when verdict == kMember
  bool sticky_hit = false;     // went where the session's route says (route or domain)
  bool route_changed = false;  // the request had a route, and stickiness did not honour it
  bool new_session = false;    // no session id considered: counts for Session/Next
  std::string_view route;      // the route read from the request (a view into it); may be empty
  std::string_view session_id; // the session id that decided, else the first with a route,
                               // else the first; empty: none

  AttemptKind Kind() const noexcept { return AttemptKind{sticky_hit, new_session}; }
};

class Selector {
 public:
  // Precomputes routes, domains, redirects and distances of `balancer`.
  // A member without a route uses its name; a member without a domain uses
  // the part of a dotted route before the first '.' (mod_jk). A redirect
  // naming no member's route is ignored. If two members share a route, the
  // first wins (mod_jk refuses such a file).
  explicit Selector(const Balancer& balancer);

  // Chooses a member for one attempt. `zone` must have been built for the
  // same Balancer (record i is member i); otherwise the verdict is kNone.
  Decision Select(const Zone& zone, const SelectRequest& request) const noexcept;

  std::size_t member_count() const noexcept { return members_.size(); }
  std::string_view name(std::size_t i) const noexcept { return members_[i].name; }
  std::string_view route(std::size_t i) const noexcept { return members_[i].route; }
  std::string_view domain(std::size_t i) const noexcept { return members_[i].domain; }
  // The names to look for in a request; views into this Selector.
  SessionNames session_names() const noexcept { return {session_path_, session_cookie_}; }
  // The member whose route is `route`, or -1.
  int FindRoute(std::string_view route) const noexcept;

 private:
  struct MemberInfo {
    std::string name;
    std::string route;
    std::string domain;
    int distance = 0;
    int redirect = -1;  // member index of the redirect target
    int domain_id = -1; // index into domains_
  };
  struct Domain {
    std::string name;
    std::vector<int> members;  // in member order
  };
  // What the sticky steps found for one candidate.
  struct StickyResult {
    int member = -1;
    Reason reason = Reason::kNone;
    bool named = false;  // the route named a member or a domain with members
  };

  int FindDomain(std::string_view domain) const noexcept;
  bool Usable(const Zone& zone, const SelectRequest& request, int i) const noexcept;
  bool StickyUsable(const Zone& zone, const SelectRequest& request, int i) const noexcept;
  StickyResult StickyChoice(const Zone& zone, const SelectRequest& request,
                            const SessionCandidate& candidate) const noexcept;
  // Among the usable members of `indexes` (nullptr: all members): the lowest
  // distance, then the highest weighted rendezvous score for the session.
  int Rendezvous(const Zone& zone, const SelectRequest& request, const int* indexes,
                 std::size_t count, std::string_view session_id) const noexcept;
  int BestByValue(const Zone& zone, const SelectRequest& request) const noexcept;
  // The best of members [from, to) into *best (BestByValue's scan, in two
  // ranges instead of one wrapping around); false when a member due for
  // recovery needs the highest load value, which *max_value does not give yet.
  struct Best {
    int index = -1;
    int distance = 0;
    std::uint64_t value = 0;
  };
  template <bool kOneDistance>
  bool ScanByValue(const Zone& zone, const SelectRequest& request, std::size_t from,
                   std::size_t to, const std::uint64_t* max_value, Best* best) const noexcept;
  int HotStandby(const Zone& zone, const SelectRequest& request) const noexcept;

  std::vector<MemberInfo> members_;
  std::vector<int> by_route_;      // member indexes sorted by route
  // The route table: open addressing on the route's hash. A slot keeps the
  // route's size and first 8 bytes, so a lookup compares routes of up to 8
  // bytes (tomcat1 ... tomcat99) without reading the member's record.
  struct RouteSlot {
    std::uint64_t head = 0;  // RouteHead(route)
    std::uint32_t size = 0;
    std::int32_t member = -1;  // -1: empty
  };
  std::vector<RouteSlot> route_table_;
  std::vector<int> distances_;     // members_[i].distance, packed for BestByValue's scan
  bool one_distance_ = true;       // every member has the same distance (the usual file)
  std::vector<Domain> domains_;    // sorted by name
  std::vector<int> hot_standbys_;  // redirect targets in member order, no repeats
  bool sticky_session_ = true;
  bool sticky_session_force_ = false;
  std::string session_path_;
  std::string session_cookie_;
};

// The rendezvous score hash: 64-bit FNV-1a of the session id, a 0xff
// separator and the member name, then MurmurHash3's fmix64 finaliser. Fixed,
// seedless and byte-order independent, so every process on every host maps
// a session to the same replacement.
std::uint64_t RendezvousHash(std::string_view session_id, std::string_view member_name) noexcept;

}  // namespace sticky

#endif  // STICKY_SELECT_H
