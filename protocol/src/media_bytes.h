// Byte helpers the image readers (image_meta.cpp) and the video readers
// (video_meta.cpp) share: big-endian reads, errors that name the file, and
// tags or keys shown with unprintable bytes escaped. Private to protocol/.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "seedbank/protocol/bytes.h"
#include "seedbank/protocol/result.h"

namespace seedbank::protocol::media {

inline std::uint32_t be32(ByteView b, std::size_t at) {
  return std::uint32_t{b[at]} << 24 | std::uint32_t{b[at + 1]} << 16 | std::uint32_t{b[at + 2]} << 8 | b[at + 3];
}

// An error whose message starts with the file's name.
inline Error fail(ErrorCode code, std::string_view name, const std::string& detail) {
  return make_error(code, std::string(name) + ": " + detail);
}

// A tag (a PNG chunk type, an MP4 box type, a key) as text, with bytes
// outside printable ASCII, and the quote messages put around it, as \xNN.
inline std::string tag_text(ByteView tag) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (std::uint8_t c : tag) {
    if (c >= 0x20 && c < 0x7f && c != '\'') {
      out += static_cast<char>(c);
    } else {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

}  // namespace seedbank::protocol::media
