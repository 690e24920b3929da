// Which workers the model holds and what is said about them: listed and
// unlisted lb workers, the other workers, attributes nginx does not use or
// that do nothing, SelectBalancer, and the order of the diagnostics.
#include "config_test.h"

#include <random>

namespace sticky {
namespace {

using ::testing::AllOf;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Pair;

std::string S(const char* text) { return text; }

// --- attributes nginx does not use ---------------------------------------------

TEST_F(ConfigTest, AjpOnlyAttributesAreKeptWithANotice) {
  Load(S(kTwoMembers) + "worker.n1.source=10.0.0.1\nworker.n1.secret=s3\n"
                        "worker.n1.socket_buffer=65536\nworker.lb.secret=s4\n"
                        "worker.n1.connection_acquire_timeout=500\nworker.n1.ping_mode=A\n"
                        "worker.n1.prefer_ipv6=true\n");
  EXPECT_THAT(MemberOf("lb", "n1").unused,
              ElementsAre(Pair("source", "10.0.0.1"), Pair("socket_buffer", "65536"),
                          Pair("connection_acquire_timeout", "500"),
                          Pair("prefer_ipv6", "true")));
  EXPECT_THAT(Lb("lb").unused, IsEmpty());  // its secret goes to the members
  EXPECT_THAT(Notices(),
              ElementsAre("\"worker.n1.source\" is not used by nginx",
                          "\"worker.n1.socket_buffer\" is not used by nginx",
                          "\"worker.n1.connection_acquire_timeout\" is not used by nginx",
                          "\"worker.n1.prefer_ipv6\" is not used by nginx"));
  EXPECT_EQ("A", MemberOf("lb", "n1").ping_mode);  // kept in the model
  EXPECT_EQ("s3", MemberOf("lb", "n1").secret);
  EXPECT_TRUE(config_.ok());
  EXPECT_THAT(Warnings(), IsEmpty());
}

TEST_F(ConfigTest, InheritedUnusedAttributeIsNoticedOnceAtTheTemplate) {
  Load(S(kTwoMembers) + "worker.n1.reference=worker.t\nworker.n2.reference=worker.t\n"
                        "worker.t.socket_buffer=65536\n");
  EXPECT_THAT(MemberOf("lb", "n2").unused, ElementsAre(Pair("socket_buffer", "65536")));
  ASSERT_THAT(Notices(), ElementsAre("\"worker.t.socket_buffer\" is not used by nginx"));
  EXPECT_EQ(8u, config_.diagnostics[0].where.line);
}

TEST_F(ConfigTest, UnusedWorkersGetNoNotice) {
  Load(S(kTwoMembers) + "worker.other.source=10.0.0.1\n");
  EXPECT_THAT(Notices(), IsEmpty());
}

TEST_F(ConfigTest, AttributeOfAnotherWorkerTypeHasNoEffect) {
  Load(S(kTwoMembers) + "worker.lb.lbfactor=2\nworker.n1.sticky_session=false\n"
                        "worker.n1.list=x\n");
  EXPECT_THAT(Warnings(),
              ElementsAre("attribute \"lbfactor\" in \"worker.lb.lbfactor\" has no effect on "
                          "lb worker \"lb\"",
                          HasSubstr("\"sticky_session\" in \"worker.n1.sticky_session\" has no "
                                    "effect on ajp13 worker \"n1\""),
                          HasSubstr("\"list\"")));
}

TEST_F(ConfigTest, StatusWorkerAttributesAreAccepted) {
  Load(S(kTwoMembers) + "worker.list=jkstatus\nworker.jkstatus.type=status\n"
                        "worker.jkstatus.read_only=true\nworker.jkstatus.user=admin\n"
                        "worker.jkstatus.user=root\nworker.jkstatus.user_case_insensitive=1\n"
                        "worker.jkstatus.good=a.o\nworker.jkstatus.bad=s,e\n"
                        "worker.jkstatus.css=/s.css\nworker.jkstatus.prefix=w\n"
                        "worker.jkstatus.ns=-\nworker.jkstatus.xmlns=-\n"
                        "worker.jkstatus.doctype=x\n");
  EXPECT_THAT(config_.diagnostics, IsEmpty());
  ASSERT_EQ(1u, config_.others.size());
  EXPECT_EQ("jkstatus", config_.others[0].name);
  EXPECT_EQ("status", config_.others[0].type);
}

// --- which workers ---------------------------------------------------------------

TEST_F(ConfigTest, EveryLbWorkerIsInTheModelListedOrNot) {
  Load(S(kTwoMembers) + "worker.other.type=lb\nworker.other.balance_workers=n2\n");
  ASSERT_EQ(2u, config_.balancers.size());
  EXPECT_EQ("lb", config_.balancers[0].name);
  EXPECT_EQ("other", config_.balancers[1].name);
  EXPECT_THAT(MemberNames("other"), ElementsAre("n2"));
}

TEST_F(ConfigTest, ErrorsOfAListedLbAreErrors) {
  Load("worker.list=lb\nworker.lb.type=lb\nworker.lb.balance_workers=ghost\n");
  EXPECT_FALSE(config_.ok());
  EXPECT_EQ(1u, config_.balancers.size());
}

TEST_F(ConfigTest, UnlistedLbWithErrorsIsLeftOutWithWarnings) {
  // mod_jk never builds an lb outside worker.list, so it starts; we do too,
  // but that lb cannot be used.
  Load(S(kTwoMembers) + "worker.old.type=lb\nworker.old.balance_workers=ghost\n");
  EXPECT_TRUE(config_.ok());
  ASSERT_EQ(1u, config_.balancers.size());
  EXPECT_THAT(Warnings(), ElementsAre(AllOf(HasSubstr("member \"ghost\""),
                                            HasSubstr("lb worker \"old\" is not in "
                                                      "\"worker.list\""))));
}

TEST_F(ConfigTest, UnknownTypeIsAnErrorOnlyWhereModJkBuildsTheWorker) {
  Load(S(kTwoMembers) + "worker.tmpl.type=jni\n");  // a template: not built
  EXPECT_TRUE(config_.ok());
  Load(S(kTwoMembers) + "worker.list=old\nworker.old.type=ajp12\n");  // known to 1.2.48
  EXPECT_TRUE(config_.ok());
  Load(S(kTwoMembers) + "worker.list=x\nworker.x.type=jni\n");
  EXPECT_THAT(Errors(), ElementsAre("unknown type \"jni\" in \"worker.x.type\" (ajp13, "
                                    "ajp14, lb or status)"));
}

TEST_F(ConfigTest, ListedWorkersAreChecked) {
  Load(S(kTwoMembers) + "worker.list=x,y\nworker.x.host=" + std::string(61, 'h') +
       "\nworker.y.type=ajp14\n");
  EXPECT_THAT(Errors(), ElementsAre(HasSubstr("61 bytes long"),
                                    HasSubstr("ajp14 worker \"y\" has no")));
}

TEST_F(ConfigTest, ListedUndefinedWorkerWarns) {
  Load(S(kTwoMembers) + "worker.list=jk-status\n");
  EXPECT_THAT(Warnings(), ElementsAre(HasSubstr("worker \"jk-status\" of \"worker.list\" is not "
                                                "defined: mod_jk makes it an ajp13 worker")));
  Load(S(kTwoMembers) + "worker.lb.balance_workers=x\nworker.x.port=1\n");
  EXPECT_THAT(Warnings(), IsEmpty());  // mod_jk's default list "ajp13" is not ours to judge
}

TEST_F(ConfigTest, OthersAreTheNonLbWorkersThatAreNotMembers) {
  Load(S(kTwoMembers) + "worker.list=jkstatus,direct\nworker.jkstatus.type=status\n"
                        "worker.tmpl.port=1\nworker.direct.type=ajp13\n");
  ASSERT_EQ(3u, config_.others.size());
  EXPECT_EQ("jkstatus", config_.others[0].name);
  EXPECT_EQ("tmpl", config_.others[1].name);
  EXPECT_EQ("ajp13", config_.others[1].type);
  EXPECT_EQ("direct", config_.others[2].name);
  EXPECT_EQ(7u, config_.others[0].where.line);
}

TEST_F(ConfigTest, MemberSharedByTwoLbsIsReportedOnce) {
  Load(S(kTwoMembers) + "worker.b.type=lb\nworker.b.balance_workers=n1\nworker.n1.lbfactor=x\n");
  EXPECT_EQ(2u, Warnings().size());  // invalid value, below the minimum: once each
  EXPECT_EQ(1, MemberOf("b", "n1").lbfactor);
}

// --- references in the model ------------------------------------------------------

TEST_F(ConfigTest, MembersInheritFromTemplates) {
  Load("worker.list=lb\nworker.lb.type=lb\nworker.lb.balance_workers=n1,n2\n"
       "worker.t.type=ajp13\nworker.t.port=8080\nworker.t.lbfactor=4\n"
       "worker.n1.reference=worker.t\nworker.n1.host=a\n"
       "worker.n2.reference=worker.t\nworker.n2.host=b\nworker.n2.port=8081\n");
  EXPECT_TRUE(config_.ok());
  EXPECT_EQ(8080, MemberOf("lb", "n1").port);
  EXPECT_EQ(8081, MemberOf("lb", "n2").port);
  EXPECT_EQ(4, MemberOf("lb", "n2").lbfactor);
}

TEST_F(ConfigTest, BadInheritedValueNamesTheTemplate) {
  Load(S(kTwoMembers) + "worker.n1.reference=worker.t\nworker.t.distance=x\n");
  EXPECT_THAT(Warnings(), ElementsAre(HasSubstr("\"worker.n1.distance\" (inherited from "
                                                "\"worker.t.distance\")")));
  EXPECT_EQ(7u, config_.diagnostics[0].where.line);
}

// --- SelectBalancer ----------------------------------------------------------------

TEST_F(ConfigTest, SelectByName) {
  Load(S(kTwoMembers) + "worker.b.type=lb\nworker.b.balance_workers=n2\n"
                        "worker.s.type=status\n");
  std::string error;
  const Balancer* b = SelectBalancer(config_, "b", &error);
  ASSERT_NE(nullptr, b);
  EXPECT_EQ("b", b->name);
  EXPECT_EQ(nullptr, SelectBalancer(config_, "c", &error));
  EXPECT_EQ("no lb, ajp13 or ajp14 worker \"c\" in w.properties (lb workers: lb, b)", error);
  EXPECT_EQ(nullptr, SelectBalancer(config_, "n1", &error));
  EXPECT_EQ("ajp13 worker \"n1\" in w.properties is not in \"worker.list\": add it there to "
            "use it on its own (lb workers: lb, b)",
            error);
  EXPECT_EQ(nullptr, SelectBalancer(config_, "s", &error));
  EXPECT_EQ("worker \"s\" in w.properties is not an lb worker but status (lb workers: lb, b)",
            error);
}

TEST_F(ConfigTest, SelectTheFirstListedLb) {
  Load("worker.list=s,b,a\nworker.s.type=status\nworker.a.type=lb\n"
       "worker.a.balance_workers=n1\nworker.b.type=lb\nworker.b.balance_workers=n1\n"
       "worker.n1.port=1\n");
  std::string error;
  const Balancer* b = SelectBalancer(config_, "", &error);
  ASSERT_NE(nullptr, b);
  EXPECT_EQ("b", b->name);
}

TEST_F(ConfigTest, SelectTheOnlyLbEvenUnlisted) {
  Load("worker.list=x\nworker.x.port=1\nworker.lb.type=lb\nworker.lb.balance_workers=x\n");
  std::string error;
  const Balancer* b = SelectBalancer(config_, "", &error);
  ASSERT_NE(nullptr, b);
  EXPECT_EQ("lb", b->name);
}

TEST_F(ConfigTest, SelectFailsWithNoOrSeveralUnlistedLbs) {
  std::string error;
  Load("worker.list=s\nworker.s.type=status\nworker.x.port=1\n");
  EXPECT_EQ(nullptr, SelectBalancer(config_, "", &error));
  EXPECT_EQ("no lb worker in w.properties: it defines 1 status worker (s) and 1 ajp13 worker "
            "(x), and its \"worker.list\" names no ajp13 or ajp14 worker. Balance them with an "
            "lb worker (worker.NAME.type=lb and worker.NAME.balance_workers=...), or list one in "
            "\"worker.list\" and use it alone with worker=NAME",
            error);
  Load("# nothing\n");
  EXPECT_EQ(nullptr, SelectBalancer(config_, "", &error));
  EXPECT_EQ("no lb worker in w.properties: it defines no worker", error);
  Load("worker.n1.port=1\nworker.n2.port=1\nworker.n3.port=1\nworker.n4.port=1\n"
       "worker.n5.port=1\nworker.n6.port=1\nworker.n7.port=1\n");
  EXPECT_EQ(nullptr, SelectBalancer(config_, "", &error));
  EXPECT_THAT(error, HasSubstr("it defines 7 ajp13 workers (n1, n2, n3, n4, n5, ...), and its"));
  EXPECT_EQ(nullptr, SelectBalancer(config_, "lb", &error));
  EXPECT_EQ("no lb, ajp13 or ajp14 worker \"lb\" in w.properties (w.properties has no usable "
            "lb worker and no ajp13 or ajp14 worker in \"worker.list\")",
            error);
  Load("worker.a.type=lb\nworker.a.balance_workers=x\nworker.b.type=lb\n"
       "worker.b.balance_workers=x\nworker.x.port=1\n");
  EXPECT_EQ(nullptr, SelectBalancer(config_, "", &error));
  EXPECT_EQ("several lb workers in w.properties (a, b) and none in \"worker.list\": use "
            "lb=NAME",
            error);
}

// --- diagnostics -------------------------------------------------------------------

TEST_F(ConfigTest, DiagnosticsAreInFileOrderWithFileLineAndKey) {
  Load("worker.list=lb\nworker.lb.type=lb\nworker.lb.balance_workers=n1,n2\n"
       "worker.n2.lbfactor=0\nworker.n1.lbfactr=1\nworker.n1.port=1\nworker.n2.port=1\n");
  ASSERT_EQ(2u, config_.diagnostics.size());
  EXPECT_EQ(4u, config_.diagnostics[0].where.line);
  EXPECT_EQ("worker.n2.lbfactor", config_.diagnostics[0].key);
  EXPECT_EQ(5u, config_.diagnostics[1].where.line);
  EXPECT_EQ(Severity::kError, config_.diagnostics[1].severity);
  EXPECT_EQ("w.properties", config_.diagnostics[1].where.file);
}

TEST_F(ConfigTest, AllErrorsAreCollected) {
  Load("worker.list=lb,x\nworker.lb.type=lb\nworker.lb.balance_workers=n1,ghost\n"
       "worker.n1.lbfactr=1\nworker.n1.route=" + std::string(61, 'r') + "\n"
       "worker.x.type=foo\nworker.y.reference=worker.none\n");
  EXPECT_EQ(5u, Errors().size());
}

TEST_F(ConfigTest, NeverThrowsOnRandomText) {
  const std::vector<std::string> words = {
      "worker.", "list", "lb", "n1", "n2", ".", "=", "type", "balance_workers", "reference",
      "route", "port", "0", "70000", ",", "\n", "#", "$(", ")", "\\", "lbfactor", "ajp13",
      "status", "activation", "domain", "redirect", " ", "*", "x"};
  std::mt19937 random(7);
  for (int round = 0; round < 3000; ++round) {
    std::string text;
    size_t size = random() % 60;
    for (size_t i = 0; i < size; ++i) text += words[random() % words.size()];
    ASSERT_NO_THROW(Load(text)) << text;
    std::string error;
    ASSERT_NO_THROW(SelectBalancer(config_, "", &error));
  }
}

}  // namespace
}  // namespace sticky
