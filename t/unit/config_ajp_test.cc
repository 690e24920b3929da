// What ajp_pass needs of a worker, read as mod_jk 1.2.48 reads it
// (jk_ajp_common.c ajp_init, jk_util.c, jk_lb_worker.c init): the secret and
// its inheritance from the lb, max_packet_size and its rounding, the ping
// mode and the timeouts it derives, the connection pool, socket_keepalive,
// ajp14; and the one-member balancers made from the ajp13/ajp14 workers of
// worker.list, chosen by name or by default.
#include "config_test.h"

#include <cstring>

#include "c_api/sticky_core.h"

namespace sticky {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

std::string S(const char* text) { return text; }

// --- the attributes ------------------------------------------------------------------

TEST_F(ConfigTest, AjpAttributesDefaultAsInModJk) {
  Load(kTwoMembers);
  ASSERT_TRUE(config_.ok());
  const Member& n1 = MemberOf("lb", "n1");
  EXPECT_EQ("", n1.secret);
  EXPECT_EQ(8192, n1.max_packet_size);
  EXPECT_EQ("", n1.ping_mode);
  EXPECT_EQ(10000, n1.ping_timeout);
  EXPECT_EQ(0, n1.connect_timeout);
  EXPECT_EQ(0, n1.prepost_timeout);
  EXPECT_EQ(0, n1.ping_interval);
  EXPECT_EQ(-1, n1.pool_size);     // mod_jk: the web server's threads per process
  EXPECT_EQ(-1, n1.pool_minsize);  // (pool_size + 1) / 2 of that
  EXPECT_EQ(0, n1.pool_timeout);
  EXPECT_FALSE(n1.socket_keepalive);
  EXPECT_THAT(config_.diagnostics, IsEmpty());
}

TEST_F(ConfigTest, SecretIsTheMembersElseItsLbs) {
  Load(S(kTwoMembers) + "worker.lb.secret=lbsecret\nworker.n1.secret=own\n"
                        "worker.b.type=lb\nworker.b.balance_workers=n2\nworker.b.secret=bsecret\n"
                        "worker.c.type=lb\nworker.c.balance_workers=n2\n");
  EXPECT_EQ("own", MemberOf("lb", "n1").secret);
  EXPECT_EQ("lbsecret", MemberOf("lb", "n2").secret);
  // Each lb hands its own secret to its copy of a shared member.
  EXPECT_EQ("bsecret", MemberOf("b", "n2").secret);
  EXPECT_EQ("", MemberOf("c", "n2").secret);
  EXPECT_THAT(Notices(), IsEmpty());
  EXPECT_THAT(Warnings(), IsEmpty());
}

TEST_F(ConfigTest, SecretIsInheritedThroughReferences) {
  Load(S(kTwoMembers) + "worker.n1.reference=worker.t\nworker.t.secret=tsecret\n"
                        "worker.lb.secret=lbsecret\n");
  EXPECT_EQ("tsecret", MemberOf("lb", "n1").secret);
  EXPECT_EQ("lbsecret", MemberOf("lb", "n2").secret);
}

struct PacketCase {
  const char* written;
  int used;
  const char* warning;  // nullptr: none
};

TEST_F(ConfigTest, MaxPacketSizeIsRoundedAndClampedAsByModJk) {
  const PacketCase cases[] = {
      {"8192", 8192, nullptr},
      {"16k", 16384, nullptr},
      {"65536", 65536, nullptr},
      {"12288", 12288, nullptr},
      {"8193", 9216, "\"worker.n1.max_packet_size\" is 8193, not a multiple of 1024: mod_jk "
                     "uses 9216 (Tomcat's packetSize must match)"},
      {"20000", 20480, "is 20000, not a multiple of 1024: mod_jk uses 20480"},
      {"4096", 8192, "is 4096, below the minimum: mod_jk uses 8192"},
      {"0", 8192, "is 0, below the minimum: mod_jk uses 8192"},
      {"-5000", 8192, "is -5000, below the minimum: mod_jk uses 8192"},
      {"65537", 65536, "is 65537, above the maximum: mod_jk uses 65536"},
      {"1m", 65536, "is 1048576, above the maximum: mod_jk uses 65536"},
      // (INT_MAX + 1023) wraps in mod_jk's int: negative, so the minimum.
      {"2147483000", 8192, "is 2147483000, so large that mod_jk's rounding overflows: mod_jk "
                           "uses 8192"},
  };
  for (const PacketCase& c : cases) {
    Load(S(kTwoMembers) + "worker.n1.max_packet_size=" + c.written + "\n");
    EXPECT_EQ(c.used, MemberOf("lb", "n1").max_packet_size) << c.written;
    if (c.warning == nullptr) {
      EXPECT_THAT(config_.diagnostics, IsEmpty()) << c.written;
      continue;
    }
    ASSERT_EQ(1u, config_.diagnostics.size()) << c.written;
    const Diagnostic& d = config_.diagnostics[0];
    EXPECT_EQ(Severity::kWarning, d.severity);
    EXPECT_EQ("worker.n1.max_packet_size", d.key);
    EXPECT_EQ(6u, d.where.line);
    EXPECT_THAT(d.message, HasSubstr(c.warning));
  }
  EXPECT_EQ(8192, MemberOf("lb", "n2").max_packet_size);
}

TEST_F(ConfigTest, MaxPacketSizeWarningNamesTheTemplate) {
  Load(S(kTwoMembers) + "worker.n1.reference=worker.t\nworker.t.max_packet_size=10000\n");
  EXPECT_EQ(10240, MemberOf("lb", "n1").max_packet_size);
  EXPECT_THAT(Warnings(), ElementsAre(HasSubstr("\"worker.n1.max_packet_size\" (inherited from "
                                                "\"worker.t.max_packet_size\") is 10000")));
  EXPECT_EQ(7u, config_.diagnostics[0].where.line);
}

TEST_F(ConfigTest, PingModeDerivesTheCPingTimeouts) {
  Load(S(kTwoMembers) + "worker.n1.ping_mode=C\nworker.n1.ping_timeout=5000\n"
                        "worker.n2.ping_mode=P\n");
  EXPECT_EQ(5000, MemberOf("lb", "n1").connect_timeout);
  EXPECT_EQ(0, MemberOf("lb", "n1").prepost_timeout);
  EXPECT_EQ(0, MemberOf("lb", "n1").ping_interval);
  EXPECT_EQ(0, MemberOf("lb", "n2").connect_timeout);
  EXPECT_EQ(10000, MemberOf("lb", "n2").prepost_timeout);

  // ajp_init compares with the default 0, so an explicit 0 is replaced too;
  // any other value stays.
  Load(S(kTwoMembers) + "worker.n1.ping_mode=CP\nworker.n1.connect_timeout=0\n"
                        "worker.n1.prepost_timeout=0\nworker.n2.ping_mode=CP\n"
                        "worker.n2.connect_timeout=3000\nworker.n2.prepost_timeout=-1\n");
  EXPECT_EQ(10000, MemberOf("lb", "n1").connect_timeout);
  EXPECT_EQ(10000, MemberOf("lb", "n1").prepost_timeout);
  EXPECT_EQ(3000, MemberOf("lb", "n2").connect_timeout);
  EXPECT_EQ(-1, MemberOf("lb", "n2").prepost_timeout);

  // Without a ping mode, the timeouts are what they say (CPing when > 0).
  Load(S(kTwoMembers) + "worker.n1.connect_timeout=2000\nworker.n1.prepost_timeout=700\n");
  EXPECT_EQ(2000, MemberOf("lb", "n1").connect_timeout);
  EXPECT_EQ(700, MemberOf("lb", "n1").prepost_timeout);
}

TEST_F(ConfigTest, PingModeIDerivesTheInterval) {
  // ping_timeout / 100 seconds: the docs' (ping_timeout / 1000) * 10 would
  // give 10 for 1500; mod_jk's code gives 15.
  Load(S(kTwoMembers) + "worker.n1.ping_mode=I\nworker.n1.ping_timeout=1500\n"
                        "worker.n2.ping_mode=I\n");
  EXPECT_EQ(15, MemberOf("lb", "n1").ping_interval);
  EXPECT_EQ(0, MemberOf("lb", "n1").connect_timeout);
  EXPECT_EQ(0, MemberOf("lb", "n1").prepost_timeout);
  EXPECT_EQ(100, MemberOf("lb", "n2").ping_interval);

  Load(S(kTwoMembers) + "worker.n1.ping_mode=I\nworker.n1.connection_ping_interval=0\n"
                        "worker.n2.ping_mode=I\nworker.n2.connection_ping_interval=30\n");
  EXPECT_EQ(100, MemberOf("lb", "n1").ping_interval);  // 0 is replaced
  EXPECT_EQ(30, MemberOf("lb", "n2").ping_interval);

  // An interval pings idle connections without I as well (ajp_maintain),
  Load(S(kTwoMembers) + "worker.n1.connection_ping_interval=45\n"
                        "worker.n2.ping_mode=I\nworker.n2.ping_timeout=50\n");
  EXPECT_EQ(45, MemberOf("lb", "n1").ping_interval);
  EXPECT_EQ(0, MemberOf("lb", "n2").ping_interval);  // 50 / 100
  EXPECT_THAT(config_.diagnostics, IsEmpty());
}

TEST_F(ConfigTest, PingModeLetters) {
  struct {
    const char* mode;
    bool connect, prepost, interval;
  } cases[] = {
      {"A", true, true, true},  {"a", true, true, true},   {"CPI", true, true, true},
      {"cpi", true, true, true}, {"IC", true, false, true}, {"p", false, true, false},
      {"", false, false, false},
  };
  for (const auto& c : cases) {
    Load(S(kTwoMembers) + "worker.n1.ping_mode=" + c.mode + "\n");
    const Member& n1 = MemberOf("lb", "n1");
    EXPECT_EQ(c.connect ? 10000 : 0, n1.connect_timeout) << c.mode;
    EXPECT_EQ(c.prepost ? 10000 : 0, n1.prepost_timeout) << c.mode;
    EXPECT_EQ(c.interval ? 100 : 0, n1.ping_interval) << c.mode;
    EXPECT_EQ(c.mode, n1.ping_mode);
    EXPECT_THAT(config_.diagnostics, IsEmpty()) << c.mode;
  }
}

TEST_F(ConfigTest, PingModeUnknownLettersAreIgnoredWithAWarning) {
  Load(S(kTwoMembers) + "worker.n1.ping_mode=X\nworker.n2.ping_mode=C,P\n");
  EXPECT_EQ(0, MemberOf("lb", "n1").connect_timeout);
  EXPECT_EQ(10000, MemberOf("lb", "n2").connect_timeout);
  EXPECT_EQ(10000, MemberOf("lb", "n2").prepost_timeout);
  EXPECT_THAT(Warnings(),
              ElementsAre("invalid value \"X\" in \"worker.n1.ping_mode\": mod_jk ignores \"X\" "
                          "(the letters are C, P, I and A)",
                          HasSubstr("mod_jk ignores \",\"")));
}

TEST_F(ConfigTest, ConnectionPool) {
  Load(S(kTwoMembers) + "worker.n1.connection_pool_size=10\n"
                        "worker.n2.connection_pool_size=9\nworker.n2.connection_pool_minsize=2\n"
                        "worker.n2.connection_pool_timeout=600\n");
  EXPECT_EQ(10, MemberOf("lb", "n1").pool_size);
  EXPECT_EQ(5, MemberOf("lb", "n1").pool_minsize);  // (10 + 1) / 2
  EXPECT_EQ(0, MemberOf("lb", "n1").pool_timeout);
  EXPECT_EQ(9, MemberOf("lb", "n2").pool_size);
  EXPECT_EQ(2, MemberOf("lb", "n2").pool_minsize);
  EXPECT_EQ(600, MemberOf("lb", "n2").pool_timeout);
  EXPECT_THAT(config_.diagnostics, IsEmpty());

  Load(S(kTwoMembers) + "worker.n1.connection_pool_minsize=0\n");
  EXPECT_EQ(-1, MemberOf("lb", "n1").pool_size);
  EXPECT_EQ(0, MemberOf("lb", "n1").pool_minsize);
}

TEST_F(ConfigTest, ConnectionPoolOldNamesAreStillRead) {
  // jk_get_worker_cache_size / _cache_timeout: the old name when the new
  // one is not set or negative.
  Load(S(kTwoMembers) + "worker.n1.cachesize=8\nworker.n1.cache_timeout=300\n"
                        "worker.n2.connection_pool_size=-1\nworker.n2.cachesize=4\n"
                        "worker.n2.connection_pool_timeout=60\nworker.n2.cache_timeout=300\n");
  EXPECT_EQ(8, MemberOf("lb", "n1").pool_size);
  EXPECT_EQ(4, MemberOf("lb", "n1").pool_minsize);
  EXPECT_EQ(300, MemberOf("lb", "n1").pool_timeout);
  EXPECT_EQ(4, MemberOf("lb", "n2").pool_size);
  EXPECT_EQ(60, MemberOf("lb", "n2").pool_timeout);
  EXPECT_THAT(Notices(), IsEmpty());
  EXPECT_THAT(Warnings(), ElementsAre(HasSubstr("deprecated, use \"connection_pool_size\""),
                                      HasSubstr("deprecated, use \"connection_pool_timeout\""),
                                      HasSubstr("deprecated, use \"connection_pool_size\""),
                                      HasSubstr("deprecated, use \"connection_pool_timeout\"")));
}

TEST_F(ConfigTest, ConnectionPoolOfZeroWarns) {
  Load(S(kTwoMembers) + "worker.n1.connection_pool_size=0\n");
  EXPECT_EQ(0, MemberOf("lb", "n1").pool_size);
  EXPECT_EQ(-1, MemberOf("lb", "n1").pool_minsize);
  EXPECT_THAT(Warnings(), ElementsAre("\"worker.n1.connection_pool_size\" is 0: mod_jk would "
                                      "have no connection for \"n1\", so every request to it "
                                      "would fail; nginx uses its default pool size"));
  EXPECT_TRUE(config_.ok());
}

TEST_F(ConfigTest, SocketKeepaliveIsAModJkBoolean) {
  for (const char* yes : {"true", "True", "1", "on", "ON", "yes", "Y", "t"}) {
    Load(S(kTwoMembers) + "worker.n1.socket_keepalive=" + yes + "\n");
    EXPECT_TRUE(MemberOf("lb", "n1").socket_keepalive) << yes;
    EXPECT_THAT(config_.diagnostics, IsEmpty()) << yes;
  }
  for (const char* no : {"false", "0", "off", "Off", "no", "N", "f"}) {
    Load(S(kTwoMembers) + "worker.n1.socket_keepalive=" + no + "\n");
    EXPECT_FALSE(MemberOf("lb", "n1").socket_keepalive) << no;
  }
  Load(S(kTwoMembers) + "worker.n1.socket_keepalive=2\n");  // the default: false
  EXPECT_FALSE(MemberOf("lb", "n1").socket_keepalive);
  EXPECT_THAT(Warnings(), ElementsAre(HasSubstr("not a boolean")));
}

TEST_F(ConfigTest, Ajp14IsSpokenToAsAjp13) {
  Load(S(kTwoMembers) + "worker.n1.type=ajp14\nworker.n1.secretkey=k\n");
  ASSERT_TRUE(config_.ok());
  const Member& n1 = MemberOf("lb", "n1");
  EXPECT_EQ("ajp14", n1.type);
  EXPECT_EQ(8011, n1.port);  // AJP14_DEF_PORT
  EXPECT_THAT(Notices(),
              ElementsAre("ajp14 worker \"n1\" is spoken to as ajp13: mod_jk's ajp14 adds a "
                          "login handshake that Tomcat no longer implements, so its "
                          "\"secretkey\" is not used",
                          "\"worker.n1.secretkey\" is not used by nginx"));
  EXPECT_EQ("worker.n1.type", config_.diagnostics[0].key);
  EXPECT_EQ(6u, config_.diagnostics[0].where.line);

  Load(S(kTwoMembers) + "worker.n1.type=ajp14\n");  // mod_jk refuses it
  EXPECT_THAT(Errors(), ElementsAre("ajp14 worker \"n1\" has no \"worker.n1.secretkey\", "
                                    "which mod_jk requires"));
}

// --- one-member balancers ---------------------------------------------------------------

TEST_F(ConfigTest, FileWithoutLbUsesItsListedAjp13Worker) {
  Load("worker.list=tomcat\nworker.tomcat.type=ajp13\nworker.tomcat.host=10.0.0.5\n"
       "worker.tomcat.port=8010\nworker.tomcat.secret=s\nworker.tomcat.lbfactor=3\n");
  EXPECT_THAT(config_.diagnostics, IsEmpty());
  EXPECT_THAT(config_.balancers, IsEmpty());
  ASSERT_EQ(1u, config_.singles.size());
  std::string error;
  const Balancer* b = SelectBalancer(config_, "", &error);
  ASSERT_NE(nullptr, b) << error;
  EXPECT_EQ(b, SelectBalancer(config_, "tomcat", &error));
  EXPECT_EQ("tomcat", b->name);
  EXPECT_TRUE(b->single);
  EXPECT_EQ(2u, b->where.line);
  // The lb side: mod_jk's defaults.
  EXPECT_TRUE(b->sticky_session);
  EXPECT_FALSE(b->sticky_session_force);
  EXPECT_EQ(Method::kRequest, b->method);
  EXPECT_EQ(2, b->retries);
  EXPECT_EQ(60, b->recover_time);
  EXPECT_EQ(30, b->error_escalation_time);
  EXPECT_EQ("JSESSIONID", b->session_cookie);
  EXPECT_THAT(b->unused, IsEmpty());
  // The member: the worker itself.
  ASSERT_EQ(1u, b->members.size());
  const Member& m = b->members[0];
  EXPECT_EQ("tomcat", m.name);
  EXPECT_EQ("10.0.0.5", m.host);
  EXPECT_EQ(8010, m.port);
  EXPECT_EQ("tomcat", m.route);
  EXPECT_EQ(3, m.lbfactor);
  EXPECT_EQ("s", m.secret);
  EXPECT_EQ(2u, m.where.line);
}

TEST_F(ConfigTest, WorkerListWithoutKeysDefaultsToAjp13) {
  Load("worker.ajp13.port=8010\n");  // no worker.list: mod_jk's "ajp13"
  std::string error;
  const Balancer* b = SelectBalancer(config_, "", &error);
  ASSERT_NE(nullptr, b) << error;
  EXPECT_EQ("ajp13", b->name);
  EXPECT_EQ(8010, b->members[0].port);
}

TEST_F(ConfigTest, DefaultIsTheFirstListedAjpWorkerWhenThereIsNoLb) {
  Load("worker.list=jkstatus,ghost,b,a\nworker.jkstatus.type=status\n"
       "worker.a.port=8010\nworker.b.type=ajp14\nworker.b.secretkey=k\n");
  std::string error;
  const Balancer* b = SelectBalancer(config_, "", &error);
  ASSERT_NE(nullptr, b) << error;
  EXPECT_EQ("b", b->name);  // jkstatus: a status worker; ghost: not defined
  EXPECT_EQ("ajp14", b->members[0].type);
  ASSERT_EQ(2u, config_.singles.size());
  EXPECT_EQ("a", config_.singles[1].name);
}

TEST_F(ConfigTest, AnLbWorkerComesFirst) {
  // Listed: the lb, wherever it is in worker.list.
  Load("worker.list=a,lb\nworker.a.port=1\nworker.lb.type=lb\nworker.lb.balance_workers=n1\n"
       "worker.n1.port=2\n");
  std::string error;
  EXPECT_EQ("lb", SelectBalancer(config_, "", &error)->name);
  // Not listed, but the only one.
  Load("worker.list=a\nworker.a.port=1\nworker.lb.type=lb\nworker.lb.balance_workers=n1\n"
       "worker.n1.port=2\n");
  EXPECT_EQ("lb", SelectBalancer(config_, "", &error)->name);
  EXPECT_EQ("a", SelectBalancer(config_, "a", &error)->name);
  // Several, none listed: what worker.list names, as mod_jk would.
  Load("worker.list=a\nworker.a.port=1\nworker.l1.type=lb\nworker.l1.balance_workers=a\n"
       "worker.l2.type=lb\nworker.l2.balance_workers=a\n");
  const Balancer* b = SelectBalancer(config_, "", &error);
  ASSERT_NE(nullptr, b) << error;
  EXPECT_EQ("a", b->name);
  EXPECT_TRUE(b->single);
}

TEST_F(ConfigTest, AWorkerOnItsOwnIgnoresActivationAsModJkDoes) {
  Load("worker.list=solo,off\n"
       "worker.solo.port=8009\n"
       "worker.solo.activation=D\n"
       "worker.off.port=0\n");
  std::string error;
  const Balancer* solo = SelectBalancer(config_, "solo", &error);
  ASSERT_NE(nullptr, solo) << error;
  EXPECT_EQ(Activation::kActive, solo->members[0].activation);
  const Balancer* off = SelectBalancer(config_, "off", &error);
  ASSERT_NE(nullptr, off) << error;
  EXPECT_EQ(Activation::kStopped, off->members[0].activation);  // port 0
}

TEST_F(ConfigTest, ListedMemberIsAlsoASingleOfItsOwn) {
  Load(S(kTwoMembers) + "worker.list=n1\nworker.lb.secret=lbsecret\nworker.n1.lbfactor=4\n"
                        "worker.n1.max_packet_size=9000\n");
  std::string error;
  EXPECT_EQ("lb", SelectBalancer(config_, "", &error)->name);
  const Balancer* single = SelectBalancer(config_, "n1", &error);
  ASSERT_NE(nullptr, single) << error;
  EXPECT_TRUE(single->single);
  ASSERT_EQ(1u, single->members.size());
  EXPECT_EQ("h1", single->members[0].host);
  EXPECT_EQ(4, single->members[0].lbfactor);
  EXPECT_EQ("", single->members[0].secret);  // no lb to inherit from
  EXPECT_EQ("lbsecret", MemberOf("lb", "n1").secret);
  // Read twice, reported once.
  EXPECT_THAT(Warnings(), ElementsAre(HasSubstr("is 9000, not a multiple of 1024")));
}

TEST_F(ConfigTest, ErrorsOfAListedAjpWorkerHaveFileAndLine) {
  Load("worker.list=a\nworker.a.host=tc\nworker.a.port=70000\nworker.a.lbfactor=0\n"
       "worker.a.route=" + std::string(61, 'r') + "\n");
  EXPECT_FALSE(config_.ok());
  ASSERT_EQ(3u, config_.diagnostics.size());
  EXPECT_EQ(3u, config_.diagnostics[0].where.line);
  EXPECT_EQ("worker.a.port", config_.diagnostics[0].key);
  EXPECT_THAT(config_.diagnostics[0].message, HasSubstr("port 70000"));
  EXPECT_EQ(Severity::kError, config_.diagnostics[0].severity);
  EXPECT_EQ(4u, config_.diagnostics[1].where.line);
  EXPECT_EQ(Severity::kWarning, config_.diagnostics[1].severity);
  EXPECT_EQ(5u, config_.diagnostics[2].where.line);
  EXPECT_EQ(Severity::kError, config_.diagnostics[2].severity);
  EXPECT_EQ("w.properties", config_.diagnostics[2].where.file);
}

TEST_F(ConfigTest, SingleWithPortZeroIsStopped) {
  Load("worker.list=a\nworker.a.port=0\n");
  ASSERT_EQ(1u, config_.singles.size());
  EXPECT_EQ(Activation::kStopped, config_.singles[0].members[0].activation);
  EXPECT_THAT(Warnings(), ElementsAre("port 0 in \"worker.a.port\": worker \"a\" cannot be "
                                      "reached, nginx sets it to Stopped"));
}

TEST_F(ConfigTest, AttributesOfAListedAjpWorkerAreNoticed) {
  Load("worker.list=a\nworker.a.port=1\nworker.a.socket_buffer=4096\n");
  EXPECT_THAT(Notices(), ElementsAre("\"worker.a.socket_buffer\" is not used by nginx"));
  EXPECT_THAT(config_.singles[0].members[0].unused, ElementsAre(testing::Pair("socket_buffer",
                                                                              "4096")));
}

TEST_F(ConfigTest, SelectByNameSaysWhyNot) {
  Load(S(kTwoMembers) + "worker.list=jkstatus,ghost,old\nworker.jkstatus.type=status\n"
                        "worker.old.type=ajp12\nworker.tmpl.type=ajp14\n");
  std::string error;
  const std::string known = "(lb workers: lb)";
  EXPECT_EQ(nullptr, SelectBalancer(config_, "jkstatus", &error));
  EXPECT_EQ("worker \"jkstatus\" in w.properties is not an lb worker but status " + known,
            error);
  EXPECT_EQ(nullptr, SelectBalancer(config_, "old", &error));
  EXPECT_EQ("worker \"old\" in w.properties is not an lb worker but ajp12 " + known, error);
  EXPECT_EQ(nullptr, SelectBalancer(config_, "ghost", &error));
  EXPECT_EQ("worker \"ghost\" of \"worker.list\" in w.properties is not defined: there is no "
            "\"worker.ghost.*\" key " + known,
            error);
  EXPECT_EQ(nullptr, SelectBalancer(config_, "tmpl", &error));
  EXPECT_EQ("ajp14 worker \"tmpl\" in w.properties is not in \"worker.list\": add it there to "
            "use it on its own " + known,
            error);
  EXPECT_EQ(nullptr, SelectBalancer(config_, "n2", &error));
  EXPECT_THAT(error, HasSubstr("ajp13 worker \"n2\" in w.properties is not in \"worker.list\""));
  EXPECT_EQ(nullptr, SelectBalancer(config_, "nothere", &error));
  EXPECT_EQ("no lb, ajp13 or ajp14 worker \"nothere\" in w.properties " + known, error);

  Load(S(kTwoMembers) + "worker.list=a,b\nworker.a.port=1\nworker.b.port=2\n");
  EXPECT_EQ(nullptr, SelectBalancer(config_, "c", &error));
  EXPECT_EQ("no lb, ajp13 or ajp14 worker \"c\" in w.properties (lb workers: lb; ajp13/ajp14 "
            "workers of \"worker.list\": a, b)",
            error);
}

// --- the C boundary ------------------------------------------------------------------------

class ConfigAjpApiTest : public ::testing::Test {
 protected:
  void Load(const std::string& text) {
    sticky_config_free(cfg_);
    cfg_ = nullptr;
    sticky_error_t err;
    ASSERT_EQ(0, sticky_config_load("w.properties", 12, text.data(), text.size(), &cfg_, &err));
  }
  void TearDown() override { sticky_config_free(cfg_); }

