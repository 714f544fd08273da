// Readers for the three image formats sample images come in. Each walks the
// container's chunks or segments with every length checked against the bytes
// left, and never touches pixel data.
//
// Formats, as far as they are read here:
//   PNG   (ISO/IEC 15948): signature, then chunks of
//         length(u32 BE) type(4 letters) data crc32(type+data); IHDR first,
//         IEND last; tEXt/zTXt/iTXt carry keyword -> text.
//   JPEG  (ITU T.81): SOI, then segments FF xx length(u16 BE, counts itself)
//         up to SOS; SOFn gives the size, APP1 "Exif\0\0" a TIFF structure,
//         COM a comment.
//   WebP  (RIFF): "RIFF" size(u32 LE) "WEBP", then chunks of fourcc size(u32
//         LE) data, padded to even; VP8/VP8L/VP8X give the size, EXIF a TIFF
//         structure.
//   EXIF  (TIFF 6 + Exif 2.3): byte order "II"/"MM", IFD0 -> ExifIFD (tag
//         0x8769) -> UserComment (tag 0x9286): an 8-byte charset then text.
#include "seedbank/protocol/image_meta.h"

#include "media_bytes.h"

#include "seedbank/protocol/text.h"
#include "seedbank/protocol/util.h"

#include <zlib.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <system_error>

