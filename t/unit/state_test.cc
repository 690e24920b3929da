// The shared-memory zone (src/balancer/state.h): layout, load accounting per method,
// health transitions, maintenance and reload reconciliation.
#include "balancer/state.h"

#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

namespace sticky {
namespace {

constexpr std::uint64_t kStart = 1'000'000;  // any non-zero monotonic time

class StateTest : public ::testing::Test {
 protected:
  Member& Add(const std::string& name, int lbfactor = 1) {
    Member m;
    m.name = name;
    m.lbfactor = lbfactor;
    balancer_.members.push_back(m);
    return balancer_.members.back();
  }
  Zone& Build() {
    memory_.assign(ZoneBytes(balancer_.members.size()) / 8 + 1, 0);
    zone_ = InitZone(memory_.data(), memory_.size() * 8, balancer_, now_);
    EXPECT_NE(nullptr, zone_);
    return *zone_;
  }
  MemberState& State(const std::string& name) {
    int i = FindRecord(*zone_, name);
    EXPECT_GE(i, 0) << name;
    return zone_->record(i);
  }
  std::size_t Index(const std::string& name) { return static_cast<std::size_t>(FindRecord(*zone_, name)); }
  // One attempt on `name` as the glue would report it.
  bool Request(const std::string& name, Outcome outcome = Outcome::kSuccess, bool new_session = true,
               std::uint64_t bytes = 0) {
    ReportStart(*zone_, Index(name), AttemptKind{false, new_session}, now_);
    return ReportEnd(*zone_, Index(name), outcome, bytes, 0, now_);
  }
  bool Fail(const std::string& name) { return Request(name, Outcome::kConnectFailed); }
  std::vector<Transition> Advance(std::uint64_t ms) {
    now_ += ms;
    Transition out[16];
    std::size_t n = Maintain(*zone_, now_, maintain_, out, 16);
    return std::vector<Transition>(out, out + n);
  }

