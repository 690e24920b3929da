// Reading the container's packets (response.h).
#include "response.h"

#include <algorithm>

#include "codes.h"
#include "wire.h"

namespace sticky::ajp {
namespace {

constexpr const char* kHeaders = "SEND_HEADERS";
constexpr const char* kChunk = "SEND_BODY_CHUNK";

// SEND_HEADERS up to its first header: status, reason, number of headers.
bool ReadHeadersPrefix(Reader& r, sticky_ajp_packet_t* p) noexcept {
  unsigned status, nheaders;
  bool null;
  if (!r.Int16(&status) || !r.String(&p->reason, &null) || !r.Int16(&nheaders)) return false;
  p->status = static_cast<int>(status);
  p->nheaders = nheaders;
  return true;
}

// One response header: a 0xA0nn code or a string, then the value (a null
// value reads as empty; a null name cannot be sent on).
bool ReadHeader(Reader& r, sticky_str_t* name, sticky_str_t* value, sticky_error_t* err) noexcept {
  unsigned first, code;
  bool null;
  if (!r.PeekByte(&first)) return false;
  if (first == kCodedHeader) {
    if (!r.Int16(&code)) return false;
    std::string_view known = ResponseHeaderName(static_cast<unsigned char>(code));
    if (known.empty()) {
      SetError(err, "unknown AJP response header code 0x%04X", code);
      return false;
    }
    *name = sticky_str_t{known.data(), known.size()};
  } else {
    if (!r.String(name, &null)) return false;
    if (null) {
      SetError(err, "AJP response header with a null name");
      return false;
    }
  }
  return r.String(value, &null);
}

bool ReadHeaders(const unsigned char* payload, const unsigned char* end, sticky_ajp_packet_t* p,
                 sticky_error_t* err) noexcept {
  Reader r(payload, end, kHeaders, err);
  if (!ReadHeadersPrefix(r, p)) return false;
  if (p->status < 100 || p->status > 999) {
    SetError(err, "AJP SEND_HEADERS status %d is not in 100..999", p->status);
    return false;
  }
  sticky_str_t name, value;
  for (unsigned i = 0; i < p->nheaders; ++i) {
    if (!ReadHeader(r, &name, &value, err)) return false;
  }
  return r.End();
}

// The payload after the type byte, `left` bytes, of a checked chunk packet.
bool ReadChunk(const unsigned char* payload, unsigned left, sticky_ajp_packet_t* p,
               sticky_error_t* err) noexcept {
  unsigned chunk = GetInt16(payload);
  if (!CheckChunk(chunk, left - 2, err)) return false;
  if (left - 2 > chunk && !CheckChunkEnd(payload[2 + chunk], err)) return false;
  p->body = sticky_str_t{reinterpret_cast<const char*>(payload + 2), chunk};
  return true;
}

// The payload of a packet whose size CheckPayloadSize() accepted.
bool ReadPayload(const unsigned char* in, sticky_ajp_packet_t* p, sticky_error_t* err) noexcept {
  const unsigned char* payload = in + STICKY_AJP_HEADER_SIZE + 1;
  unsigned left = static_cast<unsigned>(p->size - STICKY_AJP_HEADER_SIZE - 1);
  switch (p->type) {
    case STICKY_AJP_SEND_BODY_CHUNK: return ReadChunk(payload, left, p, err);
    case STICKY_AJP_SEND_HEADERS: return ReadHeaders(payload, payload + left, p, err);
    case STICKY_AJP_END_RESPONSE: p->reuse = payload[0] != 0; break;
    case STICKY_AJP_GET_BODY_CHUNK: p->requested = GetInt16(payload); break;
  }
  return true;
}

}  // namespace

bool CheckMagicByte(std::size_t i, unsigned char byte, sticky_error_t* err) noexcept {
  if (byte == (i == 0 ? 'A' : 'B')) return true;
  SetError(err, "invalid AJP packet magic byte 0x%02X, expected \"AB\"", byte);
  return false;
}

bool CheckPayloadLength(unsigned payload, std::size_t limit, sticky_error_t* err) noexcept {
  if (payload == 0) {
    SetError(err, "empty AJP packet");
    return false;
  }
  if (STICKY_AJP_HEADER_SIZE + payload > limit) {
    SetError(err, "AJP packet of %u bytes exceeds max_packet_size %zu",
             STICKY_AJP_HEADER_SIZE + payload, limit);
    return false;
  }
  return true;
}

bool CheckPayloadSize(unsigned type, unsigned payload, sticky_error_t* err) noexcept {
  const char* name = PacketName(type);
  if (name == nullptr) {
    SetError(err, "unknown AJP packet type 0x%02X", type);
    return false;
  }
  unsigned least = 1;
  bool exact = true;
  switch (type) {
    case STICKY_AJP_SEND_BODY_CHUNK: least = 3; exact = false; break;
    case STICKY_AJP_SEND_HEADERS: exact = false; break;
    case STICKY_AJP_END_RESPONSE: least = 2; break;
    case STICKY_AJP_GET_BODY_CHUNK: least = 3; break;
  }
  if (payload < least) return FailTruncated(err, name);
  return !exact || payload == least || FailTrailing(err, name, payload - least);
}

bool CheckChunk(unsigned chunk, unsigned left, sticky_error_t* err) noexcept {
  if (chunk > left) {
    SetError(err, "AJP SEND_BODY_CHUNK of %u bytes runs past its packet", chunk);
    return false;
  }
  return left - chunk <= 1 || FailTrailing(err, kChunk, left - chunk - 1);
}

bool CheckChunkEnd(unsigned char byte, sticky_error_t* err) noexcept {
  if (byte == 0) return true;
  SetError(err, "AJP SEND_BODY_CHUNK ends with 0x%02X instead of its NUL terminator", byte);
  return false;
}

int ReadPacket(const unsigned char* in, std::size_t len, std::size_t max_packet,
               sticky_ajp_packet_t* out, sticky_error_t* err) noexcept {
  for (std::size_t i = 0; i < std::min<std::size_t>(len, 2); ++i) {
    if (!CheckMagicByte(i, in[i], err)) return -1;
  }
  if (len < STICKY_AJP_HEADER_SIZE) return 0;
  unsigned payload = GetInt16(in + 2);
  if (!CheckPayloadLength(payload, PacketLimit(max_packet), err)) return -1;
  std::size_t size = STICKY_AJP_HEADER_SIZE + payload;
  if (len < size) return 0;
  *out = sticky_ajp_packet_t{};
  out->type = in[STICKY_AJP_HEADER_SIZE];
  out->size = size;
  out->reason = out->body = sticky_str_t{"", 0};
  if (!CheckPayloadSize(in[STICKY_AJP_HEADER_SIZE], payload, err)) return -1;
  return ReadPayload(in, out, err) ? 1 : -1;
}

void HeadersBegin(const unsigned char* packet, const sticky_ajp_packet_t& p,
                  sticky_ajp_headers_t* it) noexcept {
  sticky_error_t unused;
  sticky_ajp_packet_t prefix{};
  Reader r(packet + STICKY_AJP_HEADER_SIZE + 1, packet + p.size, kHeaders, &unused);
  bool ok = p.type == STICKY_AJP_SEND_HEADERS && ReadHeadersPrefix(r, &prefix);
  *it = sticky_ajp_headers_t{r.pos(), r.end(), ok ? prefix.nheaders : 0};
}

bool HeadersNext(sticky_ajp_headers_t* it, sticky_str_t* name, sticky_str_t* value) noexcept {
  if (it->left == 0) return false;
  sticky_error_t unused;
  Reader r(it->pos, it->end, kHeaders, &unused);
  if (!ReadHeader(r, name, value, &unused)) {
    it->left = 0;
    return false;
  }
  it->pos = r.pos();
  --it->left;
  return true;
}

}  // namespace sticky::ajp