namespace seedbank::protocol {
namespace {

using TextEntries = std::vector<std::pair<std::string, std::string>>;

// ---- Small helpers -------------------------------------------------------

using media::be32;
using media::fail;
using media::tag_text;

std::uint16_t be16(ByteView b, std::size_t at) { return static_cast<std::uint16_t>(b[at] << 8 | b[at + 1]); }
std::uint16_t le16(ByteView b, std::size_t at) { return static_cast<std::uint16_t>(b[at] | b[at + 1] << 8); }
std::uint32_t le24(ByteView b, std::size_t at) {
  return std::uint32_t{b[at]} | std::uint32_t{b[at + 1]} << 8 | std::uint32_t{b[at + 2]} << 16;
}
std::uint32_t le32(ByteView b, std::size_t at) { return le24(b, at) | std::uint32_t{b[at + 3]} << 24; }

bool starts_with(ByteView b, std::string_view prefix) {
  return b.size() >= prefix.size() && std::memcmp(b.data(), prefix.data(), prefix.size()) == 0;
}

std::string mib(std::size_t n) { return std::to_string(n >> 20) + " MiB"; }

std::string hex_prefix(ByteView b, std::size_t count) {
  std::string out;
  for (std::size_t i = 0; i < std::min(count, b.size()); ++i) {
    if (i) out += ' ';
    out += to_hex(b.subspan(i, 1));
  }
  if (b.size() > count) out += " ...";
  return out;
}

// ---- Text encodings ------------------------------------------------------

constexpr char32_t kReplacement = 0xfffd;

bool is_valid_utf8(ByteView b) { return valid_utf8(as_chars(b)); }
std::string sanitize_utf8(ByteView b) { return protocol::sanitize_utf8(as_chars(b)); }

// Text that the format says is Latin-1 (PNG tEXt/zTXt, JPEG COM, EXIF ASCII).
// Text that is already valid UTF-8 is kept, because tools write UTF-8 there
// and Latin-1 text that happens to be valid UTF-8 is vanishingly rare.
std::string legacy_text(ByteView b) {
  if (is_valid_utf8(b)) return std::string(reinterpret_cast<const char*>(b.data()), b.size());
  std::string out;
  out.reserve(b.size() + b.size() / 4);
  for (std::uint8_t c : b) append_utf8(out, c);
  return out;
}

std::string utf16_to_utf8(ByteView b, bool big_endian) {
  std::string out;
  out.reserve(b.size());
  auto unit = [&](std::size_t at) -> char32_t { return big_endian ? be16(b, at) : le16(b, at); };
  for (std::size_t at = 0; at + 1 < b.size(); at += 2) {
    char32_t cp = unit(at);
    if (cp >= 0xd800 && cp <= 0xdbff) {
      if (at + 3 < b.size()) {
        const char32_t low = unit(at + 2);
        if (low >= 0xdc00 && low <= 0xdfff) {
          append_utf8(out, 0x10000 + ((cp - 0xd800) << 10) + (low - 0xdc00));
          at += 2;
          continue;
        }
      }
      cp = kReplacement;
    } else if (cp >= 0xdc00 && cp <= 0xdfff) {
      cp = kReplacement;
    }
    append_utf8(out, cp);
  }
  return out;
}

// Text fields are often padded with NULs (and cameras pad with spaces).
void trim_padding(std::string& s) {
  while (!s.empty() && s.back() == '\0') s.pop_back();
}

ByteView trim_trailing_nuls(ByteView b) {
  while (!b.empty() && b.back() == 0) b = b.first(b.size() - 1);
  return b;
}

// ---- zlib ----------------------------------------------------------------

enum class Inflated { ok, too_large, corrupt, truncated };

// Inflates a zlib stream into `out`, producing at most `limit` bytes.
Inflated inflate_bounded(ByteView in, std::size_t limit, std::string& out, std::string& zlib_message) {
  z_stream zs{};
  if (inflateInit(&zs) != Z_OK) {
    zlib_message = "zlib could not start";
    return Inflated::corrupt;
  }
  // PNG chunk lengths are below 2^31, so the whole input fits in avail_in.
  zs.next_in = const_cast<Bytef*>(in.data());
  zs.avail_in = static_cast<uInt>(in.size());
  const std::size_t cap = limit + 1;  // one byte past the limit shows the overflow
  out.clear();
  std::size_t produced = 0;
  Inflated outcome = Inflated::ok;
  for (;;) {
    if (produced == out.size()) {
      if (out.size() == cap) {
        outcome = Inflated::too_large;
        break;
      }
      out.resize(std::min(cap, std::max<std::size_t>(out.size() * 2, 64 << 10)));
    }
    zs.next_out = reinterpret_cast<Bytef*>(out.data() + produced);
    zs.avail_out = static_cast<uInt>(out.size() - produced);
    const int rc = inflate(&zs, Z_NO_FLUSH);
    produced = out.size() - zs.avail_out;
    if (rc == Z_STREAM_END) break;
    if (rc == Z_OK || rc == Z_BUF_ERROR) {
      if (zs.avail_out == 0) continue;  // needs more room
      if (zs.avail_in == 0) {
        outcome = Inflated::truncated;
        break;
      }
      if (rc == Z_OK) continue;
    }
    zlib_message = zs.msg ? zs.msg : "zlib error " + std::to_string(rc);
    outcome = Inflated::corrupt;
    break;
  }
  inflateEnd(&zs);
  if (produced > limit) outcome = Inflated::too_large;
  out.resize(std::min(produced, limit));
  return outcome;
}

// ---- EXIF ----------------------------------------------------------------

constexpr std::uint16_t kTagExifIfd = 0x8769;
constexpr std::uint16_t kTagUserComment = 0x9286;
constexpr std::uint16_t kTagImageDescription = 0x010e;
constexpr std::uint16_t kTagModel = 0x0110;

std::uint64_t tiff_type_size(std::uint16_t type) {
  switch (type) {
    case 1:
    case 2:
    case 6:
    case 7:
      return 1;  // BYTE ASCII SBYTE UNDEFINED
    case 3:
    case 8:
      return 2;  // SHORT SSHORT
    case 4:
    case 9:
    case 11:
    case 13:
      return 4;  // LONG SLONG FLOAT IFD
    case 5:
    case 10:
    case 12:
      return 8;  // RATIONAL SRATIONAL DOUBLE
    default:
      return 0;
  }
}

struct IfdEntry {
  std::uint16_t tag = 0;
  std::uint16_t type = 0;
  std::uint32_t count = 0;
  std::size_t entry_offset = 0;  // of the 12-byte entry in the TIFF data
};

class TiffReader {
 public:
  TiffReader(ByteView tiff, bool big_endian, std::string where)
      : tiff_(tiff), big_(big_endian), where_(std::move(where)) {}

  std::uint16_t u16(std::size_t at) const { return big_ ? be16(tiff_, at) : le16(tiff_, at); }
  std::uint32_t u32(std::size_t at) const { return big_ ? be32(tiff_, at) : le32(tiff_, at); }
  bool big_endian() const { return big_; }

  Result<std::vector<IfdEntry>> read_ifd(std::uint32_t offset, std::string_view ifd_name) const {
    if (offset > tiff_.size() || tiff_.size() - offset < 2)
      return error(std::string(ifd_name) + " offset " + std::to_string(offset) + " is outside the " +
                   util::human_bytes(tiff_.size()) + " of EXIF data");
    const std::size_t count = u16(offset);
    if ((tiff_.size() - offset - 2) / 12 < count)
      return error(std::string(ifd_name) + " at offset " + std::to_string(offset) + " claims " + std::to_string(count) +
                   " entries but only " + std::to_string((tiff_.size() - offset - 2) / 12) + " fit in the EXIF data");
    std::vector<IfdEntry> entries(count);
    for (std::size_t i = 0; i < count; ++i) {
      const std::size_t at = offset + 2 + 12 * i;
      entries[i] = IfdEntry{u16(at), u16(at + 2), u32(at + 4), at};
    }
    return entries;
  }

