// libFuzzer target: FORWARD_REQUEST encoding (src/ajp/request.h) of any
// strings. Every string, the header and attribute arrays and the packet
// buffer are heap blocks of exactly their size, so ASan sees any access
// past them. The packet is read back by the unit tests' decoder
// (t/unit/ajp_decoder.h) and compared with what the protocol's rules say.
//
// Input layout: bytes 0-1 a mask of absent fields (data == NULL); byte 2
// is_ssl (bit 0), activation (bits 1-2; 3 stands for an invalid value),
// ssl_key_size present (bit 3), server_port above 0xFFFF (bit 7); bytes 3-4
// server_port; bytes 5-6 ssl_key_size; byte 7 max_packet. The rest is cut
// at '\n' into the 15 string fields, route, secret, then name/value pairs:
// a name starting with '@' makes an attribute, any other a header. A piece
// "\x01" H L C stands for H * 256 + L bytes C, to reach the size limits.
//
//   make fuzz FUZZ_TARGETS=ajp_request
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string_view>
#include <vector>

#include "../t/unit/ajp_decoder.h"
#include "c_api/sticky_core.h"

namespace {

constexpr std::size_t kFields = 15;
constexpr std::size_t kMaxPairs = 64;
// JK_LB_ACTIVATION with its 3-letter value, and the terminator.
constexpr std::size_t kActivationBytes = 1 + (3 + 16) + (3 + 3) + 1;

void Check(bool ok) {
  if (!ok) std::abort();
}

// Owns the exact-size copies every sticky_str_t of the request points to.
class Strings {
 public:
  sticky_str_t Make(std::string_view piece) {
    std::size_t n = piece.size();
    char fill = 'x';
    bool expand = n >= 3 && piece[0] == '\x01';
    if (expand) {
      fill = n >= 4 ? piece[3] : 'x';
      n = static_cast<unsigned char>(piece[1]) << 8 | static_cast<unsigned char>(piece[2]);
    }
    blocks_.emplace_back(new char[n]);
    char* p = blocks_.back().get();
    if (expand) {
      std::memset(p, fill, n);
    } else if (n > 0) {
      std::memcpy(p, piece.data(), n);
    }
    return sticky_str_t{p, n};
  }

