// The model built from workers.properties: defaults, clamps, derived values,
// the errors that make mod_jk refuse to start, and SelectBalancer.
#include "config_test.h"

#include <random>

namespace sticky {
namespace {

using ::testing::AllOf;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

std::string S(const char* text) { return text; }

// --- defaults ----------------------------------------------------------------

TEST_F(ConfigTest, MinimalLbGetsModJksDefaults) {
  Load("worker.list=lb\nworker.lb.type=lb\nworker.lb.balance_workers=n1\nworker.n1.port=8080\n");
  EXPECT_THAT(config_.diagnostics, IsEmpty());
  ASSERT_TRUE(config_.ok());
  EXPECT_EQ("w.properties", config_.file);
  EXPECT_EQ(60, config_.maintain);
  const Balancer& lb = Lb("lb");
  EXPECT_TRUE(lb.sticky_session);
  EXPECT_FALSE(lb.sticky_session_force);
  EXPECT_EQ(Method::kRequest, lb.method);
  EXPECT_EQ(Lock::kOptimistic, lb.lock);
  EXPECT_EQ(2, lb.retries);
  EXPECT_EQ(2, lb.lb_retries);
  EXPECT_EQ(100, lb.retry_interval);
  EXPECT_EQ(60, lb.recover_time);
  EXPECT_EQ(30, lb.error_escalation_time);
  EXPECT_EQ(0, lb.max_reply_timeouts);
  EXPECT_EQ("JSESSIONID", lb.session_cookie);
  EXPECT_EQ(";jsessionid", lb.session_path);
  EXPECT_FALSE(lb.set_session_cookie);
  EXPECT_EQ("/", lb.session_cookie_path);
  EXPECT_EQ(2u, lb.where.line);

  const Member& n1 = MemberOf("lb", "n1");
  EXPECT_EQ("ajp13", n1.type);  // no type: mod_jk's default
  EXPECT_EQ("localhost", n1.host);
  EXPECT_EQ(8080, n1.port);
  EXPECT_EQ(1, n1.lbfactor);
  EXPECT_EQ("n1", n1.route);  // the worker name
  EXPECT_EQ("", n1.domain);
  EXPECT_EQ("", n1.redirect);
  EXPECT_EQ(0, n1.distance);
  EXPECT_EQ(Activation::kActive, n1.activation);
  EXPECT_THAT(n1.fail_on_status, IsEmpty());
  EXPECT_EQ(0, n1.connect_timeout);
  EXPECT_EQ(0, n1.prepost_timeout);
  EXPECT_EQ(10000, n1.ping_timeout);
  EXPECT_EQ(0, n1.socket_timeout);
  EXPECT_EQ(0, n1.socket_connect_timeout);
  EXPECT_EQ(0, n1.reply_timeout);
  EXPECT_EQ(2, n1.retries);
  EXPECT_EQ(100, n1.retry_interval);
  EXPECT_EQ(0, n1.busy_limit);
  EXPECT_EQ(4u, n1.where.line);
}

TEST_F(ConfigTest, WorkerListDefaultsToAjp13AndAppends) {
  Load("worker.n1.port=1\n");
  EXPECT_THAT(config_.worker_list, ElementsAre("ajp13"));
  Load("worker.list=a, b\nworker.list=c\tlb\nworker.list=a\n");
  EXPECT_THAT(config_.worker_list, ElementsAre("a", "b", "c", "lb"));
  EXPECT_THAT(Warnings(), Contains(HasSubstr("worker \"a\" is listed more than once")));
}

TEST_F(ConfigTest, WorkerMaintain) {
  Load("worker.maintain=30\n");
  EXPECT_EQ(30, config_.maintain);
  Load("worker.maintain=60\nworker.maintain=30\n");  // "60*30": the first
  EXPECT_EQ(60, config_.maintain);
  Load("worker.maintain=-5\n");
  EXPECT_EQ(0, config_.maintain);
  EXPECT_THAT(Warnings(), ElementsAre(HasSubstr("negative, mod_jk uses 0")));
}

// --- members -------------------------------------------------------------------

TEST_F(ConfigTest, MembersInBalanceWorkersOrderAcrossRepeatedLines) {
  Load(S(kTwoMembers) + "worker.lb.balance_workers=n3 n0\nworker.n3.port=1\nworker.n0.port=1\n");
  EXPECT_THAT(MemberNames("lb"), ElementsAre("n1", "n2", "n3", "n0"));
}

TEST_F(ConfigTest, OldBalancedWorkersIsReadWhenBalanceWorkersIsMissing) {
  Load("worker.lb.type=lb\nworker.lb.balanced_workers=n1\nworker.n1.port=1\n");
  EXPECT_THAT(MemberNames("lb"), ElementsAre("n1"));
  Load("worker.lb.type=lb\nworker.lb.balance_workers=n1\nworker.lb.balanced_workers=n2\n"
       "worker.n1.port=1\nworker.n2.port=1\n");
  EXPECT_THAT(MemberNames("lb"), ElementsAre("n1"));  // mod_jk reads only one
}

TEST_F(ConfigTest, LbWithoutMembersIsAnError) {
  Load("worker.list=lb\nworker.lb.type=lb\n");
  EXPECT_THAT(Errors(), ElementsAre(HasSubstr("lb worker \"lb\" has no members")));
  Load("worker.list=lb\nworker.lb.type=lb\nworker.lb.balance_workers= , \n");
  EXPECT_THAT(Errors(), ElementsAre(HasSubstr("has no members")));
}

TEST_F(ConfigTest, UndefinedMemberIsAnError) {
  Load(S(kTwoMembers) + "worker.lb.balance_workers=n3\n");
  ASSERT_THAT(Errors(), ElementsAre("member \"n3\" of lb worker \"lb\" in "
                                    "\"worker.lb.balance_workers\" is not defined: there "
                                    "is no \"worker.n3.*\" key"));
  EXPECT_EQ(6u, Find("n3")->where.line);
}

TEST_F(ConfigTest, MemberListedTwiceIsAnErrorAsInModJk) {
  Load(S(kTwoMembers) + "worker.lb.balance_workers=n1\n");
  EXPECT_THAT(Errors(), ElementsAre(HasSubstr("member \"n1\" is listed twice")));
  EXPECT_THAT(MemberNames("lb"), ElementsAre("n1", "n2"));
}

TEST_F(ConfigTest, MembersMustBeAjp13OrAjp14) {
  Load(S(kTwoMembers) + "worker.n1.type=status\n");
  EXPECT_THAT(Errors(), ElementsAre(HasSubstr("lb members must be ajp13 or ajp14")));
  Load(S(kTwoMembers) + "worker.n1.type=lb\nworker.n1.balance_workers=n2\n");
  EXPECT_THAT(Errors(), Contains(HasSubstr("has type \"lb\"")));
  Load(S(kTwoMembers) + "worker.n1.type=ajp12\n");
  EXPECT_THAT(Errors(), ElementsAre(HasSubstr("has type \"ajp12\"")));
  Load(S(kTwoMembers) + "worker.n1.type=AJP13\n");  // types are case-sensitive
  EXPECT_THAT(Errors(), ElementsAre(HasSubstr("unknown type \"AJP13\" in \"worker.n1.type\"")));
}

TEST_F(ConfigTest, Ajp14MemberNeedsASecretKeyAndDefaultsToPort8011) {
  Load(S(kTwoMembers) + "worker.n1.type=ajp14\n");
  EXPECT_THAT(Errors(), ElementsAre(HasSubstr("has no \"worker.n1.secretkey\"")));
  Load(S(kTwoMembers) + "worker.n1.type=ajp14\nworker.n1.secretkey=s\n");
  EXPECT_TRUE(config_.ok());
  EXPECT_EQ(8011, MemberOf("lb", "n1").port);
}

TEST_F(ConfigTest, RouteDefaultsToTheNameOrTheOldJvmRoute) {
  Load(S(kTwoMembers) + "worker.n1.jvm_route=tc1\nworker.n2.jvm_route=x\nworker.n2.route=tc2\n");
  EXPECT_EQ("tc1", MemberOf("lb", "n1").route);
  EXPECT_EQ("tc2", MemberOf("lb", "n2").route);  // route wins
}

TEST_F(ConfigTest, DomainIsDerivedFromADottedRoute) {
  Load(S(kTwoMembers) + "worker.n1.route=d1.w3.x\nworker.n2.route=d2.w4\n"
                        "worker.n2.domain=explicit\n");
  EXPECT_EQ("d1", MemberOf("lb", "n1").domain);
  EXPECT_EQ("explicit", MemberOf("lb", "n2").domain);
}

TEST_F(ConfigTest, TwoMembersWithTheSameRouteIsAnError) {
  Load(S(kTwoMembers) + "worker.n1.route=tc\nworker.n2.route=tc\n");
  ASSERT_THAT(Errors(), ElementsAre(HasSubstr("members \"n1\" and \"n2\" of lb worker \"lb\" "
                                              "have the same route \"tc\"")));
  EXPECT_EQ(7u, Find("same route")->where.line);
  Load(S(kTwoMembers) + "worker.n1.route=n2\n");  // against n2's default route
  EXPECT_THAT(Errors(), ElementsAre(HasSubstr("same route \"n2\"")));
}

TEST_F(ConfigTest, StringsLongerThan60BytesAreErrors) {
  std::string b60(60, 'b');
  std::string b61(61, 'b');
  Load(S(kTwoMembers) + "worker.n1.route=" + b60 + "\n");
  EXPECT_TRUE(config_.ok());
  for (const char* attribute : {"route", "host", "domain", "redirect"}) {
    Load(S(kTwoMembers) + "worker.n1." + attribute + "=" + b61 + "\n");
    EXPECT_THAT(Errors(), Contains(HasSubstr("61 bytes long, mod_jk allows at most 60")))
        << attribute;
  }
  for (const char* attribute : {"session_cookie", "session_path", "session_cookie_path"}) {
    Load(S(kTwoMembers) + "worker.lb." + attribute + "=" + b61 + "\n");
    EXPECT_THAT(Errors(), ElementsAre(HasSubstr("61 bytes long"))) << attribute;
  }
  Load("worker.list=lb\nworker.lb.type=lb\nworker.lb.balance_workers=" + b61 + "\nworker." +
       b61 + ".port=1\n");
  EXPECT_THAT(Errors(), ElementsAre(HasSubstr("worker name \"" + b61 + "\" is 61 bytes")));
}

// --- values ------------------------------------------------------------------

TEST_F(ConfigTest, NumbersBelowTheMinimumAreRaisedWithAWarning) {
  Load(S(kTwoMembers) + "worker.n1.lbfactor=0\nworker.n1.retries=-1\nworker.lb.retries=0\n"
                        "worker.lb.lb_retries=0\nworker.lb.recover_time=0\n");
  EXPECT_EQ(1, MemberOf("lb", "n1").lbfactor);
  EXPECT_EQ(1, MemberOf("lb", "n1").retries);
  EXPECT_EQ(1, Lb("lb").retries);
  EXPECT_EQ(1, Lb("lb").lb_retries);
  EXPECT_EQ(1, Lb("lb").recover_time);
  EXPECT_EQ(0, Lb("lb").error_escalation_time);  // 1 / 2
  EXPECT_EQ(5u, Warnings().size());
  EXPECT_THAT(Warnings(), Contains("\"worker.n1.lbfactor\" is 0, below the minimum: "
                                   "mod_jk uses 1"));
}

TEST_F(ConfigTest, InvalidNumbersAreReadLikeModJkWithAWarning) {
  // Observed with mod_jk 1.2.48: retries=abc -> 1, recover_time=10k -> 10240.
  Load(S(kTwoMembers) + "worker.lb.retries=abc\nworker.lb.recover_time=10k\n"
                        "worker.n1.lbfactor=3x\n");
  EXPECT_EQ(1, Lb("lb").retries);
  EXPECT_EQ(10240, Lb("lb").recover_time);
  EXPECT_EQ(5120, Lb("lb").error_escalation_time);
  EXPECT_EQ(3, MemberOf("lb", "n1").lbfactor);
  EXPECT_THAT(Warnings(), Contains("invalid value \"abc\" in \"worker.lb.retries\": not a "
                                   "number, mod_jk reads it as 0"));
  EXPECT_THAT(Warnings(), Contains(HasSubstr("invalid value \"3x\"")));
  EXPECT_TRUE(config_.ok());
}

TEST_F(ConfigTest, RepeatedDistanceKeepsTheFirstValue) {
  Load(S(kTwoMembers) + "worker.n1.distance=3\nworker.n1.distance=7\n");
  EXPECT_EQ(3, MemberOf("lb", "n1").distance);
  EXPECT_THAT(Warnings(), ElementsAre(HasSubstr("joins both into \"3*7\""),
                                      HasSubstr("mod_jk reads it as 3")));
}

TEST_F(ConfigTest, ExplicitLbValues) {
  Load(S(kTwoMembers) + "worker.lb.sticky_session=off\nworker.lb.sticky_session_force=yes\n"
                        "worker.lb.method=Busyness\nworker.lb.lock=P\nworker.lb.retries=3\n"
                        "worker.lb.lb_retries=4\nworker.lb.retry_interval=250\n"
                        "worker.lb.recover_time=90\nworker.lb.error_escalation_time=10\n"
                        "worker.lb.max_reply_timeouts=5\nworker.lb.session_cookie=SID\n"
                        "worker.lb.session_path=;sid\nworker.lb.set_session_cookie=true\n"
                        "worker.lb.session_cookie_path=/app\n");
  EXPECT_THAT(config_.diagnostics, IsEmpty());
  const Balancer& lb = Lb("lb");
  EXPECT_FALSE(lb.sticky_session);
  EXPECT_TRUE(lb.sticky_session_force);
  EXPECT_EQ(Method::kBusyness, lb.method);
  EXPECT_EQ(Lock::kPessimistic, lb.lock);
  EXPECT_EQ(3, lb.retries);
  EXPECT_EQ(4, lb.lb_retries);
  EXPECT_EQ(250, lb.retry_interval);
  EXPECT_EQ(90, lb.recover_time);
  EXPECT_EQ(10, lb.error_escalation_time);
  EXPECT_EQ(5, lb.max_reply_timeouts);
  EXPECT_EQ("SID", lb.session_cookie);
  EXPECT_EQ(";sid", lb.session_path);
  EXPECT_TRUE(lb.set_session_cookie);
  EXPECT_EQ("/app", lb.session_cookie_path);
}

TEST_F(ConfigTest, EscalationTimeDefaultsToHalfTheRecoverTime) {
  Load(S(kTwoMembers) + "worker.lb.recover_time=45\n");
  EXPECT_EQ(22, Lb("lb").error_escalation_time);
}

TEST_F(ConfigTest, UnknownBooleanAndEnumValuesWarnAndUseTheDefault) {
  Load(S(kTwoMembers) + "worker.lb.sticky_session=maybe\nworker.lb.method=X\n"
                        "worker.lb.lock=?\nworker.n1.activation=Q\n");
  EXPECT_TRUE(Lb("lb").sticky_session);
  EXPECT_EQ(Method::kRequest, Lb("lb").method);
  EXPECT_EQ(Lock::kOptimistic, Lb("lb").lock);
  EXPECT_EQ(Activation::kActive, MemberOf("lb", "n1").activation);
  EXPECT_THAT(Warnings(), ElementsAre(HasSubstr("not a boolean"), HasSubstr("unknown method"),
                                      HasSubstr("unknown lock"),
                                      HasSubstr("unknown activation")));
  EXPECT_TRUE(config_.ok());
}

TEST_F(ConfigTest, ActivationAndTheOldDisabledAndStopped) {
  Load(S(kTwoMembers) + "worker.lb.balance_workers=n3,n4\nworker.n3.port=1\nworker.n4.port=1\n"
                        "worker.n1.activation=disabled\nworker.n2.disabled=true\n"
                        "worker.n3.stopped=1\nworker.n3.disabled=1\n"
                        "worker.n4.activation=A\nworker.n4.stopped=true\n");
  EXPECT_EQ(Activation::kDisabled, MemberOf("lb", "n1").activation);
  EXPECT_EQ(Activation::kDisabled, MemberOf("lb", "n2").activation);
  EXPECT_EQ(Activation::kStopped, MemberOf("lb", "n3").activation);  // stopped wins
  EXPECT_EQ(Activation::kActive, MemberOf("lb", "n4").activation);   // activation wins
}

TEST_F(ConfigTest, PortZeroStopsTheMemberAndABadPortIsAnError) {
  Load(S(kTwoMembers) + "worker.n1.port=0\n");
  EXPECT_EQ(Activation::kStopped, MemberOf("lb", "n1").activation);
  EXPECT_THAT(Warnings(), ElementsAre(HasSubstr("mod_jk sets member \"n1\" to Stopped")));
  Load(S(kTwoMembers) + "worker.n1.port=70000\n");
  EXPECT_THAT(Errors(), ElementsAre(HasSubstr("port 70000 in \"worker.n1.port\" is not "
                                              "between 0 and 65535")));
}

TEST_F(ConfigTest, TimeoutDefaultsFollowModJk) {
  Load(S(kTwoMembers) + "worker.n1.socket_timeout=3\nworker.n1.ping_mode=C\n"
                        "worker.n1.ping_timeout=5000\nworker.n2.ping_mode=A\n");
  EXPECT_EQ(3000, MemberOf("lb", "n1").socket_connect_timeout);
  EXPECT_EQ(5000, MemberOf("lb", "n1").connect_timeout);  // C: ping_timeout
  EXPECT_EQ(0, MemberOf("lb", "n1").prepost_timeout);
  EXPECT_EQ("C", MemberOf("lb", "n1").ping_mode);
  EXPECT_EQ(10000, MemberOf("lb", "n2").connect_timeout);  // A: both
  EXPECT_EQ(10000, MemberOf("lb", "n2").prepost_timeout);
  Load(S(kTwoMembers) + "worker.n1.ping_mode=P\nworker.n1.prepost_timeout=77\n"
                        "worker.n1.socket_connect_timeout=1500\nworker.n1.socket_timeout=9\n");
  EXPECT_EQ(77, MemberOf("lb", "n1").prepost_timeout);  // explicit wins
  EXPECT_EQ(1500, MemberOf("lb", "n1").socket_connect_timeout);
}

TEST_F(ConfigTest, MemberValues) {
  Load(S(kTwoMembers) + "worker.n1.port=8080\nworker.n1.lbfactor=3\nworker.n1.distance=1\n"
                        "worker.n1.redirect=n2\nworker.n1.reply_timeout=30000\n"
                        "worker.n1.recovery_options=3\nworker.n1.busy_limit=50\n"
                        "worker.n1.retry_interval=200\nworker.n1.connect_timeout=100\n");
  EXPECT_THAT(config_.diagnostics, IsEmpty());
  const Member& n1 = MemberOf("lb", "n1");
  EXPECT_EQ("h1", n1.host);
  EXPECT_EQ(8080, n1.port);
  EXPECT_EQ(3, n1.lbfactor);
  EXPECT_EQ(1, n1.distance);
  EXPECT_EQ("n2", n1.redirect);
  EXPECT_EQ(30000, n1.reply_timeout);
  EXPECT_EQ(3, n1.recovery_options);
  EXPECT_EQ(50, n1.busy_limit);
  EXPECT_EQ(200, n1.retry_interval);
  EXPECT_EQ(100, n1.connect_timeout);
}

TEST_F(ConfigTest, FailOnStatusKeepsValidCodes) {
  Load(S(kTwoMembers) + "worker.n1.fail_on_status=500, -404\nworker.n1.fail_on_status=503 "
                        "x 42\n");
  EXPECT_THAT(MemberOf("lb", "n1").fail_on_status, ElementsAre(500, -404, 503));
  EXPECT_THAT(Warnings(), ElementsAre(HasSubstr("invalid status \"x\""),
                                      HasSubstr("invalid status \"42\"")));
}

TEST_F(ConfigTest, RedirectToNoMembersRouteWarns) {
  Load(S(kTwoMembers) + "worker.n1.redirect=tomcat2\n");
  EXPECT_THAT(Warnings(), ElementsAre(HasSubstr("redirect \"tomcat2\" in "
                                                "\"worker.n1.redirect\" is not the route")));
}

}  // namespace
}  // namespace sticky
