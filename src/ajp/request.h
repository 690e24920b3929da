// The packets nginx sends: FORWARD_REQUEST (built in two parts, the
// request's and the member's, so that one encoded request can be finished
// for whichever member a retry picks), the body packets and CPING. Sizes
// are computed by the same code that writes, so they always agree. Nothing
// here allocates.
#ifndef STICKY_AJP_REQUEST_H
#define STICKY_AJP_REQUEST_H

#include <cstddef>

#include "c_api/sticky_core.h"

namespace sticky::ajp {

// (size_t) -1 when a string is longer than 0xFFFE bytes, a header name
// could be mistaken for a code, there are more than 0xFFFF headers, or the
// part exceeds 65536 bytes.
std::size_t RequestBytes(const sticky_ajp_request_t& req) noexcept;

void EncodeRequest(const sticky_ajp_request_t& req, unsigned char* buf) noexcept;

std::size_t MemberBytes(sticky_str_t route, sticky_str_t secret) noexcept;

std::size_t FinishRequest(unsigned char* buf, std::size_t len, sticky_str_t route,
                          sticky_str_t secret, int activation, std::size_t max_packet) noexcept;

void BodyHeader(unsigned char* out, std::size_t len) noexcept;

void CPing(unsigned char* out) noexcept;

}  // namespace sticky::ajp

#endif  // STICKY_AJP_REQUEST_H
