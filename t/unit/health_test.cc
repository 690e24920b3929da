// The failure and recovery state machine (health.h, state.h, probe.h):
// local errors and their escalation, reply timeouts, fail_on_status, busy,
// request probes, active probes, forced recovery, slow start, reloads.
// Time is passed in: nothing here sleeps.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "balancer/probe.h"
#include "balancer/select.h"
#include "balancer/state.h"

namespace sticky {
namespace {

constexpr std::uint64_t kStart = 1'000'000;

class HealthTest : public ::testing::Test {
 protected:
  Member& Add(const std::string& name) {
    Member m;
    m.name = name;
    balancer_.members.push_back(m);
    return balancer_.members.back();
  }
  Zone& Build() {
    memory_.assign(ZoneBytes(balancer_.members.size()) / 8 + 1, 0);
    zone_ = InitZone(memory_.data(), memory_.size() * 8, balancer_, now_, &options_);
    EXPECT_NE(nullptr, zone_);
    return *zone_;
  }
  std::size_t Index(const std::string& name) {
    int i = FindRecord(*zone_, name);
    EXPECT_GE(i, 0) << name;
    return static_cast<std::size_t>(i);
  }
  MemberState& State(const std::string& name) { return zone_->record(Index(name)); }
  Health H(const std::string& name) { return State(name).GetHealth(); }
  bool Usable(const std::string& name) { return MemberUsable(*zone_, State(name), now_); }

  // An attempt starts / ends on `name`; the transition, if any, is kept.
  bool Start(const std::string& name) {
    return ReportStart(*zone_, Index(name), AttemptKind{}, now_, &last_);
  }
  bool End(const std::string& name, Outcome outcome = Outcome::kSuccess) {
    return ReportEnd(*zone_, Index(name), outcome, 0, 0, now_, &last_);
  }
  bool Request(const std::string& name, Outcome outcome = Outcome::kSuccess) {
    Start(name);
    return End(name, outcome);
  }
  std::vector<Transition> Advance(std::uint64_t ms) {
    now_ += ms;
    Transition out[16];
    std::size_t n = Maintain(*zone_, now_, maintain_, out, 16);
    return std::vector<Transition>(out, out + n);
  }
  std::vector<ProbeClaim> Claim(std::uint32_t owner) {
    ProbeClaim out[16];
    std::size_t n = ClaimProbes(*zone_, now_, owner, out, 16);
    return std::vector<ProbeClaim>(out, out + n);
  }
  bool Probe(const std::string& name, std::uint32_t owner, ProbeVerdict verdict) {
    return EndProbe(*zone_, Index(name), owner, verdict, now_, &last_);
  }
  void ExpectLast(Health from, Health to, HealthCause cause) {
    EXPECT_EQ(HealthName(from), std::string(HealthName(last_.from)));
    EXPECT_EQ(HealthName(to), std::string(HealthName(last_.to)));
    EXPECT_EQ(HealthCauseName(cause), std::string(HealthCauseName(last_.cause)));
  }

