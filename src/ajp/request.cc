// Encoding the packets nginx sends (request.h).
//
// Each packet's layout is written once, as a template over its output: a
// Counter that adds up sizes and notes what cannot be sent, or a Writer
// that stores the bytes. Tomcat reads attributes in any order; ours is
// mod_jk's, except that route and secret come last, with the member's part.
#include "request.h"

#include <cstring>
#include <string_view>

#include "codes.h"
#include "wire.h"
#include "config/values.h"

namespace sticky::ajp {
namespace {

// The request's part may not exceed the largest packet.
constexpr std::size_t kPartLimit = STICKY_AJP_MAX_PACKET;

// Where counting saturates: far above any packet, far below overflow.
constexpr std::size_t kCountCap = static_cast<std::size_t>(-1) / 4;

std::string_view View(sticky_str_t s) { return std::string_view(s.data, s.len); }

constexpr sticky_str_t Literal(std::string_view s) { return sticky_str_t{s.data(), s.size()}; }

class Counter {
 public:
  void Byte(unsigned) { Add(1); }
  void Int16(std::size_t) { Add(2); }
  void String(sticky_str_t s) {
    if (s.data == nullptr) return Add(2);
    if (s.len > kMaxString) unsendable_ = true;
    Add(s.len < kCountCap ? 3 + s.len : kCountCap);
  }
  void Unsendable() { unsendable_ = true; }
  // Long lists stop early once nothing more can be sent.
  bool more() const { return !unsendable_ && bytes_ <= kPartLimit; }

  bool sendable() const { return !unsendable_; }
  std::size_t bytes() const { return bytes_; }

 private:
  void Add(std::size_t n) { bytes_ = bytes_ < kCountCap - n ? bytes_ + n : kCountCap; }

  std::size_t bytes_ = 0;
  bool unsendable_ = false;
};

// Writes into a buffer a Counter has sized.
class Writer {
 public:
  explicit Writer(unsigned char* p) : p_(p) {}

  void Byte(unsigned v) { *p_++ = static_cast<unsigned char>(v); }
  void Int16(std::size_t v) {
    PutInt16(p_, v);
    p_ += 2;
  }
  void String(sticky_str_t s) {
    if (s.data == nullptr) return Int16(kNullString);
    Int16(s.len);
    if (s.len > 0) std::memcpy(p_, s.data, s.len);
    p_ += s.len;
    *p_++ = 0;
  }
  void Unsendable() {}
  bool more() const { return true; }