  static std::string Text(sticky_str_t s) { return std::string(s.data, s.len); }

  sticky_config_t* cfg_ = nullptr;
};

TEST_F(ConfigAjpApiTest, MemberCarriesTheAjpAttributes) {
  Load("worker.list=lb\nworker.lb.type=lb\nworker.lb.balance_workers=n1,n2\n"
       "worker.lb.secret=lbsecret\n"
       "worker.n1.type=ajp14\nworker.n1.secretkey=k\nworker.n1.max_packet_size=20000\n"
       "worker.n1.ping_mode=A\nworker.n1.ping_timeout=3000\n"
       "worker.n1.connection_pool_size=16\nworker.n1.connection_pool_timeout=600\n"
       "worker.n1.socket_keepalive=true\nworker.n1.socket_connect_timeout=1500\n"
       "worker.n2.secret=own\nworker.n2.ping_timeout=0\n"
       "worker.n2.connection_ping_interval=30\nworker.n2.connect_timeout=-5\n");
  ASSERT_EQ(1, sticky_config_ok(cfg_));
  const sticky_lb_t* lb;
  sticky_error_t err;
  ASSERT_EQ(0, sticky_config_lb(cfg_, "", 0, &lb, &err)) << err.message;
  ASSERT_EQ(2u, sticky_lb_members(lb));

  sticky_member_t m;
  std::memset(&m, 0xff, sizeof m);
  sticky_lb_member(lb, 0, &m);
  EXPECT_EQ(1, m.ajp14);
  EXPECT_EQ("lbsecret", Text(m.secret));
  EXPECT_EQ(20480u, m.max_packet_size);
  EXPECT_EQ(3000u, m.cping_connect_timeout);
  EXPECT_EQ(3000u, m.prepost_timeout);
  EXPECT_EQ(3000u, m.ping_timeout);
  EXPECT_EQ(30u, m.ping_interval);
  EXPECT_EQ(16u, m.pool_size);
  EXPECT_EQ(8u, m.pool_minsize);
  EXPECT_EQ(600u, m.pool_timeout);
  EXPECT_EQ(1, m.socket_keepalive);
  EXPECT_EQ(1500u, m.connect_timeout);  // socket_connect_timeout, not the CPing one
  EXPECT_EQ(8011u, m.port);

  std::memset(&m, 0xff, sizeof m);
  sticky_lb_member(lb, 1, &m);
  EXPECT_EQ(0, m.ajp14);
  EXPECT_EQ("own", Text(m.secret));
  EXPECT_EQ(8192u, m.max_packet_size);
  EXPECT_EQ(0u, m.cping_connect_timeout);  // -5: none
  EXPECT_EQ(0u, m.prepost_timeout);
  EXPECT_EQ(0u, m.ping_timeout);
  EXPECT_EQ(0u, m.ping_interval);  // mod_jk pings only with a CPong wait
  EXPECT_EQ(0u, m.pool_size);      // not set
  EXPECT_EQ(0u, m.pool_minsize);
  EXPECT_EQ(0u, m.pool_timeout);
  EXPECT_EQ(0, m.socket_keepalive);
}

TEST_F(ConfigAjpApiTest, NoSecretIsEmpty) {
  Load("worker.list=a\nworker.a.port=8009\n");
  const sticky_lb_t* lb;
  sticky_error_t err;
  ASSERT_EQ(0, sticky_config_lb(cfg_, "", 0, &lb, &err)) << err.message;
  sticky_member_t m;
  sticky_lb_member(lb, 0, &m);
  EXPECT_EQ(0u, m.secret.len);
}

TEST_F(ConfigAjpApiTest, SinglesHaveHandles) {
  Load("worker.list=lb,direct\nworker.lb.type=lb\nworker.lb.balance_workers=n1\n"
       "worker.n1.port=8081\nworker.direct.host=127.0.0.1\nworker.direct.port=8082\n"
       "worker.direct.route=r1\n");
  ASSERT_EQ(1, sticky_config_ok(cfg_));
  const sticky_lb_t* lb;
  const sticky_lb_t* direct;
  sticky_error_t err;
  ASSERT_EQ(0, sticky_config_lb(cfg_, "", 0, &lb, &err)) << err.message;
  EXPECT_EQ("lb", Text(sticky_lb_name(lb)));
  ASSERT_EQ(0, sticky_config_lb(cfg_, "direct", 6, &direct, &err)) << err.message;
  EXPECT_NE(lb, direct);
  EXPECT_EQ("direct", Text(sticky_lb_name(direct)));
  EXPECT_EQ(60u, sticky_lb_recover_time(direct));
  ASSERT_EQ(1u, sticky_lb_members(direct));
  sticky_member_t m;
  sticky_lb_member(direct, 0, &m);
  EXPECT_EQ("direct", Text(m.name));
  EXPECT_EQ("127.0.0.1", Text(m.host));
  EXPECT_EQ(8082u, m.port);
  EXPECT_EQ("r1", Text(m.route));
  EXPECT_EQ(5u, m.line);

  sticky_balancer_t* b = nullptr;
  ASSERT_EQ(0, sticky_balancer_create(cfg_, direct, &b, &err)) << err.message;
  EXPECT_EQ(1u, sticky_balancer_members(b));
  EXPECT_EQ("r1", Text(sticky_balancer_member_route(b, 0)));
  sticky_balancer_free(b);

  EXPECT_EQ(-1, sticky_config_lb(cfg_, "n1", 2, &direct, &err));
  EXPECT_THAT(err.message, HasSubstr("is not in \"worker.list\""));
}

TEST_F(ConfigAjpApiTest, DefaultWithoutLb) {
  Load("worker.list=ajp13_worker\nworker.ajp13_worker.port=8009\n"
       "worker.ajp13_worker.host=localhost\nworker.ajp13_worker.type=ajp13\n");
  const sticky_lb_t* lb;
  sticky_error_t err;
  ASSERT_EQ(0, sticky_config_lb(cfg_, "", 0, &lb, &err)) << err.message;
  EXPECT_EQ("ajp13_worker", Text(sticky_lb_name(lb)));
  EXPECT_EQ(1u, sticky_lb_members(lb));
}

}  // namespace
}  // namespace sticky
