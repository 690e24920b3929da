// Runtime administration (src/status/admin.h) and the status and admin section of
// the C boundary (sticky_core.h): the form, each action's effect on the
// zone as mod_jk's status worker has it, and the messages.
#include "status/admin.h"

#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "balancer/state.h"
#include "c_api/sticky_core.h"

namespace sticky {
namespace {

constexpr std::uint64_t kStart = 1'000'000;

// --- the form -------------------------------------------------------------------------

std::string Error(std::string_view body) {
  AdminForm form;
  std::string error;
  return ParseAdminForm(body, &form, &error) ? "" : error;
}

TEST(AdminFormTest, Actions) {
  AdminForm f;
  std::string error;
  ASSERT_TRUE(ParseAdminForm("upstream=tomcats&worker=tomcat1&activation=D", &f, &error));
  EXPECT_EQ("tomcats", f.upstream);
  EXPECT_EQ("tomcat1", f.worker);
  EXPECT_EQ(AdminOp::kActivation, f.op);
  EXPECT_EQ(Activation::kDisabled, f.activation);
  for (const char* v : {"s", "STP", "stopped", "Stopped"}) {
    ASSERT_TRUE(ParseAdminForm(std::string("upstream=u&worker=w&activation=") + v, &f, &error));
    EXPECT_EQ(Activation::kStopped, f.activation) << v;
  }
  ASSERT_TRUE(ParseAdminForm("worker=w&upstream=u&lbfactor=42", &f, &error));
  EXPECT_EQ(AdminOp::kLbfactor, f.op);
  EXPECT_EQ(42u, f.lbfactor);
  ASSERT_TRUE(ParseAdminForm("upstream=u&action=reset", &f, &error));  // every worker
  EXPECT_EQ(AdminOp::kReset, f.op);
  EXPECT_EQ("", f.worker);
  ASSERT_TRUE(ParseAdminForm("upstream=u&worker=w&action=recover&", &f, &error));
  EXPECT_EQ(AdminOp::kRecover, f.op);
}

TEST(AdminFormTest, Decoding) {
  AdminForm f;
  std::string error;
  ASSERT_TRUE(ParseAdminForm("upstream=my+ups&worker=w%3Cx%3E%22y%27%26z&activation=A", &f, &error));
  EXPECT_EQ("my ups", f.upstream);
  EXPECT_EQ("w<x>\"y'&z", f.worker);
  std::string out;
  EXPECT_FALSE(FormDecode("a%2", &out));
  EXPECT_FALSE(FormDecode("a%zz", &out));
  EXPECT_TRUE(FormDecode("%00", &out));
  EXPECT_EQ(std::string(1, '\0'), out);
}

TEST(AdminFormTest, Refusals) {
  EXPECT_EQ("the field \"upstream\" is missing", Error("worker=w&activation=D"));
  EXPECT_EQ("the field \"upstream\" is missing", Error("upstream=&worker=w&activation=D"));
  EXPECT_EQ("the field \"worker\" is missing", Error("upstream=u&activation=D"));
  EXPECT_EQ("the field \"worker\" is missing", Error("upstream=u&action=recover"));
  EXPECT_EQ("nothing to do: give activation, lbfactor or action", Error("upstream=u&worker=w"));
  EXPECT_EQ("one change at a time: give only one of activation, lbfactor, action",
            Error("upstream=u&worker=w&activation=D&activation=A"));
  EXPECT_EQ("the field \"worker\" is repeated", Error("upstream=u&worker=w&worker=v&action=reset"));
  EXPECT_EQ("invalid activation \"X\": use A, D or S", Error("upstream=u&worker=w&activation=X"));
  EXPECT_EQ("invalid lbfactor \"0\": use a number from 1 to 100000",
            Error("upstream=u&worker=w&lbfactor=0"));
  EXPECT_NE("", Error("upstream=u&worker=w&lbfactor=100001"));
  EXPECT_NE("", Error("upstream=u&worker=w&lbfactor=-1"));
  EXPECT_NE("", Error("upstream=u&worker=w&lbfactor=1x"));
  EXPECT_NE("", Error("upstream=u&worker=w&lbfactor=99999999999999999999"));
  EXPECT_EQ("invalid action \"x\\x0ay\": use reset or recover",
            Error("upstream=u&worker=w&action=x%0Ay"));
  EXPECT_EQ("unknown field \"cmd\": use upstream, worker, and one of activation, lbfactor, action",
            Error("upstream=u&worker=w&cmd=update"));
  EXPECT_EQ("invalid %-escape in the form", Error("upstream=u%&worker=w&action=reset"));
}

// --- actions on the zone ----------------------------------------------------------------

class AdminTest : public ::testing::Test {
 protected:
  Member& Add(const std::string& name, int lbfactor = 1) {
    Member m;
    m.name = name;
    m.lbfactor = lbfactor;
    balancer_.members.push_back(m);
    return balancer_.members.back();
  }
  Zone& Build(Method method = Method::kRequest) {
    balancer_.method = method;
    memory_.assign(ZoneBytes(balancer_.members.size()) / 8 + 1, 0);
    zone_ = InitZone(memory_.data(), memory_.size() * 8, balancer_, now_);
    EXPECT_NE(nullptr, zone_);
    return *zone_;
  }
  std::size_t I(const std::string& name) { return static_cast<std::size_t>(FindRecord(*zone_, name)); }
  MemberState& S(const std::string& name) { return zone_->record(I(name)); }
  void Request(const std::string& name, Outcome outcome = Outcome::kSuccess, bool end = true) {
    ReportStart(*zone_, I(name), AttemptKind{true, false}, now_);
    if (end) ReportEnd(*zone_, I(name), outcome, 10, 20, now_);
  }

