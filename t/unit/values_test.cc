// Value parsing as mod_jk 1.2.48 does it: jk_get_bool_code, jk_map_get_int
// (atoi with k/M suffixes), first-letter enums, strtok lists.
#include "config/values.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace sticky {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

bool Bool(const std::string& text, bool default_value, std::string* problem = nullptr) {
  std::string ignored;
  return ParseBool(text, default_value, problem ? problem : &ignored);
}

int Int(const std::string& text, std::string* problem = nullptr) {
  std::string ignored;
  return ParseInt(text, problem ? problem : &ignored);
}

TEST(ParseBool, FalseIsOffOrFOrNOrExactlyZero) {
  for (const char* text : {"off", "OFF", "Off", "false", "F", "no", "N", "nope", "0"})
    EXPECT_FALSE(Bool(text, true)) << text;
}

TEST(ParseBool, TrueIsOnOrTOrYOrExactlyOne) {
  for (const char* text : {"on", "ON", "true", "T", "yes", "Y", "yep", "1"})
    EXPECT_TRUE(Bool(text, false)) << text;
}

TEST(ParseBool, AnythingElseIsTheDefaultWithAProblem) {
  for (const char* text : {"maybe", "2", "01", "10", "ok", "enabled", "-1"}) {
    std::string problem;
    EXPECT_TRUE(Bool(text, true, &problem)) << text;
    EXPECT_THAT(problem, HasSubstr("using the default \"true\"")) << text;
    problem.clear();
    EXPECT_FALSE(Bool(text, false, &problem)) << text;
    EXPECT_THAT(problem, HasSubstr("using the default \"false\"")) << text;
  }
}

TEST(ParseBool, CleanValuesHaveNoProblem) {
  std::string problem;
  Bool("true", false, &problem);
  Bool("0", true, &problem);
  EXPECT_THAT(problem, IsEmpty());
}

TEST(ParseInt, PlainNumbers) {
  std::string problem;
  EXPECT_EQ(8009, Int("8009", &problem));
  EXPECT_EQ(-404, Int("-404", &problem));
  EXPECT_EQ(7, Int("+7", &problem));
  EXPECT_THAT(problem, IsEmpty());
}

TEST(ParseInt, KAndMSuffixesMultiplyBy1024) {
  std::string problem;
  EXPECT_EQ(10240, Int("10k", &problem));
  EXPECT_EQ(2048, Int("2K", &problem));
  EXPECT_EQ(3 * 1024 * 1024, Int("3M", &problem));
  EXPECT_EQ(1024 * 1024, Int("1m", &problem));
  EXPECT_THAT(problem, IsEmpty());
}

TEST(ParseInt, GarbageIsReadLikeAtoi) {
  // Observed with mod_jk 1.2.48: lbfactor=3x is 3, retries=abc is 0 (then 1).
  std::string problem;
  EXPECT_EQ(3, Int("3x", &problem));
  EXPECT_EQ("not a number, mod_jk reads it as 3", problem);
  EXPECT_EQ(0, Int("abc", &problem));
  EXPECT_EQ("not a number, mod_jk reads it as 0", problem);
  EXPECT_EQ(3, Int("3*7", &problem));  // a '*'-joined duplicate: the first value
  EXPECT_EQ(1, Int("1.5", &problem));
  EXPECT_EQ(0, Int("k", &problem));
  EXPECT_EQ(10, Int("10kb", &problem));  // the suffix must be the last character
}

TEST(ParseInt, OverflowWrapsLikeModJksInt) {
  // Observed with mod_jk 1.2.48: distance=99999999999 shows as 1215752191.
  std::string problem;
  EXPECT_EQ(1215752191, Int("99999999999", &problem));
  EXPECT_EQ("out of range, mod_jk reads it as 1215752191", problem);
  problem.clear();
  EXPECT_EQ(-2147483648, Int("2097152k", &problem));  // 2^31 wraps
  EXPECT_THAT(problem, HasSubstr("out of range"));
}

TEST(ParseEnums, FirstCharacterOnly) {
  std::string problem;
  EXPECT_EQ(Method::kRequest, ParseMethod("Request", &problem));
  EXPECT_EQ(Method::kTraffic, ParseMethod("t", &problem));
  EXPECT_EQ(Method::kBusyness, ParseMethod("B", &problem));
  EXPECT_EQ(Method::kSession, ParseMethod("sessions", &problem));
  EXPECT_EQ(Method::kNext, ParseMethod("4", &problem));
  EXPECT_EQ(Lock::kPessimistic, ParseLock("pess", &problem));
  EXPECT_EQ(Lock::kOptimistic, ParseLock("0", &problem));
  EXPECT_EQ(Activation::kDisabled, ParseActivation("disabled", &problem));
  EXPECT_EQ(Activation::kStopped, ParseActivation("2", &problem));
  EXPECT_EQ(Activation::kActive, ParseActivation("a", &problem));
  EXPECT_THAT(problem, IsEmpty());
}

TEST(ParseEnums, UnknownLetterIsTheDefaultWithAProblem) {
  std::string problem;
  EXPECT_EQ(Method::kRequest, ParseMethod("X", &problem));
  EXPECT_THAT(problem, HasSubstr("unknown method"));
  problem.clear();
  EXPECT_EQ(Lock::kOptimistic, ParseLock("2", &problem));
  EXPECT_THAT(problem, HasSubstr("unknown lock"));
  problem.clear();
  EXPECT_EQ(Activation::kActive, ParseActivation("Q", &problem));
  EXPECT_THAT(problem, HasSubstr("unknown activation"));
}

TEST(SplitList, RunsOfSpaceTabAndComma) {
  EXPECT_THAT(SplitList("a, b\t c,,d ,"), ElementsAre("a", "b", "c", "d"));
  EXPECT_THAT(SplitList(" ,\t"), IsEmpty());
  EXPECT_THAT(SplitList("n1*n2"), ElementsAre("n1*n2"));
}

// The names mod_jk's status worker shows, in every format.
TEST(MethodNameTest, ModJkNames) {
  EXPECT_STREQ("Request", MethodName(Method::kRequest));
  EXPECT_STREQ("Sessions", MethodName(Method::kSession));
  EXPECT_STREQ("Next", MethodName(Method::kNext));
  EXPECT_STREQ("Traffic", MethodName(Method::kTraffic));
  EXPECT_STREQ("Busyness", MethodName(Method::kBusyness));
}

}  // namespace
}  // namespace sticky
