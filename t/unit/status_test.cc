// The status page renderers (src/status*.cc): the derived rows, the drain
// view's minute window, every format's syntax, and escaping of whatever
// workers.properties holds.
#include "status/status.h"

#include <gtest/gtest.h>

#include <cctype>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "balancer/select.h"
#include "balancer/state.h"
#include "status/status_window.h"

namespace sticky {
namespace {

constexpr std::uint64_t kStart = 1'000'000;

// A strict JSON checker (RFC 8259): true if `s` is one JSON value.
class JsonChecker {
 public:
  explicit JsonChecker(const std::string& s) : s_(s) {}
  bool Valid() {
    Space();
    if (!Value()) return false;
    Space();
    return i_ == s_.size();
  }

 private:
  bool Value() {
    if (i_ >= s_.size()) return false;
    switch (s_[i_]) {
      case '{': return Object();
      case '[': return Array();
      case '"': return String();
      case 't': return Word("true");
      case 'f': return Word("false");
      case 'n': return Word("null");
      default: return Number();
    }
  }
  bool Object() {
    ++i_;
    Space();
    if (Peek('}')) return ++i_, true;
    for (;;) {
      Space();
      if (!String()) return false;
      Space();
      if (!Peek(':')) return false;
      ++i_;
      Space();
      if (!Value()) return false;
      Space();
      if (Peek('}')) return ++i_, true;
      if (!Peek(',')) return false;
      ++i_;
    }
  }
  bool Array() {
    ++i_;
    Space();
    if (Peek(']')) return ++i_, true;
    for (;;) {
      Space();
      if (!Value()) return false;
      Space();
      if (Peek(']')) return ++i_, true;
      if (!Peek(',')) return false;
      ++i_;
    }
  }
  bool String() {
    if (!Peek('"')) return false;
    for (++i_; i_ < s_.size(); ++i_) {
      const unsigned char c = static_cast<unsigned char>(s_[i_]);
      if (c == '"') return ++i_, true;
      if (c < 0x20) return false;
      if (c == '\\') {
        if (++i_ >= s_.size()) return false;
        const char e = s_[i_];
        if (e == 'u') {
          for (int k = 0; k < 4; ++k)
            if (++i_ >= s_.size() || !std::isxdigit(static_cast<unsigned char>(s_[i_])))
              return false;
        } else if (std::string("\"\\/bfnrt").find(e) == std::string::npos) {
          return false;
        }
      }
    }
    return false;
  }
  bool Number() {
    const std::size_t start = i_;
    if (Peek('-')) ++i_;
    if (i_ >= s_.size() || !std::isdigit(static_cast<unsigned char>(s_[i_]))) return false;
    if (s_[i_] == '0') ++i_;
    else
      while (i_ < s_.size() && std::isdigit(static_cast<unsigned char>(s_[i_]))) ++i_;
    return i_ > start;
  }
  bool Word(const char* w) {
    const std::string word(w);
    if (s_.compare(i_, word.size(), word) != 0) return false;
    i_ += word.size();
    return true;
  }
  bool Peek(char c) const { return i_ < s_.size() && s_[i_] == c; }
  void Space() {
    while (i_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[i_]))) ++i_;
  }
  const std::string& s_;
  std::size_t i_ = 0;
};

bool ValidUtf8Text(const std::string& s) { return ValidUtf8(s) == s; }

class StatusTest : public ::testing::Test {
 protected:
  Member& Add(const std::string& name, int lbfactor = 1) {
    Member m;
    m.name = name;
    m.host = "10.0.0.1";
    m.port = 8080;
    m.lbfactor = lbfactor;
    balancer_.members.push_back(m);
    return balancer_.members.back();
  }
  Zone& Build() {
    balancer_.name = "cluster";
    selector_ = std::make_unique<Selector>(balancer_);
    memory_.assign(ZoneBytes(balancer_.members.size()) / 8 + 1, 0);
    zone_ = InitZone(memory_.data(), memory_.size() * 8, balancer_, now_);
    EXPECT_NE(nullptr, zone_);
    view_.upstreams = {UpstreamView{"tomcats", &balancer_, selector_.get(), zone_, 60}};
    view_.now_ms = now_;
    view_.wall_ms = 1'700'000'000'000;
    view_.version = "nginx/1.22.1";
    return *zone_;
  }
  MemberState& State(const std::string& name) { return zone_->record(FindRecord(*zone_, name)); }
  void Request(const std::string& name, bool sticky, Outcome outcome = Outcome::kSuccess) {
    const auto i = static_cast<std::size_t>(FindRecord(*zone_, name));
    // A sticky request carries its session's id; a new one has none yet.
    const std::uint64_t session = sticky ? SessionHash("S" + std::to_string(++sessions_)) : 0;
    ReportStart(*zone_, i, AttemptKind{sticky, !sticky, session}, now_);
    ReportEnd(*zone_, i, outcome, 100, 200, now_);
  }
  std::vector<WorkerRow> Rows() {
    view_.now_ms = now_;
    return WorkerRows(view_.upstreams[0], view_);
  }