  Balancer balancer_;
  HealthOptions options_;
  std::vector<std::uint64_t> memory_;
  Zone* zone_ = nullptr;
  std::uint64_t now_ = kStart;
  unsigned maintain_ = 60;
  Transition last_;
};

// --- what counts as a failure ---------------------------------------------

TEST_F(HealthTest, FailureWithOthersInFlightStaysLocal) {
  Add("n1");
  Build();
  Start("n1");  // still running
  Start("n1");
  EXPECT_FALSE(End("n1", Outcome::kConnectFailed)) << "another attempt is in flight";
  EXPECT_EQ(Health::kOkIdle, H("n1"));
  EXPECT_EQ(kStart, State("n1").first_error_ms) << "the local error is remembered";
  EXPECT_TRUE(Usable("n1"));
  EXPECT_EQ(1u, State("n1").errors);
  EXPECT_TRUE(End("n1")) << "the other attempt succeeds: OK, errors forgotten";
  EXPECT_EQ(0u, State("n1").first_error_ms);
}

TEST_F(HealthTest, LocalErrorEscalatesAtMaintenance) {
  Add("n1");  // recover_time 60 s: error_escalation_time 30 s
  Build();
  Start("n1");
  Request("n1", Outcome::kReadFailed);
  EXPECT_EQ(Health::kOkIdle, H("n1")) << "another attempt is running";
  auto t = Advance(29'999);
  EXPECT_TRUE(t.empty());
  t = Advance(1);
  ASSERT_EQ(1u, t.size());
  EXPECT_EQ(Health::kError, t[0].to);
  EXPECT_EQ(HealthCause::kLocalErrorEscalated, t[0].cause);
  EXPECT_EQ(now_ + 60'000, State("n1").recover_at_ms) << "rests from the escalation";
}

TEST_F(HealthTest, LocalErrorEscalatesOnAFailureAfterEscalationTime) {
  Add("n1");
  Build();
  Start("n1");
  Request("n1", Outcome::kConnectFailed);
  now_ += 30'000;
  EXPECT_TRUE(Request("n1", Outcome::kConnectFailed)) << "the streak is 30 s old";
  ExpectLast(Health::kOkIdle, Health::kError, HealthCause::kConnectFailed);
}

TEST_F(HealthTest, NoEscalationTimeMeansNoLocalErrors) {
  Add("n1");
  balancer_.error_escalation_time = 0;
  Build();
  Start("n1");
  EXPECT_TRUE(Request("n1", Outcome::kConnectFailed));
  EXPECT_EQ(Health::kError, H("n1"));
}

TEST_F(HealthTest, ReplyTimeoutsCountAgainstMaxReplyTimeouts) {
  Add("n1");
  balancer_.max_reply_timeouts = 2;
  Build();
  EXPECT_FALSE(Request("n1", Outcome::kReplyTimeout));
  EXPECT_FALSE(Request("n1", Outcome::kReplyTimeout));
  EXPECT_EQ(Health::kOkIdle, H("n1"));
  EXPECT_EQ(0u, State("n1").first_error_ms) << "a tolerated timeout is not an escalating error";
  EXPECT_TRUE(Request("n1", Outcome::kReplyTimeout)) << "the third is one too many";
  ExpectLast(Health::kOkIdle, Health::kError, HealthCause::kReplyTimeout);
  EXPECT_EQ(3u, State("n1").errors);
}

TEST_F(HealthTest, OneReplyTimeoutIsTooManyByDefault) {
  Add("n1");
  Build();
  EXPECT_TRUE(Request("n1", Outcome::kReplyTimeout));
  EXPECT_EQ(Health::kError, H("n1"));
}

TEST_F(HealthTest, ReplyTimeoutsDecayLikeLoad) {
  Add("n1");
  balancer_.max_reply_timeouts = 2;
  maintain_ = 5;
  Build();
  Request("n1", Outcome::kReplyTimeout);
  Request("n1", Outcome::kReplyTimeout);
  Advance(5'000);
  EXPECT_EQ(1u, State("n1").reply_timeouts) << "halved once";
  Advance(5'000);
  EXPECT_EQ(0u, State("n1").reply_timeouts);
  EXPECT_FALSE(Request("n1", Outcome::kReplyTimeout));
  EXPECT_FALSE(Request("n1", Outcome::kReplyTimeout));
  EXPECT_EQ(Health::kOkIdle, H("n1"));
}

TEST_F(HealthTest, FailOnStatus) {
  const int list[] = {503, -404};
  EXPECT_EQ(StatusVerdict::kFailMember, ClassifyStatus(list, 2, 503));
  EXPECT_EQ(StatusVerdict::kFailRequest, ClassifyStatus(list, 2, 404));
  EXPECT_EQ(StatusVerdict::kPass, ClassifyStatus(list, 2, 500));
  EXPECT_EQ(StatusVerdict::kPass, ClassifyStatus(list, 2, 0));
  EXPECT_EQ(StatusVerdict::kPass, ClassifyStatus(nullptr, 0, 503));

  Add("n1");
  Build();
  Start("n1");  // another attempt in flight: fail_on_status is never local
  EXPECT_TRUE(Request("n1", Outcome::kFailOnStatus));
  ExpectLast(Health::kOkIdle, Health::kError, HealthCause::kFailOnStatus);
}

TEST_F(HealthTest, BusyLimit) {
  Add("n1").busy_limit = 2;
  Build();
  EXPECT_FALSE(Start("n1"));
  EXPECT_TRUE(Start("n1")) << "the second attempt in flight reaches busy_limit";
  ExpectLast(Health::kOkIdle, Health::kBusy, HealthCause::kBusy);
  EXPECT_FALSE(Usable("n1"));
  EXPECT_TRUE(End("n1"));
  ExpectLast(Health::kBusy, Health::kOk, HealthCause::kRequestSucceeded);
  EXPECT_TRUE(Start("n1"));
  EXPECT_TRUE(End("n1", Outcome::kNeutral)) << "room again whatever the outcome";
  ExpectLast(Health::kBusy, Health::kOk, HealthCause::kNotBusy);
}

// --- recovery by request (mod_jk's way, no probe=) -------------------------

TEST_F(HealthTest, RecoveringMemberIsTestedByOneRequest) {
  Add("n1");
  Build();
  Request("n1", Outcome::kConnectFailed);
  EXPECT_FALSE(Usable("n1"));
  now_ += 60'000;
  EXPECT_TRUE(Usable("n1")) << "recover time over: ERR/REC for selection";
  EXPECT_TRUE(Start("n1"));
  ExpectLast(Health::kError, Health::kProbing, HealthCause::kProbeRequest);
  EXPECT_FALSE(Usable("n1")) << "others avoid it while the probe runs";
  EXPECT_TRUE(End("n1"));
  ExpectLast(Health::kProbing, Health::kOk, HealthCause::kRequestSucceeded);
  EXPECT_EQ(0u, State("n1").first_error_ms);
}

TEST_F(HealthTest, FailedProbeRequestRestartsTheRecoverTimer) {
  Add("n1");
  Build();
  Request("n1", Outcome::kConnectFailed);
  now_ += 60'000;
  Start("n1");
  Start("n1") ;  // an unrelated attempt (cannot happen through selection)
  EXPECT_TRUE(End("n1", Outcome::kConnectFailed)) << "a test that fails is not a local error";
  ExpectLast(Health::kProbing, Health::kError, HealthCause::kConnectFailed);
  EXPECT_EQ(now_ + 60'000, State("n1").recover_at_ms);
}

TEST_F(HealthTest, ProbeRequestWithoutAnswerHandsTheMemberBack) {
  Add("n1");
  Build();
  Request("n1", Outcome::kConnectFailed);
  now_ += 60'000;
  Start("n1");
  EXPECT_TRUE(End("n1", Outcome::kNeutral)) << "e.g. the client went away";
  ExpectLast(Health::kProbing, Health::kRecovering, HealthCause::kProbeLost);
  EXPECT_TRUE(Usable("n1"));
}

TEST_F(HealthTest, ProbeRequestOfADeadProcessIsDropped) {
  Add("n1");
  Build();
  Request("n1", Outcome::kConnectFailed);
  now_ += 60'000;
  Start("n1");  // its process dies: no End()
  EXPECT_TRUE(Advance(59'999).empty());
  auto t = Advance(1);
  ASSERT_EQ(1u, t.size());
  EXPECT_EQ(Health::kRecovering, t[0].to);
  EXPECT_EQ(HealthCause::kProbeLost, t[0].cause);
}

TEST_F(HealthTest, SuccessOfAnOlderRequestDoesNotEndAnError) {
  Add("n1");
  Build();
  Start("n1");  // started while OK
  Request("n1", Outcome::kFailOnStatus);
  EXPECT_FALSE(End("n1")) << "it started before the failure: proves nothing newer";
  EXPECT_EQ(Health::kError, H("n1"));
}

// --- forced recovery --------------------------------------------------------

TEST_F(HealthTest, ForcedRecoveryAndItsOutcome) {
  Add("n1");
  Add("n2");
  Build();
  Request("n1", Outcome::kConnectFailed);
  Request("n2", Outcome::kConnectFailed);
  Transition out[4];
  ASSERT_EQ(2u, ForceRecovery(*zone_, now_, out, 4));
  EXPECT_EQ(HealthCause::kForcedRecovery, out[0].cause);
  EXPECT_TRUE(Usable("n1"));
  EXPECT_TRUE(Request("n1"));
  ExpectLast(Health::kForcedRecovery, Health::kOk, HealthCause::kRequestSucceeded);
  EXPECT_TRUE(Request("n2", Outcome::kConnectFailed));
  ExpectLast(Health::kForcedRecovery, Health::kError, HealthCause::kConnectFailed);
  ASSERT_EQ(1u, ForceRecovery(*zone_, now_, out, 4)) << "only ERR members are forced";
  EXPECT_EQ(1u, out[0].member);
  EXPECT_EQ(Health::kOk, H("n1"));
}

// --- active probes (probe=URI) ------------------------------------------------

class ProbeTest : public HealthTest {
 protected:
  void SetUp() override {
    options_.active_probes = true;
    options_.probe_interval_ms = 1'000;
    options_.probe_timeout_ms = 2'000;
  }
};

TEST_F(ProbeTest, RecoveringMembersAreProbedNotGivenToUsers) {
  Add("n1");
  Add("n2");
  Build();
  Request("n1", Outcome::kConnectFailed);
  EXPECT_TRUE(Claim(7).empty()) << "ERR rests recover_time first";
  auto t = Advance(60'000);
  ASSERT_EQ(1u, t.size());
  EXPECT_EQ(Health::kRecovering, t[0].to);
  EXPECT_FALSE(Usable("n1")) << "ERR/REC is for the probe, not for users";

  auto claims = Claim(7);
  ASSERT_EQ(1u, claims.size());
  EXPECT_EQ(0u, claims[0].member);
  EXPECT_TRUE(claims[0].recovering);
  EXPECT_TRUE(claims[0].changed);
  EXPECT_EQ(Health::kProbing, claims[0].transition.to);
  EXPECT_EQ(HealthCause::kProbeSent, claims[0].transition.cause);
  EXPECT_TRUE(Claim(8).empty()) << "one process probes a member at a time";
  EXPECT_EQ(7u, State("n1").probe_owner);

  EXPECT_FALSE(Probe("n1", 8, ProbeVerdict::kPassed)) << "not 8's claim";
  EXPECT_TRUE(Probe("n1", 7, ProbeVerdict::kPassed));
  ExpectLast(Health::kProbing, Health::kOk, HealthCause::kProbePassed);
  EXPECT_TRUE(Usable("n1"));
  EXPECT_EQ(1u, State("n1").probes);
}

TEST_F(ProbeTest, FailedProbeRestartsTheRecoverTimer) {
  Add("n1");
  Build();
  Request("n1", Outcome::kConnectFailed);
  Advance(60'000);
  Claim(7);
  now_ += 500;
  EXPECT_TRUE(Probe("n1", 7, ProbeVerdict::kFailed));
  ExpectLast(Health::kProbing, Health::kError, HealthCause::kProbeFailed);
  EXPECT_EQ(now_ + 60'000, State("n1").recover_at_ms);
  EXPECT_EQ(1u, State("n1").probe_failures);
  Advance(59'999);
  EXPECT_TRUE(Claim(7).empty());
  Advance(1);
  EXPECT_EQ(1u, Claim(7).size());
}

TEST_F(ProbeTest, ProbePassesInARow) {
  options_.probe_passes = 2;
  Add("n1");
  Build();
  Request("n1", Outcome::kConnectFailed);
  Advance(60'000);
  Claim(7);
  EXPECT_TRUE(Probe("n1", 7, ProbeVerdict::kPassed));
  ExpectLast(Health::kProbing, Health::kRecovering, HealthCause::kProbePassed);
  EXPECT_TRUE(Claim(7).empty()) << "the next probe waits probe_interval";
  now_ += 1'000;
  ASSERT_EQ(1u, Claim(7).size());
  EXPECT_TRUE(Probe("n1", 7, ProbeVerdict::kPassed));
  ExpectLast(Health::kProbing, Health::kOk, HealthCause::kProbePassed);
}

TEST_F(ProbeTest, AbandonedProbeHasNoVerdict) {
  Add("n1");
  Build();
  Request("n1", Outcome::kConnectFailed);
  Advance(60'000);
  Claim(7);
  EXPECT_TRUE(Probe("n1", 7, ProbeVerdict::kAbandoned));
  ExpectLast(Health::kProbing, Health::kRecovering, HealthCause::kProbeLost);
  EXPECT_EQ(0u, State("n1").probe_failures);
}

TEST_F(ProbeTest, StaleClaimIsTakenOver) {
  Add("n1");
  Build();
  Request("n1", Outcome::kConnectFailed);
  Advance(60'000);
  Claim(7);  // process 7 dies
  EXPECT_TRUE(Advance(2'999).empty()) << "timeout 2 s plus 1 s of grace";
  auto t = Advance(1);
  ASSERT_EQ(1u, t.size());
  EXPECT_EQ(HealthCause::kProbeLost, t[0].cause);
  ASSERT_EQ(1u, Claim(8).size());
  EXPECT_FALSE(Probe("n1", 7, ProbeVerdict::kPassed)) << "a late verdict of the dead claim";
  EXPECT_EQ(Health::kProbing, H("n1"));
  EXPECT_TRUE(Probe("n1", 8, ProbeVerdict::kPassed));
}

TEST_F(ProbeTest, HealthyMembersAreProbedOnlyWithProbeFails) {
  Add("n1");
  Build();
  EXPECT_TRUE(Claim(7).empty());
}

TEST_F(ProbeTest, HealthProbesTakeAMemberOut) {
  options_.probe_fails = 2;
  Add("n1");
  Add("n2").activation = Activation::kStopped;
  Build();
  auto claims = Claim(7);
  ASSERT_EQ(1u, claims.size()) << "a Stopped member is not probed";
  EXPECT_FALSE(claims[0].recovering);
  EXPECT_FALSE(claims[0].changed);
  EXPECT_FALSE(Probe("n1", 7, ProbeVerdict::kFailed)) << "1 of 2";
  now_ += 1'000;
  Claim(7);
  EXPECT_FALSE(Probe("n1", 7, ProbeVerdict::kPassed)) << "a pass starts the count again";
  now_ += 1'000;
  Claim(7);
  EXPECT_FALSE(Probe("n1", 7, ProbeVerdict::kFailed));
  now_ += 1'000;
  Claim(7);
  EXPECT_TRUE(Probe("n1", 7, ProbeVerdict::kFailed));
  ExpectLast(Health::kOkIdle, Health::kError, HealthCause::kHealthProbeFailed);
  EXPECT_EQ(3u, State("n1").probe_failures);
}

TEST_F(ProbeTest, ForcedRecoveryIncludesRecoveringMembers) {
  Add("n1");
  Build();
  Request("n1", Outcome::kConnectFailed);
  Advance(60'000);
  EXPECT_EQ(Health::kRecovering, H("n1"));
  Transition out[2];
  EXPECT_EQ(1u, ForceRecovery(*zone_, now_, out, 2));
  EXPECT_EQ(Health::kForcedRecovery, H("n1"));
  EXPECT_TRUE(Usable("n1"));
}

TEST_F(ProbeTest, ReloadDropsClaimsAndBusy) {
  Add("n1");
  Add("n2").busy_limit = 1;
  Build();
  Request("n1", Outcome::kConnectFailed);
  Advance(60'000);
  Claim(7);
  Start("n2");
  EXPECT_EQ(Health::kBusy, H("n2"));
  std::vector<std::uint64_t> next(memory_.size());
  zone_ = ReconcileZone(next.data(), next.size() * 8, balancer_, memory_.data(),
                        memory_.size() * 8, now_, nullptr, &options_);
  memory_.swap(next);
  ASSERT_NE(nullptr, zone_);
  EXPECT_EQ(Health::kRecovering, H("n1")) << "the old probe's verdict cannot reach it";
  EXPECT_EQ(0u, State("n1").probe_owner);
  EXPECT_EQ(1u, Claim(8).size());
  EXPECT_EQ(Health::kOk, H("n2"));
  EXPECT_EQ(1u, State("n2").busy_limit);
}

// --- slow start ------------------------------------------------------------------

class SlowStartTest : public HealthTest {
 protected:
  void SetUp() override { options_.slow_start_ms = 10'000; }
};

TEST_F(SlowStartTest, RecoveredMemberWeighsMoreThenLess) {
  Add("n1");
  Add("n2");
  Build();
  for (int i = 0; i < 5; ++i) Request("n2");
  Request("n1", Outcome::kConnectFailed);
  now_ += 60'000;
  Request("n1");  // the probe request succeeds
  EXPECT_EQ(now_, State("n1").recovered_at_ms);
  EXPECT_EQ(100 * kMultScale, ScaledMult(*zone_, State("n1"), now_)) << "at most 100 x lb_mult";
  now_ += 1'000;
  EXPECT_EQ(10 * kMultScale, ScaledMult(*zone_, State("n1"), now_));
  now_ += 4'000;
  EXPECT_EQ(2 * kMultScale, ScaledMult(*zone_, State("n1"), now_));
  now_ += 3'000;
  EXPECT_EQ(1280u, ScaledMult(*zone_, State("n1"), now_)) << "1.25 x at 8 of 10 s";
  now_ -= 3'000;
  now_ += 5'000;
  EXPECT_EQ(kMultScale, ScaledMult(*zone_, State("n1"), now_));
  Advance(0);
  EXPECT_EQ(0u, State("n1").recovered_at_ms) << "slow start is over";
}

TEST_F(SlowStartTest, ShareOfNewSessionsRampsUp) {
  Add("n1");
  Add("n2");
  Add("n3");
  Build();
  Selector selector(balancer_);
  auto pick = [&] {
    SelectRequest request;
    request.now_ms = now_;
    request.rotation = zone_->rotation;
    Decision d = selector.Select(*zone_, request);
    ReportStart(*zone_, d.member, d.Kind(), now_);
    ReportEnd(*zone_, d.member, Outcome::kSuccess, 0, 0, now_);
    return std::string(selector.name(d.member));
  };
  for (int i = 0; i < 300; ++i) pick();
  Request("n1", Outcome::kConnectFailed);
  now_ += 60'000;
  Request("n1");  // recovered: slow start from here
  // 10 seconds of 300 new sessions each, n1's share per second.
  std::vector<int> share;
  for (int second = 0; second < 12; ++second) {
    int n1 = 0;
    for (int i = 0; i < 300; ++i) {
      now_ += 3;  // 300 requests spread over 0.9 s
      if (pick() == "n1") ++n1;
    }
    now_ += 100;
    share.push_back(n1);
  }
  // Weight ramps linearly: in second k, n1 weighs r = (k + 0.5) / 10 of its
  // lbfactor against two members of weight 1, so its share is r / (2 + r).
  for (int k = 0; k < 12; ++k) {
    const double r = std::min(1.0, (k + 0.5) / 10);
    EXPECT_NEAR(300 * r / (2 + r), share[k], 8) << "second " << k;
  }
}

TEST_F(SlowStartTest, WithoutSlowStartTheLoadStartsAtTheMaximum) {
  options_.slow_start_ms = 0;
  Add("n1");
  Add("n2");
  Build();
  for (int i = 0; i < 5; ++i) Request("n2");
  Request("n1", Outcome::kConnectFailed);
  now_ += 60'000;
  Start("n1");
  EXPECT_EQ(6u, State("n1").lb_value) << "the highest (5) plus this request";
  End("n1");
  EXPECT_EQ(0u, State("n1").recovered_at_ms);
}

// --- an operator's reset -------------------------------------------------------

TEST_F(HealthTest, AdminResetForgetsEverything) {
  Add("n1");
  balancer_.max_reply_timeouts = 5;
  Build();
  Request("n1", Outcome::kReplyTimeout);
  Request("n1", Outcome::kConnectFailed);
  EXPECT_TRUE(ChangeHealth(*zone_, 0, HealthCause::kAdminReset, now_, &last_));
  ExpectLast(Health::kError, Health::kOkIdle, HealthCause::kAdminReset);
  EXPECT_EQ(0u, State("n1").reply_timeouts);
  EXPECT_EQ(0u, State("n1").recover_at_ms);
}

}  // namespace
}  // namespace sticky
