// The bytes of AJP/1.3 fields: big-endian 2-byte integers and strings (a
// 2-byte length, the bytes, a NUL; length 0xFFFF is a null string), and a
// Reader that takes fields from one packet's payload without ever reading
// past it. Nothing here allocates.
#ifndef STICKY_AJP_WIRE_H
#define STICKY_AJP_WIRE_H

#include <cstddef>

#include "c_api/sticky_core.h"

namespace sticky::ajp {

// `max_packet`, capped at what Tomcat's packetSize allows.
inline std::size_t PacketLimit(std::size_t max_packet) noexcept {
  return max_packet < STICKY_AJP_MAX_PACKET ? max_packet : STICKY_AJP_MAX_PACKET;
}

inline unsigned GetInt16(const unsigned char* p) noexcept { return p[0] << 8 | p[1]; }

inline void PutInt16(unsigned char* p, std::size_t v) noexcept {
  p[0] = static_cast<unsigned char>(v >> 8);
  p[1] = static_cast<unsigned char>(v);
}

// Formats err->message; every failure of the codec goes through here.
void SetError(sticky_error_t* err, const char* format, ...) noexcept
    __attribute__((format(printf, 2, 3)));

// The two ways a packet of type `packet` ("SEND_HEADERS") can have the wrong
// size for its fields. Both return false.
bool FailTruncated(sticky_error_t* err, const char* packet) noexcept;
bool FailTrailing(sticky_error_t* err, const char* packet, std::size_t extra) noexcept;

// Fields of the payload [pos, end) of a container packet named `packet`
// (for messages). A read that fails sets err and returns false.
class Reader {
 public:
  Reader(const unsigned char* pos, const unsigned char* end, const char* packet,
         sticky_error_t* err) noexcept
      : pos_(pos), end_(end), packet_(packet), err_(err) {}

  bool Byte(unsigned* v) noexcept;
  bool PeekByte(unsigned* v) noexcept;
  bool Int16(unsigned* v) noexcept;
  // A null string becomes an empty one (data "") with *null set.
  bool String(sticky_str_t* s, bool* null) noexcept;
  // Fails when bytes are left after the last field.
  bool End() noexcept;

  const unsigned char* pos() const noexcept { return pos_; }
  const unsigned char* end() const noexcept { return end_; }

 private:
  bool Need(std::size_t n) noexcept;

  const unsigned char* pos_;
  const unsigned char* end_;
  const char* packet_;
  sticky_error_t* err_;
};

}  // namespace sticky::ajp

#endif  // STICKY_AJP_WIRE_H
