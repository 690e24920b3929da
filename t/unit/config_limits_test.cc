// What keeps reading a workers file in proportion to the file: a size limit,
// at most kMaxDiagnosticsOfAKind diagnostics of each kind (then one line
// counting the rest), a budget for what references and $(name) build, and
// messages that quote the start of a long value only.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "config_test.h"
#include "config/properties.h"
#include "c_api/sticky_core.h"

namespace sticky {
namespace {

using ::testing::AllOf;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::SizeIs;

using Clock = std::chrono::steady_clock;

class ConfigLimitsTest : public ConfigTest {
 protected:
  // Diagnostics whose message contains `text`.
  size_t Count(const std::string& text) const {
    size_t n = 0;
    for (const Diagnostic& d : config_.diagnostics)
      if (d.message.find(text) != std::string::npos) ++n;
    return n;
  }
  static std::string Repeat(const std::string& line, size_t n) {
    std::string text;
    text.reserve(line.size() * n);
    for (size_t i = 0; i < n; ++i) text += line;
    return text;
  }
};

// --- the size of the file ---------------------------------------------------------

TEST_F(ConfigLimitsTest, AFileOverSixteenMebibytesIsRefused) {
  std::string text = std::string(kTwoMembers) + "# " + std::string(kMaxFileBytes, 'x') + "\n";
  Load(text);
  EXPECT_FALSE(config_.ok());
  ASSERT_THAT(config_.diagnostics, SizeIs(1));
  const Diagnostic& d = config_.diagnostics[0];
  EXPECT_EQ(Severity::kError, d.severity);
  EXPECT_EQ("w.properties", d.where.file);
  EXPECT_THAT(d.message, AllOf(HasSubstr("is " + std::to_string(text.size()) + " bytes"),
                               HasSubstr("over the limit of 16 MiB")));
  EXPECT_TRUE(config_.balancers.empty());
}

TEST_F(ConfigLimitsTest, AFileOfSixteenMebibytesIsRead) {
  std::string text = kTwoMembers;
  text += "#" + std::string(kMaxFileBytes - text.size() - 2, 'x') + "\n";
  ASSERT_EQ(kMaxFileBytes, text.size());
  Load(text);
  EXPECT_TRUE(config_.ok());
  EXPECT_THAT(MemberNames("lb"), ElementsAre("n1", "n2"));
}

TEST_F(ConfigLimitsTest, TheCBoundaryNamesTheFileAndTheLimit) {
  const std::string text(kMaxFileBytes + 1, '#');
  sticky_config_t* cfg = nullptr;
  sticky_error_t err;
  ASSERT_EQ(0, sticky_config_load("/etc/w.properties", 17, text.data(), text.size(), &cfg, &err));
  EXPECT_EQ(0, sticky_config_ok(cfg));
  ASSERT_EQ(1u, sticky_config_diagnostics(cfg));
  int severity;
  sticky_str_t s;
  sticky_config_diagnostic(cfg, 0, &severity, &s);
  EXPECT_EQ(STICKY_ERROR, severity);
  EXPECT_EQ("/etc/w.properties: the file is 16777217 bytes, over the limit of 16 MiB "
            "(16777216 bytes) for a workers file: it is not read",
            std::string(s.data, s.len));
  sticky_config_free(cfg);
}

// --- at most 100 diagnostics of a kind ------------------------------------------------

TEST_F(ConfigLimitsTest, ARepeatedKeyWarnsAHundredTimesThenCounts) {
  Load(std::string(kTwoMembers) + Repeat("worker.n1.port=8010\n", 10000));
  EXPECT_TRUE(config_.ok());
  EXPECT_EQ(kMaxDiagnosticsOfAKind, Count("duplicate \"worker.n1.port\""));
  ASSERT_THAT(config_.diagnostics, SizeIs(kMaxDiagnosticsOfAKind + 1));
  const Diagnostic& last = config_.diagnostics.back();
  EXPECT_EQ(Severity::kWarning, last.severity);
  EXPECT_EQ(0u, last.where.line);
  // kTwoMembers has 5 lines, the 6th sets the port: the 7th repeats it first
  EXPECT_EQ("9899 more warnings like the one on line 7 are not shown (at most 100 of each "
            "kind are)",
            last.message);
  EXPECT_EQ(8010, MemberOf("lb", "n1").port);
}

TEST_F(ConfigLimitsTest, EachKindHasItsOwnCap) {
  std::string text = kTwoMembers;
  for (int i = 0; i < 150; ++i) text += "worker.n1.prot" + std::to_string(i) + "=1\n";
  for (int i = 0; i < 150; ++i) text += "worker.x" + std::to_string(i) + ".jvm_route=a\n";
  text += "worker.n2.prot=1\n";  // still one more of the first kind
  Load(text);
  EXPECT_EQ(kMaxDiagnosticsOfAKind, Count("unknown attribute"));
  EXPECT_EQ(kMaxDiagnosticsOfAKind, Count("is deprecated, use \"route\""));
  EXPECT_THAT(Errors(), Contains("51 more errors like the one on line 6 are not shown (at most "
                                 "100 of each kind are)"));
  EXPECT_THAT(Warnings(), Contains("50 more warnings like the one on line 156 are not shown "
                                   "(at most 100 of each kind are)"));
  EXPECT_FALSE(config_.ok());
}

TEST_F(ConfigLimitsTest, DiagnosticsOfTheWorkersAreCappedToo) {
  // 150 members, each with an lbfactor mod_jk raises to 1: one warning each,
  // from the worker level rather than the reader.
  std::string text = "worker.list=lb\nworker.lb.type=lb\n";
  for (int i = 0; i < 150; ++i) {
    const std::string w = "w" + std::to_string(i);
    text += "worker.lb.balance_workers=" + w + "\nworker." + w + ".host=h\nworker." + w +
            ".lbfactor=-3\n";
  }
  Load(text);
  ASSERT_TRUE(config_.ok());
  EXPECT_THAT(MemberNames("lb"), SizeIs(150));
  size_t lbfactor = 0;
  for (const std::string& w : Warnings())
    if (w.find("lbfactor") != std::string::npos) ++lbfactor;
  EXPECT_EQ(kMaxDiagnosticsOfAKind, lbfactor);
  EXPECT_EQ(1u, Count("50 more warnings like the one on line 5 are not shown"));
}

// A repeated variable joins its values (mod_jk's '*'): the warnings quoted
// the whole joined value, a message as long as the file for each line.
TEST_F(ConfigLimitsTest, MessagesQuoteTheStartOfALongValue) {
  Load(std::string(kTwoMembers) + Repeat("v=0123456789\n", 3000));
  size_t longest = 0;
  for (const Diagnostic& d : config_.diagnostics) longest = std::max(longest, d.message.size());
  EXPECT_LT(longest, 600u);
  EXPECT_THAT(config_.diagnostics, SizeIs(kMaxDiagnosticsOfAKind + 1));
  EXPECT_EQ(1u, Count("joins both into \"0123456789*0123456789\""));
  // from the 18th line on, the joined value is past 200 bytes: cut
  EXPECT_EQ(kMaxDiagnosticsOfAKind - 17, Count("...\""));
}

// --- what references and substitutions build ---------------------------------------------

TEST_F(ConfigLimitsTest, SubstitutionsThatMultiplyAreStopped) {
  std::string text = kTwoMembers;
  text += "a=" + std::string(100, 'x') + "\n";
  for (const char* next : {"b", "c", "d", "e"}) {
    const std::string previous(1, static_cast<char>(next[0] - 1));
    text += std::string(next) + "=";
    for (int i = 0; i < 21; ++i) text += "$(" + previous + ")";
    text += "\n";
  }
  const auto start = Clock::now();
  Load(text);
  EXPECT_LT(Clock::now() - start, std::chrono::seconds(2));
  EXPECT_FALSE(config_.ok());
  EXPECT_THAT(Errors(), ElementsAre(AllOf(
                            HasSubstr("references and \"$(...)\" substitutions build more than"),
                            HasSubstr("(the limit is 16 KiB + 32 times the file's size, at most "
                                      "256 MiB)"),
                            HasSubstr("is there a loop?"))));
}

TEST_F(ConfigLimitsTest, TheBudgetLeavesRealFilesAlone) {
  // 2,000 workers from one 30-key template: far more built than written.
  std::string text = "worker.list=lb\nworker.lb.type=lb\n";
  const char* keys[] = {"type=ajp13", "host=127.0.0.1", "socket_connect_timeout=2000",
                        "lbfactor=1", "ping_mode=A", "ping_timeout=10000",
                        "connection_pool_timeout=600", "socket_keepalive=true",
                        "reply_timeout=60000", "recovery_options=7", "retries=2",
                        "fail_on_status=500,503", "max_packet_size=65536", "distance=0",
                        "activation=A", "prepost_timeout=1000", "connect_timeout=1000",
                        "connection_pool_size=10", "connection_pool_minsize=5",
                        "busy_limit=100", "domain=rack1",
                        "retry_interval=100", "secret=s3cr3t", "socket_timeout=0",
                        "connection_ping_interval=100", "port=8009", "mount=/app/*",
                        "lb_retries=2", "connection_acquire_timeout=100"};
  for (const char* key : keys) text += std::string("worker.t.") + key + "\n";
  for (int i = 0; i < 2000; ++i) {
    const std::string w = "w" + std::to_string(i);
    text += "worker.lb.balance_workers=" + w + "\nworker." + w + ".reference=worker.t\n";
  }
  Load(text);
  EXPECT_THAT(Errors(), ::testing::IsEmpty());
  EXPECT_THAT(MemberNames("lb"), SizeIs(2000));
}

TEST_F(ConfigLimitsTest, TheBudgetLeavesATemplateOfEveryAttributeAlone) {
  // Every attribute mod_jk reads for an AJP worker in one template; each of
  // 500 workers adds its host: 26 times the file's size is built, near the
  // limit of 32 (properties.h).
  std::string text = "worker.list=lb\nworker.lb.type=lb\n";
  const char* keys[] = {
      "type=ajp13", "port=8009", "socket_connect_timeout=2000", "lbfactor=1", "ping_mode=A",
      "ping_timeout=10000", "connection_pool_timeout=600", "socket_keepalive=true",
      "reply_timeout=60000", "recovery_options=7", "retries=2", "fail_on_status=500,503",
      "max_packet_size=65536", "distance=0", "activation=A", "prepost_timeout=1000",
      "connect_timeout=1000", "connection_pool_size=10", "connection_pool_minsize=5",
      "busy_limit=100", "domain=rack1", "retry_interval=100", "secret=s3cr3t",
      "socket_timeout=0", "connection_ping_interval=100", "mount=/app/*",
      "connection_acquire_timeout=100", "socket_buffer=8192", "source=10.0.0.1",
      "redirect=w0", "cache_timeout=600", "cachesize=10", "recycle_timeout=100",
      "local_worker=0", "prefer_ipv6=false", "secretkey=k", "disabled=false", "stopped=false",
      "local_worker_only=0", "lb_retries=2", "host=127.0.0.1"};
  for (const char* key : keys) text += std::string("worker.t.") + key + "\n";
  for (int i = 0; i < 500; ++i) {
    const std::string w = "w" + std::to_string(i);
    text += "worker.lb.balance_workers=" + w + "\nworker." + w + ".reference=worker.t\nworker." +
            w + ".host=10.0." + std::to_string(i / 250) + "." + std::to_string(i % 250) + "\n";
  }
  Load(text);
  EXPECT_THAT(Errors(), ::testing::IsEmpty());
  EXPECT_THAT(MemberNames("lb"), SizeIs(500));
}

// --- did you mean ------------------------------------------------------------------------

TEST_F(ConfigLimitsTest, TheLongestAttributeStillGetsSuggestions) {
  Load(std::string(kTwoMembers) + "worker.n1.connection_acquire_timeoutXY=1\n"
                                  "worker.n1.connection_acquire_timeoutXYZ=1\n");
  EXPECT_THAT(Errors(), ElementsAre(HasSubstr("did you mean \"connection_acquire_timeout\"?"),
                                    ::testing::Not(HasSubstr("did you mean"))));
}

}  // namespace
}  // namespace sticky
