#include "balancer/select.h"

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstring>

#include "balancer/hash.h"

namespace sticky {
namespace {

std::uint64_t SessionPrefix(std::string_view session_id) {
  return Fnv1a(kFnvOffset, session_id) ^ 0xffu;  // the separator, as one more FNV byte
}

std::uint64_t FinishHash(std::uint64_t prefix, std::string_view member_name) {
  return Fmix64(Fnv1a(prefix * kFnvPrime, member_name));
}

// Weighted rendezvous (highest random weight): score = -w / ln(u), with u
// uniform in (0, 1) from the hash. Each member wins a session with
// probability w / sum(w), and removing a member moves only its sessions.
double RendezvousScore(std::uint64_t hash, std::uint32_t weight) {
  const double u = (static_cast<double>(hash >> 11) + 0.5) * 0x1.0p-53;
  return -static_cast<double>(weight < 1 ? 1 : weight) / std::log(u);
}

// The common case, decided without a call into state.cc: an OK member is
// usable (MemberUsable() is true) and not due for recovery.
bool Healthy(const MemberState& m) {
  return m.health == static_cast<std::uint8_t>(Health::kOk) ||
         m.health == static_cast<std::uint8_t>(Health::kOkIdle);
}

// The hash of a route in the route table.
std::size_t RouteHash(std::string_view route) { return static_cast<std::size_t>(WordHash(route)); }

// The first 8 bytes of a route, zero padded: what a route table slot keeps.
std::uint64_t RouteHead(std::string_view route) {
  if (route.size() >= 8) return Load64(route.data());
  std::uint64_t head = 0;
  std::memcpy(&head, route.data(), route.size());
  return head;
}

// a == b for strings of `n` bytes each: words compared inline (routes are
// short), memcmp() beyond 16 bytes.
bool SameBytes(const char* a, const char* b, std::size_t n) {
  if (n >= 8) {
    if (n > 16) return std::memcmp(a, b, n) == 0;
    return Load64(a) == Load64(b) && Load64(a + n - 8) == Load64(b + n - 8);
  }
  if (n >= 4) return Load32(a) == Load32(b) && Load32(a + n - 4) == Load32(b + n - 4);
  for (std::size_t i = 0; i < n; ++i)
    if (a[i] != b[i]) return false;
  return true;
}

// mod_jk's find_best_bydomain() takes the part of the route before its first '.'.
std::string_view FirstComponent(std::string_view route) { return route.substr(0, route.find('.')); }

}  // namespace

const char* ReasonName(Reason reason) noexcept {
  switch (reason) {
    case Reason::kNone: return "none";
    case Reason::kStickyRoute: return "sticky route";
    case Reason::kStickyDomain: return "sticky domain";
    case Reason::kRedirect: return "redirect";
    case Reason::kDomainFailover: return "domain failover";
    case Reason::kRendezvous: return "session failover";
    case Reason::kBalanced: return "balanced";
    case Reason::kHotStandby: return "hot standby";
  }
  return "unknown";
}

std::uint64_t RendezvousHash(std::string_view session_id, std::string_view member_name) noexcept {
  return FinishHash(SessionPrefix(session_id), member_name);
}

Selector::Selector(const Balancer& balancer)
    : sticky_session_(balancer.sticky_session),
      sticky_session_force_(balancer.sticky_session_force),
      session_path_(balancer.session_path),
      session_cookie_(balancer.session_cookie) {
  members_.reserve(balancer.members.size());
  for (const Member& m : balancer.members) {
    MemberInfo info;
    info.name = m.name;
    info.route = m.route.empty() ? m.name : m.route;
    info.domain = m.domain;
    if (info.domain.empty() && info.route.find('.') != std::string::npos)
      info.domain = std::string(FirstComponent(info.route));
    info.distance = m.distance;
    members_.push_back(std::move(info));
  }

  for (const MemberInfo& info : members_) distances_.push_back(info.distance);
  for (int d : distances_) one_distance_ = one_distance_ && d == distances_.front();

  for (std::size_t i = 0; i < members_.size(); ++i) by_route_.push_back(static_cast<int>(i));
  std::stable_sort(by_route_.begin(), by_route_.end(),
                   [this](int a, int b) { return members_[a].route < members_[b].route; });

  // The route table: open addressing, at most half full; the first member
  // with a route wins, as in by_route_.
  std::size_t slots = 4;
  while (slots < 2 * members_.size()) slots *= 2;
  std::vector<RouteSlot> table(slots);
  for (std::size_t i = 0; i < members_.size(); ++i) {
    const std::string& route = members_[i].route;
    std::size_t h = RouteHash(route) & (slots - 1);
    while (table[h].member >= 0 && members_[table[h].member].route != route)
      h = (h + 1) & (slots - 1);
    if (table[h].member < 0)
      table[h] = RouteSlot{RouteHead(route), static_cast<std::uint32_t>(route.size()),
                           static_cast<std::int32_t>(i)};
  }
  route_table_ = std::move(table);

  for (std::size_t i = 0; i < members_.size(); ++i) {
    const std::string& name = members_[i].domain;
    if (name.empty()) continue;
    auto it = std::find_if(domains_.begin(), domains_.end(),
                           [&](const Domain& d) { return d.name == name; });
    if (it == domains_.end()) it = domains_.insert(domains_.end(), Domain{name, {}});
    it->members.push_back(static_cast<int>(i));
  }
  std::sort(domains_.begin(), domains_.end(),
            [](const Domain& a, const Domain& b) { return a.name < b.name; });
  for (std::size_t i = 0; i < members_.size(); ++i)
    if (!members_[i].domain.empty()) members_[i].domain_id = FindDomain(members_[i].domain);

  for (std::size_t i = 0; i < members_.size(); ++i) {
    const std::string& redirect = balancer.members[i].redirect;
    if (redirect.empty()) continue;
    const int target = FindRoute(redirect);
    if (target < 0 || target == static_cast<int>(i)) continue;
    members_[i].redirect = target;
    if (std::find(hot_standbys_.begin(), hot_standbys_.end(), target) == hot_standbys_.end())
      hot_standbys_.push_back(target);
  }
}

int Selector::FindRoute(std::string_view route) const noexcept {
  if (route_table_.empty()) {  // while the constructor is still running
    auto it = std::lower_bound(
        by_route_.begin(), by_route_.end(), route,
        [this](int i, std::string_view r) { return std::string_view(members_[i].route) < r; });
    if (it == by_route_.end() || members_[*it].route != route) return -1;
    return *it;
  }
  const std::size_t mask = route_table_.size() - 1;
  const std::uint64_t head = RouteHead(route);
  for (std::size_t h = RouteHash(route) & mask;; h = (h + 1) & mask) {
    const RouteSlot& slot = route_table_[h];
    if (slot.member < 0) return -1;
    if (slot.size != route.size() || slot.head != head) continue;
    if (route.size() <= 8) return slot.member;
    const std::string& r = members_[slot.member].route;
    if (SameBytes(r.data() + 8, route.data() + 8, r.size() - 8)) return slot.member;
  }
}

int Selector::FindDomain(std::string_view domain) const noexcept {
  auto it = std::lower_bound(
      domains_.begin(), domains_.end(), domain,
      [](const Domain& d, std::string_view name) { return std::string_view(d.name) < name; });
  if (it == domains_.end() || it->name != domain) return -1;
  return static_cast<int>(it - domains_.begin());
}

// mod_jk's JK_WORKER_USABLE: healthy enough and Active (takes new sessions).
bool Selector::Usable(const Zone& zone, const SelectRequest& request, int i) const noexcept {
  const MemberState& m = zone.record(i);
  return !WasTried(request.tried, i) && m.GetActivation() == Activation::kActive &&
         (Healthy(m) || MemberUsable(zone, m, request.now_ms));
}

// mod_jk's JK_WORKER_USABLE_STICKY: a Disabled member still serves its sessions.
bool Selector::StickyUsable(const Zone& zone, const SelectRequest& request, int i) const noexcept {
  const MemberState& m = zone.record(i);
  return !WasTried(request.tried, i) && m.GetActivation() != Activation::kStopped &&
         (Healthy(m) || MemberUsable(zone, m, request.now_ms));
}

int Selector::Rendezvous(const Zone& zone, const SelectRequest& request, const int* indexes,
                         std::size_t count, std::string_view session_id) const noexcept {
  const std::uint64_t prefix = SessionPrefix(session_id);
  int best = -1;
  int best_distance = INT_MAX;
  double best_score = 0;
  for (std::size_t k = 0; k < count; ++k) {
    const int i = indexes != nullptr ? indexes[k] : static_cast<int>(k);
    if (!Usable(zone, request, i)) continue;
    const int distance = members_[i].distance;
    if (distance > best_distance) continue;
    const double score =
        RendezvousScore(FinishHash(prefix, members_[i].name), zone.record(i).lbfactor);
    if (distance < best_distance || score > best_score) {
      best = i;
      best_distance = distance;
      best_score = score;
    }
  }
  return best;
}

// mod_jk's find_best_byvalue(): the lowest distance, then the lowest lb_value,
// scanning from a rotating offset so that ties take turns.
int Selector::BestByValue(const Zone& zone, const SelectRequest& request) const noexcept {
  const std::size_t n = members_.size();
  const std::size_t offset = static_cast<std::size_t>(request.rotation % n);
  // A member whose recover time just passed counts as loaded as the busiest,
  // as it will be once ReportStart() moves it to ERR/REC. That maximum takes
  // a pass over the zone of its own: made only when such a member is usable.
  const std::uint64_t* max_value = nullptr;
  std::uint64_t max = 0;
  for (;;) {
    Best best;
    // From the rotation to the end, then from the start to the rotation.
    const bool done =
        one_distance_
            ? ScanByValue<true>(zone, request, offset, n, max_value, &best) &&
                  ScanByValue<true>(zone, request, 0, offset, max_value, &best)
            : ScanByValue<false>(zone, request, offset, n, max_value, &best) &&
                  ScanByValue<false>(zone, request, 0, offset, max_value, &best);
    if (done) return best.index;
    max = MaxLbValue(zone);
    max_value = &max;
  }
}

template <bool kOneDistance>
bool Selector::ScanByValue(const Zone& zone, const SelectRequest& request, std::size_t from,
                           std::size_t to, const std::uint64_t* max_value,
                           Best* best) const noexcept {
  const MemberState* records = zone.records();
  const std::uint64_t* tried = request.tried;
  const std::uint64_t now_ms = request.now_ms;
  int best_index = best->index;
  int best_distance = best->distance;
  std::uint64_t best_value = best->value;
  for (std::size_t i = from; i < to; ++i) {
    // Usable(), inline: this loop is the cost of a new session.
    const MemberState& m = records[i];
    if (m.activation != static_cast<std::uint8_t>(Activation::kActive) || WasTried(tried, i))
      continue;
    std::uint64_t value = m.lb_value;
    if (!Healthy(m)) {
      if (!MemberUsable(zone, m, now_ms)) continue;
      if (RecoverDue(m, now_ms)) {
        if (max_value == nullptr) return false;
        value = *max_value;
      }
    }
    if (kOneDistance) {
      if (best_index < 0 || value < best_value) {
        best_index = static_cast<int>(i);
        best_value = value;
      }
      continue;
    }
    const int distance = distances_[i];
    if (best_index < 0 || distance < best_distance ||
        (distance == best_distance && value < best_value)) {
      best_index = static_cast<int>(i);
      best_distance = distance;
      best_value = value;
    }
  }
  *best = Best{best_index, best_distance, best_value};
  return true;
}

// mod_jk's find_failover_worker() takes the redirect of the first member
// that has one; here the first such target that is usable, so a second
// standby is not ignored while the first is down.
int Selector::HotStandby(const Zone& zone, const SelectRequest& request) const noexcept {
  for (int target : hot_standbys_)
    if (StickyUsable(zone, request, target)) return target;
  return -1;
}

Selector::StickyResult Selector::StickyChoice(const Zone& zone, const SelectRequest& request,
                                              const SessionCandidate& candidate) const noexcept {
  StickyResult r;
  const int own = FindRoute(candidate.route);
  if (own >= 0) {
    r.named = true;
    if (StickyUsable(zone, request, own)) return {own, Reason::kStickyRoute, true};
    if (sticky_session_force_) return r;
    const MemberInfo& info = members_[own];
    if (info.redirect >= 0 && StickyUsable(zone, request, info.redirect))
      return {info.redirect, Reason::kRedirect, true};
    if (info.domain_id >= 0) {
      const Domain& d = domains_[info.domain_id];
      const int m = Rendezvous(zone, request, d.members.data(), d.members.size(), candidate.id);
      if (m >= 0) return {m, Reason::kDomainFailover, true};
    }
    return r;
  }
  const int domain_id = FindDomain(FirstComponent(candidate.route));
  if (domain_id >= 0) {
    r.named = true;
    const Domain& d = domains_[domain_id];
    const int m = Rendezvous(zone, request, d.members.data(), d.members.size(), candidate.id);
    if (m >= 0) return {m, Reason::kStickyDomain, true};
  }
  return r;
}

Decision Selector::Select(const Zone& zone, const SelectRequest& request) const noexcept {
  Decision d;
  const std::size_t n = members_.size();
  if (n == 0 || zone.member_count != n) return d;
  const std::size_t count = request.candidates != nullptr ? request.candidate_count : 0;
  for (std::size_t k = 0; k < count; ++k) {
    if (request.candidates[k].route.empty()) continue;
    d.route = request.candidates[k].route;
    d.session_id = request.candidates[k].id;
    break;
  }
  if (d.session_id.empty() && count > 0) d.session_id = request.candidates[0].id;

  if (sticky_session_ && count > 0) {
    const SessionCandidate* orphan = nullptr;  // the first session whose member is unusable
    for (std::size_t k = 0; k < count; ++k) {
      const SessionCandidate& c = request.candidates[k];
      if (c.route.empty()) continue;
      const StickyResult r = StickyChoice(zone, request, c);
      if (r.member >= 0) {
        d.verdict = Verdict::kMember;
        d.member = r.member;
        d.reason = r.reason;
        d.sticky_hit = r.reason == Reason::kStickyRoute || r.reason == Reason::kStickyDomain;
        d.route_changed = !d.sticky_hit;
        d.route = c.route;
        d.session_id = c.id;
        return d;
      }
      if (r.named && orphan == nullptr) orphan = &c;
    }
    d.route_changed = !d.route.empty();
    if (orphan != nullptr) {
      d.route = orphan->route;
      d.session_id = orphan->id;
      if (sticky_session_force_) {
        d.verdict = Verdict::kForce503;
        return d;
      }
      // Better than mod_jk, which balances such a request as a new session
      // and may send each of its requests to another member: every request
      // of the session goes to one replacement, the same in every process.
      d.member = Rendezvous(zone, request, nullptr, n, orphan->id);
      d.reason = Reason::kRendezvous;
    }
    // Otherwise no route named a member: balanced, though not a new session.
  } else {
    d.new_session = true;  // mod_jk counts every request when sticky_session is off
  }

  if (d.member < 0) {
    d.member = BestByValue(zone, request);
    d.reason = Reason::kBalanced;
  }
  if (d.member < 0) {
    d.member = HotStandby(zone, request);
    d.reason = Reason::kHotStandby;
  }
  if (d.member < 0) {
    d.reason = Reason::kNone;
    return d;
  }
  d.verdict = Verdict::kMember;
  return d;
}

}  // namespace sticky
