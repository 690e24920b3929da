// The syntax layer: lines, comments, $(var), duplicates, references, as
// mod_jk 1.2.48 reads them (jk_map.c), and the diagnostics we add.
#include "config/properties.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <random>

namespace sticky {
namespace {

using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

class PropertiesTest : public ::testing::Test {
 protected:
  void Read(const std::string& text) {
    diagnostics_.clear();
    EnvLookup env = [this](const std::string& name) -> std::optional<std::string> {
      auto it = env_.find(name);
      if (it == env_.end()) return std::nullopt;
      return it->second;
    };
    properties_ = ReadProperties(text, "w.properties", env, &diagnostics_);
  }

  std::string Value(const std::string& key) const {
    const Property* p = properties_.Find(key);
    return p ? std::string(p->value) : "<unset>";
  }

  std::vector<std::string> Messages(Severity severity) const {
    std::vector<std::string> messages;
    for (const Diagnostic& d : diagnostics_)
      if (d.severity == severity) messages.push_back(d.message);
    return messages;
  }
  std::vector<std::string> Errors() const { return Messages(Severity::kError); }
  std::vector<std::string> Warnings() const { return Messages(Severity::kWarning); }

  std::map<std::string, std::string> env_;
  Properties properties_;
  std::vector<Diagnostic> diagnostics_;
};

// --- lines -----------------------------------------------------------------

TEST_F(PropertiesTest, KeyAndValueAreTrimmed) {
  Read("  worker.n1.port \t=  8010  \n");
  EXPECT_EQ("8010", Value("worker.n1.port"));
  EXPECT_THAT(diagnostics_, IsEmpty());
}

TEST_F(PropertiesTest, ValueIsEverythingAfterTheFirstEquals) {
  Read("x = a=b\n");
  EXPECT_EQ("a=b", Value("x"));
}

TEST_F(PropertiesTest, CommentStartsAtTheFirstHashAnywhere) {
  Read("# worker.n1.port=1\nworker.n1.host=web#1\nworker.n1.route=r1 # the jvmRoute\n");
  EXPECT_EQ("<unset>", Value("worker.n1.port"));
  EXPECT_EQ("web", Value("worker.n1.host"));
  EXPECT_EQ("r1", Value("worker.n1.route"));
}

TEST_F(PropertiesTest, CrlfLineEndingsAreTrimmed) {
  Read("worker.n1.host=a\r\nworker.n1.port=1\r\n");
  EXPECT_EQ("a", Value("worker.n1.host"));
  EXPECT_EQ("1", Value("worker.n1.port"));
}

// Shapes of real files: a UTF-8 byte order mark, a ';' meant as a comment,
// a shell prompt pasted in. mod_jk reads each as text; so do we, and say so.
TEST_F(PropertiesTest, ByteOrderMarkIsPartOfTheFirstKeyWithAWarning) {
  Read("\xEF\xBB\xBFworker.cluster.type=lb\r\nworker.n1.port=1\r\n");
  EXPECT_EQ("<unset>", Value("worker.cluster.type"));
  EXPECT_EQ("lb", Value("\xEF\xBB\xBFworker.cluster.type"));  // a variable, as in mod_jk
  EXPECT_EQ("1", Value("worker.n1.port"));
  EXPECT_THAT(Warnings(), ElementsAre(AllOf(HasSubstr("\"worker.cluster.type\" follows a UTF-8 "
                                                      "byte order mark"),
                                            HasSubstr("save the file without it"))));
  EXPECT_EQ(1u, diagnostics_[0].where.line);
}

TEST_F(PropertiesTest, ByteOrderMarkBeforeACommentIsHarmless) {
  Read("\xEF\xBB\xBF# workers\nworker.n1.port=1\n");
  EXPECT_EQ("1", Value("worker.n1.port"));
  EXPECT_THAT(Warnings(), ElementsAre(HasSubstr("starts with a UTF-8 byte order mark")));
}

TEST_F(PropertiesTest, SemicolonIsNoCommentAndWarns) {
  Read(";worker.n1.lbfactor=9\n; worker.n1.route=x\nworker.n1.port=1\n");
  EXPECT_EQ("<unset>", Value("worker.n1.lbfactor"));
  EXPECT_EQ("9", Value(";worker.n1.lbfactor"));
  EXPECT_EQ("<unset>", Value("worker.n1.route"));
  EXPECT_THAT(Warnings(),
              ElementsAre(HasSubstr("\";worker.n1.lbfactor\" does not start with \"worker.\", so "
                                    "mod_jk reads it as a variable and ignores it (comments start "
                                    "with \"#\")"),
                          HasSubstr("\"; worker.n1.route\" does not start with \"worker.\"")));
}

TEST_F(PropertiesTest, PastedShellPromptLinesAreIgnoredWithAWarning) {
  // The prompt's '#' starts a comment; what is before it has no '='.
  Read("root@web1:/etc/libapache2-mod-jk# cat workers.properties\nworker.n1.port=1\n"
       "$ sudo vi workers.properties\n");
  EXPECT_EQ("1", Value("worker.n1.port"));
  EXPECT_THAT(Warnings(), ElementsAre(HasSubstr("line without \"=\" is ignored"),
                                      HasSubstr("line without \"=\" is ignored")));
}

TEST_F(PropertiesTest, LastLineWithoutNewlineIsRead) {
  Read("worker.n1.host=a");
  EXPECT_EQ("a", Value("worker.n1.host"));
}

TEST_F(PropertiesTest, LineWithoutEqualsIsIgnoredWithAWarning) {
  Read("worker.n1.port 8010\nworker.n1.host: a\n");
  EXPECT_EQ("<unset>", Value("worker.n1.port"));
  EXPECT_THAT(Warnings(), ElementsAre(HasSubstr("line without \"=\" is ignored"),
                                      HasSubstr("line without \"=\" is ignored")));
  EXPECT_EQ(1u, diagnostics_[0].where.line);
  EXPECT_EQ(2u, diagnostics_[1].where.line);
}

TEST_F(PropertiesTest, EmptyValueOrKeyIgnoresTheLineUnchecked) {
  // mod_jk does not even check the attribute name of such a line.
  Read("worker.n1.lbfactr=\n= 5\nworker.n1.port=   \n");
  EXPECT_TRUE(properties_.entries().empty());
  EXPECT_THAT(diagnostics_, IsEmpty());
}

TEST_F(PropertiesTest, KeysAreCaseSensitiveAndWrongCaseWorkerKeysWarn) {
  Read("Worker.n1.port=1\nWORKER.n1.host=a\nworkers.java_home=/usr\n");
  EXPECT_EQ("1", Value("Worker.n1.port"));  // a variable, as in mod_jk
  EXPECT_EQ("<unset>", Value("worker.n1.port"));
  EXPECT_THAT(Warnings(), ElementsAre(HasSubstr("did you mean \"worker.n1.port\"?"),
                                      HasSubstr("did you mean \"worker.n1.host\"?")));
}

TEST_F(PropertiesTest, NoLineContinuationTheBackslashStays) {
  Read("worker.n1.host=127.0.0.1\\\n  .example\nworker.n1.port=1\n");
  EXPECT_EQ("127.0.0.1\\", Value("worker.n1.host"));
  EXPECT_THAT(Warnings(),
              ElementsAre(HasSubstr("ends with \"\\\": workers.properties has no line "
                                    "continuation, mod_jk keeps the \"\\\""),
                          AllOf(HasSubstr("line without \"=\" is ignored"),
                                HasSubstr("the line before ends with \"\\\""))));
}

TEST_F(PropertiesTest, VariableEndingInBackslashIsFineWhenNothingIsDropped) {
  Read("ps=\\\nworker.n1.host=a\n");  // Windows path separator, Debian's example
  EXPECT_EQ("\\", Value("ps"));
  EXPECT_THAT(diagnostics_, IsEmpty());
}

TEST_F(PropertiesTest, LineOf8191BytesIsReadWhole) {
  std::string value(8191 - std::string("v=").size(), 'a');
  Read("v=" + value + "\n");
  EXPECT_EQ(value, Value("v"));
  EXPECT_THAT(diagnostics_, IsEmpty());
}

TEST_F(PropertiesTest, LongerLineIsCutEvery8191BytesLikeFgets) {
  // mod_jk 1.2.48 reads the rest of a long line as a line of its own: here
  // a comment line hides a property that mod_jk does read.
  Read("#" + std::string(8200, ' ') + "worker.n1.port=9999\n");
  EXPECT_EQ("9999", Value("worker.n1.port"));
  EXPECT_THAT(Warnings(), ElementsAre(HasSubstr("longer than 8191 bytes")));
  EXPECT_EQ(1u, diagnostics_[0].where.line);
}

TEST_F(PropertiesTest, LongValueIsCutAt8191Bytes) {
  Read("v=" + std::string(9000, 'x') + "\nw=1\n");
  EXPECT_EQ(std::string(8189, 'x'), Value("v"));  // the rest has no '=': ignored
  EXPECT_EQ("1", Value("w"));
  EXPECT_THAT(Warnings(), ElementsAre(HasSubstr("longer than 8191 bytes"),
                                      HasSubstr("line without \"=\"")));
}

TEST_F(PropertiesTest, NulByteEndsTheLine) {
  const char text[] = "worker.n1.host=ab\0cd\nworker.n1.port=1\n";
  Read(std::string(text, sizeof(text) - 1));
  EXPECT_EQ("ab", Value("worker.n1.host"));
  EXPECT_EQ("1", Value("worker.n1.port"));
  EXPECT_THAT(Warnings(), ElementsAre(HasSubstr("NUL byte")));
}

// --- attribute names -------------------------------------------------------

TEST_F(PropertiesTest, UnknownAttributeIsAnErrorWithLocationAndSuggestion) {
  Read("worker.list=lb\nworker.n1.lbfactr=2\nworker.n1.port=8010\n");
  ASSERT_THAT(Errors(), ElementsAre("unknown attribute \"lbfactr\" in \"worker.n1.lbfactr\", "
                                    "did you mean \"lbfactor\"?"));
  EXPECT_EQ("w.properties", diagnostics_[0].where.file);
  EXPECT_EQ(2u, diagnostics_[0].where.line);
  EXPECT_EQ("worker.n1.lbfactr", diagnostics_[0].key);
  EXPECT_EQ("<unset>", Value("worker.n1.lbfactr"));
  EXPECT_EQ("8010", Value("worker.n1.port"));  // reading goes on
}

TEST_F(PropertiesTest, EveryUnknownAttributeIsReported) {
  Read("worker.a.foo=1\nworker.b.bar=2\nworker.=3\n");
  EXPECT_EQ(3u, Errors().size());
}

TEST_F(PropertiesTest, GlobalsAndVariablesAreValid) {
  Read("worker.list=a\nworker.maintain=30\nmy.var=x\nworker.a.b.port=1\n");
  EXPECT_THAT(Errors(), IsEmpty());
  EXPECT_EQ("1", Value("worker.a.b.port"));  // worker "a.b": mod_jk allows dots
}

TEST_F(PropertiesTest, WorkerKeyWithoutWorkerNameWarns) {
  Read("worker.port=8009\n");
  EXPECT_EQ("8009", Value("worker.port"));  // accepted, as by mod_jk
  EXPECT_THAT(Warnings(), ElementsAre(HasSubstr("names no worker")));
}

TEST_F(PropertiesTest, DeprecatedAttributesWarnWithTheirReplacement) {
  Read("worker.lb.balanced_workers=a\nworker.a.jvm_route=r\nworker.a.disabled=1\n"
       "worker.a.stopped=0\nworker.a.cachesize=5\nworker.a.cache_timeout=5\n"
       "worker.a.local_worker=1\nworker.a.recycle_timeout=1\nworker.a.sysprops=x\n");
  EXPECT_THAT(Errors(), IsEmpty());
  EXPECT_THAT(Warnings(),
              ElementsAre(HasSubstr("deprecated, use \"balance_workers\""),
                          HasSubstr("deprecated, use \"route\""),
                          HasSubstr("deprecated, use \"activation\""),
                          HasSubstr("deprecated, use \"activation\""),
                          HasSubstr("deprecated, use \"connection_pool_size\""),
                          HasSubstr("deprecated, use \"connection_pool_timeout\""),
                          HasSubstr("deprecated and has no effect"),
                          HasSubstr("deprecated and has no effect"),
                          HasSubstr("deprecated and has no effect")));
}

// --- $(var) ----------------------------------------------------------------

TEST_F(PropertiesTest, SubstitutesEarlierKeysThenTheEnvironment) {
  env_["NET"] = "10.0.0";
  env_["mynet"] = "ignored";
  Read("mynet=194.226.31\nworker.n1.host=$(mynet).11\nworker.n2.host=$(NET).12\n"
       "worker.n3.host=$(worker.n1.host)\n");
  EXPECT_EQ("194.226.31.11", Value("worker.n1.host"));
  EXPECT_EQ("10.0.0.12", Value("worker.n2.host"));
  EXPECT_EQ("194.226.31.11", Value("worker.n3.host"));
  EXPECT_THAT(diagnostics_, IsEmpty());
}

TEST_F(PropertiesTest, UnknownVariableStaysLiterallyWithAWarning) {
  Read("worker.n1.host=$(later).1\nlater=x\n");
  EXPECT_EQ("$(later).1", Value("worker.n1.host"));  // defined too late
  ASSERT_THAT(Warnings(), ElementsAre(HasSubstr("\"$(later)\" in the value of "
                                                "\"worker.n1.host\" is not defined")));
  EXPECT_EQ("worker.n1.host", diagnostics_[0].key);
}

TEST_F(PropertiesTest, InsertedTextIsNotScannedAgain) {
  Read("a=$(b)\nb=1\nc=$(a)x$(a)\n");
  EXPECT_EQ("$(b)", Value("a"));  // b comes later
  EXPECT_EQ("$(b)x$(b)", Value("c"));  // not "1x1"
}

TEST_F(PropertiesTest, DollarParenWithoutCloseIsKept) {
  Read("a=1\nb=$(a)$(a\n");
  EXPECT_EQ("1$(a", Value("b"));
  EXPECT_THAT(Warnings(), ElementsAre(HasSubstr("\"$(\" without \")\"")));
}

TEST_F(PropertiesTest, AtMost21SubstitutionsPerValue) {
  // jk_map_replace_properties stops when `rec++ > 20`.
  std::string value;
  for (int i = 0; i < 23; ++i) value += "$(v)";
  Read("v=x\nw=" + value + "\n");
  EXPECT_EQ(std::string(21, 'x') + "$(v)$(v)", Value("w"));
  EXPECT_THAT(Warnings(), ElementsAre(HasSubstr("more than 21 \"$(\"")));
}

TEST_F(PropertiesTest, UnresolvedNamesCountTowardsTheLimit) {
  std::string value;
  for (int i = 0; i < 21; ++i) value += "$(nope)";
  Read("w=" + value + "$(v)\nv=x\n");
  EXPECT_THAT(Warnings(), ::testing::Contains(HasSubstr("more than 21")));
}

// --- duplicate keys ----------------------------------------------------------

TEST_F(PropertiesTest, ListAttributesAreJoinedWithCommas) {
  Read("worker.list=a\nworker.list=b\nworker.lb.balance_workers=n1\n"
       "worker.lb.balance_workers=n2\nworker.s.user=u1\nworker.s.user=u2\n"
       "worker.n1.fail_on_status=500\nworker.n1.fail_on_status=503\n");
  EXPECT_EQ("a,b", Value("worker.list"));
  EXPECT_EQ("n1,n2", Value("worker.lb.balance_workers"));
  EXPECT_EQ("u1,u2", Value("worker.s.user"));
  EXPECT_EQ("500,503", Value("worker.n1.fail_on_status"));
  EXPECT_THAT(diagnostics_, IsEmpty());
}

TEST_F(PropertiesTest, UniqueAttributesLastWinsWithAWarningNamingBothValues) {
  Read("worker.n1.host=a\nworker.n1.host=b\n");
  EXPECT_EQ("b", Value("worker.n1.host"));
  ASSERT_THAT(Warnings(), ElementsAre("duplicate \"worker.n1.host\": the value \"a\" of "
                                      "line 1 is replaced by \"b\""));
  EXPECT_EQ(2u, diagnostics_[0].where.line);
  EXPECT_EQ(2u, properties_.Find("worker.n1.host")->line);
}

TEST_F(PropertiesTest, OtherAttributesAreJoinedWithStarLikeModJk) {
  Read("worker.n1.distance=0\nworker.n1.distance=1\n");
  EXPECT_EQ("0*1", Value("worker.n1.distance"));
  EXPECT_THAT(Warnings(), ElementsAre(HasSubstr("joins both into \"0*1\"")));
}

TEST_F(PropertiesTest, WorkerMaintainIsJoinedWithStar) {
  // The unique table lists "worker.maintain", which never matches itself.
  Read("worker.maintain=60\nworker.maintain=30\n");
  EXPECT_EQ("60*30", Value("worker.maintain"));
}

TEST_F(PropertiesTest, VariablesAreJoinedWithStar) {
  Read("myvar=a\nmyvar=b\n");
  EXPECT_EQ("a*b", Value("myvar"));
  EXPECT_EQ(1u, Warnings().size());
}

TEST_F(PropertiesTest, RepeatedBalancedWorkersBecomesOneName) {
  Read("worker.lb.balanced_workers=n1\nworker.lb.balanced_workers=n2\n");
  EXPECT_EQ("n1*n2", Value("worker.lb.balanced_workers"));
  EXPECT_THAT(Warnings(), ::testing::Contains(HasSubstr("use \"balance_workers\", which "
                                                        "can be repeated")));
}

TEST_F(PropertiesTest, PathAndCmdLineKeysHaveTheirOwnSeparators) {
  Read("my_path=/a\nmy_path=/b\nworker.j.cmd_line=-a\nworker.j.cmd_line=-b\n");
  EXPECT_EQ("/a:/b", Value("my_path"));
  EXPECT_EQ("-a -b", Value("worker.j.cmd_line"));
}

TEST_F(PropertiesTest, DuplicateValueIsSubstitutedBeforeMerging) {
  Read("v=2\nworker.n1.lbfactor=1\nworker.n1.lbfactor=$(v)\n");
  EXPECT_EQ("2", Value("worker.n1.lbfactor"));
}

// --- references --------------------------------------------------------------

TEST_F(PropertiesTest, ReferenceCopiesWhatTheWorkerDoesNotSet) {
  Read("worker.n1.reference=worker.tmpl\nworker.n1.port=8010\n"
       "worker.tmpl.port=9000\nworker.tmpl.host=h\n");  // order does not matter
  EXPECT_EQ("8010", Value("worker.n1.port"));
  EXPECT_EQ("h", Value("worker.n1.host"));
  const Property* host = properties_.Find("worker.n1.host");
  EXPECT_EQ("worker.tmpl.host", host->inherited_from);
  EXPECT_EQ(4u, host->line);
  EXPECT_THAT(diagnostics_, IsEmpty());
}

TEST_F(PropertiesTest, ListAttributesAreNotMergedWithTheReference) {
  Read("worker.a.reference=worker.b\nworker.a.fail_on_status=500\n"
       "worker.b.fail_on_status=503\n");
  EXPECT_EQ("500", Value("worker.a.fail_on_status"));
}

TEST_F(PropertiesTest, ReferencesNest19Hops) {
  std::string text = "worker.n1.reference=worker.t1\n";
  for (int i = 1; i < 19; ++i)
    text += "worker.t" + std::to_string(i) + ".reference=worker.t" + std::to_string(i + 1) + "\n";
  text += "worker.t19.port=919\n";
  Read(text);
  EXPECT_EQ("919", Value("worker.n1.port"));
  EXPECT_THAT(Errors(), IsEmpty());
}

TEST_F(PropertiesTest, TwentyHopsReachModJksRecursionLimit) {
  std::string text = "worker.n1.reference=worker.t1\n";
  for (int i = 1; i < 20; ++i)
    text += "worker.t" + std::to_string(i) + ".reference=worker.t" + std::to_string(i + 1) + "\n";
  text += "worker.t20.port=920\n";
  Read(text);
  EXPECT_THAT(Errors(), ::testing::Contains(HasSubstr("nest more than 20 levels deep")));
}

TEST_F(PropertiesTest, ReferenceLoopIsAnErrorNotAHang) {
  Read("worker.a.reference=worker.b\nworker.b.reference=worker.a\nworker.b.port=1\n");
  EXPECT_THAT(Errors(), ElementsAre(HasSubstr("is there a loop?"),
                                    HasSubstr("is there a loop?")));
  Read("worker.a.reference=worker.a\n");
  EXPECT_THAT(Errors(), ElementsAre(HasSubstr("is there a loop?")));
}

TEST_F(PropertiesTest, ReferenceWithoutMatchingKeysIsAnError) {
  Read("worker.n1.reference=worker.tmpl\n");
  ASSERT_THAT(Errors(), ElementsAre("reference \"worker.tmpl\" in \"worker.n1.reference\" "
                                    "matches no key (\"worker.tmpl.*\")"));
  EXPECT_EQ(1u, diagnostics_[0].where.line);
}

TEST_F(PropertiesTest, ReferenceErrorsHintAtTheUsualMistakes) {
  Read("worker.t.port=1\nworker.a.reference=t\nworker.b.reference=worker.t.\n");
  EXPECT_THAT(Errors(), ElementsAre(HasSubstr("did you mean \"worker.t\"?"),
                                    HasSubstr("without the trailing \".\"")));
}

TEST_F(PropertiesTest, BrokenTemplateIsReportedOnce) {
  Read("worker.t.reference=worker.missing\nworker.a.reference=worker.t\n"
       "worker.b.reference=worker.t\n");
  EXPECT_EQ(1u, Errors().size());
}

TEST_F(PropertiesTest, ReferenceIntoItsOwnPrefixDoesNotLoop) {
  // Worker "a.b" copies worker.a.*, which includes worker.a.b.*: mod_jk
  // would copy its own copies forever.
  Read("worker.a.port=1\nworker.a.b.reference=worker.a\n");
  EXPECT_EQ("1", Value("worker.a.b.port"));
  EXPECT_EQ("<unset>", Value("worker.a.b.b.reference"));
}

TEST_F(PropertiesTest, KeysCopiedByReferencesAreFoundWholeAndInPieces) {
  // A copy is indexed with the hash of the lookup that found it missing;
  // a worker name over 256 bytes takes the lookup's other path.
  const std::string long_name(300, 'w');
  Read("worker.t.port=1\nworker.t.host=h\nworker.a.reference=worker.t\nworker." + long_name +
       ".reference=worker.t\n");
  ASSERT_EQ("1", Value("worker." + long_name + ".port"));
  ASSERT_EQ(8u, properties_.entries().size());
  for (const Property& p : properties_.entries()) {
    EXPECT_EQ(&p, properties_.Find(p.key)) << p.key;
    EXPECT_EQ(&p, properties_.Find({"worker.", p.key.substr(7)})) << p.key;
  }
}

// --- robustness --------------------------------------------------------------

TEST_F(PropertiesTest, NeverThrowsOnRandomText) {
  const std::string alphabet = "worker.=$()#\\\n\r ,*ab1-_listreference";
  std::mt19937 random(42);
  for (int round = 0; round < 2000; ++round) {
    std::string text;
    size_t size = random() % 300;
    for (size_t i = 0; i < size; ++i) text += alphabet[random() % alphabet.size()];
    EXPECT_NO_THROW(Read(text));
  }
}

}  // namespace
}  // namespace sticky