  Balancer balancer_;
  std::vector<std::uint64_t> memory_;
  Zone* zone_ = nullptr;
  std::uint64_t now_ = kStart;
};

TEST_F(AdminTest, ActivationChangeResetsLoadValuesAsModJk) {
  Add("a");
  Add("b");
  Build();
  Request("a");
  Request("b");
  ASSERT_GT(S("a").lb_value, 0u);
  EXPECT_TRUE(SetActivation(*zone_, I("b"), Activation::kDisabled));
  EXPECT_EQ(Activation::kDisabled, S("b").GetActivation());
  EXPECT_EQ(Activation::kActive, static_cast<Activation>(S("b").configured_activation));
  EXPECT_EQ(0u, S("a").lb_value);
  EXPECT_EQ(0u, S("b").lb_value);
  EXPECT_FALSE(SetActivation(*zone_, I("b"), Activation::kDisabled));  // already so
  EXPECT_FALSE(SetActivation(*zone_, 7, Activation::kStopped));        // no such member
}

TEST_F(AdminTest, ActivationChangeKeepsBusynessLoad) {
  Add("a");
  Add("b");
  Build(Method::kBusyness);
  Request("a", Outcome::kSuccess, /*end=*/false);  // one in flight
  const std::uint64_t busy = S("a").lb_value;
  ASSERT_GT(busy, 0u);
  EXPECT_TRUE(SetActivation(*zone_, I("b"), Activation::kStopped));
  EXPECT_EQ(busy, S("a").lb_value);
}

TEST_F(AdminTest, LbfactorRecomputesMultipliers) {
  Add("a");
  Add("b");
  Add("c", 2);
  Build();
  EXPECT_EQ(2u, S("a").lb_mult);
  EXPECT_TRUE(SetLbfactor(*zone_, I("a"), 3));
  EXPECT_EQ(3u, S("a").lbfactor);
  EXPECT_EQ(1u, S("a").configured_lbfactor);
  EXPECT_EQ(2u, S("a").lb_mult);  // LCM(3, 1, 2) = 6
  EXPECT_EQ(6u, S("b").lb_mult);
  EXPECT_EQ(3u, S("c").lb_mult);
  EXPECT_FALSE(SetLbfactor(*zone_, I("a"), 3));
  EXPECT_FALSE(SetLbfactor(*zone_, I("a"), 0));
}

TEST_F(AdminTest, LbfactorUnderBusynessRescalesLoad) {
  Add("a");
  Add("b");
  Build(Method::kBusyness);
  Request("b", Outcome::kSuccess, false);
  EXPECT_EQ(1u, S("b").lb_value);
  EXPECT_TRUE(SetLbfactor(*zone_, I("a"), 4));  // b's multiplier becomes 4
  EXPECT_EQ(4u, S("b").lb_value);
}

TEST_F(AdminTest, ResetZeroesCountersAndState) {
  Add("a");
  Add("b");
  Build();
  Request("a");
  Request("a", Outcome::kConnectFailed);
  Request("a", Outcome::kSuccess, false);  // stays in flight
  ASSERT_EQ(Health::kError, S("a").GetHealth());
  Transition t;
  EXPECT_TRUE(ResetMember(*zone_, I("a"), now_, &t));
  const MemberState& a = S("a");
  EXPECT_EQ(Health::kOkIdle, a.GetHealth());
  EXPECT_EQ(HealthCause::kAdminReset, t.cause);
  EXPECT_EQ(0u, a.requests + a.sticky_hits + a.new_sessions + a.errors + a.bytes_sent +
                    a.bytes_received + a.lb_value);
  EXPECT_EQ(0u, a.first_error_ms + a.last_error_ms + a.recover_at_ms + a.last_request_ms);
  EXPECT_EQ(1u, a.in_flight);  // still running: ReportEnd will take it back
  EXPECT_FALSE(ResetMember(*zone_, I("b"), now_));  // already OK/IDLE: no transition
}

TEST_F(AdminTest, RecoverOnlyFromError) {
  Add("a");
  Add("b");
  Build();
  Request("b");
  Request("b");
  Request("a", Outcome::kConnectFailed);
  ASSERT_EQ(Health::kError, S("a").GetHealth());
  EXPECT_FALSE(RecoverMember(*zone_, I("b"), now_));  // mod_jk: not in error
  EXPECT_EQ(Health::kOk, S("b").GetHealth());
  Transition t;
  EXPECT_TRUE(RecoverMember(*zone_, I("a"), now_ + 1000, &t));
  EXPECT_EQ(Health::kRecovering, S("a").GetHealth());
  EXPECT_EQ(S("b").lb_value, S("a").lb_value);  // starts at the highest load
  EXPECT_FALSE(RecoverMember(*zone_, I("a"), now_ + 2000));  // ERR/REC is not ERR
}

// --- the C boundary -------------------------------------------------------------------------

class AdminBoundaryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string text =
        "worker.list=lb\nworker.lb.type=lb\nworker.lb.balance_workers=n1,n2\n"
        "worker.n1.host=127.0.0.1\nworker.n1.port=8081\n"
        "worker.n2.host=127.0.0.1\nworker.n2.port=8082\n";
    sticky_error_t err;
    ASSERT_EQ(0, sticky_config_load("w.properties", 12, text.data(), text.size(), &cfg_, &err));
    const sticky_lb_t* lb;
    ASSERT_EQ(0, sticky_config_lb(cfg_, "", 0, &lb, &err)) << err.message;
    ASSERT_EQ(0, sticky_balancer_create(cfg_, lb, &b_, &err)) << err.message;
    bytes_ = sticky_zone_bytes(2, 0, 30);
    memory_.assign(bytes_ / 8 + 1, 0);
    sticky_zone_stats_t stats;
    ASSERT_EQ(0, sticky_zone_build(b_, memory_.data(), bytes_, 0, nullptr, 0, kStart, &stats, &err))
        << err.message;
  }
  void TearDown() override {
    sticky_balancer_free(b_);
    sticky_config_free(cfg_);
  }
  // Parses and applies `body`; "OK: message" or "ERROR: message".
  std::string Apply(const std::string& body) {
    sticky_admin_t* a = nullptr;
    sticky_error_t err;
    if (sticky_admin_parse(body.data(), body.size(), &a, &err) != 0)
      return std::string("PARSE: ") + err.message;
    sticky_admin_result_t res;
    const sticky_str_t up = sticky_admin_upstream(a);
    const int rc = sticky_admin_apply(b_, memory_.data(), up.data, up.len, a, kStart, &res, &err);
    sticky_admin_free(a);
    return rc == 0 ? std::string("OK: ") + res.message : std::string("ERROR: ") + err.message;
  }
  Zone& Z() { return *reinterpret_cast<Zone*>(memory_.data()); }

