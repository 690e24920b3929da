// The end of an attempt in two steps (state.h): EndAttempt() without the
// zone lock, FinishEnd() with it only when the end is not the usual one;
// and the counters that both change (counters.h) kept exact when
// processes end attempts without the lock while others hold it.
#include <gtest/gtest.h>

#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "balancer/processes.h"
#include "balancer/state.h"

namespace sticky {
namespace {

constexpr std::uint64_t kStart = 1'000'000;

class EndAttemptTest : public ::testing::Test {
 protected:
  // A zone whose members had one attempt each, so that they are OK (a new
  // zone has them OK/IDLE), unless `warm` is false.
  void Build(Method method, std::size_t members = 2, int busy_limit = 0,
             std::size_t processes = 4, bool warm = true) {
    balancer_.method = method;
    for (std::size_t i = 0; i < members; ++i) {
      Member m;
      m.name = "w" + std::to_string(i);
      m.busy_limit = busy_limit;
      balancer_.members.push_back(m);
    }
    HealthOptions options;
    options.sessions_window_minutes = 0;
    memory_.assign(ZoneBytes(members, processes, 0) / 8 + 1, 0);
    zone_ = InitZone(memory_.data(), memory_.size() * 8, balancer_, kStart, &options, processes);
    ASSERT_NE(nullptr, zone_);
    for (std::size_t i = 0; warm && i < members; ++i) {
      ReportStart(*zone_, i, AttemptKind{}, kStart);
      ReportEnd(*zone_, i, Outcome::kSuccess, 0, 0, kStart);
      ASSERT_EQ(Health::kOk, zone_->record(i).GetHealth());
    }
  }
  // Starts an attempt on member 0 and ends it with `outcome`: true when the
  // end asked for its locked step.
  bool EndNeedsLock(Outcome outcome) {
    ReportStart(*zone_, 0, AttemptKind{}, kStart);
    const bool more = EndAttempt(*zone_, 0, outcome, 10, 20);
    if (more) FinishEnd(*zone_, 0, outcome, 10, 20, kStart);
    return more;
  }