  // The bytes of an entry's value: inline when they fit in four bytes,
  // otherwise at the offset the entry gives.
  Result<ByteView> value_bytes(const IfdEntry& entry, std::string_view tag_name) const {
    const std::uint64_t size = tiff_type_size(entry.type) * entry.count;
    if (tiff_type_size(entry.type) == 0)
      return error(std::string(tag_name) + " has unknown type " + std::to_string(entry.type));
    if (size <= 4) return tiff_.subspan(entry.entry_offset + 8, size);
    const std::uint32_t offset = u32(entry.entry_offset + 8);
    if (offset > tiff_.size() || tiff_.size() - offset < size)
      return error(std::string(tag_name) + " claims " + util::human_bytes(size) + " at offset " +
                   std::to_string(offset) + " but the EXIF data has only " + util::human_bytes(tiff_.size()));
    return tiff_.subspan(offset, size);
  }

  Error error(const std::string& detail) const {
    return make_error(ErrorCode::malformed, where_ + ": " + detail +
                                                "; the EXIF block is corrupt (re-export the "
                                                "image or strip its EXIF data)");
  }

 private:
  ByteView tiff_;
  bool big_;
  std::string where_;
};

// The Exif UserComment: an 8-byte charset identifier, then the text.
std::string decode_user_comment(ByteView value, bool tiff_big_endian) {
  static constexpr std::array<std::uint8_t, 8> kAscii = {'A', 'S', 'C', 'I', 'I', 0, 0, 0};
  static constexpr std::array<std::uint8_t, 8> kUnicode = {'U', 'N', 'I', 'C', 'O', 'D', 'E', 0};
  static constexpr std::array<std::uint8_t, 8> kUndefined = {};
  if (value.size() < 8) return sanitize_utf8(trim_trailing_nuls(value));
  const ByteView prefix = value.first(8);
  ByteView body = value.subspan(8);
  std::string text;
  if (std::equal(prefix.begin(), prefix.end(), kUnicode.begin())) {
    // The Exif spec says the TIFF byte order applies, but piexif (which
    // AUTOMATIC1111 uses) always writes UTF-16BE. A byte-order mark settles
    // it; otherwise the zero high bytes of ASCII characters do.
    bool big = tiff_big_endian;
    if (body.size() >= 2 && body[0] == 0xfe && body[1] == 0xff) {
      big = true;
      body = body.subspan(2);
    } else if (body.size() >= 2 && body[0] == 0xff && body[1] == 0xfe) {
      big = false;
      body = body.subspan(2);
    } else {
      std::size_t zero_first = 0, zero_second = 0;
      for (std::size_t at = 0; at + 1 < body.size(); at += 2) {
        zero_first += body[at] == 0;
        zero_second += body[at + 1] == 0;
      }
      if (zero_first != zero_second) big = zero_first > zero_second;
    }
    text = utf16_to_utf8(body, big);
  } else if (std::equal(prefix.begin(), prefix.end(), kAscii.begin())) {
    text = legacy_text(trim_trailing_nuls(body));
  } else if (std::equal(prefix.begin(), prefix.end(), kUndefined.begin())) {
    text = sanitize_utf8(body);
  } else if (starts_with(prefix, std::string_view("JIS\0", 4))) {
    text = sanitize_utf8(body);  // Shift-JIS is not decoded; keep what reads
  } else {
    text = sanitize_utf8(value);  // no charset prefix at all
  }
  trim_padding(text);
  // Cameras fill an unused comment with spaces.
  if (text.find_first_not_of(' ') == std::string::npos) text.clear();
  return text;
}

// Reads the EXIF data of a JPEG APP1 segment or WebP EXIF chunk (starting at
// the TIFF header) into `text`.
Status read_exif(ByteView tiff, std::string where, TextEntries& text) {
  bool big;
  if (starts_with(tiff, "MM")) {
    big = true;
  } else if (starts_with(tiff, "II")) {
    big = false;
  } else {
    return make_error(ErrorCode::malformed, where +
                                                ": EXIF data does not start with a TIFF byte order (\"II\" or "
                                                "\"MM\") but with " +
                                                hex_prefix(tiff, 4) +
                                                "; the EXIF block is corrupt (re-export the image or strip its "
                                                "EXIF data)");
  }
  const TiffReader reader(tiff, big, std::move(where));
  if (tiff.size() < 8) return reader.error("TIFF header is cut off");
  if (reader.u16(2) != 42)
    return reader.error("TIFF header has magic number " + std::to_string(reader.u16(2)) + " instead of 42");

  auto ifd0 = reader.read_ifd(reader.u32(4), "IFD0");
  if (!ifd0) return ifd0.error();
  std::optional<std::uint32_t> exif_ifd;
  for (const IfdEntry& entry : *ifd0) {
    if (entry.tag == kTagExifIfd && tiff_type_size(entry.type) == 4 && entry.count == 1) {
      exif_ifd = reader.u32(entry.entry_offset + 8);
    } else if (entry.tag >= kTagImageDescription && entry.tag <= kTagModel && tiff_type_size(entry.type) == 1) {
      // ComfyUI's SaveAnimatedWEBP stores "prompt:{json}" and
      // "workflow:{json}" in Model, Make and ImageDescription.
      auto value = reader.value_bytes(entry, "IFD0 tag " + std::to_string(entry.tag));
      if (!value) return value.error();
      std::string s = sanitize_utf8(trim_trailing_nuls(*value));
      for (std::string_view key : {"prompt", "workflow"}) {
        if (s.size() > key.size() + 1 && s.compare(0, key.size(), key) == 0 && s[key.size()] == ':' &&
            s[key.size() + 1] == '{') {
          text.emplace_back(std::string(key), s.substr(key.size() + 1));
          break;
        }
      }
    }
  }
  if (!exif_ifd) return {};

  auto exif = reader.read_ifd(*exif_ifd, "Exif IFD");
  if (!exif) return exif.error();
  for (const IfdEntry& entry : *exif) {
    if (entry.tag != kTagUserComment) continue;
    if (tiff_type_size(entry.type) != 1)
      return reader.error("UserComment has type " + std::to_string(entry.type) + " instead of UNDEFINED (7)");
    auto value = reader.value_bytes(entry, "UserComment");
    if (!value) return value.error();
    std::string comment = decode_user_comment(*value, reader.big_endian());
    if (!comment.empty()) text.emplace_back("parameters", std::move(comment));
    break;
  }
  return {};
}

Status add_text(TextEntries& text, std::string key, std::string value, std::string_view name) {
  if (text.size() >= kMaxImageTextEntries)
    return fail(ErrorCode::limit, name,
                "has more than " + std::to_string(kMaxImageTextEntries) +
                    " text entries, the most Seedbank reads; strip the extra metadata");
  text.emplace_back(std::move(key), std::move(value));
  return {};
}

// ---- PNG -----------------------------------------------------------------

constexpr std::array<std::uint8_t, 8> kPngSignature = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};

class PngReader {
 public:
  PngReader(ByteView bytes, std::string_view name) : b_(bytes), name_(name) {}