  sticky_config_t* cfg_ = nullptr;
  sticky_balancer_t* b_ = nullptr;
  std::vector<std::uint64_t> memory_;
  std::size_t bytes_ = 0;
};

TEST_F(AdminBoundaryTest, ApplyAndMessages) {
  EXPECT_EQ("OK: worker \"n2\" of upstream \"tomcats\": activation A -> D",
            Apply("upstream=tomcats&worker=n2&activation=D"));
  EXPECT_EQ(Activation::kDisabled, Z().record(1).GetActivation());
  EXPECT_EQ("OK: worker \"n2\" of upstream \"tomcats\": activation already D",
            Apply("upstream=tomcats&worker=n2&activation=D"));
  EXPECT_EQ("OK: worker \"n1\" of upstream \"tomcats\": lbfactor 1 -> 5",
            Apply("upstream=tomcats&worker=n1&lbfactor=5"));
  EXPECT_EQ("ERROR: worker \"n1\" of upstream \"tomcats\": cannot recover: not in error "
            "(state OK/IDLE)",
            Apply("upstream=tomcats&worker=n1&action=recover"));
  EXPECT_EQ("ERROR: upstream \"tomcats\" has no worker \"n\\x0a3\\x22\"",
            Apply("upstream=tomcats&worker=n%0A3%22&activation=D"));
  EXPECT_EQ("OK: upstream \"tomcats\": 2 workers reset: counters and load 0, state OK/IDLE",
            Apply("upstream=tomcats&action=reset"));
  EXPECT_EQ("PARSE: the field \"worker\" is missing", Apply("upstream=tomcats&activation=D"));
}

