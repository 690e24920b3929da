// The process table (processes.h): attempts and probe claims owned by the
// process that took them, and given back when that process is gone.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "balancer/probe.h"
#include "balancer/processes.h"
#include "balancer/state.h"

namespace sticky {
namespace {

constexpr std::uint64_t kStart = 1'000'000;

class ProcessesTest : public ::testing::Test {
 protected:
  Member& Add(const std::string& name) {
    Member m;
    m.name = name;
    balancer_.members.push_back(m);
    return balancer_.members.back();
  }
  Zone& Build(std::size_t processes = 3) {
    memory_.assign(ZoneBytes(balancer_.members.size(), processes) / 8, 0);
    zone_ = InitZone(memory_.data(), memory_.size() * 8, balancer_, now_, &options_, processes);
    EXPECT_NE(nullptr, zone_);
    return *zone_;
  }
  std::size_t Index(const std::string& name) {
    return static_cast<std::size_t>(FindRecord(*zone_, name));
  }
  MemberState& State(const std::string& name) { return zone_->record(Index(name)); }
  void Start(const std::string& name, std::size_t slot, AttemptKind kind = {}) {
    ReportStart(*zone_, Index(name), kind, now_, nullptr, slot);
  }
  void End(const std::string& name, std::size_t slot, Outcome o = Outcome::kSuccess) {
    ReportEnd(*zone_, Index(name), o, 0, 0, now_, nullptr, slot);
  }
  std::vector<Transition> Release(std::size_t slot) {
    Transition out[8];
    std::size_t n = ReleaseProcess(*zone_, slot, now_, out, 8);
    return std::vector<Transition>(out, out + n);
  }

