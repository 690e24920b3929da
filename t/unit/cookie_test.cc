// The balancer's own cookie: options checked so that no value adds an
// attribute, and the attributes written once.
#include "config/cookie.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace sticky {
namespace {

using ::testing::HasSubstr;

TEST(CookieTest, DefaultsAreModJksPathAndHttpOnlyWithSecureOverTls) {
  CookieAttributes a = FormatCookieAttributes({}, "/");
  EXPECT_EQ("; Path=/; HttpOnly", a.plain);
  EXPECT_EQ("; Path=/; HttpOnly; Secure", a.tls);
  EXPECT_EQ("; HttpOnly", FormatCookieAttributes({}, "").plain);
}

TEST(CookieTest, EveryOptionInItsPlace) {
  CookieOptions o;
  std::string error;
  ASSERT_TRUE(SetCookieOption("domain", ".example.com", &o, &error)) << error;
  ASSERT_TRUE(SetCookieOption("path", "/app", &o, &error)) << error;
  ASSERT_TRUE(SetCookieOption("samesite", "LAX", &o, &error)) << error;
  ASSERT_TRUE(SetCookieOption("secure", "on", &o, &error)) << error;
  CookieAttributes a = FormatCookieAttributes(o, "/shop");
  EXPECT_EQ("; Path=/app; Domain=.example.com; HttpOnly; SameSite=Lax; Secure", a.plain);
  EXPECT_EQ(a.plain, a.tls);
}

TEST(CookieTest, SameSiteNoneAlwaysGoesWithSecure) {
  CookieOptions o;
  std::string error;
  ASSERT_TRUE(SetCookieOption("samesite", "none", &o, &error));
  EXPECT_EQ("; Path=/; HttpOnly; SameSite=None; Secure", FormatCookieAttributes(o, "/").plain);
  EXPECT_EQ("", CookieOptionsProblem(o));
  ASSERT_TRUE(SetCookieOption("secure", "off", &o, &error));
  EXPECT_THAT(CookieOptionsProblem(o), HasSubstr("samesite=none needs the Secure attribute"));
}

TEST(CookieTest, SecureOffNeverSetsSecure) {
  CookieOptions o;
  std::string error;
  ASSERT_TRUE(SetCookieOption("secure", "off", &o, &error));
  EXPECT_EQ("; Path=/; HttpOnly", FormatCookieAttributes(o, "/").tls);
}

TEST(CookieTest, ValuesThatCouldAddAnAttributeAreRefused) {
  const std::pair<const char*, const char*> hostile[] = {
      {"domain", "example.com; Secure"}, {"domain", "a..b"},     {"domain", "a.b."},
      {"domain", ""},                    {"domain", "."},        {"domain", "ex ample.com"},
      {"path", "/a;Domain=x"},           {"path", "/a\r\nX: 1"}, {"path", "a"},
      {"path", ""},                      {"path", "/\x7f"},      {"samesite", "lax;"},
      {"samesite", ""},                  {"secure", "true"},     {"expires", "1h"},
  };
  for (const auto& [name, value] : hostile) {
    CookieOptions o;
    std::string error;
    EXPECT_FALSE(SetCookieOption(name, value, &o, &error)) << name << "=" << value;
    EXPECT_FALSE(error.empty()) << name << "=" << value;
    EXPECT_EQ("", FormatCookieAttributes(o, "/").plain.substr(18)) << name << "=" << value;
  }
}

TEST(CookieTest, RoutesMustBeCookieValues) {
  EXPECT_EQ("", CookieValueProblem("node1.dc-2_a"));
  EXPECT_THAT(CookieValueProblem("n1;Domain=x"), HasSubstr("holds a byte a cookie value cannot hold"));
  EXPECT_THAT(CookieValueProblem("n 1"), HasSubstr("cannot hold"));
  EXPECT_THAT(CookieValueProblem("n\"1"), HasSubstr("cannot hold"));
  EXPECT_THAT(CookieValueProblem("n\x01"), HasSubstr("\\x01"));
}

TEST(CookieTest, NamesAreTokens) {
  EXPECT_EQ("", CookieNameProblem("JSESSIONID"));
  EXPECT_EQ("", CookieNameProblem("my-session_id.v2"));
  EXPECT_THAT(CookieNameProblem("JSESSIONID;Domain"), HasSubstr("holds \";\""));
  EXPECT_THAT(CookieNameProblem("a=b"), HasSubstr("holds \"=\""));
  EXPECT_THAT(CookieNameProblem("a b"), HasSubstr("holds \" \""));
  EXPECT_THAT(CookieNameProblem("a\nb"), HasSubstr("control or non-ASCII"));
  EXPECT_THAT(CookieNameProblem(""), HasSubstr("empty"));
}

}  // namespace
}  // namespace sticky