  Result<ImageInfo> read() {
    if (b_.size() < kPngSignature.size())
      return fail(ErrorCode::malformed, name_,
                  "ends after " + util::human_bytes(b_.size()) + ", inside the PNG signature; the file is truncated");
    if (!std::equal(kPngSignature.begin(), kPngSignature.end(), b_.begin()))
      return fail(ErrorCode::malformed, name_,
                  "has a damaged PNG signature (" + hex_prefix(b_, 8) +
                      "), typically from a text-mode transfer that converted line endings; "
                      "transfer the file again in binary mode");

    ImageInfo info;
    info.mime_type = "image/png";
    std::size_t offset = kPngSignature.size();
    std::size_t chunks = 0;
    for (;;) {
      const std::size_t left = b_.size() - offset;
      if (left == 0)
        return fail(
            ErrorCode::malformed, name_,
            "ends after " + std::to_string(chunks) + " PNG chunks without an IEND chunk; the file is truncated");
      if (left < 8)
        return fail(ErrorCode::malformed, name_,
                    "chunk header at offset " + std::to_string(offset) + " needs 8 bytes but " +
                        util::human_bytes(left) + " remain; the file is truncated");
      const std::uint32_t length = be32(b_, offset);
      const ByteView type = b_.subspan(offset + 4, 4);
      for (std::uint8_t c : type) {
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')))
          return fail(ErrorCode::malformed, name_,
                      "chunk at offset " + std::to_string(offset) + " has type '" + tag_text(type) +
                          "', which is not four letters; the file is corrupt or not a PNG");
      }
      const std::string type_name = tag_text(type);
      if (length > 0x7fffffffu || length > left - 8)
        return fail(ErrorCode::malformed, name_,
                    "chunk '" + type_name + "' at offset " + std::to_string(offset) + " claims " +
                        util::human_bytes(length) + " but the file has " + util::human_bytes(left - 8) +
                        " left; the file is truncated or not a PNG");
      if (std::size_t{length} + 4 > left - 8)
        return fail(ErrorCode::malformed, name_,
                    "chunk '" + type_name + "' at offset " + std::to_string(offset) +
                        " is cut off before the end of its CRC; the file is truncated");
      if (++chunks > kMaxImageChunks)
        return fail(ErrorCode::limit, name_,
                    "has more than " + std::to_string(kMaxImageChunks) +
                        " PNG chunks, more than any real image; re-encode the image");
      const ByteView data = b_.subspan(offset + 8, length);
      const std::uint32_t stored_crc = be32(b_, offset + 8 + length);
      // zlib's crc32 treats a null buffer as "give the initial value", so an
      // empty chunk must not pass one.
      uLong crc = ::crc32(0, type.data(), 4);
      if (!data.empty()) crc = ::crc32(crc, data.data(), static_cast<uInt>(data.size()));
      const auto actual_crc = static_cast<std::uint32_t>(crc);
      if (stored_crc != actual_crc)
        return fail(ErrorCode::malformed, name_,
                    "chunk '" + type_name + "' at offset " + std::to_string(offset) + " has CRC " +
                        to_hex(b_.subspan(offset + 8 + length, 4)) + " but its bytes give " + crc_hex(actual_crc) +
                        "; the file is corrupt (download it again)");

      chunk_offset_ = offset;
      chunk_type_ = type_name;
      if (chunks == 1 && type_name != "IHDR")
        return fail(ErrorCode::malformed, name_,
                    "first PNG chunk is '" + type_name + "' instead of IHDR; the file is corrupt");
      if (type_name == "IHDR") {
        if (chunks != 1) return chunk_error("is a second IHDR; the file is corrupt");
        if (length != 13)
          return chunk_error("is " + util::human_bytes(length) + " instead of 13 bytes; the file is corrupt");
        info.width = be32(data, 0);
        info.height = be32(data, 4);
        if (info.width == 0 || info.height == 0 || info.width > 0x7fffffffu || info.height > 0x7fffffffu)
          return chunk_error("gives an impossible size " + std::to_string(info.width) + "x" +
                             std::to_string(info.height) + "; the file is corrupt");
      } else if (type_name == "IEND") {
        return info;
      } else if (type_name == "tEXt" || type_name == "zTXt" || type_name == "iTXt") {
        Status status = read_text_chunk(data, info.text);
        if (!status) return status.error();
      }
      offset += 12 + std::size_t{length};
    }
  }

