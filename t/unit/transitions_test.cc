// The transitions the C boundary hands to the glue: every change is applied,
// and as many are written as the glue has room for, whatever the size of
// the upstream (the boundary itself had room for 256 per call).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "c_api/sticky_core.h"

namespace {

constexpr std::uint64_t kStart = 1'000'000;

class TransitionsTest : public ::testing::Test {
 protected:
  void Build(std::size_t members) {
    TearDown();
    b_ = nullptr;
    cfg_ = nullptr;
    std::string text = "worker.list=lb\nworker.lb.type=lb\nworker.lb.recover_time=10\n";
    for (std::size_t i = 0; i < members; ++i) {
      const std::string w = "worker.m" + std::to_string(i);
      text += "worker.lb.balance_workers=m" + std::to_string(i) + "\n";
      text += w + ".host=127.0.0.1\n" + w + ".port=" + std::to_string(10000 + i) + "\n";
    }
    sticky_error_t err;
    ASSERT_EQ(0, sticky_config_load("w.properties", 12, text.data(), text.size(), &cfg_, &err));
    ASSERT_TRUE(sticky_config_ok(cfg_));
    const sticky_lb_t* lb;
    ASSERT_EQ(0, sticky_config_lb(cfg_, "", 0, &lb, &err)) << err.message;
    ASSERT_EQ(0, sticky_balancer_create(cfg_, lb, &b_, &err)) << err.message;
    ASSERT_EQ(members, sticky_balancer_members(b_));
    const std::size_t bytes = sticky_zone_bytes(members, 0, 30);
    memory_.assign(bytes / 8 + 1, 0);
    sticky_zone_stats_t stats;
    ASSERT_EQ(0, sticky_zone_build(b_, memory_.data(), bytes, 0, nullptr, 0, kStart, &stats, &err))
        << err.message;
  }
  void TearDown() override {
    sticky_balancer_free(b_);
    sticky_config_free(cfg_);
  }

  // Every member fails a connect: ERR.
  void FailAll(std::uint64_t now) {
    for (std::size_t i = 0; i < sticky_balancer_members(b_); ++i) {
      sticky_decision_t d{};
      d.verdict = STICKY_PICK_MEMBER;
      d.member = static_cast<int>(i);
      sticky_transition_t t;
      sticky_report_start(b_, memory_.data(), &d, 0, -1, now, &t);
      const int judged =
          sticky_end_attempt(b_, memory_.data(), i, -1, STICKY_OUTCOME_CONNECT_FAILED, 0, 0, 0);
      ASSERT_EQ(STICKY_OUTCOME_CONNECT_FAILED, judged);
      ASSERT_EQ(1, sticky_finish_end(b_, memory_.data(), i, judged, 0, 0, now, &t));
      ASSERT_EQ(std::string("ERR"), t.to);
    }
  }

  sticky_config_t* cfg_ = nullptr;
  sticky_balancer_t* b_ = nullptr;
  std::vector<std::uint64_t> memory_;
};

TEST_F(TransitionsTest, ForcedRecoveryOfAThousandMembersReportsEveryOne) {
  Build(1000);
  FailAll(kStart);
  std::vector<sticky_transition_t> out(1000);
  ASSERT_EQ(1000u, sticky_force_recovery(b_, memory_.data(), kStart + 1, out.data(), out.size()));
  for (std::size_t i = 0; i < out.size(); ++i) {
    EXPECT_EQ(i, out[i].member);
    EXPECT_EQ(std::string("ERR"), out[i].from);
    EXPECT_EQ(std::string("ERR/FRC"), out[i].to);
    EXPECT_EQ(std::string("forced recovery"), out[i].cause);
    EXPECT_EQ(STICKY_LOG_WARN, out[i].level);
  }
  // All applied: nothing is left in ERR.
  EXPECT_EQ(0u, sticky_force_recovery(b_, memory_.data(), kStart + 2, out.data(), out.size()));
}

TEST_F(TransitionsTest, MaintainOfAThousandMembersReportsEveryOne) {
  Build(1000);
  FailAll(kStart);
  std::vector<sticky_transition_t> out(1000);
  EXPECT_EQ(0u, sticky_maintain(b_, memory_.data(), kStart + 1000, out.data(), out.size()));
  ASSERT_EQ(1000u, sticky_maintain(b_, memory_.data(), kStart + 10'000, out.data(), out.size()));
  for (std::size_t i = 0; i < out.size(); ++i) {
    EXPECT_EQ(i, out[i].member);
    EXPECT_EQ(std::string("ERR/REC"), out[i].to);
    EXPECT_EQ(std::string("recover time passed"), out[i].cause);
  }
}

TEST_F(TransitionsTest, LessRoomWritesFewerButAppliesAll) {
  Build(300);
  FailAll(kStart);
  std::vector<sticky_transition_t> out(300);
  out[280].member = 12345;  // past the room given: left alone
  ASSERT_EQ(280u, sticky_force_recovery(b_, memory_.data(), kStart + 1, out.data(), 280));
  for (std::size_t i = 0; i < 280; ++i) EXPECT_EQ(i, out[i].member);
  EXPECT_EQ(12345u, out[280].member);
  EXPECT_EQ(0u, sticky_force_recovery(b_, memory_.data(), kStart + 2, out.data(), out.size()));

  Build(300);  // a fresh zone
  FailAll(kStart);
  EXPECT_EQ(0u, sticky_force_recovery(b_, memory_.data(), kStart + 1, nullptr, 0));
  EXPECT_EQ(0u, sticky_force_recovery(b_, memory_.data(), kStart + 2, out.data(), out.size()));
}

}  // namespace