  Balancer balancer_;
  HealthOptions options_;
  std::vector<std::uint64_t> memory_;
  Zone* zone_ = nullptr;
  std::uint64_t now_ = kStart;
};

TEST_F(ProcessesTest, AttachTakesOneSlotPerProcess) {
  Add("n1");
  Build(2);
  EXPECT_EQ(0u, AttachProcess(*zone_, 100, 7));
  EXPECT_EQ(0u, AttachProcess(*zone_, 100, 7)) << "the same process keeps its slot";
  EXPECT_EQ(1u, AttachProcess(*zone_, 200, 9));
  EXPECT_EQ(kNoProcess, AttachProcess(*zone_, 300, 1)) << "every slot is taken";
  EXPECT_EQ(kNoProcess, AttachProcess(*zone_, 0, 1)) << "pid 0 is no process";
  EXPECT_EQ(2u, ProcessCount(*zone_));
  EXPECT_EQ(1u, FindProcess(*zone_, 200));
  EXPECT_EQ(kNoProcess, FindProcess(*zone_, 300));
}

TEST_F(ProcessesTest, RegisteredPidIsMatchedByStartToken) {
  Add("n1");
  Build(2);
  EXPECT_EQ(0u, AttachProcess(*zone_, 100, 0)) << "registered by the master, start unknown";
  EXPECT_EQ(0u, AttachProcess(*zone_, 100, 55)) << "the process itself takes it";
  EXPECT_EQ(55u, zone_->slots()[0].start_token);
  EXPECT_EQ(1u, AttachProcess(*zone_, 100, 66))
      << "the same pid started at another time is another process";
}

TEST_F(ProcessesTest, ReleaseReturnsTheDeadProcessesAttempts) {
  Add("n1");
  Add("n2");
  Build();
  const std::size_t a = AttachProcess(*zone_, 100, 1);
  const std::size_t b = AttachProcess(*zone_, 200, 2);
  Start("n1", a);
  Start("n1", a);
  Start("n2", a);
  Start("n1", b);
  EXPECT_EQ(3u, State("n1").in_flight);
  EXPECT_EQ(1u, State("n2").in_flight);

  Release(a);  // process 100 was killed with its three attempts running
  EXPECT_EQ(1u, State("n1").in_flight) << "only b's attempt is left";
  EXPECT_EQ(0u, State("n2").in_flight);
  EXPECT_EQ(1u, ProcessCount(*zone_));

  End("n1", b);
  EXPECT_EQ(0u, State("n1").in_flight);
}

TEST_F(ProcessesTest, AnEndAfterTheReleaseIsNotCountedTwice) {
  Add("n1");
  Build();
  const std::size_t a = AttachProcess(*zone_, 100, 1);
  const std::size_t b = AttachProcess(*zone_, 200, 2);
  Start("n1", a);
  Start("n1", b);
  Release(a);  // judged gone while its attempt was still running
  End("n1", a);
  EXPECT_EQ(1u, State("n1").in_flight) << "b's attempt is still in flight";
  End("n1", b);
  EXPECT_EQ(0u, State("n1").in_flight);
}

TEST_F(ProcessesTest, ReleaseClearsBusy) {
  Add("n1").busy_limit = 1;
  Build();
  const std::size_t a = AttachProcess(*zone_, 100, 1);
  Start("n1", a);
  EXPECT_EQ(Health::kBusy, State("n1").GetHealth());
  std::vector<Transition> t = Release(a);
  ASSERT_EQ(1u, t.size());
  EXPECT_EQ(Health::kBusy, t[0].from);
  EXPECT_EQ(Health::kOk, t[0].to);
  EXPECT_EQ(Health::kOk, State("n1").GetHealth());
}

TEST_F(ProcessesTest, ReleaseDropsTheDeadProcessesRequestProbe) {
  Add("n1");
  Add("n2");
  balancer_.recover_time = 60;
  Build();
  const std::size_t a = AttachProcess(*zone_, 100, 1);
  Start("n1", a);
  End("n1", a, Outcome::kConnectFailed);
  ASSERT_EQ(Health::kError, State("n1").GetHealth());
  now_ += 61'000;
  Start("n1", a);  // the request that tests it
  ASSERT_EQ(Health::kProbing, State("n1").GetHealth());
  EXPECT_EQ(100u, State("n1").probe_owner);

  std::vector<Transition> t = Release(a);
  ASSERT_EQ(1u, t.size());
  EXPECT_EQ(Health::kRecovering, t[0].to) << "another request may test it now";
  EXPECT_EQ(0u, State("n1").in_flight);
  EXPECT_EQ(0u, State("n1").probe_owner);
}

TEST_F(ProcessesTest, ReleaseDropsOnlyTheDeadProcessesActiveProbes) {
  Add("n1");
  Add("n2");
  options_.active_probes = true;
  options_.probe_fails = 1;
  Build();
  ProbeClaim claims[2];
  ASSERT_EQ(1u, ClaimProbes(*zone_, now_, 100, claims, 1));
  ASSERT_EQ(1u, ClaimProbes(*zone_, now_, 200, claims + 1, 1));
  const std::size_t a = AttachProcess(*zone_, 100, 1);
  AttachProcess(*zone_, 200, 2);
  Release(a);
  EXPECT_EQ(0u, zone_->record(claims[0].member).probe_owner);
  EXPECT_EQ(200u, zone_->record(claims[1].member).probe_owner);
}

TEST_F(ProcessesTest, ReleasedSlotIsReusedClean) {
  Add("n1");
  Build(1);
  const std::size_t a = AttachProcess(*zone_, 100, 1);
  Start("n1", a);
  Release(a);
  const std::size_t b = AttachProcess(*zone_, 101, 3);
  EXPECT_EQ(a, b);
  EXPECT_EQ(0u, zone_->held(b)[0]);
  End("n1", b);  // not b's attempt: changes nothing
  EXPECT_EQ(0u, State("n1").in_flight);
}

TEST_F(ProcessesTest, AttemptsWithoutSlotCountInTheTotalsOnly) {
  Add("n1");
  Build(0);
  Start("n1", kNoProcess);
  EXPECT_EQ(1u, State("n1").in_flight);
  End("n1", kNoProcess);
  EXPECT_EQ(0u, State("n1").in_flight);
}

TEST_F(ProcessesTest, OneCheckPerPeriod) {
  Add("n1");
  Build();
  EXPECT_TRUE(ProcessCheckDue(*zone_, now_, 1000));
  EXPECT_FALSE(ProcessCheckDue(*zone_, now_ + 999, 1000));
  EXPECT_TRUE(ProcessCheckDue(*zone_, now_ + 1000, 1000));
}

TEST_F(ProcessesTest, ReloadStartsWithAnEmptyTable) {
  Add("n1");
  Build();
  const std::size_t a = AttachProcess(*zone_, 100, 1);
  Start("n1", a);
  std::vector<std::uint64_t> next(ZoneBytes(1, 4) / 8);
  Zone* z = ReconcileZone(next.data(), next.size() * 8, balancer_, zone_,
                          ZoneBytes(1, 3), now_, nullptr, &options_, 4);
  ASSERT_NE(nullptr, z);
  EXPECT_EQ(4u, z->process_capacity);
  EXPECT_EQ(0u, ProcessCount(*z));
  EXPECT_EQ(0u, z->record(0).in_flight);
  EXPECT_EQ(1u, z->record(0).requests) << "the counters are carried over";
}

TEST_F(ProcessesTest, ZoneTooSmallForTheTableIsRefused) {
  Add("n1");
  std::vector<std::uint64_t> mem(ZoneBytes(1, 2) / 8);
  EXPECT_EQ(nullptr, InitZone(mem.data(), ZoneBytes(1, 2) - 8, balancer_, now_, nullptr, 2));
  EXPECT_EQ(nullptr, InitZone(mem.data(), ZoneBytes(1, 2), balancer_, now_, nullptr,
                              kMaxProcessSlots + 1));
  EXPECT_NE(nullptr, InitZone(mem.data(), ZoneBytes(1, 2), balancer_, now_, nullptr, 2));
  EXPECT_EQ(nullptr, ValidZone(mem.data(), ZoneBytes(1, 2) - 8));
}

}  // namespace
}  // namespace sticky