 private:
  std::vector<std::unique_ptr<char[]>> blocks_;
};

std::vector<std::string_view> Split(const char* p, std::size_t n) {
  std::vector<std::string_view> pieces;
  const char* end = p + n;
  while (true) {
    const char* nl = static_cast<const char*>(std::memchr(p, '\n', end - p));
    if (nl == nullptr) break;
    pieces.emplace_back(p, nl - p);
    p = nl + 1;
  }
  pieces.emplace_back(p, end - p);
  return pieces;
}

sticky_str_t* Field(sticky_ajp_request_t* r, std::size_t i) {
  sticky_str_t* fields[kFields] = {
      &r->method,      &r->protocol,   &r->uri,         &r->remote_addr,  &r->remote_host,
      &r->server_name, &r->query_string, &r->remote_user, &r->auth_type,  &r->ssl_cert,
      &r->ssl_cipher,  &r->ssl_session, &r->ssl_protocol, &r->remote_port, &r->local_addr,
  };
  return fields[i];
}

struct Input {
  sticky_ajp_request_t request{};
  sticky_str_t route{nullptr, 0};
  sticky_str_t secret{nullptr, 0};
  int activation = STICKY_ACTIVE;
  std::size_t max_packet = 0;
  std::unique_ptr<sticky_ajp_pair_t[]> headers;
  std::unique_ptr<sticky_ajp_pair_t[]> attributes;
  Strings strings;
};

void ReadFixed(const std::uint8_t* d, Input* in) {
  sticky_ajp_request_t& r = in->request;
  r.is_ssl = d[2] & 1 ? d[2] : 0;
  int activation = (d[2] >> 1) & 3;
  in->activation = activation == 3 ? 7 : activation;
  r.server_port = (d[3] << 8 | d[4]) + (d[2] & 0x80 ? 0x10000u : 0);
  r.ssl_key_size = d[2] & 8 ? d[5] << 8 | d[6] : -1;
  in->max_packet = d[7] & 0x80 ? std::size_t{STICKY_AJP_MIN_PACKET} << (d[7] & 3) : d[7] * 64u;
}

void ReadPairs(const std::vector<std::string_view>& pieces, std::size_t first, Input* in) {
  std::vector<sticky_ajp_pair_t> headers, attributes;
  for (std::size_t i = first; i + 1 < pieces.size() && i < first + 2 * kMaxPairs; i += 2) {
    bool attribute = !pieces[i].empty() && pieces[i][0] == '@';
    sticky_ajp_pair_t pair = {in->strings.Make(pieces[i].substr(attribute ? 1 : 0)),
                              in->strings.Make(pieces[i + 1])};
    (attribute ? attributes : headers).push_back(pair);
  }
  in->headers.reset(new sticky_ajp_pair_t[headers.size()]);
  std::copy(headers.begin(), headers.end(), in->headers.get());
  in->attributes.reset(new sticky_ajp_pair_t[attributes.size()]);
  std::copy(attributes.begin(), attributes.end(), in->attributes.get());
  in->request.headers = in->headers.get();
  in->request.nheaders = headers.size();
  in->request.attributes = in->attributes.get();
  in->request.nattributes = attributes.size();
}

void ReadStrings(const std::uint8_t* d, const std::vector<std::string_view>& pieces, Input* in) {
  unsigned absent = d[0] | d[1] << 8;
  auto piece = [&](std::size_t i) { return i < pieces.size() ? pieces[i] : std::string_view(); };
  for (std::size_t i = 0; i < kFields; ++i) {
    if (!(absent >> i & 1)) *Field(&in->request, i) = in->strings.Make(piece(i));
  }
  if (!(absent >> 15 & 1)) in->route = in->strings.Make(piece(kFields));
  in->secret = in->strings.Make(piece(kFields + 1));
  ReadPairs(pieces, kFields + 2, in);
}

// What the protocol's rules say about sending the request decoding to `m`
// (every string of the request is in it).
bool Sendable(const ajp_test::ForwardRequest& m) {
  auto too_long = [](const ajp_test::Str& s) { return s && s->size() > 0xFFFE; };
  for (const ajp_test::Str* s : {&m.protocol, &m.uri, &m.remote_addr, &m.remote_host,
                                 &m.server_name}) {
    if (too_long(*s)) return false;
  }
  for (const ajp_test::Field& h : m.headers) {
    bool looks_coded = h.code == 0 && h.name && h.name->size() >> 8 == 0xA0;
    if (too_long(h.name) || too_long(h.value) || looks_coded) return false;
  }
  for (const ajp_test::Field& a : m.attributes) {
    if (too_long(a.name) || too_long(a.value)) return false;
  }
  return ajp_test::EncodedSize(m) - kActivationBytes <= STICKY_AJP_MAX_PACKET;
}

std::size_t MemberBytes(sticky_str_t route, sticky_str_t secret) {
  return (route.len ? 4 + route.len : 0) + (secret.len ? 4 + secret.len : 0) + kActivationBytes;
}

void CheckFinish(const Input& in, std::size_t part) {
  std::size_t member = sticky_ajp_member_bytes(in.route, in.secret);
  Check(member == MemberBytes(in.route, in.secret));
  std::unique_ptr<unsigned char[]> buf(new unsigned char[part + member]);
  std::memset(buf.get(), 0xA5, part + member);
  sticky_ajp_encode_request(&in.request, buf.get());
  for (std::size_t i = part; i < part + member; ++i) Check(buf[i] == 0xA5);

  std::vector<unsigned char> encoded(buf.get(), buf.get() + part + member);
  std::size_t limit = in.max_packet < STICKY_AJP_MAX_PACKET ? in.max_packet : STICKY_AJP_MAX_PACKET;
  bool fits = in.route.len <= 0xFFFE && in.secret.len <= 0xFFFE && part + member <= limit;
  std::size_t size = sticky_ajp_finish_request(buf.get(), part, in.route, in.secret,
                                               in.activation, in.max_packet);
  if (!fits) {
    // Refused: nothing written.
    Check(size == 0 && std::memcmp(encoded.data(), buf.get(), part + member) == 0);
    return;
  }
  Check(size == part + member);
  auto decoded = ajp_test::Decode(buf.get(), size);
  auto expected = ajp_test::Expect(in.request, in.route, in.secret, in.activation);
  Check(ajp_test::Describe(decoded) == ajp_test::Describe(expected));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 8) return 0;
  Input in;
  ReadFixed(data, &in);
  ReadStrings(data, Split(reinterpret_cast<const char*>(data) + 8, size - 8), &in);

  sticky_str_t none{"", 0};
  ajp_test::ForwardRequest model = ajp_test::Expect(in.request, none, none, STICKY_ACTIVE);
  std::size_t part = sticky_ajp_request_bytes(&in.request);
  if (!Sendable(model)) {
    Check(part == static_cast<std::size_t>(-1));
    return 0;
  }
  Check(part == ajp_test::EncodedSize(model) - kActivationBytes);
  CheckFinish(in, part);
  return 0;
}
