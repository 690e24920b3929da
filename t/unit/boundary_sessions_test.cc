// The session ids the C boundary hands to the glue (sticky_find_sessions())
// and what sticky_select() makes of them: the same candidates, in the same
// order and within the same limits as FindSessionCandidates(), whatever the
// request holds.
#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

#include "balancer/session.h"
#include "c_api/sticky_core.h"

namespace {

constexpr std::uint64_t kNow = 1'000'000;

class BoundarySessionsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string text =
        "worker.list=lb\nworker.lb.type=lb\nworker.lb.balance_workers=n1,n2,n3\n"
        "worker.n1.host=127.0.0.1\nworker.n1.port=10001\n"
        "worker.n2.host=127.0.0.1\nworker.n2.port=10002\n"
        "worker.n3.host=127.0.0.1\nworker.n3.port=10003\n";
    sticky_error_t err;
    ASSERT_EQ(0, sticky_config_load("w.properties", 12, text.data(), text.size(), &cfg_, &err));
    const sticky_lb_t* lb;
    ASSERT_EQ(0, sticky_config_lb(cfg_, "", 0, &lb, &err)) << err.message;
    ASSERT_EQ(0, sticky_balancer_create(cfg_, lb, &b_, &err)) << err.message;
    const std::size_t bytes = sticky_zone_bytes(3, 0, 30);
    memory_.assign(bytes / 8 + 1, 0);
    sticky_zone_stats_t stats;
    ASSERT_EQ(0, sticky_zone_build(b_, memory_.data(), bytes, 0, nullptr, 0, kNow, &stats, &err))
        << err.message;
  }
  void TearDown() override {
    sticky_balancer_free(b_);
    sticky_config_free(cfg_);
  }

  // "id|id|..." of what the boundary finds; found_ points into cookies_.
  std::string Boundary(std::string_view uri, const std::vector<std::string>& cookies) {
    cookies_ = cookies;
    std::vector<sticky_str_t> c;
    for (const std::string& h : cookies_) c.push_back(sticky_str_t{h.data(), h.size()});
    sticky_find_sessions(b_, uri.data(), uri.size(), c.data(), c.size(), &found_);
    std::string ids;
    for (std::size_t i = 0; i < found_.count; ++i) {
      if (i) ids += '|';
      ids.append(found_.session[i].id.data, found_.session[i].id.len);
      EXPECT_EQ(std::string(sticky::SessionRoute(std::string_view(found_.session[i].id.data,
                                                                  found_.session[i].id.len))),
                std::string(found_.session[i].route.data, found_.session[i].route.len));
    }
    return ids;
  }
  // The same from the core's own function.
  std::string Core(std::string_view uri, const std::vector<std::string>& cookies) {
    std::vector<std::string_view> v(cookies.begin(), cookies.end());
    sticky::SessionCandidate out[sticky::kMaxSessionCandidates];
    const std::size_t n = sticky::FindSessionCandidates(uri, v.data(), v.size(), sticky::SessionNames{},
                                                        out, sticky::kMaxSessionCandidates);
    std::string ids;
    for (std::size_t i = 0; i < n; ++i) {
      if (i) ids += '|';
      ids.append(out[i].id);
    }
    return ids;
  }
  sticky_decision_t Select() {
    sticky_decision_t d;
    const std::uint64_t tried = 0;
    sticky_select(b_, memory_.data(), &found_, &tried, kNow, &d, nullptr);
    return d;
  }

  sticky_config_t* cfg_ = nullptr;
  sticky_balancer_t* b_ = nullptr;
  std::vector<std::uint64_t> memory_;
  std::vector<std::string> cookies_;
  sticky_sessions_t found_;
};

TEST_F(BoundarySessionsTest, SameCandidatesAsTheCore) {
  const std::vector<std::vector<std::string>> requests = {
      {},
      {"_ga=GA1.2.3; lang=en"},
      {"_ga=GA1.2.3; JSESSIONID=A.n2; lang=en"},
      {"JSESSIONID=A.zz; JSESSIONID=B.n1", "x=1", "JSESSIONID=\"C.n3\", JSESSIONID=D"},
      {"XJSESSIONID=A.n1; JSESSIONID = B.n2 ;"},
  };
  for (const auto& cookies : requests) {
    for (std::string_view uri : {"/", "/app;jsessionid=P.n3?x=1", "/a;jsessionid=;b"}) {
      EXPECT_EQ(Core(uri, cookies), Boundary(uri, cookies)) << uri;
    }
  }
  EXPECT_EQ("P.n3|A.zz|B.n1|C.n3|D",
            Boundary("/app;jsessionid=P.n3", {"JSESSIONID=A.zz; JSESSIONID=B.n1", "x=1",
                                              "JSESSIONID=\"C.n3\", JSESSIONID=D"}));
}

TEST_F(BoundarySessionsTest, ThirtyTwoCookieHeadersAtMost) {
  std::vector<std::string> cookies(32, "other=1");
  cookies.push_back("JSESSIONID=A.n1");
  EXPECT_EQ("", Boundary("/", cookies)) << "a 33rd Cookie header is not read";
  cookies[31] = "JSESSIONID=B.n2";
  EXPECT_EQ("B.n2", Boundary("/", cookies));
}

TEST_F(BoundarySessionsTest, SixteenCandidatesAtMost) {
  std::string header;
  for (int i = 0; i < 40; ++i) header += "JSESSIONID=S" + std::to_string(i) + ".zz; ";
  Boundary("/", {header, "JSESSIONID=T.n1"});
  EXPECT_EQ(16u, found_.count);
  EXPECT_EQ("S15.zz", std::string(found_.session[15].id.data, found_.session[15].id.len));
}

TEST_F(BoundarySessionsTest, SelectReadsWhatWasFound) {
  Boundary("/", {"JSESSIONID=A.zz; JSESSIONID=B.n2"});
  sticky_decision_t d = Select();
  EXPECT_EQ(STICKY_PICK_MEMBER, d.verdict);
  EXPECT_EQ(1, d.member) << "the first session whose route names a member";
  EXPECT_TRUE(d.sticky_hit);
  EXPECT_EQ("n2", std::string(d.route.data, d.route.len));
  EXPECT_STREQ("sticky route", d.reason);

  Boundary("/", {});
  d = Select();
  EXPECT_EQ(STICKY_PICK_MEMBER, d.verdict);
  EXPECT_TRUE(d.new_session);
  EXPECT_EQ(0u, d.route.len);
  EXPECT_STREQ("balanced", d.reason);
}

}  // namespace
