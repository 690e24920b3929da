// A test-only reader of the FORWARD_REQUEST packets the codec writes, the
// way Tomcat reads them, and the decoded form a request must have by the
// protocol's rules (written here independently of src/ajp/). Both print as
// one text, so a test or a fuzz target compares Describe(Decode(packet))
// with Describe(Expect(request)).
// Shared by t/unit/ajp_codec_test.cc and fuzz/ajp_request_fuzz.cc.
#ifndef STICKY_T_UNIT_AJP_DECODER_H
#define STICKY_T_UNIT_AJP_DECODER_H

#include <cctype>
#include <cstddef>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "c_api/sticky_core.h"

namespace ajp_test {

using Str = std::optional<std::string>;  // nullopt: a null string (0xFFFF)

struct Field {
  unsigned code = 0;  // header: 0xA0nn or 0 (string name); attribute: its byte
  Str name;           // string header names, req_attribute names
  Str value;
  int number = -1;    // ssl_key_size
};

struct ForwardRequest {
  unsigned method = 0;
  Str protocol, uri, remote_addr, remote_host, server_name;
  unsigned server_port = 0;
  unsigned is_ssl = 0;
  std::vector<Field> headers;
  std::vector<Field> attributes;
};

// Methods and request header names with their codes, as Tomcat numbers
// them.
inline const std::vector<std::pair<std::string, unsigned>>& MethodCodes() {
  static const std::vector<std::pair<std::string, unsigned>> codes = {
      {"OPTIONS", 1},   {"GET", 2},          {"HEAD", 3},         {"POST", 4},
      {"PUT", 5},       {"DELETE", 6},       {"TRACE", 7},        {"PROPFIND", 8},
      {"PROPPATCH", 9}, {"MKCOL", 10},       {"COPY", 11},        {"MOVE", 12},
      {"LOCK", 13},     {"UNLOCK", 14},      {"ACL", 15},         {"REPORT", 16},
      {"VERSION-CONTROL", 17}, {"CHECKIN", 18}, {"CHECKOUT", 19}, {"UNCHECKOUT", 20},
      {"SEARCH", 21},   {"MKWORKSPACE", 22}, {"UPDATE", 23},      {"LABEL", 24},
      {"MERGE", 25},    {"BASELINE-CONTROL", 26}, {"MKACTIVITY", 27},
  };
  return codes;
}

inline const std::vector<std::pair<std::string, unsigned>>& HeaderCodes() {
  static const std::vector<std::pair<std::string, unsigned>> codes = {
      {"accept", 0xA001},         {"accept-charset", 0xA002}, {"accept-encoding", 0xA003},
      {"accept-language", 0xA004}, {"authorization", 0xA005}, {"connection", 0xA006},
      {"content-type", 0xA007},   {"content-length", 0xA008}, {"cookie", 0xA009},
      {"cookie2", 0xA00A},        {"host", 0xA00B},           {"pragma", 0xA00C},
      {"referer", 0xA00D},        {"user-agent", 0xA00E},
  };
  return codes;
}

inline Str ToStr(sticky_str_t s) {
  if (s.data == nullptr) return std::nullopt;
  return std::string(s.data, s.len);
}

inline std::string Quote(const Str& s) {
  if (!s) return "null";
  std::string out = "\"";
  for (unsigned char c : *s) {
    char hex[8];
    std::snprintf(hex, sizeof(hex), "\\x%02X", c);
    out += std::isprint(c) && c != '"' && c != '\\' ? std::string(1, static_cast<char>(c)) : hex;
  }
  return out + "\"";
}

inline std::string DescribeField(const Field& f) {
  char code[16];
  std::snprintf(code, sizeof(code), "0x%04X", f.code);
  std::string out = code;
  if (f.name) out += " " + Quote(f.name);
  if (f.number >= 0) return out + " = " + std::to_string(f.number);
  return out + " = " + Quote(f.value);
}

inline std::string Describe(const std::optional<ForwardRequest>& r) {
  if (!r) return "(not a FORWARD_REQUEST)";
  std::string out = "method " + std::to_string(r->method) + "\nprotocol " + Quote(r->protocol) +
                    "\nuri " + Quote(r->uri) + "\nremote_addr " + Quote(r->remote_addr) +
                    "\nremote_host " + Quote(r->remote_host) + "\nserver_name " +
                    Quote(r->server_name) + "\nport " + std::to_string(r->server_port) +
                    "\nssl " + std::to_string(r->is_ssl) + "\n";
  for (const Field& h : r->headers) out += "header " + DescribeField(h) + "\n";
  for (const Field& a : r->attributes) out += "attribute " + DescribeField(a) + "\n";
  return out;
}

// Reads fields as Tomcat's AjpMessage does, failing where Tomcat would
// throw, and on anything Tomcat would let pass but our encoder never writes.
class PacketReader {
 public:
  PacketReader(const unsigned char* p, std::size_t n) : p_(p), n_(n) {}

