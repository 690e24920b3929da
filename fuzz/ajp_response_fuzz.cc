// libFuzzer target: the container's side of AJP/1.3 (src/ajp/response.h,
// stream.h) on any bytes. The bytes are read packet after packet with
// sticky_ajp_read_packet(), and as a response body by the stream parser,
// once whole and once in pieces of sizes the input chooses; each piece is a
// heap copy of exactly its size, so ASan sees any read past it.
//
// Input layout: byte 0 picks max_packet; byte 1 the number n (0..15) of
// piece sizes in bytes 2..n+1 (used in turn); the rest is the response.
//
// Checked: every view lies within the input; a call uses at most its input,
// all of it when it asks for more, and at least one byte per event; the
// stream gives the same events whatever the pieces; and it agrees with
// the packet reader (it may hand out the data of a chunk before it finds
// the defect that ends its packet, and may find a defect of an incomplete
// last packet the reader has not looked at yet).
//
//   make fuzz FUZZ_TARGETS=ajp_response
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>

#include "c_api/sticky_core.h"

namespace {

void Check(bool ok) {
  if (!ok) std::abort();
}

bool Within(sticky_str_t s, const unsigned char* begin, const unsigned char* end) {
  const unsigned char* p = reinterpret_cast<const unsigned char*>(s.data);
  return s.len == 0 || (p >= begin && p + s.len <= end);
}

std::size_t MaxPacket(std::uint8_t b) {
  if (b & 0x80) return std::size_t{STICKY_AJP_MIN_PACKET} << (b & 3);  // 8192 .. 65536
  return b;  // tiny limits reach the size checks with tiny inputs
}

// Events as text: one 'd' + byte per data byte, so that how the data was
// cut does not matter; 'X' ends the log at an error.
struct Log {
  std::string events;
  bool error = false;
  bool complete = true;  // all of the input was read as whole packets
};

void CheckHeaders(const unsigned char* packet, const sticky_ajp_packet_t& p) {
  sticky_ajp_headers_t it;
  sticky_ajp_headers_begin(packet, &p, &it);
  sticky_str_t name, value;
  unsigned n = 0;
  while (sticky_ajp_headers_next(&it, &name, &value)) {
    Check(name.data != nullptr && value.data != nullptr);
    Check(Within(value, packet, packet + p.size));  // names may be static
    ++n;
  }
  Check(n == p.nheaders);
}

// One packet read by sticky_ajp_read_packet(), as the stream would report it.
void Note(const unsigned char* in, const sticky_ajp_packet_t& p, std::size_t max_packet, Log* log) {
  Check(p.size >= 5 && p.size <= max_packet && p.size <= STICKY_AJP_MAX_PACKET);
  Check(Within(p.reason, in, in + p.size) && Within(p.body, in, in + p.size));
  switch (p.type) {
    case STICKY_AJP_SEND_BODY_CHUNK:
      if (p.body.len == 0) log->events += 'F';
      for (std::size_t i = 0; i < p.body.len; ++i) (log->events += 'd') += p.body.data[i];
      return;
    case STICKY_AJP_GET_BODY_CHUNK:
      log->events += "G" + std::to_string(p.requested);
      return;
    case STICKY_AJP_END_RESPONSE:
      log->events += p.reuse ? "E1" : "E0";
      return;
    case STICKY_AJP_SEND_HEADERS:
      Check(p.status >= 100 && p.status <= 999);
      CheckHeaders(in, p);
      break;
  }
  log->error = true;  // out of order in a body
}

Log ReadPackets(const unsigned char* in, std::size_t len, std::size_t max_packet) {
  Log log;
  std::size_t pos = 0;
  bool ended = false;
  while (pos < len && !log.error) {
    sticky_ajp_packet_t p;
    sticky_error_t err;
    int rc = sticky_ajp_read_packet(in + pos, len - pos, max_packet, &p, &err);
    Check(rc >= -1 && rc <= 1);
    if (rc == 0) {
      log.complete = false;
      break;
    }
    if (rc < 0 || ended) {
      Check(rc > 0 || std::strlen(err.message) > 0);
      log.error = true;
      break;
    }
    Check(p.size <= len - pos);
    Note(in + pos, p, max_packet, &log);
    ended = p.type == STICKY_AJP_END_RESPONSE;
    pos += p.size;
  }
  return log;
}

// Feeds one piece to the stream; false once it has failed.
bool Feed(sticky_ajp_stream_t* s, const unsigned char* piece, std::size_t len, Log* log) {
  std::size_t pos = 0;
  do {
    sticky_ajp_event_t ev;
    sticky_error_t err;
    const unsigned char* at = piece + pos;
    sticky_ajp_stream_next(s, at, len - pos, &ev, &err);
    Check(ev.used <= len - pos);
    if (ev.event == STICKY_AJP_EV_ERROR) {
      Check(std::strlen(err.message) > 0);
      log->error = true;
      return false;
    }
    Check(ev.event == STICKY_AJP_EV_MORE ? ev.used == len - pos : ev.used > 0);
    pos += ev.used;
    switch (ev.event) {
      case STICKY_AJP_EV_DATA:
        Check(ev.data.len > 0 && Within(ev.data, at, at + ev.used));
        for (std::size_t i = 0; i < ev.data.len; ++i) (log->events += 'd') += ev.data.data[i];
        break;
      case STICKY_AJP_EV_FLUSH: log->events += 'F'; break;
      case STICKY_AJP_EV_GET_BODY: log->events += "G" + std::to_string(ev.requested); break;
      case STICKY_AJP_EV_END: log->events += ev.reuse ? "E1" : "E0"; break;
      default: Check(ev.event == STICKY_AJP_EV_MORE);
    }
  } while (pos < len);
  return true;
}

Log Stream(const unsigned char* in, std::size_t len, std::size_t max_packet,
           const std::uint8_t* sizes, std::size_t nsizes) {
  sticky_ajp_stream_t s;
  sticky_ajp_stream_init(&s, max_packet);
  Log log;
  std::size_t pos = 0;
  // Sizes may be 0 (an empty piece); after kMaxPieces the rest goes at once.
  constexpr std::size_t kMaxPieces = 4096;
  for (std::size_t i = 0; pos < len || i == 0; ++i) {
    std::size_t n = nsizes && i < kMaxPieces ? sizes[i % nsizes] : len;
    n = n < len - pos ? n : len - pos;
    std::unique_ptr<unsigned char[]> piece(new unsigned char[n]);
    if (n) std::memcpy(piece.get(), in + pos, n);
    pos += n;
    if (!Feed(&s, piece.get(), n, &log)) break;
  }
  return log;
}

bool OnlyData(const std::string& events) {
  for (std::size_t i = 0; i < events.size(); i += 2) {
    if (events[i] != 'd') return false;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  std::size_t max_packet = MaxPacket(data[0]);
  std::size_t nsizes = data[1] % 16;
  if (size < 2 + nsizes) return 0;
  const std::uint8_t* sizes = data + 2;
  std::size_t len = size - 2 - nsizes;
  std::unique_ptr<unsigned char[]> in(new unsigned char[len ? len : 1]);
  if (len) std::memcpy(in.get(), data + 2 + nsizes, len);

  Log packets = ReadPackets(in.get(), len, max_packet);
  Log whole = Stream(in.get(), len, max_packet, nullptr, 0);
  Log pieces = Stream(in.get(), len, max_packet, sizes, nsizes);
  Check(whole.events == pieces.events && whole.error == pieces.error);

  const std::string& read = packets.events;
  Check(whole.events.compare(0, read.size(), read) == 0);
  Check(OnlyData(whole.events.substr(read.size())));
  if (packets.error) Check(whole.error);
  if (packets.complete && !packets.error) Check(!whole.error && whole.events == read);
  return 0;
}