 private:
  static std::string crc_hex(std::uint32_t crc) {
    const std::array<std::uint8_t, 4> bytes = {static_cast<std::uint8_t>(crc >> 24),
                                               static_cast<std::uint8_t>(crc >> 16),
                                               static_cast<std::uint8_t>(crc >> 8), static_cast<std::uint8_t>(crc)};
    return to_hex(bytes);
  }

  Error chunk_error(const std::string& detail, ErrorCode code = ErrorCode::malformed) const {
    return fail(code, name_, "chunk '" + chunk_type_ + "' at offset " + std::to_string(chunk_offset_) + " " + detail);
  }

  // Splits off a NUL-terminated field from the front of `rest`.
  std::optional<ByteView> take_field(ByteView& rest) const {
    const auto nul = std::find(rest.begin(), rest.end(), std::uint8_t{0});
    if (nul == rest.end()) return std::nullopt;
    const std::size_t length = static_cast<std::size_t>(nul - rest.begin());
    const ByteView field = rest.first(length);
    rest = rest.subspan(length + 1);
    return field;
  }

  Result<std::string> inflate_text(ByteView compressed) {
    const std::size_t limit = std::min(kMaxInflatedChunkBytes, inflate_budget_);
    std::string out, zlib_message;
    switch (inflate_bounded(compressed, limit, out, zlib_message)) {
      case Inflated::ok:
        inflate_budget_ -= out.size();
        return out;
      case Inflated::too_large:
        if (limit < kMaxInflatedChunkBytes)
          return chunk_error("takes the file's inflated text past " + mib(kMaxInflatedTotalBytes) +
                                 ", the limit for one image; the file is a decompression bomb or "
                                 "carries far more text than a sample image needs",
                             ErrorCode::limit);
        return chunk_error("inflates to more than " + mib(kMaxInflatedChunkBytes) +
                               ", the limit for one text chunk; the file is a decompression bomb "
                               "or carries far more text than a sample image needs",
                           ErrorCode::limit);
      case Inflated::truncated:
        return chunk_error("holds a zlib stream that ends early; the file is corrupt");
      case Inflated::corrupt:
        break;
    }
    return chunk_error("holds a zlib stream that does not decode (" + zlib_message + "); the file is corrupt");
  }