  bool Byte(unsigned* v) {
    if (pos_ + 1 > n_) return false;
    *v = p_[pos_++];
    return true;
  }
  bool Int16(unsigned* v) {
    if (pos_ + 2 > n_) return false;
    *v = p_[pos_] << 8 | p_[pos_ + 1];
    pos_ += 2;
    return true;
  }
  bool String(Str* s) {
    unsigned len;
    if (!Int16(&len)) return false;
    if (len == 0xFFFF) {
      s->reset();
      return true;
    }
    if (pos_ + len + 1 > n_ || p_[pos_ + len] != 0) return false;
    *s = std::string(reinterpret_cast<const char*>(p_ + pos_), len);
    pos_ += len + 1;
    return true;
  }
  bool PeekInt16(unsigned* v) {
    std::size_t saved = pos_;
    bool ok = Int16(v);
    pos_ = saved;
    return ok;
  }
  bool AtEnd() const { return pos_ == n_; }

 private:
  const unsigned char* p_;
  std::size_t n_;
  std::size_t pos_ = 0;
};

inline bool DecodeHeader(PacketReader& r, Field* h) {
  unsigned peek;
  if (!r.PeekInt16(&peek)) return false;
  if ((peek & 0xFF00) == 0xA000) {
    r.Int16(&h->code);
  } else if (!r.String(&h->name)) {
    return false;
  }
  return r.String(&h->value);
}

inline bool DecodeAttribute(PacketReader& r, unsigned code, Field* a) {
  a->code = code;
  if (code == 0x0B) {
    unsigned n;
    if (!r.Int16(&n)) return false;
    a->number = static_cast<int>(n);
    return true;
  }
  if (code == 0x0A && !r.String(&a->name)) return false;
  return r.String(&a->value);
}

inline bool DecodeFixed(PacketReader& r, ForwardRequest* out) {
  unsigned magic, len, prefix;
  return r.Int16(&magic) && magic == 0x1234 && r.Int16(&len) && r.Byte(&prefix) && prefix == 2 &&
         r.Byte(&out->method) && r.String(&out->protocol) && r.String(&out->uri) &&
         r.String(&out->remote_addr) && r.String(&out->remote_host) &&
         r.String(&out->server_name) && r.Int16(&out->server_port) && r.Byte(&out->is_ssl);
}

// The whole packet p[0, n), which must be exactly one FORWARD_REQUEST.
inline std::optional<ForwardRequest> Decode(const unsigned char* p, std::size_t n) {
  if (n < 4 || (p[2] << 8 | p[3]) + 4u != n) return std::nullopt;
  PacketReader r(p, n);
  ForwardRequest out;
  unsigned nheaders = 0, code = 0;
  if (!DecodeFixed(r, &out) || !r.Int16(&nheaders)) return std::nullopt;
  out.headers.resize(nheaders);
  for (Field& h : out.headers) {
    if (!DecodeHeader(r, &h)) return std::nullopt;
  }
  while (r.Byte(&code) && code != 0xFF) {
    out.attributes.emplace_back();
    if (!DecodeAttribute(r, code, &out.attributes.back())) return std::nullopt;
  }
  if (code != 0xFF || !r.AtEnd()) return std::nullopt;
  return out;
}

inline unsigned ExpectedMethod(sticky_str_t method) {
  for (const auto& [name, code] : MethodCodes()) {
    if (ToStr(method) == name) return code;
  }
  return 0xFF;
}

inline Field ExpectedHeader(const sticky_ajp_pair_t& pair) {
  Field h;
  h.value = ToStr(pair.value);
  std::string lower = ToStr(pair.name).value_or("");
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (const auto& [name, code] : HeaderCodes()) {
    if (pair.name.data != nullptr && lower == name) h.code = code;
  }
  if (h.code == 0) h.name = ToStr(pair.name);
  return h;
}

inline void ExpectAttribute(std::vector<Field>* out, unsigned code, Str name, Str value) {
  if (!value) return;
  Field a;
  a.code = code;
  a.name = std::move(name);
  a.value = std::move(value);
  out->push_back(std::move(a));
}

// What Decode() must give for `req` finished with the member's part.
inline ForwardRequest Expect(const sticky_ajp_request_t& req, sticky_str_t route,
                             sticky_str_t secret, int activation) {
  ForwardRequest r;
  r.method = ExpectedMethod(req.method);
  r.protocol = ToStr(req.protocol);
  r.uri = ToStr(req.uri);
  r.remote_addr = ToStr(req.remote_addr);
  r.remote_host = ToStr(req.remote_host);
  r.server_name = ToStr(req.server_name);
  r.server_port = req.server_port & 0xFFFF;
  r.is_ssl = req.is_ssl != 0;
  for (std::size_t i = 0; i < req.nheaders; ++i) r.headers.push_back(ExpectedHeader(req.headers[i]));
  std::vector<Field>& a = r.attributes;
  ExpectAttribute(&a, 0x03, std::nullopt, ToStr(req.remote_user));
  ExpectAttribute(&a, 0x04, std::nullopt, ToStr(req.auth_type));
  ExpectAttribute(&a, 0x05, std::nullopt, ToStr(req.query_string));
  ExpectAttribute(&a, 0x07, std::nullopt, ToStr(req.ssl_cert));
  ExpectAttribute(&a, 0x08, std::nullopt, ToStr(req.ssl_cipher));
  ExpectAttribute(&a, 0x09, std::nullopt, ToStr(req.ssl_session));
  if (req.ssl_key_size >= 0) {
    a.emplace_back();
    a.back().code = 0x0B;
    a.back().number = req.ssl_key_size & 0xFFFF;
  }
  if (r.method == 0xFF) ExpectAttribute(&a, 0x0D, std::nullopt, ToStr(req.method));
  ExpectAttribute(&a, 0x0A, "AJP_SSL_PROTOCOL", ToStr(req.ssl_protocol));
  ExpectAttribute(&a, 0x0A, "AJP_REMOTE_PORT", ToStr(req.remote_port));
  ExpectAttribute(&a, 0x0A, "AJP_LOCAL_ADDR", ToStr(req.local_addr));
  for (std::size_t i = 0; i < req.nattributes; ++i) {
    Field f;
    f.code = 0x0A;
    f.name = ToStr(req.attributes[i].name);
    f.value = ToStr(req.attributes[i].value);
    a.push_back(std::move(f));
  }
  if (route.len > 0) ExpectAttribute(&a, 0x06, std::nullopt, ToStr(route));
  if (secret.len > 0) ExpectAttribute(&a, 0x0C, std::nullopt, ToStr(secret));
  // Any other value is sent as stopped, as NamesOf() reads it.
  const char* activations[] = {"ACT", "DIS", "STP"};
  ExpectAttribute(&a, 0x0A, "JK_LB_ACTIVATION",
                  std::string(activation >= 0 && activation <= 2 ? activations[activation] : "STP"));
  return r;
}

// The bytes a packet decoding to `r` has, header and terminator included.
inline std::size_t EncodedSize(const ForwardRequest& r) {
  auto string = [](const Str& s) { return s ? 3 + s->size() : 2; };
  std::size_t n = 4 + 1 + 1 + string(r.protocol) + string(r.uri) + string(r.remote_addr) +
                  string(r.remote_host) + string(r.server_name) + 2 + 1 + 2;
  for (const Field& h : r.headers) n += (h.code ? 2 : string(h.name)) + string(h.value);
  for (const Field& a : r.attributes) {
    n += 1 + (a.code == 0x0B ? 2 : (a.code == 0x0A ? string(a.name) : 0) + string(a.value));
  }
  return n + 1;
}

}  // namespace ajp_test

#endif  // STICKY_T_UNIT_AJP_DECODER_H
