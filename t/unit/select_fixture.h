// The fixture of the selection tests: builds a Balancer by hand, a Selector
// and a zone, and drives them as the nginx glue does — find the session
// candidates, Select() against the zone, then report the attempt.
#ifndef STICKY_T_UNIT_SELECT_FIXTURE_H
#define STICKY_T_UNIT_SELECT_FIXTURE_H

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "balancer/select.h"

namespace sticky {
namespace test {

inline constexpr std::uint64_t kStart = 1'000'000;  // any non-zero monotonic time

class SelectTest : public ::testing::Test {
 protected:
  Member& Add(const std::string& name, int lbfactor = 1, int distance = 0) {
    Member m;
    m.name = name;
    m.lbfactor = lbfactor;
    m.distance = distance;
    balancer_.members.push_back(m);
    selector_.reset();
    return balancer_.members.back();
  }
  void Build() {
    selector_ = std::make_unique<Selector>(balancer_);
    memory_.assign(ZoneBytes(balancer_.members.size()) / 8 + 1, 0);
    zone_ = InitZone(memory_.data(), memory_.size() * 8, balancer_, now_);
    ASSERT_NE(nullptr, zone_);
  }
  // Select() for a request with one Cookie header (none if empty); the zone
  // is not touched.
  Decision Choose(std::string_view cookie, std::string_view uri = "/") {
    if (!selector_) Build();
    std::string_view headers[1] = {cookie};
    SessionCandidate candidates[kMaxSessionCandidates];
    std::size_t n = FindSessionCandidates(uri, headers, cookie.empty() ? 0 : 1,
                                          selector_->session_names(), candidates,
                                          kMaxSessionCandidates);
    SelectRequest request{candidates, n, tried_.empty() ? nullptr : tried_.data(), now_,
                          zone_->rotation};
    Decision d = selector_->Select(*zone_, request);
    // The views must point into the request, not into temporaries.
    EXPECT_TRUE(d.route.empty() || (d.route.data() >= cookie.data() &&
                                    d.route.data() < cookie.data() + cookie.size()) ||
                (d.route.data() >= uri.data() && d.route.data() < uri.data() + uri.size()));
    return d;
  }
  static std::string Describe(const Selector& s, const Decision& d) {
    if (d.verdict == Verdict::kForce503) return "503";
    if (d.verdict == Verdict::kNone) return "none";
    return std::string(s.name(d.member));
  }
  // One request as the glue runs it: select, start, end with `outcome`.
  std::string Pick(std::string_view cookie = "", std::string_view uri = "/",
                   Outcome outcome = Outcome::kSuccess, std::uint64_t bytes = 0) {
    Decision d = Choose(cookie, uri);
    if (d.verdict == Verdict::kMember) {
      ReportStart(*zone_, d.member, d.Kind(), now_);
      ReportEnd(*zone_, d.member, outcome, bytes, 0, now_);
    }
    return Describe(*selector_, d);
  }
  std::string Session(const std::string& id) { return "JSESSIONID=" + id; }
  std::size_t Index(const std::string& name) {
    if (!selector_) Build();
    int i = FindRecord(*zone_, name);
    EXPECT_GE(i, 0) << name;
    return static_cast<std::size_t>(i);
  }
  MemberState& State(const std::string& name) { return zone_->record(Index(name)); }
  // The member fails a request (connect refused): it goes to ERR.
  void Fail(const std::string& name) {
    std::size_t i = Index(name);
    ReportStart(*zone_, i, AttemptKind{}, now_);
    ReportEnd(*zone_, i, Outcome::kConnectFailed, 0, 0, now_);
  }
  void SetActivation(const std::string& name, Activation a) {
    State(name).activation = static_cast<std::uint8_t>(a);
  }
  void Advance(std::uint64_t ms) {
    now_ += ms;
    Maintain(*zone_, now_, 60, nullptr, 0);
  }
  void Tried(const std::string& name) {
    tried_.resize(TriedWords(balancer_.members.size()));
    MarkTried(tried_.data(), Index(name));
  }
  // How many of `requests` new sessions each member got.
  std::map<std::string, int> NewSessions(int requests) {
    std::map<std::string, int> count;
    for (int i = 0; i < requests; ++i) ++count[Pick()];
    return count;
  }

  Balancer balancer_;
  std::unique_ptr<Selector> selector_;
  std::vector<std::uint64_t> memory_;
  Zone* zone_ = nullptr;
  std::vector<std::uint64_t> tried_;
  std::uint64_t now_ = kStart;
};

}  // namespace test
}  // namespace sticky

#endif  // STICKY_T_UNIT_SELECT_FIXTURE_H