  Status read_text_chunk(ByteView data, TextEntries& text) {
    ByteView rest = data;
    const auto keyword = take_field(rest);
    if (!keyword) return chunk_error("has no NUL after its keyword; the chunk is malformed");
    if (keyword->empty()) return chunk_error("has an empty keyword; the chunk is malformed");
    std::string key = legacy_text(*keyword);

    if (chunk_type_ == "tEXt") return add_text(text, std::move(key), legacy_text(rest), name_);

    if (chunk_type_ == "zTXt") {
      if (rest.empty()) return chunk_error("ends before its compression method; the chunk is malformed");
      if (rest[0] != 0)
        return chunk_error("uses compression method " + std::to_string(rest[0]) +
                           ", but PNG defines only 0 (zlib); the chunk is malformed");
      auto inflated = inflate_text(rest.subspan(1));
      if (!inflated) return inflated.error();
      return add_text(text, std::move(key), legacy_text(as_bytes(*inflated)), name_);
    }

    // iTXt: keyword, compression flag, method, language tag, translated
    // keyword, then UTF-8 text.
    if (rest.size() < 2) return chunk_error("ends before its compression flag; the chunk is malformed");
    const std::uint8_t compressed = rest[0];
    const std::uint8_t method = rest[1];
    rest = rest.subspan(2);
    if (compressed > 1)
      return chunk_error("has compression flag " + std::to_string(compressed) +
                         " (must be 0 or 1); the chunk is malformed");
    if (compressed && method != 0)
      return chunk_error("uses compression method " + std::to_string(method) +
                         ", but PNG defines only 0 (zlib); the chunk is malformed");
    if (!take_field(rest) || !take_field(rest))
      return chunk_error(
          "lacks the NUL after its language tag or translated keyword; the chunk "
          "is malformed");
    if (!compressed) return add_text(text, std::move(key), sanitize_utf8(rest), name_);
    auto inflated = inflate_text(rest);
    if (!inflated) return inflated.error();
    return add_text(text, std::move(key), sanitize_utf8(as_bytes(*inflated)), name_);
  }