  Balancer balancer_;
  std::vector<std::uint64_t> memory_;
  Zone* zone_ = nullptr;
  std::uint64_t now_ = kStart;
  unsigned maintain_ = 60;
};

TEST_F(StateTest, LayoutIsFixed) {
  EXPECT_EQ(120u, sizeof(Zone));
  EXPECT_EQ(288u, sizeof(MemberState));
  EXPECT_EQ(120u + 3 * 288u, ZoneBytes(3, 0, 0) - 3 * sizeof(MemberActivity));
  EXPECT_EQ(120u + 3 * 288u + 2 * 16u + 24u, ZoneBytes(3, 2, 0) - 3 * sizeof(MemberActivity));
  EXPECT_EQ(ZoneBytes(3, 2, 0) + 3 * 31 * sizeof(SessionSketch), ZoneBytes(3, 2));
}

TEST_F(StateTest, InitStartsFresh) {
  Add("n1", 3);
  Add("n2").activation = Activation::kDisabled;
  Add("n3").port = 0;  // mod_jk: an unresolvable member is Stopped
  Zone& z = Build();
  EXPECT_EQ(kZoneMagic, z.magic);
  EXPECT_EQ(3u, z.member_count);
  EXPECT_EQ(60'000u, z.recover_time_ms);
  EXPECT_EQ(kStart, z.last_maintenance_ms);
  EXPECT_EQ("n2", z.record(1).Name());
  EXPECT_EQ(Health::kOkIdle, State("n1").GetHealth());
  EXPECT_EQ(Activation::kActive, State("n1").GetActivation());
  EXPECT_EQ(Activation::kDisabled, State("n2").GetActivation());
  EXPECT_EQ(Activation::kStopped, State("n3").GetActivation());
  EXPECT_EQ(1u, State("n1").lb_mult);
  EXPECT_EQ(3u, State("n2").lb_mult);
  EXPECT_EQ(&z, ValidZone(memory_.data(), memory_.size() * 8));
}

TEST_F(StateTest, InitRefusesBadMemoryAndNames) {
  Add("n1");
  std::vector<std::uint64_t> mem(ZoneBytes(1) / 8);
  EXPECT_EQ(nullptr, InitZone(mem.data(), ZoneBytes(1) - 1, balancer_, now_));
  EXPECT_EQ(nullptr, InitZone(reinterpret_cast<char*>(mem.data()) + 1, ZoneBytes(1), balancer_, now_));
  EXPECT_EQ(nullptr, InitZone(nullptr, ZoneBytes(1), balancer_, now_));
  balancer_.members[0].name = std::string(64, 'a');
  EXPECT_NE(nullptr, InitZone(mem.data(), ZoneBytes(1), balancer_, now_));
  balancer_.members[0].name = std::string(65, 'a');
  EXPECT_EQ(nullptr, InitZone(mem.data(), ZoneBytes(1), balancer_, now_));
}

TEST_F(StateTest, MultipliersAreLcmOverFactor) {
  Add("a", 2);
  Add("b", 3);
  Add("c", 4);
  Add("d", 0);  // below 1 counts as 1
  Build();
  EXPECT_EQ(6u, State("a").lb_mult);
  EXPECT_EQ(4u, State("b").lb_mult);
  EXPECT_EQ(3u, State("c").lb_mult);
  EXPECT_EQ(12u, State("d").lb_mult);
}

TEST_F(StateTest, MultipliersRoundedWhenLcmWouldOverflow) {
  const int primes[] = {101, 103, 107, 109, 113, 127, 131, 137};
  for (int p : primes) Add("p" + std::to_string(p), p);
  Add("one", 1);
  Build();
  for (int p : primes) {
    const double product = double(State("p" + std::to_string(p)).lb_mult) * p;
    EXPECT_NEAR(1.0, product / double(std::uint64_t{1} << 24), 0.005) << p;
  }
  EXPECT_EQ(std::uint64_t{1} << 24, State("one").lb_mult);
}

TEST_F(StateTest, CountersAndInFlight) {
  Add("n1");
  Build();
  ReportStart(*zone_, 0, AttemptKind{true, false}, now_);
  ReportStart(*zone_, 0, AttemptKind{false, true}, now_);
  EXPECT_EQ(2u, State("n1").in_flight);
  EXPECT_EQ(2u, zone_->rotation);
  ReportEnd(*zone_, 0, Outcome::kSuccess, 100, 2000, now_);
  ReportEnd(*zone_, 0, Outcome::kNeutral, 1, 2, now_);
  ReportEnd(*zone_, 0, Outcome::kSuccess, 0, 0, now_);  // an unmatched end
  const MemberState& m = State("n1");
  EXPECT_EQ(0u, m.in_flight) << "never below zero";
  EXPECT_EQ(2u, m.requests);
  EXPECT_EQ(1u, m.sticky_hits);
  EXPECT_EQ(1u, m.new_sessions);
  EXPECT_EQ(101u, m.bytes_sent);
  EXPECT_EQ(2002u, m.bytes_received);
  EXPECT_EQ(0u, m.errors);
}

TEST_F(StateTest, RequestMethodCountsEveryRequest) {
  Add("n1", 1);
  Add("n2", 2);
  Build();
  Request("n1", Outcome::kSuccess, false);
  Request("n1", Outcome::kSuccess, true);
  Request("n2", Outcome::kSuccess, false);
  EXPECT_EQ(4u, State("n1").lb_value);
  EXPECT_EQ(1u, State("n2").lb_value);
}

TEST_F(StateTest, SessionMethodCountsNewSessionsOnly) {
  balancer_.method = Method::kSession;
  Add("n1");
  Build();
  Request("n1", Outcome::kSuccess, false);
  Request("n1", Outcome::kSuccess, true);
  EXPECT_EQ(1u, State("n1").lb_value);
}

TEST_F(StateTest, NextMethodDecaySubtractsMinimum) {
  balancer_.method = Method::kNext;
  Add("n1");
  Add("n2");
  Add("n3");
  Build();
  for (int i = 0; i < 5; ++i) Request("n1");
  for (int i = 0; i < 3; ++i) Request("n2");
  for (int i = 0; i < 4; ++i) Request("n3");
  Request("n3", Outcome::kSuccess, false);  // sticky: no load
  Advance(60'000);
  EXPECT_EQ(2u, State("n1").lb_value);
  EXPECT_EQ(0u, State("n2").lb_value);
  EXPECT_EQ(1u, State("n3").lb_value);
}

TEST_F(StateTest, TrafficMethodCountsBytesAtEnd) {
  balancer_.method = Method::kTraffic;
  Add("n1", 1);
  Add("n2", 2);
  Build();
  ReportStart(*zone_, 0, AttemptKind{false, true}, now_);
  EXPECT_EQ(0u, State("n1").lb_value);
  ReportEnd(*zone_, 0, Outcome::kSuccess, 300, 700, now_);
  EXPECT_EQ(2000u, State("n1").lb_value);
  ReportStart(*zone_, 1, AttemptKind{}, now_);
  ReportEnd(*zone_, 1, Outcome::kSuccess, 1000, 0, now_);
  EXPECT_EQ(1000u, State("n2").lb_value);
}

TEST_F(StateTest, BusynessMethodCountsInFlightAndNeverDecays) {
  balancer_.method = Method::kBusyness;
  Add("n1", 1);
  Add("n2", 2);
  Build();
  ReportStart(*zone_, 0, AttemptKind{}, now_);
  ReportStart(*zone_, 0, AttemptKind{}, now_);
  EXPECT_EQ(4u, State("n1").lb_value);
  Advance(10 * 60'000);
  EXPECT_EQ(4u, State("n1").lb_value);
  ReportEnd(*zone_, 0, Outcome::kSuccess, 0, 0, now_);
  EXPECT_EQ(2u, State("n1").lb_value);
  ReportEnd(*zone_, 0, Outcome::kSuccess, 0, 0, now_);
  ReportEnd(*zone_, 0, Outcome::kSuccess, 0, 0, now_);
  EXPECT_EQ(0u, State("n1").lb_value) << "never below zero";
}

TEST_F(StateTest, DecayHalvesOncePerInterval) {
  maintain_ = 5;
  Add("n1");
  Build();
  State("n1").lb_value = 3;
  Advance(4'999);
  EXPECT_EQ(3u, State("n1").lb_value);
  Advance(1);
  EXPECT_EQ(1u, State("n1").lb_value);  // mod_jk with maintain 5 s: 3 -> 1 -> 0
  Advance(2'000);
  EXPECT_EQ(1u, State("n1").lb_value) << "at most once per interval";
  Advance(3'000);
  EXPECT_EQ(0u, State("n1").lb_value);
}

TEST_F(StateTest, DecayShiftsByElapsedIntervals) {
  Add("n1");
  Build();
  State("n1").lb_value = 64;
  Advance(3 * 60'000 + 59'000);
  EXPECT_EQ(8u, State("n1").lb_value);
  EXPECT_EQ(kStart + 3 * 60'000, zone_->last_maintenance_ms) << "the cadence stays aligned";
  State("n1").lb_value = ~std::uint64_t{0};
  Advance(100 * 60'000);
  EXPECT_EQ(0u, State("n1").lb_value);
}

TEST_F(StateTest, MaintainZeroMeansNoDecay) {
  maintain_ = 0;
  Add("n1");
  Build();
  State("n1").lb_value = 8;
  Advance(3'600'000);
  EXPECT_EQ(8u, State("n1").lb_value);
}

TEST_F(StateTest, FailureEntersErrorOnce) {
  Add("n1");
  Build();
  ReportStart(*zone_, 0, AttemptKind{}, now_);
  Transition t;
  EXPECT_TRUE(ReportEnd(*zone_, 0, Outcome::kConnectFailed, 0, 0, now_, &t));
  EXPECT_EQ(Health::kOkIdle, t.from);
  EXPECT_EQ(Health::kError, t.to);
  EXPECT_EQ(HealthCause::kConnectFailed, t.cause);
  EXPECT_STREQ("ERR", HealthName(t.to));
  EXPECT_EQ(kStart, State("n1").first_error_ms);
  EXPECT_EQ(kStart + 60'000, State("n1").recover_at_ms);

  now_ += 1'000;
  EXPECT_FALSE(Request("n1", Outcome::kReadFailed)) << "already ERR: no second transition";
  EXPECT_EQ(kStart, State("n1").first_error_ms);
  EXPECT_EQ(kStart + 1'000, State("n1").last_error_ms);
  EXPECT_EQ(kStart + 61'000, State("n1").recover_at_ms) << "counted from the last failure";
  EXPECT_EQ(2u, State("n1").errors);
}

TEST_F(StateTest, SuccessClearsErrors) {
  Add("n1");
  Build();
  Fail("n1");
  EXPECT_FALSE(Request("n1")) << "a request that did not test the member does not end ERR";
  now_ += 60'000;
  EXPECT_TRUE(Request("n1")) << "the request that tests it (ERR/PRB) does";
  EXPECT_EQ(Health::kOk, State("n1").GetHealth());
  EXPECT_EQ(0u, State("n1").first_error_ms);
  EXPECT_EQ(0u, State("n1").last_error_ms);
  EXPECT_FALSE(Request("n1")) << "OK -> OK is no transition";
}

TEST_F(StateTest, NeutralOutcomeLeavesHealth) {
  Add("n1");
  Build();
  EXPECT_FALSE(Request("n1", Outcome::kNeutral));
  EXPECT_EQ(Health::kOkIdle, State("n1").GetHealth());
}

TEST_F(StateTest, RecoverDueIsLazyUntilATickOrAPick) {
  Add("n1");
  Add("n2");
  Build();
  Fail("n1");
  now_ += 59'999;
  EXPECT_EQ(Health::kError, EffectiveHealth(State("n1"), now_));
  now_ += 1;
  EXPECT_TRUE(RecoverDue(State("n1"), now_));
  EXPECT_EQ(Health::kRecovering, EffectiveHealth(State("n1"), now_));
  EXPECT_EQ(Health::kError, State("n1").GetHealth()) << "reading changes nothing";
  State("n2").lb_value = 7;
  Transition t;
  EXPECT_TRUE(ReportStart(*zone_, 0, AttemptKind{}, now_, &t));
  EXPECT_EQ(Health::kError, t.from);
  EXPECT_EQ(Health::kProbing, t.to) << "the request is the probe";
  EXPECT_EQ(HealthCause::kProbeRequest, t.cause);
  EXPECT_EQ(8u, State("n1").lb_value) << "starts at the highest load (7), plus this request";
}

TEST_F(StateTest, MaintainRecoversAndIdles) {
  Add("n1");
  Add("n2");
  Build();
  Fail("n1");
  Request("n2");
  auto t = Advance(30'000);
  EXPECT_TRUE(t.empty());
  t = Advance(30'000);
  // Decay tick: n2 served a request since the start, so it stays OK; n1 recovers.
  ASSERT_EQ(1u, t.size());
  EXPECT_EQ(0u, t[0].member);
  EXPECT_EQ(Health::kError, t[0].from);
  EXPECT_EQ(Health::kRecovering, t[0].to);
  EXPECT_EQ(Health::kOk, State("n2").GetHealth());
  t = Advance(60'000);
  ASSERT_EQ(1u, t.size());
  EXPECT_EQ(1u, t[0].member);
  EXPECT_EQ(Health::kOkIdle, t[0].to);
  EXPECT_EQ(HealthCause::kIdle, t[0].cause);
}

TEST_F(StateTest, MaintainReportsNoMoreThanCapacity) {
  Add("n1");
  Add("n2");
  Build();
  Fail("n1");
  Fail("n2");
  now_ += 60'000;
  Transition out[1];
  EXPECT_EQ(1u, Maintain(*zone_, now_, 60, out, 1));
  EXPECT_EQ(Health::kRecovering, State("n2").GetHealth()) << "still changed, just not reported";
}

TEST_F(StateTest, ForceRecovery) {
  Add("n1");
  Add("n2");
  Build();
  Fail("n1");
  Transition out[2];
  ASSERT_EQ(1u, ForceRecovery(*zone_, now_, out, 2));
  EXPECT_EQ(Health::kForcedRecovery, State("n1").GetHealth());
  EXPECT_TRUE(HealthUsable(State("n1").GetHealth()));
  EXPECT_TRUE(Fail("n1"));
  EXPECT_EQ(Health::kError, State("n1").GetHealth());
}

TEST_F(StateTest, HealthPredicates) {
  EXPECT_TRUE(HealthUsable(Health::kOkIdle));
  EXPECT_TRUE(HealthUsable(Health::kOk));
  EXPECT_TRUE(HealthUsable(Health::kRecovering));
  EXPECT_TRUE(HealthUsable(Health::kForcedRecovery));
  EXPECT_FALSE(HealthUsable(Health::kBusy));
  EXPECT_FALSE(HealthUsable(Health::kError));
  EXPECT_FALSE(HealthUsable(Health::kProbing));
}

// --- reload ---------------------------------------------------------------

class ReconcileTest : public StateTest {
 protected:
  // Loads `next` as a reload would, into new memory, from the current zone.
  Zone* Reload(const Balancer& next, bool in_place = false) {
    std::vector<std::uint64_t> fresh(ZoneBytes(next.members.size()) / 8 + 1);
    if (in_place) fresh.resize(std::max(fresh.size(), memory_.size()));
    void* target = in_place ? memory_.data() : fresh.data();
    std::size_t target_bytes = in_place ? memory_.size() * 8 : fresh.size() * 8;
    if (in_place && target_bytes < ZoneBytes(next.members.size())) return nullptr;
    Zone* z = ReconcileZone(target, target_bytes, next, memory_.data(), memory_.size() * 8, now_,
                            &stats_);
    if (!in_place) memory_.swap(fresh);
    zone_ = z;
    return z;
  }
  ReconcileStats stats_;
};

TEST_F(ReconcileTest, MatchesByName) {
  Add("n1");
  Add("n2");
  Add("n3");
  Build();
  Fail("n2");
  Request("n3");
  Request("n3");
  zone_->rotation = 41;
  const std::uint64_t n3_value = State("n3").lb_value;

  Balancer next = balancer_;
  next.members = {balancer_.members[2], balancer_.members[1]};  // n1 removed, order changed
  Member n4;
  n4.name = "n4";
  next.members.push_back(n4);
  now_ += 5'000;
  ASSERT_NE(nullptr, Reload(next));
  EXPECT_EQ(2u, stats_.kept);
  EXPECT_EQ(1u, stats_.added);
  EXPECT_EQ(1u, stats_.removed);
  EXPECT_FALSE(stats_.fresh);
  ASSERT_EQ(3u, zone_->member_count);
  EXPECT_EQ("n3", zone_->record(0).Name());
  EXPECT_EQ("n2", zone_->record(1).Name());
  EXPECT_EQ(-1, FindRecord(*zone_, "n1"));
  EXPECT_EQ(2u, State("n3").requests);
  EXPECT_EQ(n3_value, State("n3").lb_value);
  EXPECT_EQ(Health::kError, State("n2").GetHealth());
  EXPECT_EQ(kStart + 60'000, State("n2").recover_at_ms);
  EXPECT_EQ(Health::kOkIdle, State("n4").GetHealth());
  EXPECT_EQ(0u, State("n4").requests);
  EXPECT_EQ(41u, zone_->rotation);
  EXPECT_EQ(kStart, zone_->last_maintenance_ms);
}

TEST_F(ReconcileTest, InPlace) {
  Add("n1");
  Add("n2");
  Build();
  Fail("n1");
  Request("n2");
  Balancer next = balancer_;
  std::swap(next.members[0], next.members[1]);
  ASSERT_NE(nullptr, Reload(next, true));
  EXPECT_EQ("n2", zone_->record(0).Name());
  EXPECT_EQ(1u, State("n2").requests);
  EXPECT_EQ(Health::kError, State("n1").GetHealth());
}

TEST_F(ReconcileTest, RuntimeEditsSurviveUnlessTheFileChanged) {
  Add("n1", 1);
  Add("n2", 1);
  Build();
  State("n1").activation = static_cast<std::uint8_t>(Activation::kDisabled);  // an admin edit
  State("n1").lbfactor = 5;
  State("n2").activation = static_cast<std::uint8_t>(Activation::kDisabled);
  Balancer next = balancer_;
  next.members[1].activation = Activation::kStopped;  // the file changed n2 only
  next.members[1].lbfactor = 2;
  ASSERT_NE(nullptr, Reload(next));
  EXPECT_EQ(Activation::kDisabled, State("n1").GetActivation());
  EXPECT_EQ(5u, State("n1").lbfactor);
  EXPECT_EQ(Activation::kStopped, State("n2").GetActivation());
  EXPECT_EQ(2u, State("n2").lbfactor);
  EXPECT_EQ(2u, State("n1").lb_mult);  // LCM(5, 2) = 10
  EXPECT_EQ(5u, State("n2").lb_mult);
}

TEST_F(ReconcileTest, InFlightStartsAtZeroAndMethodChangeResetsLoad) {
  Add("n1");
  Build();
  ReportStart(*zone_, 0, AttemptKind{false, true}, now_);
  EXPECT_EQ(1u, State("n1").lb_value);
  ASSERT_NE(nullptr, Reload(balancer_));
  EXPECT_EQ(0u, State("n1").in_flight);
  EXPECT_EQ(1u, State("n1").lb_value);
  Balancer next = balancer_;
  next.method = Method::kTraffic;
  ASSERT_NE(nullptr, Reload(next));
  EXPECT_EQ(0u, State("n1").lb_value);
  EXPECT_EQ(Method::kTraffic, zone_->GetMethod());
}

TEST_F(ReconcileTest, ForeignOrMissingOldZoneStartsFresh) {
  Add("n1");
  Build();
  Fail("n1");
  zone_->layout_version = kZoneLayoutVersion + 1;
  ASSERT_NE(nullptr, Reload(balancer_));
  EXPECT_TRUE(stats_.fresh);
  EXPECT_EQ(1u, stats_.added);
  EXPECT_EQ(Health::kOkIdle, State("n1").GetHealth());

  Fail("n1");
  zone_->magic = 0;
  ASSERT_NE(nullptr, Reload(balancer_));
  EXPECT_TRUE(stats_.fresh);
  EXPECT_EQ(Health::kOkIdle, State("n1").GetHealth());

  std::vector<std::uint64_t> mem(ZoneBytes(1) / 8);
  ASSERT_NE(nullptr, ReconcileZone(mem.data(), ZoneBytes(1), balancer_, nullptr, 0, now_, &stats_));
  EXPECT_TRUE(stats_.fresh);
}

TEST_F(ReconcileTest, TruncatedOldZoneStartsFresh) {
  Add("n1");
  Add("n2");
  Build();
  Fail("n1");
  std::vector<std::uint64_t> mem(ZoneBytes(2) / 8);
  // The old zone claims two records but only one fits in the bytes given.
  ASSERT_NE(nullptr, ReconcileZone(mem.data(), ZoneBytes(2), balancer_, memory_.data(),
                                   ZoneBytes(1), now_, &stats_));
  EXPECT_TRUE(stats_.fresh);
}

}  // namespace
}  // namespace sticky
