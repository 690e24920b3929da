// The C face of the AJP/1.3 codec (sticky_core.h, "AJP/1.3 codec"). The
// codec neither allocates nor throws, so each entry point only forwards.
#include "c_api/sticky_core.h"
#include "request.h"
#include "response.h"
#include "stream.h"

// Hidden like the rest of the core (see sticky_core.cc).
#define STICKY_API extern "C"

namespace ajp = sticky::ajp;

STICKY_API size_t sticky_ajp_request_bytes(const sticky_ajp_request_t* req) noexcept {
  return ajp::RequestBytes(*req);
}

STICKY_API void sticky_ajp_encode_request(const sticky_ajp_request_t* req,
                                          unsigned char* buf) noexcept {
  ajp::EncodeRequest(*req, buf);
}

STICKY_API size_t sticky_ajp_member_bytes(sticky_str_t route, sticky_str_t secret) noexcept {
  return ajp::MemberBytes(route, secret);
}

STICKY_API size_t sticky_ajp_finish_request(unsigned char* buf, size_t len, sticky_str_t route,
                                            sticky_str_t secret, int activation,
                                            size_t max_packet) noexcept {
  return ajp::FinishRequest(buf, len, route, secret, activation, max_packet);
}

STICKY_API void sticky_ajp_body_header(unsigned char out[STICKY_AJP_BODY_OVERHEAD],
                                       size_t len) noexcept {
  ajp::BodyHeader(out, len);
}

STICKY_API void sticky_ajp_cping(unsigned char out[STICKY_AJP_CPING_SIZE]) noexcept {
  ajp::CPing(out);
}

STICKY_API int sticky_ajp_read_packet(const unsigned char* in, size_t len, size_t max_packet,
                                      sticky_ajp_packet_t* out, sticky_error_t* err) noexcept {
  return ajp::ReadPacket(in, len, max_packet, out, err);
}

STICKY_API void sticky_ajp_headers_begin(const unsigned char* packet,
                                         const sticky_ajp_packet_t* p,
                                         sticky_ajp_headers_t* it) noexcept {
  ajp::HeadersBegin(packet, *p, it);
}

STICKY_API int sticky_ajp_headers_next(sticky_ajp_headers_t* it, sticky_str_t* name,
                                       sticky_str_t* value) noexcept {
  return ajp::HeadersNext(it, name, value) ? 1 : 0;
}

STICKY_API void sticky_ajp_stream_init(sticky_ajp_stream_t* s, size_t max_packet) noexcept {
  ajp::StreamInit(s, max_packet);
}

STICKY_API void sticky_ajp_stream_next(sticky_ajp_stream_t* s, const unsigned char* in,
                                       size_t len, sticky_ajp_event_t* ev,
                                       sticky_error_t* err) noexcept {
  ajp::StreamNext(s, in, len, ev, err);
}