  Balancer balancer_;
  std::vector<std::uint64_t> memory_;
  Zone* zone_ = nullptr;
};

TEST_F(EndAttemptTest, AnIdleMembersFirstEndTakesTheLockedStep) {
  Build(Method::kRequest, 2, 0, 4, /*warm=*/false);
  EXPECT_EQ(Health::kOkIdle, zone_->record(0).GetHealth());
  EXPECT_TRUE(EndNeedsLock(Outcome::kSuccess));
  EXPECT_EQ(Health::kOk, zone_->record(0).GetHealth());  // made OK under the lock
}

TEST_F(EndAttemptTest, TheUsualEndIsCompleteWithoutTheLock) {
  for (Method method : {Method::kRequest, Method::kSession, Method::kNext}) {
    balancer_ = Balancer();
    Build(method);
    const std::size_t slot = AttachProcess(*zone_, 4242, 1);
    ReportStart(*zone_, 0, AttemptKind{false, true}, kStart, nullptr, slot);
    EXPECT_EQ(1u, zone_->record(0).in_flight);
    EXPECT_FALSE(EndAttempt(*zone_, 0, Outcome::kSuccess, 100, 2000, slot));
    EXPECT_EQ(0u, zone_->record(0).in_flight);
    EXPECT_EQ(0u, zone_->held(slot)[0]);
    EXPECT_EQ(100u, zone_->record(0).bytes_sent);
    EXPECT_EQ(2000u, zone_->record(0).bytes_received);
    EXPECT_EQ(Health::kOk, zone_->record(0).GetHealth());
  }
}

TEST_F(EndAttemptTest, EveryOtherOutcomeTakesTheLockedStep) {
  for (Outcome o : {Outcome::kConnectFailed, Outcome::kReadFailed, Outcome::kReplyTimeout,
                    Outcome::kFailOnStatus, Outcome::kNeutral}) {
    balancer_ = Balancer();
    Build(Method::kRequest);  // member 0 OK, as in the usual end
    EXPECT_TRUE(EndNeedsLock(o)) << static_cast<int>(o);
    EXPECT_EQ(0u, zone_->record(0).in_flight);
  }
}

TEST_F(EndAttemptTest, LoadCountedAtTheEndTakesTheLockedStep) {
  Build(Method::kTraffic);
  EXPECT_TRUE(EndNeedsLock(Outcome::kSuccess));
  EXPECT_EQ(30u, zone_->record(0).lb_value);  // the bytes, added under the lock

  balancer_ = Balancer();
  Build(Method::kBusyness);
  ReportStart(*zone_, 0, AttemptKind{}, kStart);
  EXPECT_EQ(1u, zone_->record(0).lb_value);
  EXPECT_TRUE(EndNeedsLock(Outcome::kSuccess));
  EXPECT_EQ(1u, zone_->record(0).lb_value);  // the first attempt is still in flight
}

TEST_F(EndAttemptTest, ABusyMemberOrOneWithAnErrorToForgetTakesTheLockedStep) {
  Build(Method::kRequest, 2, /*busy_limit=*/1);
  ReportStart(*zone_, 0, AttemptKind{}, kStart);  // at its limit: OK/BUSY
  EXPECT_EQ(Health::kBusy, zone_->record(0).GetHealth());
  EXPECT_TRUE(EndAttempt(*zone_, 0, Outcome::kSuccess, 0, 0));
  FinishEnd(*zone_, 0, Outcome::kSuccess, 0, 0, kStart);
  EXPECT_EQ(Health::kOk, zone_->record(0).GetHealth());  // room again

  zone_->record(1).first_error_ms = zone_->record(1).last_error_ms = kStart;  // a local error
  ReportStart(*zone_, 1, AttemptKind{}, kStart);
  EXPECT_TRUE(EndAttempt(*zone_, 1, Outcome::kSuccess, 0, 0));
  FinishEnd(*zone_, 1, Outcome::kSuccess, 0, 0, kStart);
  EXPECT_EQ(0u, zone_->record(1).first_error_ms);  // forgotten by the locked step
}

// Four "processes" (threads, each with its slot) start attempts under the
// zone lock and end them without it, taking the lock again only when asked;
// one attempt in 97 fails (its end takes the lock, and its member goes
// through ERR and recovery). A fifth thread runs the maintenance tick under
// the lock.
// Every count must come out exact: a lock-free decrement lost to a locked
// read-modify-write would leave requests in flight for good.
TEST_F(EndAttemptTest, CountsStayExactWithEndsOutsideTheLock) {
  Build(Method::kRequest, 3);
  constexpr int kThreads = 4;
  constexpr int kAttempts = 20000;
  std::mutex zone_lock;
  std::vector<std::size_t> slots;
  for (int p = 0; p < kThreads; ++p) slots.push_back(AttachProcess(*zone_, 1000 + p, 1));
  bool stop = false;
  std::thread maintenance([&] {
    Transition out[8];
    std::uint64_t now = kStart;
    for (;;) {
      std::lock_guard<std::mutex> hold(zone_lock);
      if (stop) return;
      Maintain(*zone_, ++now, 60, out, 8);
    }
  });
  std::vector<std::thread> processes;
  for (int p = 0; p < kThreads; ++p) {
    processes.emplace_back([&, p] {
      for (int k = 0; k < kAttempts; ++k) {
        const std::size_t member = static_cast<std::size_t>(k % 3);
        const Outcome outcome = k % 97 == 0 ? Outcome::kConnectFailed : Outcome::kSuccess;
        {
          std::lock_guard<std::mutex> hold(zone_lock);
          ReportStart(*zone_, member, AttemptKind{}, kStart, nullptr, slots[p]);
        }
        if (EndAttempt(*zone_, member, outcome, 1, 2, slots[p])) {
          std::lock_guard<std::mutex> hold(zone_lock);
          FinishEnd(*zone_, member, outcome, 1, 2, kStart);
        }
      }
    });
  }
  for (std::thread& t : processes) t.join();
  {
    std::lock_guard<std::mutex> hold(zone_lock);
    stop = true;
  }
  maintenance.join();

  const std::uint64_t attempts = static_cast<std::uint64_t>(kThreads) * kAttempts;
  std::uint64_t requests = 0, sent = 0, received = 0;
  for (std::size_t i = 0; i < 3; ++i) {
    const MemberState& m = zone_->record(i);
    EXPECT_EQ(0u, m.in_flight) << m.Name();
    requests += m.requests;
    sent += m.bytes_sent;
    received += m.bytes_received;
    for (std::size_t slot : slots) EXPECT_EQ(0u, zone_->held(slot)[i]);
  }
  EXPECT_EQ(attempts + 3, requests);  // with Build()'s first attempts
  EXPECT_EQ(attempts, sent);
  EXPECT_EQ(2 * attempts, received);
}

}  // namespace
}  // namespace sticky
