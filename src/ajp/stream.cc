// The body stream's state machine (stream.h).
#include "stream.h"

#include <algorithm>
#include <cstdint>

#include "codes.h"
#include "response.h"
#include "wire.h"

namespace sticky::ajp {
namespace {

// sticky_ajp_stream_t.state. Every state but kChunkData, kDone and kFailed
// gathers `need` bytes into scratch, then Complete() acts on them.
enum State : std::uint32_t {
  kHeader,       // magic and payload length
  kType,         // the packet's type byte
  kChunkLength,  // SEND_BODY_CHUNK: the chunk's length
  kChunkData,    // chunk_left bytes, handed out as they arrive
  kChunkEnd,     // the chunk's NUL terminator, when the packet has one
  kFlushEnd,     // the same after an empty chunk: FLUSH once it is checked
  kReuse,        // END_RESPONSE: the reuse flag
  kRequested,    // GET_BODY_CHUNK: the length asked for
  kDone,         // after END_RESPONSE: no byte may follow
  kFailed,
};

void Expect(sticky_ajp_stream_t* s, State state, std::uint32_t need) {
  s->state = state;
  s->need = need;
  s->got = 0;
}

void NextPacket(sticky_ajp_stream_t* s) { Expect(s, kHeader, STICKY_AJP_HEADER_SIZE); }

// A chunk's data is all out: its terminator may follow, else the packet ends.
void AfterChunk(sticky_ajp_stream_t* s, State terminator) {
  if (s->packet_left > 0) {
    Expect(s, terminator, 1);
  } else {
    NextPacket(s);
  }
}

int TypeKnown(sticky_ajp_stream_t* s, sticky_error_t* err) {
  unsigned type = s->scratch[0];
  unsigned payload = s->packet_left;
  s->type = static_cast<unsigned char>(type);
  s->packet_left = payload - 1;
  if (type == STICKY_AJP_SEND_HEADERS || type == STICKY_AJP_CPONG) {
    SetError(err, "AJP %s packet out of order in a response body", PacketName(type));
    return STICKY_AJP_EV_ERROR;
  }
  if (!CheckPayloadSize(type, payload, err)) return STICKY_AJP_EV_ERROR;
  switch (type) {
    case STICKY_AJP_SEND_BODY_CHUNK: Expect(s, kChunkLength, 2); break;
    case STICKY_AJP_END_RESPONSE: Expect(s, kReuse, 1); break;
    case STICKY_AJP_GET_BODY_CHUNK: Expect(s, kRequested, 2); break;
  }
  return STICKY_AJP_EV_MORE;
}

int ChunkLengthKnown(sticky_ajp_stream_t* s, sticky_error_t* err) {
  unsigned chunk = GetInt16(s->scratch);
  s->packet_left -= 2;
  if (!CheckChunk(chunk, s->packet_left, err)) return STICKY_AJP_EV_ERROR;
  s->chunk_left = chunk;
  s->packet_left -= chunk;
  if (chunk > 0) {
    s->state = kChunkData;
    return STICKY_AJP_EV_MORE;
  }
  AfterChunk(s, kFlushEnd);
  return s->state == kFlushEnd ? STICKY_AJP_EV_MORE : STICKY_AJP_EV_FLUSH;
}

// The field of the current state is in scratch: the event it makes, if any.
int Complete(sticky_ajp_stream_t* s, sticky_ajp_event_t* ev, sticky_error_t* err) {
  switch (s->state) {
    case kHeader: {
      unsigned payload = GetInt16(s->scratch + 2);
      if (!CheckPayloadLength(payload, s->max_packet, err)) return STICKY_AJP_EV_ERROR;
      s->packet_left = payload;
      Expect(s, kType, 1);
      return STICKY_AJP_EV_MORE;
    }
    case kType: return TypeKnown(s, err);
    case kChunkLength: return ChunkLengthKnown(s, err);
    case kChunkEnd:
    case kFlushEnd: {
      bool flush = s->state == kFlushEnd;
      if (!CheckChunkEnd(s->scratch[0], err)) return STICKY_AJP_EV_ERROR;
      NextPacket(s);
      return flush ? STICKY_AJP_EV_FLUSH : STICKY_AJP_EV_MORE;
    }
    case kReuse:
      ev->reuse = s->scratch[0] != 0;
      Expect(s, kDone, 0);
      return STICKY_AJP_EV_END;
    case kRequested:
      ev->requested = GetInt16(s->scratch);
      NextPacket(s);
      return STICKY_AJP_EV_GET_BODY;
  }
  SetError(err, "AJP response stream in an impossible state");
  return STICKY_AJP_EV_ERROR;
}

// Hands out as much of the current chunk as `in` holds.
int Data(sticky_ajp_stream_t* s, const unsigned char* in, std::size_t len, std::size_t* pos,
         sticky_ajp_event_t* ev) {
  std::size_t n = std::min<std::size_t>(s->chunk_left, len - *pos);
  ev->data = sticky_str_t{reinterpret_cast<const char*>(in + *pos), n};
  *pos += n;
  s->chunk_left -= static_cast<std::uint32_t>(n);
  if (s->chunk_left == 0) AfterChunk(s, kChunkEnd);
  return STICKY_AJP_EV_DATA;
}

// Takes one byte of a fixed field; the event once the field is complete.
int Gather(sticky_ajp_stream_t* s, unsigned char byte, sticky_ajp_event_t* ev,
           sticky_error_t* err) {
  if (s->state == kHeader && s->got < 2 && !CheckMagicByte(s->got, byte, err)) {
    return STICKY_AJP_EV_ERROR;
  }
  s->scratch[s->got++] = byte;
  return s->got < s->need ? STICKY_AJP_EV_MORE : Complete(s, ev, err);
}

// The next event of in[*pos..len), *pos moved past its last byte.
int Next(sticky_ajp_stream_t* s, const unsigned char* in, std::size_t len, std::size_t* pos,
         sticky_ajp_event_t* ev, sticky_error_t* err) {
  if (s->state == kFailed) {
    SetError(err, "AJP response already failed");
    return STICKY_AJP_EV_ERROR;
  }
  while (*pos < len) {
    if (s->state == kDone) {
      SetError(err, "AJP data after END_RESPONSE");
      return STICKY_AJP_EV_ERROR;
    }
    if (s->state == kChunkData) return Data(s, in, len, pos, ev);
    int event = Gather(s, in[(*pos)++], ev, err);
    if (event != STICKY_AJP_EV_MORE) return event;
  }
  return STICKY_AJP_EV_MORE;
}

}  // namespace

void StreamInit(sticky_ajp_stream_t* s, std::size_t max_packet) noexcept {
  *s = sticky_ajp_stream_t{};
  s->max_packet = static_cast<std::uint32_t>(PacketLimit(max_packet));
  NextPacket(s);
}

void StreamNext(sticky_ajp_stream_t* s, const unsigned char* in, std::size_t len,
                sticky_ajp_event_t* ev, sticky_error_t* err) noexcept {
  *ev = sticky_ajp_event_t{};
  std::size_t pos = 0;
  ev->event = Next(s, in, len, &pos, ev, err);
  ev->used = pos;
  if (ev->event == STICKY_AJP_EV_ERROR) s->state = kFailed;
}

}  // namespace sticky::ajp
