// Fuzzes the image metadata readers and the parameter parsers with arbitrary
// bytes. A PNG input is read a second time with every chunk's CRC made
// right, so mutations get past the CRC check into the text decoders instead
// of all ending as "bad CRC".
//
// Besides "no crash, no leak, no UB" it checks the contracts callers rely
// on: errors name the file, text comes out as valid UTF-8, and the entry
// limit holds.
#include <zlib.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string_view>

#include "seedbank/protocol/generation_params.h"
#include "seedbank/protocol/image_meta.h"

namespace sp = seedbank::protocol;

namespace {

constexpr std::string_view kName = "fuzz.img";

[[noreturn]] void violated(const char* what, std::string_view detail) {
  std::fprintf(stderr, "contract violated: %s: %.*s\n", what, static_cast<int>(detail.size()), detail.data());
  std::abort();
}

bool valid_utf8(std::string_view s) {
  for (std::size_t i = 0; i < s.size();) {
    const auto lead = static_cast<unsigned char>(s[i]);
    std::size_t length = lead < 0x80                    ? 1
                         : lead >= 0xc2 && lead <= 0xdf ? 2
                         : lead >= 0xe0 && lead <= 0xef ? 3
                         : lead >= 0xf0 && lead <= 0xf4 ? 4
                                                        : 0;
    if (length == 0 || s.size() - i < length) return false;
    for (std::size_t k = 1; k < length; ++k)
      if ((static_cast<unsigned char>(s[i + k]) & 0xc0) != 0x80) return false;
    i += length;
  }
  return true;
}

void check(sp::ByteView bytes) {
  const auto info = sp::read_image_info(bytes, kName);
  if (!info) {
    const std::string& message = info.error().message;
    if (message.rfind(std::string(kName) + ": ", 0) != 0) violated("error names the file", message);
    return;
  }
  const std::string& mime = info->mime_type;
  if (mime != "image/png" && mime != "image/jpeg" && mime != "image/webp" && mime != "video/mp4" &&
      mime != "video/webm")  // videos: video_meta_fuzz
    violated("mime type", mime);
  if (info->text.size() > sp::kMaxImageTextEntries) violated("text entry limit", "");
  for (const auto& [key, value] : info->text) {
    if (!valid_utf8(key)) violated("key is UTF-8", key);
    if (!valid_utf8(value)) violated("text is UTF-8", value);
    const auto params = sp::parse_a1111_parameters(value);
    if (params.raw != value) violated("raw keeps the text", value);
  }
  (void)sp::generation_params_from_image(*info);
}

// The input with each PNG chunk's CRC recomputed, as far as the chunk
// lengths stay inside the input.
sp::Bytes with_fixed_crcs(sp::ByteView bytes) {
  sp::Bytes out(bytes.begin(), bytes.end());
  std::size_t offset = 8;
  while (out.size() - offset >= 12) {
    const std::size_t length = std::size_t{out[offset]} << 24 | std::size_t{out[offset + 1]} << 16 |
                               std::size_t{out[offset + 2]} << 8 | out[offset + 3];
    if (length > out.size() - offset - 12) break;
    const auto crc = crc32(0, out.data() + offset + 4, static_cast<uInt>(length + 4));
    for (int i = 0; i < 4; ++i) out[offset + 8 + length + i] = static_cast<std::uint8_t>(crc >> (24 - 8 * i));
    offset += 12 + length;
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const sp::ByteView bytes(data, size);
  check(bytes);
  if (size > 8 && std::memcmp(data, "\x89PNG", 4) == 0) check(with_fixed_crcs(bytes));

  // The text parser on its own, with the raw bytes as text.
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  if (sp::parse_a1111_parameters(text).raw != text) violated("raw keeps the text", "");
  return 0;
}
