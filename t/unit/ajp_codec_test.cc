// The AJP/1.3 codec (src/ajp/, sticky_core.h "AJP/1.3 codec") through its C
// face: FORWARD_REQUEST read back by a Tomcat-like decoder (ajp_decoder.h),
// the size limits to the byte, body and CPING packets, every container
// packet and every way one can be wrong, and the body stream fed in pieces
// cut at every position.
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "ajp_decoder.h"
#include "c_api/sticky_core.h"

namespace {

using ajp_test::Decode;
using ajp_test::Describe;
using ajp_test::Expect;
using Packet = std::vector<unsigned char>;

constexpr sticky_str_t kAbsent{nullptr, 0};
constexpr std::size_t kError = static_cast<std::size_t>(-1);

sticky_str_t S(std::string_view s) { return sticky_str_t{s.data(), s.size()}; }

std::string Text(sticky_str_t s) { return std::string(s.data, s.len); }

// Packet bytes written field by field, for expected requests and for the
// container's packets.
class Bytes {
 public:
  Bytes& U8(unsigned v) {
    v_.push_back(static_cast<unsigned char>(v));
    return *this;
  }
  Bytes& U16(unsigned v) { return U8(v >> 8).U8(v & 0xFF); }
  Bytes& Raw(std::string_view s) {
    v_.insert(v_.end(), s.begin(), s.end());
    return *this;
  }
  Bytes& Str(std::string_view s) { return U16(static_cast<unsigned>(s.size())).Raw(s).U8(0); }
  Bytes& Null() { return U16(0xFFFF); }

  // This payload as a container packet: "AB", length, payload.
  Packet FromContainer() const {
    Packet p = {'A', 'B', static_cast<unsigned char>(v_.size() >> 8),
                static_cast<unsigned char>(v_.size())};
    p.insert(p.end(), v_.begin(), v_.end());
    return p;
  }
  const Packet& bytes() const { return v_; }