TEST_F(AdminBoundaryTest, StatusPageAndMessages) {
  sticky_status_t* st = nullptr;
  sticky_error_t err;
  ASSERT_EQ(0, sticky_status_create(&st, &err));
  EXPECT_NE(0, sticky_status_add(st, b_, "x", 1, memory_.data(), 10, &err));  // too short
  ASSERT_EQ(0, sticky_status_add(st, b_, "tomcats", 7, memory_.data(), bytes_, &err));
  sticky_status_options_t opt{};
  opt.format = STICKY_STATUS_JSON;
  opt.now_ms = kStart;
  opt.wall_ms = 1'700'000'000'000;
  sticky_str_t out;
  ASSERT_EQ(0, sticky_status_render(st, &opt, &out, &err));
  const std::string json(out.data, out.len);
  EXPECT_NE(std::string::npos, json.find("\"name\":\"tomcats\""));
  EXPECT_NE(std::string::npos, json.find("\"name\":\"n2\""));
  ASSERT_EQ(0, sticky_status_message(st, 1, 0, "no \"x\"", 6, &out, &err));
  EXPECT_EQ("{\"ok\":false,\"message\":\"no \\\"x\\\"\"}\n", std::string(out.data, out.len));
  ASSERT_EQ(0, sticky_status_message(st, 0, 1, "done", 4, &out, &err));
  EXPECT_EQ("OK: done\n", std::string(out.data, out.len));
  EXPECT_EQ(std::string("application/json"), sticky_status_content_type(STICKY_STATUS_JSON));
  EXPECT_EQ(std::string("text/plain; version=0.0.4; charset=utf-8"),
            sticky_status_content_type(STICKY_STATUS_PROMETHEUS));
  sticky_status_free(st);
}

}  // namespace
}  // namespace sticky
