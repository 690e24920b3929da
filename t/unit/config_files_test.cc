// Real files: Debian's shipped workers.properties, the examples of mod_jk's
// documentation (t/data/, each says where it comes from) and our own
// workers.properties.example. The expected values are what mod_jk 1.2.48
// shows for them in its status worker.
#include "config_test.h"

namespace sticky {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

TEST_F(ConfigTest, DebianWorkersProperties) {
  LoadFile("../data/debian-workers.properties");
  EXPECT_THAT(config_.diagnostics, IsEmpty());
  EXPECT_THAT(config_.worker_list, ElementsAre("ajp13_worker"));
  // The lb is not in worker.list (mod_jk ignores it), but it is valid.
  ASSERT_EQ(1u, config_.balancers.size());
  EXPECT_THAT(MemberNames("loadbalancer"), ElementsAre("ajp13_worker"));
  const Member& m = MemberOf("loadbalancer", "ajp13_worker");
  EXPECT_EQ("localhost", m.host);
  EXPECT_EQ(8009, m.port);
  EXPECT_EQ(1, m.lbfactor);
  EXPECT_EQ("ajp13_worker", m.route);
  std::string error;
  const Balancer* b = SelectBalancer(config_, "", &error);
  ASSERT_NE(nullptr, b) << error;
  EXPECT_EQ("loadbalancer", b->name);
  // What Apache mounts: the ajp13 worker of worker.list, on its own.
  ASSERT_EQ(1u, config_.singles.size());
  b = SelectBalancer(config_, "ajp13_worker", &error);
  ASSERT_NE(nullptr, b) << error;
  EXPECT_TRUE(b->single);
  EXPECT_EQ("ajp13_worker", b->name);
  ASSERT_EQ(1u, b->members.size());
  EXPECT_EQ("localhost", b->members[0].host);
  EXPECT_EQ(8009, b->members[0].port);
  EXPECT_EQ("ajp13_worker", b->members[0].route);
  EXPECT_TRUE(b->sticky_session);
}

TEST_F(ConfigTest, ModJkSampleConfFile) {
  LoadFile("../data/mod_jk-conf-workers.properties");
  EXPECT_TRUE(config_.ok());
  EXPECT_THAT(Warnings(), IsEmpty());
  EXPECT_THAT(Notices(), IsEmpty());  // ajp_pass reads the pool and keepalive attributes
  EXPECT_THAT(config_.worker_list, ElementsAre("jk-status", "jk-manager", "balancer"));
  const Balancer& lb = Lb("balancer");
  EXPECT_EQ(0, lb.error_escalation_time);
  EXPECT_EQ(10, lb.max_reply_timeouts);
  EXPECT_THAT(MemberNames("balancer"), ElementsAre("node1", "node2"));
  const Member& node2 = MemberOf("balancer", "node2");
  EXPECT_EQ("localhost", node2.host);
  EXPECT_EQ(8209, node2.port);
  EXPECT_EQ(Activation::kActive, node2.activation);
  EXPECT_EQ(5000, node2.socket_connect_timeout);
  EXPECT_EQ("A", node2.ping_mode);
  EXPECT_EQ(10000, node2.connect_timeout);  // ping_mode A
  EXPECT_EQ(10000, node2.prepost_timeout);
  EXPECT_EQ(300000, node2.reply_timeout);
  EXPECT_EQ(3, node2.recovery_options);
  EXPECT_EQ(100, node2.ping_interval);  // ping_mode A: ping_timeout / 100 seconds
  EXPECT_TRUE(node2.socket_keepalive);
  EXPECT_EQ(-1, node2.pool_size);  // mod_jk: Apache's threads per child
  EXPECT_EQ(0, node2.pool_minsize);
  EXPECT_EQ(600, node2.pool_timeout);
  EXPECT_THAT(node2.unused, IsEmpty());
  EXPECT_THAT(config_.singles, IsEmpty());  // worker.list: two status workers and the lb
  EXPECT_EQ(8109, MemberOf("balancer", "node1").port);
}

TEST_F(ConfigTest, ModJkHowtoSample) {
  LoadFile("../data/mod_jk-howto-sample.properties");
  EXPECT_TRUE(config_.ok());
  EXPECT_THAT(Warnings(), IsEmpty());
  EXPECT_THAT(Notices(), IsEmpty());
  EXPECT_THAT(MemberNames("lbworker"), ElementsAre("node1", "node2"));
  EXPECT_EQ(8109, MemberOf("lbworker", "node1").port);
  EXPECT_EQ(8209, MemberOf("lbworker", "node2").port);
  EXPECT_EQ(600, MemberOf("lbworker", "node1").pool_timeout);
  EXPECT_TRUE(MemberOf("lbworker", "node2").socket_keepalive);
  std::string error;
  EXPECT_EQ("lbworker", SelectBalancer(config_, "", &error)->name);
  // The members are listed too: each can be used on its own.
  ASSERT_EQ(2u, config_.singles.size());
  const Balancer* node2 = SelectBalancer(config_, "node2", &error);
  ASSERT_NE(nullptr, node2) << error;
  EXPECT_TRUE(node2->single);
  ASSERT_EQ(1u, node2->members.size());
  EXPECT_EQ(8209, node2->members[0].port);
  EXPECT_EQ(600, node2->members[0].pool_timeout);
}

TEST_F(ConfigTest, ModJkHowtoTwoStageReferences) {
  LoadFile("../data/mod_jk-howto-two-stage-references.properties");
  EXPECT_TRUE(config_.ok());
  EXPECT_THAT(Warnings(), ElementsAre(HasSubstr("\"balanced_workers\" in "
                                                "\"worker.lb.balanced_workers\" is deprecated")));
  const Balancer& lb = Lb("lb");
  EXPECT_EQ(Method::kBusyness, lb.method);
  EXPECT_THAT(MemberNames("lb"), ElementsAre("w11", "w12", "w21", "w22"));
  for (const char* name : {"w11", "w12"}) {
    EXPECT_EQ("dom1", MemberOf("lb", name).domain);
    EXPECT_EQ(0, MemberOf("lb", name).distance);
  }
  for (const char* name : {"w21", "w22"}) {
    EXPECT_EQ("dom2", MemberOf("lb", name).domain);
    EXPECT_EQ(1, MemberOf("lb", name).distance);
  }
  const Member& w22 = MemberOf("lb", "w22");
  EXPECT_EQ("myhost22", w22.host);
  EXPECT_EQ(8009, w22.port);
  EXPECT_EQ(10000, w22.connect_timeout);
  EXPECT_EQ(7, w22.recovery_options);
  EXPECT_EQ("w22", w22.route);
}

TEST_F(ConfigTest, ModJkHowtoMacros) {
  LoadFile("../data/mod_jk-howto-macros.properties");
  EXPECT_THAT(config_.diagnostics, IsEmpty());
  EXPECT_EQ("194.226.31.11", MemberOf("farm", "node1").host);
  EXPECT_EQ("194.226.31.13", MemberOf("farm", "node3").host);
  EXPECT_EQ(8009, MemberOf("farm", "node3").port);
  ASSERT_EQ(3u, config_.others.size());  // toe, tic, tac: never used
  EXPECT_EQ("tac", config_.others[2].name);
}

TEST_F(ConfigTest, ModJkLoadBalancersBasicAsPrinted) {
  LoadFile("../data/mod_jk-loadbalancers-basic.properties");
  EXPECT_TRUE(config_.ok());
  EXPECT_THAT(Warnings(), ElementsAre(HasSubstr("duplicate \"worker.worker1.host\": the value "
                                                "\"myhost1\" of line 11 is replaced by "
                                                "\"myhost2\""),
                                      HasSubstr("duplicate \"worker.worker1.port\"")));
  EXPECT_THAT(config_.worker_list, ElementsAre("ajp13"));
  EXPECT_EQ("myhost2", MemberOf("balance1", "worker1").host);
  EXPECT_EQ("localhost", MemberOf("balance1", "worker2").host);
  EXPECT_EQ(8009, MemberOf("balance1", "worker2").port);
  std::string error;
  EXPECT_EQ("balance1", SelectBalancer(config_, "", &error)->name);
}

TEST_F(ConfigTest, ModJkLoadBalancersHotStandby) {
  LoadFile("../data/mod_jk-loadbalancers-hot-standby.properties");
  EXPECT_THAT(config_.diagnostics, IsEmpty());
  EXPECT_THAT(config_.worker_list, ElementsAre("router", "jkstatus"));
  EXPECT_EQ("worker2", MemberOf("router", "worker1").redirect);
  EXPECT_EQ(Activation::kDisabled, MemberOf("router", "worker2").activation);
  EXPECT_EQ(Activation::kActive, MemberOf("router", "worker1").activation);
}

TEST_F(ConfigTest, OurExampleLoadsWithoutErrorsOrWarnings) {
  LoadFile("../../workers.properties.example");
  EXPECT_THAT(config_.diagnostics, IsEmpty());
  EXPECT_THAT(config_.worker_list, ElementsAre("cluster", "jkstatus"));
  EXPECT_THAT(MemberNames("cluster"), ElementsAre("tomcat1", "tomcat2", "tomcat3"));
  for (const char* name : {"tomcat1", "tomcat2", "tomcat3"}) {
    const Member& m = MemberOf("cluster", name);
    EXPECT_EQ(name, m.route);
    EXPECT_EQ(8009, m.port) << "the AJP connector, as in a mod_jk file";
    EXPECT_EQ("change-me", m.secret);
    EXPECT_EQ(65536, m.max_packet_size);
    EXPECT_TRUE(m.socket_keepalive);
    EXPECT_EQ(5000, m.connect_timeout);
    EXPECT_EQ(0, m.prepost_timeout);
  }
  EXPECT_EQ("10.0.0.12", MemberOf("cluster", "tomcat2").host);
  EXPECT_EQ(Activation::kDisabled, MemberOf("cluster", "tomcat3").activation);
  std::string error;
  EXPECT_EQ("cluster", SelectBalancer(config_, "", &error)->name);
}

}  // namespace
}  // namespace sticky