 private:
  Packet v_;
};

Packet Join(std::initializer_list<Packet> parts) {
  Packet all;
  for (const Packet& p : parts) all.insert(all.end(), p.begin(), p.end());
  return all;
}

// --- FORWARD_REQUEST -------------------------------------------------------

sticky_ajp_request_t BaseRequest() {
  sticky_ajp_request_t r{};
  r.method = S("GET");
  r.protocol = S("HTTP/1.1");
  r.uri = S("/");
  r.remote_addr = S("10.0.0.1");
  r.remote_host = kAbsent;
  r.server_name = S("example.com");
  r.server_port = 80;
  r.ssl_key_size = -1;
  return r;
}

struct Member {
  sticky_str_t route = S("n1");
  sticky_str_t secret = S("");
  int activation = STICKY_ACTIVE;
};

// The finished packet, or an empty one when the codec refuses. `buffer`
// keeps its exact size so the sanitizer build catches overruns.
Packet Encode(const sticky_ajp_request_t& req, const Member& m = Member(),
              std::size_t max_packet = STICKY_AJP_MAX_PACKET) {
  std::size_t part = sticky_ajp_request_bytes(&req);
  if (part == kError) return {};
  Packet buffer(part + sticky_ajp_member_bytes(m.route, m.secret));
  sticky_ajp_encode_request(&req, buffer.data());
  std::size_t size =
      sticky_ajp_finish_request(buffer.data(), part, m.route, m.secret, m.activation, max_packet);
  if (size == 0) return {};
  EXPECT_EQ(buffer.size(), size);
  return buffer;
}

void ExpectRoundTrip(const sticky_ajp_request_t& req, const Member& m = Member()) {
  Packet p = Encode(req, m);
  ASSERT_FALSE(p.empty());
  ajp_test::ForwardRequest expected = Expect(req, m.route, m.secret, m.activation);
  EXPECT_EQ(Describe(expected), Describe(Decode(p.data(), p.size())));
  EXPECT_EQ(ajp_test::EncodedSize(expected), p.size());
}

TEST(AjpRequestTest, GoldenBytes) {
  sticky_ajp_request_t r = BaseRequest();
  sticky_ajp_pair_t headers[] = {{S("Host"), S("example.com")}, {S("X-A"), S("b")}};
  r.headers = headers;
  r.nheaders = 2;
  Bytes payload;
  payload.U8(0x02).U8(0x02).Str("HTTP/1.1").Str("/").Str("10.0.0.1").Null().Str("example.com");
  payload.U16(80).U8(0).U16(2);
  payload.U16(0xA00B).Str("example.com").Str("X-A").Str("b");
  payload.U8(0x06).Str("n1");
  payload.U8(0x0A).Str("JK_LB_ACTIVATION").Str("ACT").U8(0xFF);
  Packet expected = {0x12, 0x34, static_cast<unsigned char>(payload.bytes().size() >> 8),
                     static_cast<unsigned char>(payload.bytes().size())};
  expected = Join({expected, payload.bytes()});
  EXPECT_EQ(expected, Encode(r));
}

// Every field set, the optional ones included.
sticky_ajp_request_t FullRequest() {
  static const sticky_ajp_pair_t headers[] = {{S("Cookie"), S("JSESSIONID=A.n1")},
                                              {S("X-Forwarded-For"), S("192.0.2.1")},
                                              {S("Content-Length"), S("12")},
                                              {S("x-empty"), S("")}};
  static const sticky_ajp_pair_t attributes[] = {{S("Shib-Identity-Provider"), S("https://idp")},
                                                 {S("empty"), S("")}};
  sticky_ajp_request_t r = BaseRequest();
  r.method = S("POST");
  r.uri = S("/app/login;jsessionid=A.n1");
  r.remote_host = S("client.example");
  r.server_port = 8443;
  r.is_ssl = 7;
  r.headers = headers;
  r.nheaders = 4;
  r.query_string = S("a=1&b=%20");
  r.remote_user = S("alice");
  r.auth_type = S("Basic");
  r.ssl_cert = S("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n");
  r.ssl_cipher = S("TLS_AES_128_GCM_SHA256");
  r.ssl_session = S("3F2A");
  r.ssl_key_size = 256;
  r.ssl_protocol = S("TLSv1.3");
  r.remote_port = S("51234");
  r.local_addr = S("10.0.0.2");
  r.attributes = attributes;
  r.nattributes = 2;
  return r;
}

TEST(AjpRequestTest, EveryFieldRoundTrips) {
  sticky_ajp_request_t r = FullRequest();
  ExpectRoundTrip(r, Member{S("node1"), S("s3cr3t"), STICKY_DISABLED});
  ExpectRoundTrip(r, Member{S("node1"), S(""), STICKY_STOPPED});
  ExpectRoundTrip(r, Member{S(""), S("s3cr3t"), STICKY_ACTIVE});
}

// Found by ajp_request_fuzz once the activation names became one table: a
// value outside STICKY_ACTIVE ... STICKY_STOPPED reads as stopped there, and
// the test model still expected ACT. The glue passes the member's live
// activation, always one of the three.
TEST(AjpRequestTest, AnActivationOutsideTheThreeIsSentAsStopped) {
  sticky_ajp_request_t r = BaseRequest();
  for (int activation : {3, 7, -1}) {
    Packet p = Encode(r, Member{S("n1"), S(""), activation});
    auto d = Decode(p.data(), p.size());
    ASSERT_TRUE(d);
    ASSERT_FALSE(d->attributes.empty());
    const ajp_test::Field& last = d->attributes.back();
    EXPECT_EQ("JK_LB_ACTIVATION", last.name.value_or(""));
    EXPECT_EQ("STP", last.value.value_or("")) << activation;
  }
  ExpectRoundTrip(r, Member{S("n1"), S(""), 7});
}

TEST(AjpRequestTest, AttributesComeInTheDocumentedOrder) {
  sticky_ajp_request_t r = FullRequest();
  r.method = S("PATCH");
  Packet p = Encode(r, Member{S("n1"), S("k"), STICKY_ACTIVE});
  auto d = Decode(p.data(), p.size());
  ASSERT_TRUE(d);
  std::string order;
  for (const ajp_test::Field& a : d->attributes) {
    order += std::to_string(a.code) + (a.name ? ":" + *a.name : "") + " ";
  }
  EXPECT_EQ(
      "3 4 5 7 8 9 11 13 10:AJP_SSL_PROTOCOL 10:AJP_REMOTE_PORT 10:AJP_LOCAL_ADDR "
      "10:Shib-Identity-Provider 10:empty 6 12 10:JK_LB_ACTIVATION ",
      order);
}

TEST(AjpRequestTest, EveryMethodHasItsCode) {
  for (const auto& [name, code] : ajp_test::MethodCodes()) {
    SCOPED_TRACE(name);
    sticky_ajp_request_t r = BaseRequest();
    r.method = S(name);
    Packet p = Encode(r);
    ASSERT_GT(p.size(), 6u);
    EXPECT_EQ(code, p[5]);
    ExpectRoundTrip(r);
  }
}

TEST(AjpRequestTest, OtherMethodsTravelAsStoredMethod) {
  for (const char* name : {"PATCH", "get", "Post", "GETX", "", "M-SEARCH"}) {
    SCOPED_TRACE(name);
    sticky_ajp_request_t r = BaseRequest();
    r.method = S(name);
    Packet p = Encode(r);
    auto d = Decode(p.data(), p.size());
    ASSERT_TRUE(d);
    EXPECT_EQ(0xFFu, d->method);
    ASSERT_FALSE(d->attributes.empty());
    EXPECT_EQ(0x0Du, d->attributes[0].code);
    EXPECT_EQ(name, d->attributes[0].value.value_or("(null)"));
  }
}

TEST(AjpRequestTest, CodedAndStringHeaderNames) {
  std::vector<std::pair<std::string, unsigned>> cases = {
      {"Host", 0xA00B},           {"HOST", 0xA00B},         {"host", 0xA00B},
      {"Content-Length", 0xA008}, {"ACCEPT-LANGUAGE", 0xA004}, {"Cookie2", 0xA00A},
      {"User-Agent", 0xA00E},     {"X-Forwarded-For", 0},   {"Hostname", 0},
      {"cookie3", 0},             {"accept-", 0},           {"", 0},
      {"Content_Type", 0},
  };
  for (const auto& [code_name, code] : ajp_test::HeaderCodes()) cases.push_back({code_name, code});
  for (const auto& [name, code] : cases) {
    SCOPED_TRACE(name);
    sticky_ajp_request_t r = BaseRequest();
    sticky_ajp_pair_t header = {S(name), S("v")};
    r.headers = &header;
    r.nheaders = 1;
    Packet p = Encode(r);
    auto d = Decode(p.data(), p.size());
    ASSERT_TRUE(d);
    ASSERT_EQ(1u, d->headers.size());
    EXPECT_EQ(code, d->headers[0].code);
    EXPECT_EQ(code ? ajp_test::Str() : ajp_test::Str(name), d->headers[0].name);
    ExpectRoundTrip(r);
  }
}

TEST(AjpRequestTest, AbsentAndEmptyStrings) {
  sticky_ajp_request_t absent = BaseRequest();
  absent.protocol = absent.uri = absent.remote_addr = absent.server_name = kAbsent;
  Member none{S(""), S(""), STICKY_ACTIVE};
  Packet p = Encode(absent, none);
  auto d = Decode(p.data(), p.size());
  ASSERT_TRUE(d);
  EXPECT_FALSE(d->protocol || d->uri || d->remote_addr || d->remote_host || d->server_name);
  EXPECT_EQ(1u, d->attributes.size());  // JK_LB_ACTIVATION only
  ExpectRoundTrip(absent, none);

  sticky_ajp_request_t empty = BaseRequest();
  empty.protocol = empty.uri = empty.remote_host = S("");
  empty.query_string = empty.remote_user = empty.auth_type = S("");
  empty.ssl_cert = empty.ssl_cipher = empty.ssl_session = S("");
  empty.ssl_protocol = empty.remote_port = empty.local_addr = S("");
  empty.ssl_key_size = 0;
  p = Encode(empty, none);
  d = Decode(p.data(), p.size());
  ASSERT_TRUE(d);
  EXPECT_EQ("", d->protocol.value_or("(null)"));
  EXPECT_EQ("", d->remote_host.value_or("(null)"));
  EXPECT_EQ(11u, d->attributes.size());  // 9 sent empty, key size 0, activation
  ExpectRoundTrip(empty, none);
}

TEST(AjpRequestTest, MemberPart) {
  EXPECT_EQ(1u + 2 + 16 + 1 + 2 + 3 + 1 + 1, sticky_ajp_member_bytes(S(""), S("")));
  EXPECT_EQ(27u + 1 + 2 + 5 + 1, sticky_ajp_member_bytes(S("node1"), kAbsent));
  EXPECT_EQ(27u + 9 + 1 + 2 + 3 + 1, sticky_ajp_member_bytes(S("node1"), S("abc")));
  sticky_ajp_request_t r = BaseRequest();
  // One encoded request finished for two members in turn, as a retry does.
  std::size_t part = sticky_ajp_request_bytes(&r);
  Packet buffer(part + sticky_ajp_member_bytes(S("second"), S("key")));
  sticky_ajp_encode_request(&r, buffer.data());
  ASSERT_NE(0u, sticky_ajp_finish_request(buffer.data(), part, S("n1"), S(""), STICKY_ACTIVE,
                                          STICKY_AJP_MAX_PACKET));
  std::size_t size = sticky_ajp_finish_request(buffer.data(), part, S("second"), S("key"),
                                               STICKY_STOPPED, STICKY_AJP_MAX_PACKET);
  ASSERT_EQ(buffer.size(), size);
  EXPECT_EQ(Describe(Expect(r, S("second"), S("key"), STICKY_STOPPED)),
            Describe(Decode(buffer.data(), size)));
}

// A request whose part is `part_size` bytes: BaseRequest() plus one padded
// header.
struct Padded {
  explicit Padded(std::size_t part_size) {
    request.headers = &header;
    request.nheaders = 1;
    std::size_t base = sticky_ajp_request_bytes(&request);
    pad.assign(part_size - base, 'x');
    header.value = S(pad);
  }
  sticky_ajp_request_t request = BaseRequest();
  sticky_ajp_pair_t header = {S("X-Pad"), S("")};
  std::string pad;
};

TEST(AjpRequestTest, RequestPartOfAtMost65536Bytes) {
  Padded fits(STICKY_AJP_MAX_PACKET);
  EXPECT_EQ(std::size_t{STICKY_AJP_MAX_PACKET}, sticky_ajp_request_bytes(&fits.request));
  Padded over(STICKY_AJP_MAX_PACKET + 1);
  EXPECT_EQ(kError, sticky_ajp_request_bytes(&over.request));
}

TEST(AjpRequestTest, PacketOfExactlyMaxPacketPasses) {
  Member m{S("node1"), S("secret"), STICKY_ACTIVE};
  std::size_t member = sticky_ajp_member_bytes(m.route, m.secret);
  for (std::size_t max : {std::size_t{STICKY_AJP_MIN_PACKET}, std::size_t{20000},
                          std::size_t{STICKY_AJP_MAX_PACKET}}) {
    SCOPED_TRACE(max);
    Padded exact(max - member);
    Packet p = Encode(exact.request, m, max);
    ASSERT_EQ(max, p.size());
    EXPECT_EQ(Describe(Expect(exact.request, m.route, m.secret, m.activation)),
              Describe(Decode(p.data(), p.size())));
    Padded over(max - member + 1);
    EXPECT_TRUE(Encode(over.request, m, max).empty());
  }
}

TEST(AjpRequestTest, LongStringsAndTooManyHeadersAreRefused) {
  std::string huge(0xFFFF, 'v');
  sticky_ajp_request_t r = BaseRequest();
  sticky_ajp_pair_t header = {S("X-Big"), S(huge)};
  r.headers = &header;
  r.nheaders = 1;
  EXPECT_EQ(kError, sticky_ajp_request_bytes(&r));
  r.nheaders = 0;
  r.query_string = S(huge);
  EXPECT_EQ(kError, sticky_ajp_request_bytes(&r));

  sticky_ajp_request_t many = BaseRequest();
  many.headers = nullptr;  // refused before any header is read
  many.nheaders = 0x10000;
  EXPECT_EQ(kError, sticky_ajp_request_bytes(&many));

  sticky_ajp_request_t ok = BaseRequest();
  std::size_t part = sticky_ajp_request_bytes(&ok);
  Packet buffer(part + sticky_ajp_member_bytes(S(huge), S("")));
  sticky_ajp_encode_request(&ok, buffer.data());
  EXPECT_EQ(0u, sticky_ajp_finish_request(buffer.data(), part, S(huge), S(""), STICKY_ACTIVE,
                                          STICKY_AJP_MAX_PACKET));
}

TEST(AjpRequestTest, HeaderNamesThatLookLikeCodesAreRefused) {
  for (std::size_t len : {0xA000u, 0xA0FFu, 0x9FFFu, 0xA100u}) {
    SCOPED_TRACE(len);
    std::string name(len, 'n');
    sticky_ajp_request_t r = BaseRequest();
    sticky_ajp_pair_t header = {S(name), S("")};
    r.headers = &header;
    r.nheaders = 1;
    bool ambiguous = len >> 8 == 0xA0;
    EXPECT_EQ(ambiguous, sticky_ajp_request_bytes(&r) == kError);
    if (!ambiguous) ExpectRoundTrip(r);
  }
}

TEST(AjpRequestTest, BodyHeaderAndCPing) {
  unsigned char body[STICKY_AJP_BODY_OVERHEAD];
  sticky_ajp_body_header(body, 0);
  EXPECT_EQ(Packet({0x12, 0x34, 0x00, 0x02, 0x00, 0x00}), Packet(body, body + 6));
  sticky_ajp_body_header(body, 8186);
  EXPECT_EQ(Packet({0x12, 0x34, 0x1F, 0xFC, 0x1F, 0xFA}), Packet(body, body + 6));
  sticky_ajp_body_header(body, 65530);
  EXPECT_EQ(Packet({0x12, 0x34, 0xFF, 0xFC, 0xFF, 0xFA}), Packet(body, body + 6));
  unsigned char cping[STICKY_AJP_CPING_SIZE];
  sticky_ajp_cping(cping);
  EXPECT_EQ(Packet({0x12, 0x34, 0x00, 0x01, 0x0A}), Packet(cping, cping + 5));
}

// --- container packets -----------------------------------------------------

struct Read {
  int rc = 0;
  sticky_ajp_packet_t packet{};
  std::string error;
};

Read ReadPacket(const Packet& in, std::size_t max_packet = STICKY_AJP_MIN_PACKET) {
  Read r;
  sticky_error_t err{};
  r.rc = sticky_ajp_read_packet(in.data(), in.size(), max_packet, &r.packet, &err);
  if (r.rc < 0) r.error = err.message;
  return r;
}

std::string Headers(const Packet& in, const sticky_ajp_packet_t& p) {
  sticky_ajp_headers_t it;
  sticky_ajp_headers_begin(in.data(), &p, &it);
  std::string all;
  sticky_str_t name, value;
  while (sticky_ajp_headers_next(&it, &name, &value)) all += Text(name) + ": " + Text(value) + "\n";
  return all;
}

Packet SendHeaders() {
  return Bytes()
      .U8(4).U16(200).Str("OK").U16(5)
      .U16(0xA001).Str("text/html")
      .Str("X-Custom").Str("a b")
      .U16(0xA007).Str("JSESSIONID=A.n1; Path=/")
      .U16(0xA00B).Null()
      .Str("Content-Length").Str("5")
      .FromContainer();
}

Packet Chunk(std::string_view data, bool terminator = true) {
  Bytes b;
  b.U8(3).U16(static_cast<unsigned>(data.size())).Raw(data);
  if (terminator) b.U8(0);
  return b.FromContainer();
}

Packet End(unsigned reuse) { return Bytes().U8(5).U8(reuse).FromContainer(); }
Packet GetBody(unsigned n) { return Bytes().U8(6).U16(n).FromContainer(); }
Packet CPong() { return Packet{'A', 'B', 0, 1, 9}; }

TEST(AjpResponseTest, SendHeaders) {
  Packet in = SendHeaders();
  Read r = ReadPacket(in);
  ASSERT_EQ(1, r.rc) << r.error;
  EXPECT_EQ(STICKY_AJP_SEND_HEADERS, r.packet.type);
  EXPECT_EQ(in.size(), r.packet.size);
  EXPECT_EQ(200, r.packet.status);
  EXPECT_EQ("OK", Text(r.packet.reason));
  EXPECT_EQ(5u, r.packet.nheaders);
  EXPECT_EQ("Content-Type: text/html\nX-Custom: a b\nSet-Cookie: JSESSIONID=A.n1; Path=/\n"
            "WWW-Authenticate: \nContent-Length: 5\n",
            Headers(in, r.packet));
}

TEST(AjpResponseTest, EveryResponseHeaderCode) {
  const char* names[] = {"Content-Type", "Content-Language", "Content-Length", "Date",
                         "Last-Modified", "Location", "Set-Cookie", "Set-Cookie2",
                         "Servlet-Engine", "Status", "WWW-Authenticate"};
  Bytes b;
  b.U8(4).U16(404).Null().U16(11);
  std::string expected;
  for (unsigned i = 0; i < 11; ++i) {
    b.U16(0xA001 + i).Str(std::to_string(i));
    expected += std::string(names[i]) + ": " + std::to_string(i) + "\n";
  }
  Packet in = b.FromContainer();
  Read r = ReadPacket(in);
  ASSERT_EQ(1, r.rc) << r.error;
  EXPECT_EQ(404, r.packet.status);
  EXPECT_EQ("", Text(r.packet.reason));  // a null reason
  EXPECT_EQ(expected, Headers(in, r.packet));
}

TEST(AjpResponseTest, StatusBounds) {
  for (unsigned status : {100u, 999u, 99u, 1000u, 0u, 0xFFFFu}) {
    Read r = ReadPacket(Bytes().U8(4).U16(status).Str("").U16(0).FromContainer());
    EXPECT_EQ(status >= 100 && status <= 999 ? 1 : -1, r.rc) << status;
    if (r.rc < 0) {
      EXPECT_EQ("AJP SEND_HEADERS status " + std::to_string(status) + " is not in 100..999",
                r.error);
    }
  }
}

TEST(AjpResponseTest, BodyChunks) {
  for (bool terminator : {true, false}) {
    SCOPED_TRACE(terminator);
    Packet in = Chunk("hello", terminator);
    Read r = ReadPacket(in);
    ASSERT_EQ(1, r.rc) << r.error;
    EXPECT_EQ(STICKY_AJP_SEND_BODY_CHUNK, r.packet.type);
    EXPECT_EQ("hello", Text(r.packet.body));
    EXPECT_EQ(in.data() + 7, reinterpret_cast<const unsigned char*>(r.packet.body.data));
    EXPECT_EQ(terminator ? 13u : 12u, r.packet.size);
    r = ReadPacket(Chunk("", terminator));
    ASSERT_EQ(1, r.rc) << r.error;
    EXPECT_EQ(0u, r.packet.body.len);  // a flush
  }
}

TEST(AjpResponseTest, EndGetBodyAndCPong) {
  Read r = ReadPacket(End(1));
  ASSERT_EQ(1, r.rc) << r.error;
  EXPECT_EQ(STICKY_AJP_END_RESPONSE, r.packet.type);
  EXPECT_EQ(1, r.packet.reuse);
  EXPECT_EQ(0, ReadPacket(End(0)).packet.reuse);
  EXPECT_EQ(1, ReadPacket(End(0x80)).packet.reuse);
  r = ReadPacket(GetBody(8186));
  ASSERT_EQ(1, r.rc) << r.error;
  EXPECT_EQ(STICKY_AJP_GET_BODY_CHUNK, r.packet.type);
  EXPECT_EQ(8186u, r.packet.requested);
  r = ReadPacket(CPong());
  ASSERT_EQ(1, r.rc) << r.error;
  EXPECT_EQ(STICKY_AJP_CPONG, r.packet.type);
  EXPECT_EQ(5u, r.packet.size);
}

TEST(AjpResponseTest, OnlyTheFirstPacketIsRead) {
  Packet two = Join({Chunk("ab"), End(1)});
  Read r = ReadPacket(two);
  ASSERT_EQ(1, r.rc);
  EXPECT_EQ(10u, r.packet.size);
}

TEST(AjpResponseTest, PartialPacketsWantMore) {
  for (const Packet& in : {SendHeaders(), Chunk("hello"), End(1), GetBody(10), CPong()}) {
    for (std::size_t n = 0; n < in.size(); ++n) {
      EXPECT_EQ(0, ReadPacket(Packet(in.begin(), in.begin() + n)).rc) << n;
    }
  }
}

TEST(AjpResponseTest, PacketOfExactlyMaxPacketPasses) {
  for (std::size_t max : {std::size_t{STICKY_AJP_MIN_PACKET}, std::size_t{STICKY_AJP_MAX_PACKET}}) {
    SCOPED_TRACE(max);
    std::string data(max - 8, 'd');  // header 4, type 1, length 2, NUL 1
    Read r = ReadPacket(Chunk(data), max);
    ASSERT_EQ(1, r.rc) << r.error;
    EXPECT_EQ(max, r.packet.size);
    r = ReadPacket(Chunk(data + "d"), max);
    EXPECT_EQ(-1, r.rc);
    EXPECT_EQ("AJP packet of " + std::to_string(max + 1) + " bytes exceeds max_packet_size " +
                  std::to_string(max),
              r.error);
  }
  // More than 65536 is not a packet size: the limit stays 65536.
  EXPECT_EQ(-1, ReadPacket(Packet{'A', 'B', 0xFF, 0xFF}, 100000).rc);
}

struct BadPacket {
  const char* what;
  Packet bytes;
  const char* error;
  const char* stream_first = "";  // what the body stream gives before the error
};

std::vector<BadPacket> BadPackets() {
  return {
      {"http", Bytes().Raw("HTTP/1.1 200 OK\r\n").bytes(),
       "invalid AJP packet magic byte 0x48, expected \"AB\""},
      {"magic 2", Packet{'A', 'C', 0, 1, 9}, "invalid AJP packet magic byte 0x43, expected \"AB\""},
      {"our own magic", Packet{0x12, 0x34, 0, 1, 9},
       "invalid AJP packet magic byte 0x12, expected \"AB\""},
      {"empty", Packet{'A', 'B', 0, 0}, "empty AJP packet"},
      {"over limit", Packet{'A', 'B', 0xFF, 0xFB},
       "AJP packet of 65535 bytes exceeds max_packet_size 8192"},
      {"unknown type", Bytes().U8(7).FromContainer(), "unknown AJP packet type 0x07"},
      {"request type", Bytes().U8(2).FromContainer(), "unknown AJP packet type 0x02"},
      {"headers truncated", Bytes().U8(4).U16(200).Str("OK").FromContainer(),
       "truncated AJP SEND_HEADERS packet"},
      {"no status", Bytes().U8(4).U8(2).FromContainer(), "truncated AJP SEND_HEADERS packet"},
      {"reason without NUL", Bytes().U8(4).U16(200).U16(2).Raw("OK").U8(1).U16(0).FromContainer(),
       "AJP SEND_HEADERS string of 2 bytes lacks its NUL terminator"},
      {"reason past packet", Bytes().U8(4).U16(200).U16(100).Raw("OK").FromContainer(),
       "AJP SEND_HEADERS string of 100 bytes runs past its packet"},
      {"header past packet", Bytes().U8(4).U16(200).Str("OK").U16(2).U16(0xA001).Str("a")
                                 .FromContainer(),
       "truncated AJP SEND_HEADERS packet"},
      {"value missing", Bytes().U8(4).U16(200).Str("OK").U16(1).Str("X").FromContainer(),
       "truncated AJP SEND_HEADERS packet"},
      {"trailing after headers", Bytes().U8(4).U16(200).Str("OK").U16(0).U8(0).FromContainer(),
       "AJP SEND_HEADERS packet has 1 trailing byte"},
      {"unknown header code", Bytes().U8(4).U16(200).Str("").U16(1).U16(0xA00C).Str("x")
                                  .FromContainer(),
       "unknown AJP response header code 0xA00C"},
      {"header code 0", Bytes().U8(4).U16(200).Str("").U16(1).U16(0xA000).Str("x")
                            .FromContainer(),
       "unknown AJP response header code 0xA000"},
      {"null header name", Bytes().U8(4).U16(200).Str("").U16(1).Null().Str("x").FromContainer(),
       "AJP response header with a null name"},
      {"chunk truncated", Bytes().U8(3).U8(0).FromContainer(),
       "truncated AJP SEND_BODY_CHUNK packet"},
      {"chunk past packet", Bytes().U8(3).U16(10).Raw("abc").FromContainer(),
       "AJP SEND_BODY_CHUNK of 10 bytes runs past its packet"},
      {"chunk trailing", Bytes().U8(3).U16(1).Raw("a").U8(0).U8(0).FromContainer(),
       "AJP SEND_BODY_CHUNK packet has 1 trailing byte"},
      {"chunk bad terminator", Bytes().U8(3).U16(1).Raw("a").U8('x').FromContainer(),
       "AJP SEND_BODY_CHUNK ends with 0x78 instead of its NUL terminator", "DATA a\n"},
      // ajp_response_fuzz: the stream gave FLUSH before it checked the
      // terminator, so a packet the reader refuses still flushed.
      {"flush bad terminator", Bytes().U8(3).U16(0).U8(0x15).FromContainer(),
       "AJP SEND_BODY_CHUNK ends with 0x15 instead of its NUL terminator"},
      {"end truncated", Bytes().U8(5).FromContainer(), "truncated AJP END_RESPONSE packet"},
      {"end trailing", Bytes().U8(5).U8(1).U8(0).U8(0).FromContainer(),
       "AJP END_RESPONSE packet has 2 trailing bytes"},
      {"get body truncated", Bytes().U8(6).U8(1).FromContainer(),
       "truncated AJP GET_BODY_CHUNK packet"},
      {"get body trailing", Bytes().U8(6).U16(1).U8(0).FromContainer(),
       "AJP GET_BODY_CHUNK packet has 1 trailing byte"},
      {"cpong trailing", Bytes().U8(9).U8(0).FromContainer(),
       "AJP CPONG packet has 1 trailing byte"},
  };
}

TEST(AjpResponseTest, EveryDefectIsAnError) {
  for (const BadPacket& bad : BadPackets()) {
    Read r = ReadPacket(bad.bytes);
    EXPECT_EQ(-1, r.rc) << bad.what;
    EXPECT_EQ(bad.error, r.error) << bad.what;
  }
}

TEST(AjpResponseTest, HeadersOfOtherPacketsAreEmpty) {
  Packet in = Chunk("x");
  Read r = ReadPacket(in);
  ASSERT_EQ(1, r.rc);
  EXPECT_EQ("", Headers(in, r.packet));
}

// --- the body stream -------------------------------------------------------

// The events of `in` fed in the pieces that `cuts` (ascending offsets)
// make, one line each; consecutive DATA are merged, as their boundaries
// depend on the pieces. Checks every call's contract on the way.
std::string Stream(const Packet& in, const std::vector<std::size_t>& cuts,
                   std::size_t max_packet = STICKY_AJP_MIN_PACKET) {
  sticky_ajp_stream_t s;
  sticky_ajp_stream_init(&s, max_packet);
  std::string log, data;
  std::size_t start = 0;
  for (std::size_t i = 0; i <= cuts.size(); ++i) {
    std::size_t end = i < cuts.size() ? cuts[i] : in.size();
    // A copy of exactly the piece: ASan sees any read past it.
    Packet piece(in.begin() + start, in.begin() + end);
    start = end;
    std::size_t pos = 0;
    do {
      sticky_ajp_event_t ev;
      sticky_error_t err{};
      const unsigned char* at = piece.data() + pos;
      std::size_t len = piece.size() - pos;
      sticky_ajp_stream_next(&s, at, len, &ev, &err);
      EXPECT_LE(ev.used, len);
      pos += ev.used;
      if (ev.event == STICKY_AJP_EV_DATA) {
        EXPECT_GT(ev.data.len, 0u);
        EXPECT_GE(reinterpret_cast<const unsigned char*>(ev.data.data), at);
        EXPECT_LE(reinterpret_cast<const unsigned char*>(ev.data.data) + ev.data.len, at + ev.used);
        data += Text(ev.data);
        continue;
      }
      if (ev.event == STICKY_AJP_EV_MORE) {
        EXPECT_EQ(len, ev.used);
        continue;
      }
      if (ev.event != STICKY_AJP_EV_ERROR) {
        EXPECT_GT(ev.used, 0u);  // an event ends with its last byte
      }
      if (!data.empty()) log += "DATA " + data + "\n";
      data.clear();
      switch (ev.event) {
        case STICKY_AJP_EV_FLUSH: log += "FLUSH\n"; break;
        case STICKY_AJP_EV_GET_BODY: log += "GET_BODY " + std::to_string(ev.requested) + "\n"; break;
        case STICKY_AJP_EV_END: log += "END " + std::to_string(ev.reuse) + "\n"; break;
        case STICKY_AJP_EV_ERROR: return log + "ERROR " + err.message + "\n";
        default: ADD_FAILURE() << "event " << ev.event;
      }
    } while (pos < piece.size());
  }
  if (!data.empty()) log += "DATA " + data + "\n";
  return log;
}

Packet BodyResponse() {
  return Join({Chunk("hello"), Chunk(""), GetBody(8186), Chunk(" world", false), Chunk("", false),
               Chunk("!"), End(1)});
}

TEST(AjpStreamTest, WholeResponse) {
  EXPECT_EQ("DATA hello\nFLUSH\nGET_BODY 8186\nDATA  world\nFLUSH\nDATA !\nEND 1\n",
            Stream(BodyResponse(), {}));
  EXPECT_EQ("END 0\n", Stream(End(0), {}));
}

TEST(AjpStreamTest, EachCallStopsAtItsEvent) {
  Packet in = Join({GetBody(5), End(1)});
  sticky_ajp_stream_t s;
  sticky_ajp_stream_init(&s, STICKY_AJP_MIN_PACKET);
  sticky_ajp_event_t ev;
  sticky_error_t err;
  sticky_ajp_stream_next(&s, in.data(), in.size(), &ev, &err);
  EXPECT_EQ(STICKY_AJP_EV_GET_BODY, ev.event);
  EXPECT_EQ(7u, ev.used);
  sticky_ajp_stream_next(&s, in.data() + 7, in.size() - 7, &ev, &err);
  EXPECT_EQ(STICKY_AJP_EV_END, ev.event);
  EXPECT_EQ(6u, ev.used);
  sticky_ajp_stream_next(&s, in.data(), 0, &ev, &err);
  EXPECT_EQ(STICKY_AJP_EV_MORE, ev.event);
}

TEST(AjpStreamTest, EverySplitGivesTheSameEvents) {
  Packet in = BodyResponse();
  std::string whole = Stream(in, {});
  for (std::size_t i = 0; i <= in.size(); ++i) {
    for (std::size_t j = i; j <= in.size(); ++j) {
      ASSERT_EQ(whole, Stream(in, {i, j})) << "cut at " << i << " and " << j;
    }
  }
  std::vector<std::size_t> every_byte;
  for (std::size_t i = 1; i < in.size(); ++i) every_byte.push_back(i);
  EXPECT_EQ(whole, Stream(in, every_byte));
}

TEST(AjpStreamTest, ErrorsInEveryPiece) {
  std::vector<std::pair<Packet, std::string>> cases = {
      {Join({Chunk("ab"), SendHeaders()}),
       "DATA ab\nERROR AJP SEND_HEADERS packet out of order in a response body\n"},
      {Join({Chunk("ab"), CPong()}), "DATA ab\nERROR AJP CPONG packet out of order in a response body\n"},
      {Join({End(1), Chunk("x")}), "END 1\nERROR AJP data after END_RESPONSE\n"},
      {Join({Chunk(""), Packet{'A', 'X'}}),
       "FLUSH\nERROR invalid AJP packet magic byte 0x58, expected \"AB\"\n"},
      {Packet{'A', 'B', 0x20, 0x01}, "ERROR AJP packet of 8197 bytes exceeds max_packet_size 8192\n"},
      {Join({Chunk("x", false), Packet{'A', 'B', 0, 0}}), "DATA x\nERROR empty AJP packet\n"},
  };
  for (const BadPacket& bad : BadPackets()) {
    Packet p = bad.bytes;
    if (p.size() > 4 && (p[4] == STICKY_AJP_SEND_HEADERS || p[4] == STICKY_AJP_CPONG)) continue;
    cases.push_back({p, std::string(bad.stream_first) + "ERROR " + bad.error + "\n"});
  }
  for (const auto& [in, expected] : cases) {
    std::string whole = Stream(in, {});
    EXPECT_EQ(expected, whole);
    for (std::size_t i = 0; i <= in.size(); ++i) ASSERT_EQ(whole, Stream(in, {i})) << i;
  }
}

TEST(AjpStreamTest, AfterAnErrorEveryCallFails) {
  Packet bad = {'X'};
  sticky_ajp_stream_t s;
  sticky_ajp_stream_init(&s, STICKY_AJP_MIN_PACKET);
  sticky_ajp_event_t ev;
  sticky_error_t err;
  sticky_ajp_stream_next(&s, bad.data(), 1, &ev, &err);
  EXPECT_EQ(STICKY_AJP_EV_ERROR, ev.event);
  Packet good = End(1);
  sticky_ajp_stream_next(&s, good.data(), good.size(), &ev, &err);
  EXPECT_EQ(STICKY_AJP_EV_ERROR, ev.event);
  EXPECT_EQ(0u, ev.used);
}

TEST(AjpStreamTest, LargestChunkAtEveryLimit) {
  for (std::size_t max : {std::size_t{STICKY_AJP_MIN_PACKET}, std::size_t{STICKY_AJP_MAX_PACKET}}) {
    std::string data(max - 8, 'd');
    EXPECT_EQ("DATA " + data + "\nEND 1\n", Stream(Join({Chunk(data), End(1)}), {100}, max));
    EXPECT_EQ("ERROR AJP packet of " + std::to_string(max + 1) +
                  " bytes exceeds max_packet_size " + std::to_string(max) + "\n",
              Stream(Chunk(data + "d"), {}, max));
  }
}

}  // namespace