  ByteView b_;
  std::string_view name_;
  std::size_t inflate_budget_ = kMaxInflatedTotalBytes;
  std::size_t chunk_offset_ = 0;
  std::string chunk_type_;
};

// ---- JPEG ----------------------------------------------------------------

std::string jpeg_marker_name(std::uint8_t marker) {
  char buffer[16];
  if (marker >= 0xe0 && marker <= 0xef) {
    std::snprintf(buffer, sizeof buffer, "APP%d", marker - 0xe0);
  } else if (marker == 0xfe) {
    return "COM";
  } else if (marker == 0xdb) {
    return "DQT";
  } else if (marker == 0xc4) {
    return "DHT";
  } else if (marker == 0xda) {
    return "SOS";
  } else if (marker >= 0xc0 && marker <= 0xcf) {
    std::snprintf(buffer, sizeof buffer, "SOF%d", marker - 0xc0);
  } else {
    std::snprintf(buffer, sizeof buffer, "0xFF%02X", marker);
  }
  return buffer;
}

Result<ImageInfo> read_jpeg(ByteView b, std::string_view name) {
  ImageInfo info;
  info.mime_type = "image/jpeg";
  bool have_frame = false;
  std::size_t offset = 2;  // past SOI
  std::size_t segments = 0;
  const auto truncated = [&](std::size_t at) {
    return fail(ErrorCode::malformed, name,
                "ends at offset " + std::to_string(at) + " before the JPEG image data (SOS); the file is truncated");
  };
  for (;;) {
    if (offset >= b.size()) return truncated(b.size());
    if (b[offset] != 0xff)
      return fail(ErrorCode::malformed, name,
                  "has byte 0x" + to_hex(b.subspan(offset, 1)) + " at offset " + std::to_string(offset) +
                      " where a JPEG marker (0xFF) should start; the file is corrupt");
    const std::size_t marker_offset = offset;
    while (offset < b.size() && b[offset] == 0xff) ++offset;  // fill bytes
    if (offset >= b.size()) return truncated(b.size());
    const std::uint8_t marker = b[offset++];
    if (++segments > kMaxImageChunks)
      return fail(ErrorCode::limit, name,
                  "has more than " + std::to_string(kMaxImageChunks) +
                      " JPEG segments, more than any real image; re-encode the image");
    if (marker == 0x01 || (marker >= 0xd0 && marker <= 0xd8)) continue;  // no length
    if (marker == 0xd9) break;                                           // EOI
    if (marker == 0x00)
      return fail(ErrorCode::malformed, name,
                  "has 0xFF00 at offset " + std::to_string(marker_offset) +
                      ", which is not a JPEG marker; the file is corrupt");
    const std::string segment = "segment " + jpeg_marker_name(marker) + " at offset " + std::to_string(marker_offset);
    if (b.size() - offset < 2) return truncated(b.size());
    const std::size_t length = be16(b, offset);
    if (length < 2)
      return fail(ErrorCode::malformed, name,
                  segment + " has length " + std::to_string(length) +
                      ", less than its own 2-byte length field; the file is corrupt");
    if (length > b.size() - offset)
      return fail(ErrorCode::malformed, name,
                  segment + " claims " + util::human_bytes(length) + " but the file has " +
                      util::human_bytes(b.size() - offset) + " left; the file is truncated");
    const ByteView payload = b.subspan(offset + 2, length - 2);
    offset += length;

    if (marker == 0xda) break;  // SOS: entropy-coded data follows
    const bool is_frame = marker >= 0xc0 && marker <= 0xcf && marker != 0xc4 && marker != 0xc8 && marker != 0xcc;
    if (is_frame && !have_frame) {
      if (payload.size() < 5)
        return fail(ErrorCode::malformed, name, segment + " is too short for a frame header; the file is corrupt");
      info.height = be16(payload, 1);
      info.width = be16(payload, 3);
      if (info.width == 0) return fail(ErrorCode::malformed, name, segment + " gives width 0; the file is corrupt");
      have_frame = true;
    } else if (marker == 0xe1 && starts_with(payload, std::string_view("Exif\0\0", 6))) {
      TextEntries found;
      Status status = read_exif(payload.subspan(6), std::string(name) + ": " + segment, found);
      if (!status) return status.error();
      for (auto& [key, value] : found) {
        Status added = add_text(info.text, std::move(key), std::move(value), name);
        if (!added) return added.error();
      }
    } else if (marker == 0xfe) {
      std::string comment = legacy_text(trim_trailing_nuls(payload));
      if (!comment.empty()) {
        Status added = add_text(info.text, "comment", std::move(comment), name);
        if (!added) return added.error();
      }
    }
  }
  if (!have_frame)
    return fail(ErrorCode::malformed, name,
                "has no JPEG frame header (SOFn) before its image data; the file is corrupt");
  return info;
}

// ---- WebP ----------------------------------------------------------------

Result<ImageInfo> read_webp(ByteView b, std::string_view name) {
  ImageInfo info;
  info.mime_type = "image/webp";
  const std::uint32_t riff_size = le32(b, 4);
  if (riff_size < 4)
    return fail(ErrorCode::malformed, name,
                "RIFF header gives size " + std::to_string(riff_size) + ", too small for a WebP; the file is corrupt");
  if (riff_size > b.size() - 8)
    return fail(ErrorCode::malformed, name,
                "RIFF header claims " + util::human_bytes(riff_size) + " but the file has " +
                    util::human_bytes(b.size() - 8) + " after it; the file is truncated");
  const std::size_t end = 8 + std::size_t{riff_size};
  std::size_t offset = 12;
  std::size_t chunks = 0;
  bool have_size = false, have_canvas = false;
  while (offset < end) {
    if (end - offset < 8)
      return fail(ErrorCode::malformed, name,
                  "WebP chunk header at offset " + std::to_string(offset) + " needs 8 bytes but " +
                      util::human_bytes(end - offset) + " are left; the file is truncated");
    const ByteView fourcc = b.subspan(offset, 4);
    const std::uint32_t size = le32(b, offset + 4);
    const std::string chunk = "WebP chunk '" + tag_text(fourcc) + "' at offset " + std::to_string(offset);
    if (size > end - offset - 8)
      return fail(ErrorCode::malformed, name,
                  chunk + " claims " + util::human_bytes(size) + " but the file has " +
                      util::human_bytes(end - offset - 8) + " left; the file is truncated");
    if (++chunks > kMaxImageChunks)
      return fail(ErrorCode::limit, name,
                  "has more than " + std::to_string(kMaxImageChunks) +
                      " WebP chunks, more than any real image; re-encode the image");
    const ByteView data = b.subspan(offset + 8, size);
    const auto corrupt = [&](const std::string& detail) {
      return fail(ErrorCode::malformed, name, chunk + " " + detail + "; the file is corrupt");
    };

    if (starts_with(fourcc, "VP8X")) {
      if (chunks != 1) return corrupt("comes after other chunks, but must be first");
      if (data.size() < 10) return corrupt("is too short for a VP8X header");
      info.width = 1 + le24(data, 4);
      info.height = 1 + le24(data, 7);
      have_size = have_canvas = true;
    } else if (starts_with(fourcc, "VP8 ") && !have_canvas && !have_size) {
      if (data.size() < 10) return corrupt("is too short for a VP8 frame header");
      if ((data[0] & 1) != 0) return corrupt("does not start with a key frame");
      if (data[3] != 0x9d || data[4] != 0x01 || data[5] != 0x2a) return corrupt("lacks the VP8 start code 9d 01 2a");
      info.width = le16(data, 6) & 0x3fff;
      info.height = le16(data, 8) & 0x3fff;
      if (info.width == 0 || info.height == 0) return corrupt("gives a zero width or height");
      have_size = true;
    } else if (starts_with(fourcc, "VP8L") && !have_canvas && !have_size) {
      if (data.size() < 5) return corrupt("is too short for a VP8L header");
      if (data[0] != 0x2f) return corrupt("lacks the VP8L signature byte 0x2f");
      const std::uint32_t bits = le32(data, 1);
      if (bits >> 29 != 0) return corrupt("has VP8L version " + std::to_string(bits >> 29));
      info.width = (bits & 0x3fff) + 1;
      info.height = (bits >> 14 & 0x3fff) + 1;
      have_size = true;
    } else if (starts_with(fourcc, "EXIF")) {
      ByteView tiff = data;
      if (starts_with(tiff, std::string_view("Exif\0\0", 6))) tiff = tiff.subspan(6);
      TextEntries found;
      Status status = read_exif(tiff, std::string(name) + ": " + chunk, found);
      if (!status) return status.error();
      for (auto& [key, value] : found) {
        Status added = add_text(info.text, std::move(key), std::move(value), name);
        if (!added) return added.error();
      }
    }
    // A missing pad byte after the last chunk is common and harmless.
    offset += 8 + std::size_t{size} + (size & 1);
  }
  if (!have_size)
    return fail(ErrorCode::malformed, name,
                "has no VP8, VP8L or VP8X chunk giving the image size; the file is truncated "
                "or not a WebP");
  return info;
}

}  // namespace

