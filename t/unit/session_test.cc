// Session-id extraction (src/balancer/session.h): mod_jk's order and matching rules
// (jk_lb_worker.c), and robustness against hostile requests.
#include "balancer/session.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

namespace sticky {
namespace {

using namespace std::string_literals;

class SessionTest : public ::testing::Test {
 protected:
  // The candidates for a request with `uri` and the Cookie headers `cookies`.
  std::vector<SessionCandidate> Find(std::string_view uri,
                                     std::vector<std::string_view> cookies = {},
                                     std::size_t capacity = kMaxSessionCandidates) {
    SessionCandidate out[kMaxSessionCandidates + 4];
    std::size_t n =
        FindSessionCandidates(uri, cookies.data(), cookies.size(), names_, out, capacity);
    return std::vector<SessionCandidate>(out, out + n);
  }
  // Just the ids, joined with '|', for compact expectations.
  std::string Ids(std::string_view uri, std::vector<std::string_view> cookies = {}) {
    std::string ids;
    for (const auto& c : Find(uri, cookies)) {
      if (!ids.empty()) ids += '|';
      ids.append(c.id);
    }
    return ids;
  }
  std::string Cookie(std::string_view header) { return Ids("/", {header}); }

  SessionNames names_;
};

TEST_F(SessionTest, RouteIsTextAfterFirstDot) {
  EXPECT_EQ("n1", SessionRoute("ABC.n1"));
  EXPECT_EQ("n2.extra", SessionRoute("ABC.n2.extra"));
  EXPECT_EQ("", SessionRoute("ABC"));
  EXPECT_EQ("", SessionRoute("ABC."));
  EXPECT_EQ("n1", SessionRoute(".n1"));
  EXPECT_EQ("", SessionRoute(""));
}

TEST_F(SessionTest, PathParameter) {
  auto c = Find("/app/page;jsessionid=ABC.n1");
  ASSERT_EQ(1u, c.size());
  EXPECT_EQ("ABC.n1", c[0].id);
  EXPECT_EQ("n1", c[0].route);
  EXPECT_EQ(SessionSource::kPathParameter, c[0].source);
}

TEST_F(SessionTest, PathParameterValueEnds) {
  EXPECT_EQ("ABC.n1", Ids("/a;jsessionid=ABC.n1?x=1"));
  EXPECT_EQ("ABC.n1", Ids("/a;jsessionid=ABC.n1;other=2"));
  EXPECT_EQ("ABC.n1", Ids("/a;jsessionid=ABC.n1/more/path"));
  EXPECT_EQ("ABC.n1", Ids("/a;jsessionid=ABC.n1#top"));
}

TEST_F(SessionTest, PathParameterNotInQueryOrFragment) {
  EXPECT_EQ("", Ids("/a?next=/b;jsessionid=ABC.n1"));
  EXPECT_EQ("", Ids("/a#;jsessionid=ABC.n1"));
}

TEST_F(SessionTest, PathParameterNeedsEqualsAndValue) {
  EXPECT_EQ("", Ids("/a;jsessionidx=ABC.n1"));
  EXPECT_EQ("", Ids("/a;jsessionid"));
  EXPECT_EQ("", Ids("/a;jsessionid="));
  EXPECT_EQ("B.n2", Ids("/a;jsessionidx=A.n1;jsessionid=B.n2"));
  EXPECT_EQ("B.n2", Ids("/a;jsessionid=;jsessionid=B.n2"));
  EXPECT_EQ("", Ids("/a;JSESSIONID=ABC.n1")) << "the path parameter name is case-sensitive";
}

TEST_F(SessionTest, PathParameterBeatsCookie) {
  auto c = Find("/a;jsessionid=A.n1", {"JSESSIONID=B.n2"});
  ASSERT_EQ(2u, c.size());
  EXPECT_EQ("A.n1", c[0].id);
  EXPECT_EQ("B.n2", c[1].id);
  EXPECT_EQ(SessionSource::kCookie, c[1].source);
}

TEST_F(SessionTest, CookieAlone) {
  EXPECT_EQ("ABC.n1", Cookie("JSESSIONID=ABC.n1"));
  EXPECT_EQ("ABC.n1", Cookie("a=1; JSESSIONID=ABC.n1; b=2"));
  EXPECT_EQ("ABC.n1", Cookie("a=1;JSESSIONID=ABC.n1"));
  EXPECT_EQ("ABC.n1", Cookie("a=1,JSESSIONID=ABC.n1,b=2"));
  EXPECT_EQ("ABC.n1", Cookie("a=1;\tJSESSIONID=ABC.n1"));
}

TEST_F(SessionTest, EveryCookieInHeaderOrder) {
  EXPECT_EQ("A.zz|B.n2", Cookie("JSESSIONID=A.zz; JSESSIONID=B.n2"));
  EXPECT_EQ("A.n1|B.n2|C.n3", Ids("/", {"JSESSIONID=A.n1; x=1", "y=2", "JSESSIONID=B.n2, JSESSIONID=C.n3"}));
}

TEST_F(SessionTest, CookieNameIsCaseSensitive) {
  EXPECT_EQ("", Cookie("jsessionid=A.n1"));
  EXPECT_EQ("", Cookie("JSessionId=A.n1"));
}

TEST_F(SessionTest, CookieNameMustStartACookie) {
  EXPECT_EQ("", Cookie("XJSESSIONID=A.n1"));
  EXPECT_EQ("", Cookie("a=xJSESSIONID=A.n1"));
  EXPECT_EQ("", Cookie("JSESSIONIDX=A.n1"));
  EXPECT_EQ("B.n2", Cookie("XJSESSIONID=A.n1; JSESSIONID=B.n2"));
}

TEST_F(SessionTest, SpacesAroundEquals) {
  EXPECT_EQ("A.n1", Cookie("JSESSIONID  =A.n1"));
  EXPECT_EQ("A.n1", Cookie("JSESSIONID = A.n1 ; b=2"));
}

TEST_F(SessionTest, QuotedValue) {
  EXPECT_EQ("A.n1", Cookie("JSESSIONID=\"A.n1\""));
  EXPECT_EQ("n1", Find("/", {"JSESSIONID=\"A.n1\"; x=y"})[0].route);
  EXPECT_EQ("\"A.n1", Cookie("JSESSIONID=\"A.n1")) << "an unbalanced quote stays";
}

TEST_F(SessionTest, EmptyValuesSkipped) {
  EXPECT_EQ("", Cookie("JSESSIONID="));
  EXPECT_EQ("", Cookie("JSESSIONID=;"));
  EXPECT_EQ("", Cookie("JSESSIONID=\"\""));
  EXPECT_EQ("", Cookie("JSESSIONID=   ;"));
  EXPECT_EQ("B.n2", Cookie("JSESSIONID=; JSESSIONID=B.n2"));
  EXPECT_EQ("B.n2", Cookie("JSESSIONID=,JSESSIONID=B.n2"));
}

TEST_F(SessionTest, OtherNames) {
  names_ = SessionNames{";sid", "SID"};
  EXPECT_EQ("X.n1|Y.n2", Ids("/a;sid=X.n1", {"JSESSIONID=Z.n3; SID=Y.n2"}));
  names_ = SessionNames{"", ""};
  EXPECT_EQ("", Ids("/a;jsessionid=X.n1", {"JSESSIONID=Z.n3"})) << "empty names disable a source";
}

TEST_F(SessionTest, CapacityIsRespected) {
  std::string header;
  for (int i = 0; i < 40; ++i) header += "JSESSIONID=S" + std::to_string(i) + ".n1; ";
  EXPECT_EQ(kMaxSessionCandidates, Find("/", {header}).size());
  auto two = Find("/a;jsessionid=P.n0", {header}, 2);
  ASSERT_EQ(2u, two.size());
  EXPECT_EQ("P.n0", two[0].id);
  EXPECT_EQ("S0.n1", two[1].id);
  EXPECT_EQ(0u, Find("/a;jsessionid=P.n0", {header}, 0).size());
}

TEST_F(SessionTest, OverlongValues) {
  const std::string id = std::string(1 << 20, 'x') + ".n2";
  const std::string header = "JSESSIONID=" + id;
  auto c = Find("/", {header});
  ASSERT_EQ(1u, c.size());
  EXPECT_EQ(id.size(), c[0].id.size());
  EXPECT_EQ("n2", c[0].route);
  const std::string uri = "/a;jsessionid=" + std::string(1 << 20, 'y');
  EXPECT_EQ(1u << 20, Find(uri)[0].id.size());
}

TEST_F(SessionTest, NulBytesAreOrdinaryBytes) {
  const std::string header = "JSESSIONID=A\0B.n1\0x; JSESSIONID=C.n2"s;
  auto c = Find("/", {header});
  ASSERT_EQ(2u, c.size());
  EXPECT_EQ(std::string_view("A\0B.n1\0x", 8), c[0].id);
  EXPECT_EQ("C.n2", c[1].id);
}

TEST_F(SessionTest, NoHeaders) {
  SessionCandidate out[4];
  EXPECT_EQ(0u, FindSessionCandidates("/", nullptr, 3, names_, out, 4));
  EXPECT_EQ(0u, FindSessionCandidates("", nullptr, 0, names_, out, 4));
  EXPECT_EQ(0u, FindSessionCandidates("/a;jsessionid=A.n1", nullptr, 0, names_, nullptr, 4));
}

bool Inside(std::string_view part, std::string_view whole) {
  return part.data() >= whole.data() && part.data() + part.size() <= whole.data() + whole.size();
}

// Random bytes drawn from an alphabet rich in separators: no crash, and every
// result lies inside the input it came from.
TEST_F(SessionTest, RandomInputStaysInBounds) {
  std::mt19937 rng(12345);
  const std::string alphabet = "JSESIONjsesionid=;,. \t\"?#/aX\0\xff"s;
  for (int round = 0; round < 3000; ++round) {
    std::vector<std::string> texts(3);
    for (auto& t : texts) {
      const std::size_t len = rng() % 64;
      for (std::size_t i = 0; i < len; ++i) {
        if (rng() % 8 == 0) t += "JSESSIONID";
        else if (rng() % 16 == 0) t += ";jsessionid";
        else t += alphabet[rng() % alphabet.size()];
      }
    }
    std::vector<std::string_view> cookies = {texts[1], texts[2]};
    SessionCandidate out[kMaxSessionCandidates];
    std::size_t n = FindSessionCandidates(texts[0], cookies.data(), cookies.size(), names_, out,
                                          kMaxSessionCandidates);
    ASSERT_LE(n, kMaxSessionCandidates);
    for (std::size_t i = 0; i < n; ++i) {
      ASSERT_FALSE(out[i].id.empty());
      ASSERT_TRUE(Inside(out[i].id, texts[0]) || Inside(out[i].id, texts[1]) ||
                  Inside(out[i].id, texts[2]));
      ASSERT_TRUE(out[i].route.empty() || Inside(out[i].route, out[i].id));
    }
  }
}

}  // namespace
}  // namespace sticky
