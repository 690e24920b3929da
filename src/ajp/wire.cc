// Reading AJP/1.3 fields (wire.h).
#include "wire.h"

#include <cstdarg>
#include <cstdio>

#include "codes.h"

namespace sticky::ajp {

void SetError(sticky_error_t* err, const char* format, ...) noexcept {
  std::va_list args;
  va_start(args, format);
  std::vsnprintf(err->message, sizeof(err->message), format, args);
  va_end(args);
}

bool FailTruncated(sticky_error_t* err, const char* packet) noexcept {
  SetError(err, "truncated AJP %s packet", packet);
  return false;
}

bool FailTrailing(sticky_error_t* err, const char* packet, std::size_t extra) noexcept {
  SetError(err, "AJP %s packet has %zu trailing byte%s", packet, extra, extra == 1 ? "" : "s");
  return false;
}

bool Reader::Need(std::size_t n) noexcept {
  return static_cast<std::size_t>(end_ - pos_) >= n || FailTruncated(err_, packet_);
}

bool Reader::Byte(unsigned* v) noexcept {
  if (!PeekByte(v)) return false;
  ++pos_;
  return true;
}

bool Reader::PeekByte(unsigned* v) noexcept {
  if (!Need(1)) return false;
  *v = *pos_;
  return true;
}

bool Reader::Int16(unsigned* v) noexcept {
  if (!Need(2)) return false;
  *v = GetInt16(pos_);
  pos_ += 2;
  return true;
}

bool Reader::String(sticky_str_t* s, bool* null) noexcept {
  unsigned len;
  if (!Int16(&len)) return false;
  *null = len == kNullString;
  if (*null) {
    *s = sticky_str_t{"", 0};
    return true;
  }
  if (static_cast<std::size_t>(end_ - pos_) < len + 1u) {
    SetError(err_, "AJP %s string of %u bytes runs past its packet", packet_, len);
    return false;
  }
  if (pos_[len] != 0) {
    SetError(err_, "AJP %s string of %u bytes lacks its NUL terminator", packet_, len);
    return false;
  }
  *s = sticky_str_t{reinterpret_cast<const char*>(pos_), len};
  pos_ += len + 1;
  return true;
}

bool Reader::End() noexcept {
  return pos_ == end_ || FailTrailing(err_, packet_, static_cast<std::size_t>(end_ - pos_));
}

}  // namespace sticky::ajp
