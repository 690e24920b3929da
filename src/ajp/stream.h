// The response body as it arrives, in pieces of any size: the packets that
// follow SEND_HEADERS (SEND_BODY_CHUNK, GET_BODY_CHUNK, END_RESPONSE), read
// by a state machine whose whole state is a sticky_ajp_stream_t. Body bytes
// are handed out as slices of the caller's input, never copied; the small
// fixed fields are gathered in the state's scratch bytes, so a packet may
// be split anywhere. Nothing here allocates or reads past the input.
#ifndef STICKY_AJP_STREAM_H
#define STICKY_AJP_STREAM_H

#include <cstddef>

#include "c_api/sticky_core.h"

namespace sticky::ajp {

void StreamInit(sticky_ajp_stream_t* s, std::size_t max_packet) noexcept;

// sticky_ajp_stream_next(): DATA comes out as the chunk's bytes arrive,
// before the rest of its packet is checked; the other events once their
// packet has been checked to its last byte, which ev->used ends with.
void StreamNext(sticky_ajp_stream_t* s, const unsigned char* in, std::size_t len,
                sticky_ajp_event_t* ev, sticky_error_t* err) noexcept;

}  // namespace sticky::ajp

#endif  // STICKY_AJP_STREAM_H
