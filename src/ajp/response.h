// The container's packets ('A' 'B', a 2-byte payload length, the payload):
// the checks that a packet's header and size are right, shared with the
// body stream (stream.h), and the reader of one whole packet with the walk
// over its response headers. Nothing here allocates or reads past the
// bytes it is given.
#ifndef STICKY_AJP_RESPONSE_H
#define STICKY_AJP_RESPONSE_H

#include <cstddef>

#include "c_api/sticky_core.h"

namespace sticky::ajp {

// Byte `i` (0 or 1) of a packet must be 'A' or 'B'.
bool CheckMagicByte(std::size_t i, unsigned char byte, sticky_error_t* err) noexcept;

// A payload of `payload` bytes: not empty, and the packet within `limit`.
bool CheckPayloadLength(unsigned payload, std::size_t limit, sticky_error_t* err) noexcept;

// A known type, and a payload (type byte included) of a size it allows:
// END_RESPONSE 2, GET_BODY_CHUNK 3, CPONG 1, SEND_BODY_CHUNK at least 3.
bool CheckPayloadSize(unsigned type, unsigned payload, sticky_error_t* err) noexcept;

// A SEND_BODY_CHUNK of `chunk` bytes with `left` payload bytes after its
// length field: the chunk fits, followed by nothing or by one byte.
bool CheckChunk(unsigned chunk, unsigned left, sticky_error_t* err) noexcept;

// That one byte after a chunk must be its NUL terminator.
bool CheckChunkEnd(unsigned char byte, sticky_error_t* err) noexcept;

// sticky_ajp_read_packet(): 1, 0 (incomplete) or -1.
int ReadPacket(const unsigned char* in, std::size_t len, std::size_t max_packet,
               sticky_ajp_packet_t* out, sticky_error_t* err) noexcept;

void HeadersBegin(const unsigned char* packet, const sticky_ajp_packet_t& p,
                  sticky_ajp_headers_t* it) noexcept;

bool HeadersNext(sticky_ajp_headers_t* it, sticky_str_t* name, sticky_str_t* value) noexcept;

}  // namespace sticky::ajp

#endif  // STICKY_AJP_RESPONSE_H