 private:
  unsigned char* p_;
};

// An optional attribute, sent when present.
template <class Out>
void Attribute(Out& out, unsigned char code, sticky_str_t value) {
  if (value.data == nullptr) return;
  out.Byte(code);
  out.String(value);
}

template <class Out>
void RequestAttribute(Out& out, sticky_str_t name, sticky_str_t value) {
  out.Byte(kAttrRequest);
  out.String(name);
  out.String(value);
}

// A named request attribute, sent when present.
template <class Out>
void NamedAttribute(Out& out, std::string_view name, sticky_str_t value) {
  if (value.data != nullptr) RequestAttribute(out, Literal(name), value);
}

// A code when the name has one. A string name whose length is 0xA0nn would
// be read by the container as code nn.
template <class Out>
void HeaderName(Out& out, sticky_str_t name) {
  unsigned code = RequestHeaderCode(View(name));
  if (code != 0) return out.Int16(code);
  if (name.len >> 8 == kCodedHeader) out.Unsendable();
  out.String(name);
}

template <class Out>
void Fixed(const sticky_ajp_request_t& r, unsigned char method, Out& out) {
  out.Int16(kToContainer);
  out.Int16(0);  // the length: sticky_ajp_finish_request() sets it
  out.Byte(kForwardRequest);
  out.Byte(method);
  out.String(r.protocol);
  out.String(r.uri);
  out.String(r.remote_addr);
  out.String(r.remote_host);
  out.String(r.server_name);
  out.Int16(r.server_port);
  out.Byte(r.is_ssl != 0);
  out.Int16(r.nheaders);
}

template <class Out>
void Headers(const sticky_ajp_request_t& r, Out& out) {
  for (std::size_t i = 0; i < r.nheaders && out.more(); ++i) {
    HeaderName(out, r.headers[i].name);
    out.String(r.headers[i].value);
  }
}

template <class Out>
void Attributes(const sticky_ajp_request_t& r, unsigned char method, Out& out) {
  Attribute(out, kAttrRemoteUser, r.remote_user);
  Attribute(out, kAttrAuthType, r.auth_type);
  Attribute(out, kAttrQueryString, r.query_string);
  Attribute(out, kAttrSslCert, r.ssl_cert);
  Attribute(out, kAttrSslCipher, r.ssl_cipher);
  Attribute(out, kAttrSslSession, r.ssl_session);
  if (r.ssl_key_size >= 0) {
    out.Byte(kAttrSslKeySize);
    out.Int16(static_cast<std::size_t>(r.ssl_key_size));
  }
  if (method == kStoredMethod) Attribute(out, kAttrStoredMethod, r.method);
  NamedAttribute(out, "AJP_SSL_PROTOCOL", r.ssl_protocol);
  NamedAttribute(out, "AJP_REMOTE_PORT", r.remote_port);
  NamedAttribute(out, "AJP_LOCAL_ADDR", r.local_addr);
  for (std::size_t i = 0; i < r.nattributes && out.more(); ++i) {
    RequestAttribute(out, r.attributes[i].name, r.attributes[i].value);
  }
}

template <class Out>
void Request(const sticky_ajp_request_t& r, Out& out) {
  if (r.nheaders > 0xFFFF) return out.Unsendable();
  unsigned char method = MethodCode(View(r.method));
  Fixed(r, method, out);
  Headers(r, out);
  Attributes(r, method, out);
}

// JK_LB_ACTIVATION lets Tomcat's LoadBalancerDrainingValve send the
// sessions it no longer has away from a disabled member.
sticky_str_t ActivationJkName(int activation) {
  const char* name = NamesOf(static_cast<Activation>(activation)).jk;
  return sticky_str_t{name, std::strlen(name)};
}

template <class Out>
void Member(sticky_str_t route, sticky_str_t secret, int activation, Out& out) {
  if (route.len > 0) Attribute(out, kAttrRoute, route);
  if (secret.len > 0) Attribute(out, kAttrSecret, secret);
  NamedAttribute(out, "JK_LB_ACTIVATION", ActivationJkName(activation));
  out.Byte(kAttrsDone);
}

}  // namespace

std::size_t RequestBytes(const sticky_ajp_request_t& req) noexcept {
  Counter count;
  Request(req, count);
  return count.more() ? count.bytes() : static_cast<std::size_t>(-1);
}

void EncodeRequest(const sticky_ajp_request_t& req, unsigned char* buf) noexcept {
  Writer write(buf);
  Request(req, write);
}

std::size_t MemberBytes(sticky_str_t route, sticky_str_t secret) noexcept {
  Counter count;
  Member(route, secret, STICKY_ACTIVE, count);
  return count.bytes();
}

std::size_t FinishRequest(unsigned char* buf, std::size_t len, sticky_str_t route,
                          sticky_str_t secret, int activation, std::size_t max_packet) noexcept {
  Counter count;
  Member(route, secret, activation, count);
  std::size_t limit = PacketLimit(max_packet);
  if (!count.sendable() || len < STICKY_AJP_HEADER_SIZE || len > limit ||
      count.bytes() > limit - len) {
    return 0;
  }
  Writer write(buf + len);
  Member(route, secret, activation, write);
  std::size_t size = len + count.bytes();
  PutInt16(buf + 2, size - STICKY_AJP_HEADER_SIZE);
  return size;
}

// The end of the body: Tomcat takes a packet with payload length 0, or with
// data length 0, as the end. mod_jk sends the 4-byte form 12 34 00 00; we
// send 12 34 00 02 00 00, a body packet like any other, so that every body
// header has STICKY_AJP_BODY_OVERHEAD bytes.
void BodyHeader(unsigned char* out, std::size_t len) noexcept {
  PutInt16(out, kToContainer);
  PutInt16(out + 2, len + 2);
  PutInt16(out + 4, len);
}

void CPing(unsigned char* out) noexcept {
  PutInt16(out, kToContainer);
  PutInt16(out + 2, 1);
  out[4] = kCPing;
}

}  // namespace sticky::ajp