  Balancer balancer_;
  std::unique_ptr<Selector> selector_;
  std::vector<std::uint64_t> memory_;
  Zone* zone_ = nullptr;
  std::uint64_t now_ = kStart;
  StatusView view_;
  int sessions_ = 0;
};

// --- the minute window -----------------------------------------------------------------

TEST(StatusWindowTest, CountsTheLastMinuteOnly) {
  MemberState m{};
  std::uint64_t t = 600'000;
  for (int i = 0; i < 5; ++i) CountStickyHit(m, t);
  EXPECT_EQ(5u, StickyLastMinute(m, t));
  t += 25'000;
  CountStickyHit(m, t);
  EXPECT_EQ(6u, StickyLastMinute(m, t));
  EXPECT_EQ(6u, StickyLastMinute(m, t + 30'000));  // first bucket still in the window
  EXPECT_EQ(1u, StickyLastMinute(m, t + 40'000));  // it left; the later hit stays
  EXPECT_EQ(0u, StickyLastMinute(m, t + 60'000));  // both left
  // A bucket is cleared before it is reused a minute later.
  CountStickyHit(m, t + 60'000);
  EXPECT_EQ(1u, StickyLastMinute(m, t + 60'000));
  ClearWindow(m);
  EXPECT_EQ(0u, StickyLastMinute(m, t + 60'000));
}

TEST(StatusWindowTest, LongPausesAndEarlyTimes) {
  MemberState m{};
  CountStickyHit(m, 0);
  EXPECT_EQ(1u, StickyLastMinute(m, 5'000));
  CountStickyHit(m, 10'000'000);  // hours later: the old buckets are gone
  EXPECT_EQ(1u, StickyLastMinute(m, 10'000'000));
}

// --- rows -----------------------------------------------------------------------------------

TEST_F(StatusTest, RowsDeriveStateForEveryFormat) {
  Add("tomcat1");
  Add("tomcat2").route = "t2.dc1";
  Add("tomcat3").activation = Activation::kDisabled;
  Build();
  Request("tomcat1", true);
  Request("tomcat1", false);
  Request("tomcat2", false, Outcome::kConnectFailed);
  now_ += 1500;
  std::vector<WorkerRow> rows = Rows();
  ASSERT_EQ(3u, rows.size());
  EXPECT_EQ("tomcat1", rows[0].name);
  EXPECT_EQ("tomcat1", rows[0].route);  // the name when the file gives none
  EXPECT_EQ(1u, rows[0].sticky_last_minute);
  EXPECT_EQ(1500, rows[0].last_request_ago_ms);
  EXPECT_EQ(1, rows[0].rating);
  EXPECT_FALSE(rows[0].idle);
  EXPECT_EQ("dc1", std::string(rows[1].route.substr(3)));
  EXPECT_EQ("t2", rows[1].domain);      // from the dotted route
  EXPECT_EQ(Health::kError, rows[1].health);
  EXPECT_EQ(1500, rows[1].last_error_ago_ms);
  EXPECT_EQ(view_.wall_ms - 1500, rows[1].last_error_wall_ms);
  EXPECT_EQ(60'000 - 1500, rows[1].recover_in_ms);
  EXPECT_EQ(-1, rows[1].rating);         // mod_jk: ERR is bad
  EXPECT_EQ(0, rows[2].rating);          // mod_jk: Disabled and OK is degraded
  EXPECT_TRUE(rows[2].idle);
  EXPECT_EQ(-1, rows[2].last_request_ago_ms);
  EXPECT_EQ(-1, rows[0].recover_in_ms);
}

TEST_F(StatusTest, AZoneOfAnotherBalancerGivesNoRows) {
  Add("tomcat1");
  Add("tomcat2");
  Build();
  std::snprintf(zone_->record(1).name, kMaxNameBytes, "other");
  zone_->record(1).name_length = 5;
  EXPECT_TRUE(Rows().empty());
  zone_->member_count = 1;
  EXPECT_TRUE(Rows().empty());
}

// --- escaping ----------------------------------------------------------------------------------

TEST(StatusEscapeTest, Json) {
  std::string out;
  AppendJsonString(&out, std::string("a\"b\\c\n<script>&\x01\x7f", 17));
  EXPECT_EQ("\"a\\\"b\\\\c\\n\\u003cscript\\u003e\\u0026\\u0001\\u007f\"", out);
  out.clear();
  AppendJsonString(&out, "caf\xc3\xa9 \xe2\x80\xa8");  // UTF-8 kept, U+2028 escaped
  EXPECT_EQ("\"caf\xc3\xa9 \\u2028\"", out);
}

TEST(StatusEscapeTest, InvalidUtf8BecomesReplacementCharacters) {
  EXPECT_EQ("a\xef\xbf\xbd" "b", ValidUtf8("a\xe9" "b"));                 // Latin-1
  EXPECT_EQ("\xef\xbf\xbd\xef\xbf\xbd", ValidUtf8("\xc0\xaf"));           // overlong '/'
  EXPECT_EQ("\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd", ValidUtf8("\xed\xa0\x80"));  // surrogate
  EXPECT_EQ("x\xef\xbf\xbd\xef\xbf\xbd", ValidUtf8("x\xe2\x82"));  // truncated: per byte
  EXPECT_EQ("\xf0\x9f\x98\x80", ValidUtf8("\xf0\x9f\x98\x80"));            // U+1F600 kept
}

TEST(StatusEscapeTest, Html) {
  std::string out;
  AppendHtmlEscaped(&out, "<img src=x onerror=\"alert('1')\">&\x1b");
  EXPECT_EQ("&lt;img src=x onerror=&quot;alert(&#39;1&#39;)&quot;&gt;&amp;\xef\xbf\xbd", out);
}

TEST(StatusEscapeTest, PrometheusAndProperties) {
  std::string out;
  AppendPrometheusLabel(&out, "a\"b\\c\nd");
  EXPECT_EQ("a\\\"b\\\\c\\nd", out);
  out.clear();
  AppendPropertyValue(&out, "a\\b\nc\rd=e");
  EXPECT_EQ("a\\\\b\\nc\\rd=e", out);
}

TEST(StatusEscapeTest, Durations) {
  EXPECT_EQ("0s", HumanDuration(-5));
  EXPECT_EQ("59s", HumanDuration(59'999));
  EXPECT_EQ("1m 05s", HumanDuration(65'000));
  EXPECT_EQ("2h 03m", HumanDuration((2 * 3600 + 3 * 60 + 4) * 1000LL));
  EXPECT_EQ("3d 04h", HumanDuration((3 * 86400 + 4 * 3600) * 1000LL));
  EXPECT_EQ("2023-11-14T22:13:20.123Z", IsoTime(1'700'000'000'123));
}

// --- formats --------------------------------------------------------------------------------------

class StatusFormatTest : public StatusTest {
 protected:
  void SetUp() override {
    Add("tomcat1", 2);
    Member& evil = Add("w<x>\"y'&z");
    evil.route = "<img src=x onerror=alert(1)>\\";
    evil.domain = "dom\xe9\n";
    evil.redirect = "tomcat1";
    Build();
    Request("tomcat1", true);
    Request("tomcat1", false);
    Request("w<x>\"y'&z", false, Outcome::kConnectFailed);
  }
};

TEST_F(StatusFormatTest, JsonIsValidAndComplete) {
  const std::string json = RenderJson(view_);
  EXPECT_TRUE(JsonChecker(json).Valid()) << json;
  EXPECT_TRUE(ValidUtf8Text(json));
  for (const char* key :
       {"\"upstreams\":[", "\"name\":\"tomcats\"", "\"lb\":\"cluster\"", "\"workers\":[",
        "\"activation\":\"A\"", "\"state\":\"OK\"", "\"lbfactor\":2", "\"requests\":2",
        "\"sticky_hits\":1", "\"new_sessions\":1", "\"in_flight\":0", "\"sticky_last_minute\":1",
        "\"state\":\"ERR\"", "\"errors\":1", "\"last_error\":\"2023-11-14T22:13:20.000Z\"",
        "\"recover_in_ms\":60000", "\"redirect\":\"tomcat1\"", "\"bytes_sent\":100"})
    EXPECT_NE(std::string::npos, json.find(key)) << key << " in " << json;
  EXPECT_NE(std::string::npos, json.find("\"name\":\"w\\u003cx\\u003e\\\"y'\\u0026z\""));
  EXPECT_NE(std::string::npos, json.find("\"domain\":\"dom\xef\xbf\xbd\\n\""));
  EXPECT_EQ(std::string::npos, json.find('<'));
}

TEST_F(StatusFormatTest, JsonOfNothing) {
  view_.upstreams.clear();
  const std::string json = RenderJson(view_);
  EXPECT_TRUE(JsonChecker(json).Valid()) << json;
  EXPECT_NE(std::string::npos, json.find("\"upstreams\":[]"));
}

// Parsers for the lines of the exposition format 0.0.4 (no std::regex: GCC
// 12 warns falsely on it under the sanitizers).
bool IsNameChar(char c, bool first, bool colon) {
  return std::isalpha(static_cast<unsigned char>(c)) || c == '_' || (colon && c == ':') ||
         (!first && std::isdigit(static_cast<unsigned char>(c)));
}
// A metric or label name at s[*i]; advances *i.
bool Name(const std::string& s, std::size_t* i, bool colon, std::string* name) {
  const std::size_t start = *i;
  while (*i < s.size() && IsNameChar(s[*i], *i == start, colon)) ++*i;
  *name = s.substr(start, *i - start);
  return *i > start;
}
// "# HELP name text" / "# TYPE name type": the name and the rest.
bool Comment(const std::string& line, const std::string& kind, std::string* name,
             std::string* rest) {
  const std::string prefix = "# " + kind + " ";
  if (line.rfind(prefix, 0) != 0) return false;
  std::size_t i = prefix.size();
  if (!Name(line, &i, true, name) || i >= line.size() || line[i] != ' ') return false;
  *rest = line.substr(i + 1);
  return true;
}
// name{label="value",...} number
bool Sample(const std::string& line, std::string* name, std::string* labels) {
  std::size_t i = 0;
  if (!Name(line, &i, true, name) || i >= line.size() || line[i] != '{') return false;
  const std::size_t open = i++;
  for (;;) {
    std::string label;
    if (!Name(line, &i, false, &label) || line.compare(i, 2, "=\"") != 0) return false;
    for (i += 2; i < line.size() && line[i] != '"'; ++i) {
      if (line[i] == '\\') {
        if (++i >= line.size() || std::string("\\\"n").find(line[i]) == std::string::npos)
          return false;
      }
    }
    if (i++ >= line.size()) return false;
    if (i < line.size() && line[i] == ',') { ++i; continue; }
    if (i < line.size() && line[i] == '}') break;
    return false;
  }
  *labels = line.substr(open, i + 1 - open);
  if (line.compare(i + 1, 1, " ") != 0) return false;
  const std::string value = line.substr(i + 2);
  std::size_t dot = 0, digits = 0;
  for (char c : value) {
    if (c == '.') ++dot;
    else if (std::isdigit(static_cast<unsigned char>(c))) ++digits;
    else return false;
  }
  return digits > 0 && dot <= 1 && value.front() != '.' && value.back() != '.';
}

TEST(PrometheusParserTest, RejectsWhatTheFormatForbids) {
  std::string n, l;
  EXPECT_TRUE(Sample("a_b{x=\"1\\\"2\",y=\"\"} 3.5", &n, &l));
  EXPECT_FALSE(Sample("a{x=\"1\"} 1 2", &n, &l));
  EXPECT_FALSE(Sample("a{x=1} 1", &n, &l));
  EXPECT_FALSE(Sample("a{x=\"\\q\"} 1", &n, &l));
  EXPECT_FALSE(Sample("1a{x=\"\"} 1", &n, &l));
  EXPECT_FALSE(Sample("a{x=\"\"} x", &n, &l));
}

// Every line of the exposition format 0.0.4, and the grouping rules.
TEST_F(StatusFormatTest, PrometheusFollowsTheExpositionFormat) {
  const std::string text = RenderPrometheus(view_);
  ASSERT_FALSE(text.empty());
  EXPECT_EQ('\n', text.back());
  std::set<std::string> typed, helped, done, series;
  std::string current;
  std::istringstream in(text);
  std::string line, name, rest;
  int samples = 0;
  while (std::getline(in, line)) {
    if (Comment(line, "HELP", &name, &rest)) {
      EXPECT_TRUE(helped.insert(name).second) << "second HELP: " << line;
      continue;
    }
    if (Comment(line, "TYPE", &name, &rest)) {
      EXPECT_TRUE(rest == "counter" || rest == "gauge") << line;
      EXPECT_TRUE(typed.insert(name).second) << "second TYPE: " << line;
      if (rest == "counter") {
        EXPECT_EQ(name.size() - 6, name.rfind("_total")) << line;
      }
      continue;
    }
    std::string labels;
    ASSERT_TRUE(Sample(line, &name, &labels)) << "not a sample: " << line;
    ++samples;
    EXPECT_TRUE(typed.count(name) && helped.count(name)) << "no HELP/TYPE before " << line;
    if (name != current) {
      EXPECT_FALSE(done.count(name)) << "not grouped: " << line;
      done.insert(current);
      current = name;
    }
    EXPECT_TRUE(series.insert(name + labels).second) << "duplicate: " << line;
  }
  EXPECT_GT(samples, 20);
  EXPECT_NE(std::string::npos,
            text.find("sticky_worker_requests_total{upstream=\"tomcats\",worker=\"tomcat1\"} 2\n"));
  EXPECT_NE(std::string::npos,
            text.find("sticky_worker_state{upstream=\"tomcats\",worker=\"w<x>\\\"y'&z\","
                      "state=\"ERR\"} 1\n"));
  EXPECT_NE(std::string::npos,
            text.find("sticky_worker_recover_seconds{upstream=\"tomcats\",worker=\"w<x>\\\"y'&z\"}"
                      " 60.000\n"));
  EXPECT_NE(std::string::npos,
            text.find("sticky_worker_last_error_timestamp_seconds{upstream=\"tomcats\","
                      "worker=\"w<x>\\\"y'&z\"} 1700000000.000\n"));
}

TEST_F(StatusFormatTest, PropertiesUseModJkKeys) {
  const std::string text = RenderProperties(view_);
  for (const char* line :
       {"worker.result.type=OK\n", "worker.list=cluster\n", "worker.cluster.type=lb\n",
        "worker.cluster.balance_workers=tomcat1\n", "worker.cluster.balance_workers=w<x>\"y'&z\n",
        "worker.cluster.member_count=2\n", "worker.cluster.good=1\n", "worker.cluster.bad=1\n",
        "worker.cluster.method=Request\n", "worker.cluster.sticky_session=True\n",
        "worker.tomcat1.activation=ACT\n", "worker.tomcat1.lbfactor=2\n",
        "worker.tomcat1.state=OK\n", "worker.tomcat1.elected=2\n", "worker.tomcat1.sessions=1\n",
        "worker.tomcat1.port=8080\n", "worker.tomcat1.address=10.0.0.1:8080\n",
        "worker.w<x>\"y'&z.state=ERR\n", "worker.w<x>\"y'&z.time_to_recover_min=60\n",
        "worker.w<x>\"y'&z.route=<img src=x onerror=alert(1)>\\\\\n",
        "worker.w<x>\"y'&z.domain=dom\xef\xbf\xbd\\n\n"})
    EXPECT_NE(std::string::npos, text.find(line)) << line << " in\n" << text;
  // Every line is key=value.
  std::istringstream in(text);
  std::string l;
  while (std::getline(in, l)) EXPECT_TRUE(l.rfind("worker.", 0) == 0 && l.find('=') != l.npos) << l;
}

TEST_F(StatusFormatTest, HtmlEscapesEverythingAndOffersButtonsOnlyReadWrite) {
  std::string html = RenderHtml(view_);
  EXPECT_TRUE(ValidUtf8Text(html));
  EXPECT_EQ(0u, html.rfind("<!DOCTYPE html>", 0));
  EXPECT_EQ(std::string::npos, html.find("<img"));
  EXPECT_EQ(std::string::npos, html.find("<x>"));
  EXPECT_NE(std::string::npos, html.find("&lt;img src=x onerror=alert(1)&gt;\\"));
  EXPECT_NE(std::string::npos, html.find("<b>w&lt;x&gt;&quot;y&#39;&amp;z</b>"));
  EXPECT_NE(std::string::npos, html.find("dom\xef\xbf\xbd\xef\xbf\xbd"));  // newline too
  EXPECT_EQ(std::string::npos, html.find("<button"));
  EXPECT_EQ(std::string::npos, html.find("nonce="));
  EXPECT_NE(std::string::npos, html.find("<span class=\"badge s-bad\">ERR</span>"));
  EXPECT_NE(std::string::npos, html.find("1m 00s"));  // recover in

  view_.read_write = true;
  view_.nonce = "abc123";
  html = RenderHtml(view_);
  EXPECT_NE(std::string::npos, html.find("<script nonce=\"abc123\">"));
  EXPECT_NE(std::string::npos, html.find("<style nonce=\"abc123\">"));
  EXPECT_NE(std::string::npos,
            html.find("data-upstream=\"tomcats\" data-worker=\"w&lt;x&gt;&quot;y&#39;&amp;z\" "
                      "data-field=\"activation\" data-value=\"D\""));
  // Recover is offered to the member in error only.
  const std::size_t evil_row = html.find("<tr data-worker=\"w&lt;x");
  const std::size_t recover = html.find(">Recover</button>");
  const std::size_t recover2 = html.find(">Recover</button>", recover + 1);
  ASSERT_NE(std::string::npos, evil_row);
  EXPECT_NE(std::string::npos, html.rfind(" disabled>Recover", evil_row));  // tomcat1: disabled
  EXPECT_GT(recover2, evil_row);
  EXPECT_NE(" disabled", html.substr(html.rfind('"', recover2) + 1, 9));
}

TEST_F(StatusFormatTest, HtmlDrainView) {
  const auto i = static_cast<std::size_t>(FindRecord(*zone_, "tomcat1"));
  zone_->record(i).activation = static_cast<std::uint8_t>(Activation::kDisabled);
  EXPECT_NE(std::string::npos, RenderHtml(view_).find("D drained</span> <span class=\"badge busy\">"));
  now_ += 61'000;  // the sticky hit left the minute of `idle`, not the sessions window
  view_.now_ms = now_;
  EXPECT_NE(std::string::npos, RenderHtml(view_).find("D drained</span> <span class=\"badge busy\">"));
  now_ += 30 * 60'000;  // and now the sessions window too
  view_.now_ms = now_;
  EXPECT_NE(std::string::npos, RenderHtml(view_).find("D drained</span> <span class=\"badge idle\">done"));
}

TEST_F(StatusFormatTest, HtmlChartsDrawTheHistoryOfTheJson) {
  const std::string html = RenderHtml(view_);
  const std::string json = RenderJson(view_);
  // tomcat1's requests: 2 in the current minute, the last of 60 points.
  std::string zeros;
  for (int i = 0; i < 59; ++i) zeros += "0 ";
  std::string json_zeros;
  for (int i = 0; i < 59; ++i) json_zeros += "0,";
  EXPECT_NE(std::string::npos, json.find("\"history\":{\"minutes\":60,\"current_minute\":\"2023-11-14T22:12:40.000Z\""))
      << json;
  EXPECT_NE(std::string::npos, json.find("\"requests\":[" + json_zeros + "2]")) << json;
  // Only the last 10 minutes have counts: the chart starts 9 minutes back.
  const std::size_t chart = html.find("<figure class=\"chart\" data-worker=\"tomcat1\" data-first=\"50\">");
  ASSERT_NE(std::string::npos, chart);
  const std::size_t requests = html.find("data-series=\"requests\" data-max=\"2\" data-values=\"" + zeros + "2\"", chart);
  EXPECT_NE(std::string::npos, requests) << html.substr(chart, 3000);
  // The last point of the line is at the right edge and at the top (the maximum).
  EXPECT_NE(std::string::npos, html.find("300.0,3.0\"/>", requests));
  EXPECT_NE(std::string::npos, html.find("points=\"0.0,57.0 33.3,57.0 ", requests));
  EXPECT_NE(std::string::npos, html.find("<span>9 min ago</span>", requests));
  EXPECT_NE(std::string::npos, html.find("data-series=\"sessions\" data-max=\"1\"", chart));
  // The evil name is escaped in the chart too, and its error is marked.
  const std::size_t evil = html.find("<figure class=\"chart\" data-worker=\"w&lt;x&gt;&quot;y&#39;&amp;z\" data-first=\"50\">");
  ASSERT_NE(std::string::npos, evil);
  EXPECT_NE(std::string::npos, html.find("<g class=\"errors\" data-series=\"errors\" data-values=\"" + zeros + "1\"><rect", evil));
}

}  // namespace
}  // namespace sticky