Result<ImageInfo> read_image_info(ByteView bytes, std::string_view name_for_messages) {
  const std::string_view name = name_for_messages;
  if (bytes.empty())
    return fail(ErrorCode::malformed, name,
                "the file is empty; expected a PNG, JPEG or WebP image, or an MP4 or WebM video");
  if (starts_with(bytes, "\x89PNG")) return PngReader(bytes, name).read();
  if (bytes.size() >= 3 && bytes[0] == 0xff && bytes[1] == 0xd8 && bytes[2] == 0xff) return read_jpeg(bytes, name);
  if (bytes.size() >= 12 && starts_with(bytes, "RIFF") && starts_with(bytes.subspan(8), "WEBP"))
    return read_webp(bytes, name);
  if ((bytes.size() >= 8 && starts_with(bytes.subspan(4), "ftyp")) || starts_with(bytes, "\x1a\x45\xdf\xa3"))
    return read_video_info(bytes, name);
  return fail(ErrorCode::malformed, name,
              "not a PNG, JPEG or WebP image nor an MP4 or WebM video (starts with bytes " + hex_prefix(bytes, 8) +
                  "); export the image as PNG, JPEG or WebP, or the video as MP4 or WebM");
}

Result<ImageInfo> read_image_file(const std::filesystem::path& path) {
  const std::string name = path.string();
  std::error_code ec;
  const std::uintmax_t size = std::filesystem::file_size(path, ec);
  if (ec) return make_error(ErrorCode::io, name + ": cannot read the image: " + ec.message());
  if (size > kMaxImageFileBytes)
    return make_error(ErrorCode::limit, name + ": the image is " + util::human_bytes(size) + ", more than the " +
                                            mib(kMaxImageFileBytes) +
                                            " Seedbank accepts for a sample image; scale it down or re-encode it");
  std::ifstream in(path, std::ios::binary);
  if (!in) return make_error(ErrorCode::io, name + ": cannot open the image for reading");
  Bytes bytes(static_cast<std::size_t>(size));
  in.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  if (static_cast<std::uintmax_t>(in.gcount()) != size)
    return make_error(ErrorCode::io, name + ": reading the image stopped after " +
                                         util::human_bytes(static_cast<std::uint64_t>(in.gcount())) + " of " +
                                         util::human_bytes(size) + "; was it changed while being read?");
  return read_image_info(bytes, name);
}

std::optional<std::string> find_text(const ImageInfo& info, std::string_view key) {
  for (const auto& [k, v] : info.text)
    if (k == key) return v;
  return std::nullopt;
}

}  // namespace seedbank::protocol
