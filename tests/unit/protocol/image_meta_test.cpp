// read_image_info over PNG, JPEG and WebP bytes built here chunk by chunk, so
// each test shows exactly which bytes it feeds in.
#include "seedbank/protocol/image_meta.h"

#include <zlib.h>

#include <boost/test/unit_test.hpp>

#include "support/require_ok.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

namespace sp = seedbank::protocol;
using sp::Bytes;
using sp::ErrorCode;

namespace {

// ---- Byte builders -------------------------------------------------------

void put_be16(Bytes& out, std::uint32_t v) {
  out.push_back(static_cast<std::uint8_t>(v >> 8));
  out.push_back(static_cast<std::uint8_t>(v));
}
void put_be32(Bytes& out, std::uint32_t v) {
  put_be16(out, v >> 16);
  put_be16(out, v & 0xffff);
}
void put_le16(Bytes& out, std::uint32_t v) {
  out.push_back(static_cast<std::uint8_t>(v));
  out.push_back(static_cast<std::uint8_t>(v >> 8));
}
void put_le32(Bytes& out, std::uint32_t v) {
  put_le16(out, v & 0xffff);
  put_le16(out, v >> 16);
}
void put(Bytes& out, std::string_view s) { out.insert(out.end(), s.begin(), s.end()); }
void put(Bytes& out, const Bytes& b) { out.insert(out.end(), b.begin(), b.end()); }

Bytes bytes_of(std::string_view s) { return Bytes(s.begin(), s.end()); }

Bytes zlib_compress(std::string_view text) {
  uLongf size = compressBound(static_cast<uLong>(text.size()));
  Bytes out(size);
  BOOST_REQUIRE_EQUAL(
      compress2(out.data(), &size, reinterpret_cast<const Bytef*>(text.data()), static_cast<uLong>(text.size()), 9),
      Z_OK);
  out.resize(size);
  return out;
}

// A PNG chunk with a correct CRC.
Bytes png_chunk(std::string_view type, const Bytes& data) {
  Bytes out;
  put_be32(out, static_cast<std::uint32_t>(data.size()));
  put(out, type);
  put(out, data);
  uLong crc = crc32(0, reinterpret_cast<const Bytef*>(type.data()), 4);
  if (!data.empty()) crc = crc32(crc, data.data(), static_cast<uInt>(data.size()));
  put_be32(out, static_cast<std::uint32_t>(crc));
  return out;
}

Bytes ihdr(std::uint32_t width, std::uint32_t height) {
  Bytes data;
  put_be32(data, width);
  put_be32(data, height);
  put(data, Bytes{8, 0, 0, 0, 0});  // 8-bit greyscale
  return png_chunk("IHDR", data);
}

Bytes text_chunk(std::string_view keyword, std::string_view text) {
  Bytes data = bytes_of(keyword);
  data.push_back(0);
  put(data, text);
  return png_chunk("tEXt", data);
}

Bytes ztxt_chunk(std::string_view keyword, std::string_view text) {
  Bytes data = bytes_of(keyword);
  put(data, Bytes{0, 0});  // NUL, method 0
  put(data, zlib_compress(text));
  return png_chunk("zTXt", data);
}

Bytes itxt_chunk(std::string_view keyword, std::string_view utf8, bool compressed) {
  Bytes data = bytes_of(keyword);
  put(data, Bytes{0, static_cast<std::uint8_t>(compressed), 0});
  put(data, "en");
  data.push_back(0);
  put(data, keyword);  // translated keyword
  data.push_back(0);
  put(data, compressed ? zlib_compress(utf8) : bytes_of(utf8));
  return png_chunk("iTXt", data);
}

// A PNG of the given size with `chunks` between IHDR and IDAT.
Bytes png(std::uint32_t width, std::uint32_t height, const std::vector<Bytes>& chunks) {
  Bytes out = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  put(out, ihdr(width, height));
  for (const Bytes& chunk : chunks) put(out, chunk);
  put(out, png_chunk("IDAT", zlib_compress(std::string(1 + width, '\0'))));
  put(out, png_chunk("IEND", {}));
  return out;
}

Bytes utf16(std::u16string_view s, bool big_endian) {
  Bytes out;
  for (char16_t unit : s) big_endian ? put_be16(out, unit) : put_le16(out, unit);
  return out;
}

// A TIFF structure: IFD0 (extra entries, then the Exif IFD pointer) and an
// Exif IFD holding only UserComment, laid out the way piexif writes it.
struct TiffEntry {
  std::uint16_t tag;
  std::uint16_t type;
  Bytes value;  // byte-sized types only
};

Bytes tiff(bool big_endian, const Bytes& user_comment, const std::vector<TiffEntry>& ifd0_extra = {}) {
  const auto u16 = [&](Bytes& out, std::uint32_t v) { big_endian ? put_be16(out, v) : put_le16(out, v); };
  const auto u32 = [&](Bytes& out, std::uint32_t v) { big_endian ? put_be32(out, v) : put_le32(out, v); };
  const std::uint32_t ifd0_entries = static_cast<std::uint32_t>(ifd0_extra.size()) + 1;
  const std::uint32_t ifd0_offset = 8;
  const std::uint32_t exif_offset = ifd0_offset + 2 + 12 * ifd0_entries + 4;
  std::uint32_t data_offset = exif_offset + 2 + 12 + 4;

  Bytes out;
  put(out, big_endian ? "MM" : "II");
  u16(out, 42);
  u32(out, ifd0_offset);
  Bytes data;  // values that do not fit in an entry, after both IFDs
  const auto entry = [&](std::uint16_t tag, std::uint16_t type, const Bytes& value) {
    u16(out, tag);
    u16(out, type);
    u32(out, static_cast<std::uint32_t>(value.size()));
    if (value.size() <= 4) {
      Bytes inline_value = value;
      inline_value.resize(4);
      put(out, inline_value);
    } else {
      u32(out, data_offset + static_cast<std::uint32_t>(data.size()));
      put(data, value);
    }
  };
  u16(out, ifd0_entries);
  for (const TiffEntry& e : ifd0_extra) entry(e.tag, e.type, e.value);
  u16(out, 0x8769);
  u16(out, 4);
  u32(out, 1);
  u32(out, exif_offset);
  u32(out, 0);  // no IFD1
  // Every extra value lands in `data` before the UserComment's, so the
  // offset for UserComment is known once IFD0 is written.
  u16(out, 1);
  entry(0x9286, 7, user_comment);
  u32(out, 0);
  put(out, data);
  return out;
}

Bytes jpeg_segment(std::uint8_t marker, const Bytes& payload) {
  Bytes out = {0xff, marker};
  put_be16(out, static_cast<std::uint32_t>(payload.size() + 2));
  put(out, payload);
  return out;
}

Bytes jpeg_exif_segment(const Bytes& tiff_bytes) {
  Bytes payload = bytes_of(std::string_view("Exif\0\0", 6));
  put(payload, tiff_bytes);
  return jpeg_segment(0xe1, payload);
}

// A JPEG header up to SOS: SOI, the given segments, SOF0 with the size, SOS.
Bytes jpeg(std::uint16_t width, std::uint16_t height, const std::vector<Bytes>& segments) {
  Bytes out = {0xff, 0xd8};
  for (const Bytes& s : segments) put(out, s);
  Bytes sof = {8};
  put_be16(sof, height);
  put_be16(sof, width);
  put(sof, Bytes{1, 1, 0x11, 0});
  put(out, jpeg_segment(0xc0, sof));
  put(out, jpeg_segment(0xda, Bytes{1, 1, 0, 0, 63, 0}));
  put(out, Bytes{0x3f, 0xff, 0xd9});
  return out;
}

Bytes riff_chunk(std::string_view fourcc, const Bytes& data) {
  Bytes out = bytes_of(fourcc);
  put_le32(out, static_cast<std::uint32_t>(data.size()));
  put(out, data);
  if (data.size() % 2) out.push_back(0);
  return out;
}

Bytes webp(const std::vector<Bytes>& chunks) {
  Bytes body = bytes_of("WEBP");
  for (const Bytes& c : chunks) put(body, c);
  Bytes out = bytes_of("RIFF");
  put_le32(out, static_cast<std::uint32_t>(body.size()));
  put(out, body);
  return out;
}

Bytes vp8x(std::uint32_t width, std::uint32_t height) {
  Bytes data = {0x08, 0, 0, 0};  // EXIF flag
  for (std::uint32_t v : {width - 1, height - 1}) {
    data.push_back(static_cast<std::uint8_t>(v));
    data.push_back(static_cast<std::uint8_t>(v >> 8));
    data.push_back(static_cast<std::uint8_t>(v >> 16));
  }
  return riff_chunk("VP8X", data);
}

Bytes vp8l(std::uint32_t width, std::uint32_t height) {
  Bytes data = {0x2f};
  put_le32(data, (width - 1) | (height - 1) << 14);
  put(data, Bytes{0, 0, 0});
  return riff_chunk("VP8L", data);
}

const std::string kParameters =
    "a red fox\nNegative prompt: blurry\nSteps: 20, Sampler: Euler a, CFG scale: 7, "
    "Seed: 1, Size: 512x768";

sp::ImageInfo read_ok(const Bytes& bytes) {
  auto info = sp::read_image_info(bytes, "test.img");
  SB_REQUIRE_OK(info);
  return std::move(info).value();
}

// The error read_image_info gives, after checking it is one.
sp::Error read_error(const Bytes& bytes, std::string_view name = "test.img") {
  auto info = sp::read_image_info(bytes, name);
  BOOST_REQUIRE_MESSAGE(!info.ok(), "expected an error, got an image");
  return info.error();
}

bool contains(const std::string& haystack, std::string_view needle) {
  return haystack.find(needle) != std::string::npos;
}

#define CHECK_CONTAINS(message, needle) \
  BOOST_CHECK_MESSAGE(contains((message), (needle)), "\"" << (message) << "\" lacks \"" << (needle) << "\"")

}  // namespace

BOOST_AUTO_TEST_SUITE(image_meta_test)

// ---- PNG -----------------------------------------------------------------

BOOST_AUTO_TEST_CASE(png_text_chunk_gives_parameters_and_size) {
  const auto info = read_ok(png(512, 768, {text_chunk("parameters", kParameters)}));
  BOOST_CHECK_EQUAL(info.mime_type, "image/png");
  BOOST_CHECK_EQUAL(info.width, 512u);
  BOOST_CHECK_EQUAL(info.height, 768u);
  BOOST_REQUIRE_EQUAL(info.text.size(), 1u);
  BOOST_CHECK_EQUAL(info.text[0].first, "parameters");
  BOOST_CHECK_EQUAL(info.text[0].second, kParameters);
  BOOST_CHECK_EQUAL(sp::find_text(info, "parameters").value_or(""), kParameters);
  BOOST_CHECK(!sp::find_text(info, "Parameters"));
}

BOOST_AUTO_TEST_CASE(png_text_entries_keep_file_order_across_idat) {
  Bytes bytes = png(4, 4, {text_chunk("prompt", "{\"1\":{}}"), ztxt_chunk("workflow", "{}")});
  // A text chunk after IDAT (allowed by the spec) is read too.
  bytes.resize(bytes.size() - 12);  // drop IEND
  put(bytes, text_chunk("prompt", "second"));
  put(bytes, png_chunk("IEND", {}));
  const auto info = read_ok(bytes);
  BOOST_REQUIRE_EQUAL(info.text.size(), 3u);
  BOOST_CHECK_EQUAL(info.text[0].first, "prompt");
  BOOST_CHECK_EQUAL(info.text[1].first, "workflow");
  BOOST_CHECK_EQUAL(info.text[1].second, "{}");
  BOOST_CHECK_EQUAL(info.text[2].second, "second");
  BOOST_CHECK_EQUAL(sp::find_text(info, "prompt").value_or(""), "{\"1\":{}}");
}

BOOST_AUTO_TEST_CASE(png_latin1_text_becomes_utf8) {
  const auto info = read_ok(png(1, 1, {text_chunk("Comment", "caf\xe9 \xb5"), text_chunk("Title", "caf\xc3\xa9")}));
  BOOST_CHECK_EQUAL(info.text[0].second, "caf\xc3\xa9 \xc2\xb5");  // Latin-1 converted
  BOOST_CHECK_EQUAL(info.text[1].second, "caf\xc3\xa9");           // UTF-8 kept
}

BOOST_AUTO_TEST_CASE(png_itxt_uncompressed_and_compressed) {
  const std::string text = "\xe7\x8b\x90 fox, caf\xc3\xa9\nSteps: 20";
  const auto info = read_ok(png(8, 8, {itxt_chunk("parameters", text, false), itxt_chunk("workflow", text, true)}));
  BOOST_REQUIRE_EQUAL(info.text.size(), 2u);
  BOOST_CHECK_EQUAL(info.text[0].first, "parameters");
  BOOST_CHECK_EQUAL(info.text[0].second, text);
  BOOST_CHECK_EQUAL(info.text[1].first, "workflow");
  BOOST_CHECK_EQUAL(info.text[1].second, text);
}

BOOST_AUTO_TEST_CASE(png_invalid_utf8_in_itxt_is_replaced) {
  const auto info = read_ok(png(1, 1,
                                {itxt_chunk("parameters",
                                            "a\xff"
                                            "b",
                                            false)}));
  BOOST_CHECK_EQUAL(info.text[0].second,
                    "a\xef\xbf\xbd"
                    "b");
}

BOOST_AUTO_TEST_CASE(png_truncated_file_is_reported) {
  const Bytes whole = png(8, 8, {text_chunk("parameters", kParameters)});
  // Cut inside the tEXt chunk: its length now runs past the end.
  const Bytes cut(whole.begin(), whole.begin() + 60);
  const auto error = read_error(cut, "sample.png");
  BOOST_CHECK(error.code == ErrorCode::malformed);
  CHECK_CONTAINS(error.message, "sample.png: chunk 'tEXt' at offset 33 claims");
  CHECK_CONTAINS(error.message, "truncated");

  // Cut exactly before IEND.
  const Bytes no_iend(whole.begin(), whole.end() - 12);
  CHECK_CONTAINS(read_error(no_iend).message, "without an IEND chunk");
}

BOOST_AUTO_TEST_CASE(png_bad_crc_is_reported) {
  Bytes bytes = png(8, 8, {text_chunk("parameters", kParameters)});
  bytes[33 + 8 + 12] ^= 0x20;  // a byte of the text, 33 being where tEXt starts
  const auto error = read_error(bytes, "sample.png");
  BOOST_CHECK(error.code == ErrorCode::malformed);
  CHECK_CONTAINS(error.message, "chunk 'tEXt' at offset 33 has CRC");
  CHECK_CONTAINS(error.message, "corrupt");
}

BOOST_AUTO_TEST_CASE(png_oversize_chunk_length_is_reported) {
  Bytes bytes = png(8, 8, {text_chunk("parameters", "x")});
  bytes[33] = bytes[34] = bytes[35] = 0xff;  // length 0xffffff.. of the chunk at 33
  const auto error = read_error(bytes, "sample.png");
  BOOST_CHECK(error.code == ErrorCode::malformed);
  CHECK_CONTAINS(error.message, "sample.png: chunk 'tEXt' at offset 33 claims 4.0 GiB but the file has");
  CHECK_CONTAINS(error.message, "truncated or not a PNG");
}

BOOST_AUTO_TEST_CASE(png_ztxt_zip_bomb_is_refused) {
  const std::string zeros((9u << 20), '\0');  // 9 MiB inflates from ~9 KB
  const Bytes bomb = ztxt_chunk("parameters", zeros);
  BOOST_REQUIRE_LT(bomb.size(), 64u << 10);
  const auto error = read_error(png(8, 8, {bomb}), "bomb.png");
  BOOST_CHECK(error.code == ErrorCode::limit);
  CHECK_CONTAINS(error.message, "bomb.png: chunk 'zTXt'");
  CHECK_CONTAINS(error.message, "more than 8 MiB");
}

BOOST_AUTO_TEST_CASE(png_inflated_total_is_bounded) {
  const Bytes chunk = ztxt_chunk("parameters", std::string(7u << 20, 'a'));  // under 8 MiB
  const auto error = read_error(png(8, 8, {chunk, chunk, chunk, chunk, chunk}));
  BOOST_CHECK(error.code == ErrorCode::limit);
  CHECK_CONTAINS(error.message, "past 32 MiB");
}

BOOST_AUTO_TEST_CASE(png_corrupt_zlib_stream_is_reported) {
  Bytes data = bytes_of("parameters");
  put(data, Bytes{0, 0, 0x78, 0x9c, 0xff, 0xff, 0xff});
  const auto error = read_error(png(8, 8, {png_chunk("zTXt", data)}));
  BOOST_CHECK(error.code == ErrorCode::malformed);
  CHECK_CONTAINS(error.message, "zlib stream that does not decode");
}

BOOST_AUTO_TEST_CASE(png_ihdr_must_come_first) {
  Bytes bytes = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  put(bytes, text_chunk("parameters", "x"));
  put(bytes, ihdr(1, 1));
  put(bytes, png_chunk("IEND", {}));
  CHECK_CONTAINS(read_error(bytes).message, "first PNG chunk is 'tEXt' instead of IHDR");
}

BOOST_AUTO_TEST_CASE(png_signature_damaged_by_text_mode_transfer) {
  Bytes bytes = png(1, 1, {});
  bytes.erase(bytes.begin() + 4);  // "\r\n" -> "\n"
  CHECK_CONTAINS(read_error(bytes).message, "damaged PNG signature");
}

BOOST_AUTO_TEST_CASE(png_text_entry_count_is_bounded) {
  const std::vector<Bytes> chunks(sp::kMaxImageTextEntries + 1, text_chunk("k", "v"));
  const auto error = read_error(png(1, 1, chunks));
  BOOST_CHECK(error.code == ErrorCode::limit);
  CHECK_CONTAINS(error.message, "more than 256 text entries");
  BOOST_CHECK(sp::read_image_info(png(1, 1, {chunks.begin(), chunks.end() - 1}), "ok.png").ok());
}

BOOST_AUTO_TEST_CASE(png_text_chunk_without_nul_is_reported) {
  const auto error = read_error(png(1, 1, {png_chunk("tEXt", bytes_of("parameters"))}));
  CHECK_CONTAINS(error.message, "no NUL after its keyword");
}

// ---- JPEG ----------------------------------------------------------------

BOOST_AUTO_TEST_CASE(jpeg_exif_unicode_big_endian_as_automatic1111_writes_it) {
  // piexif: big-endian TIFF, "UNICODE\0" then UTF-16BE, here with a
  // character outside the BMP to exercise surrogate pairs.
  Bytes comment = bytes_of(std::string_view("UNICODE\0", 8));
  put(comment, utf16(u"fox \u72d0 \U0001F98A\nSteps: 20, Seed: 5", true));
  const auto info = read_ok(jpeg(640, 480, {jpeg_exif_segment(tiff(true, comment))}));
  BOOST_CHECK_EQUAL(info.mime_type, "image/jpeg");
  BOOST_CHECK_EQUAL(info.width, 640u);
  BOOST_CHECK_EQUAL(info.height, 480u);
  BOOST_CHECK_EQUAL(sp::find_text(info, "parameters").value_or(""),
                    "fox \xe7\x8b\x90 \xf0\x9f\xa6\x8a\nSteps: 20, Seed: 5");
}

BOOST_AUTO_TEST_CASE(jpeg_exif_unicode_byte_order_is_detected) {
  const std::string expected = "a cat, Steps: 20";
  // Little-endian text in a little-endian TIFF.
  Bytes le = bytes_of(std::string_view("UNICODE\0", 8));
  put(le, utf16(u"a cat, Steps: 20", false));
  // Big-endian text in a little-endian TIFF (what piexif-style writers do
  // when another tool rewrote the TIFF): the zero bytes give it away.
  Bytes be = bytes_of(std::string_view("UNICODE\0", 8));
  put(be, utf16(u"a cat, Steps: 20", true));
  // A byte-order mark overrides everything.
  Bytes bom = bytes_of(std::string_view("UNICODE\0", 8));
  put(bom, Bytes{0xff, 0xfe});
  put(bom, utf16(u"a cat, Steps: 20", false));
  for (const Bytes& comment : {le, be, bom}) {
    const auto info = read_ok(jpeg(8, 8, {jpeg_exif_segment(tiff(false, comment))}));
    BOOST_CHECK_EQUAL(sp::find_text(info, "parameters").value_or(""), expected);
  }
}

BOOST_AUTO_TEST_CASE(jpeg_exif_ascii_user_comment_and_com_segment) {
  Bytes comment = bytes_of(std::string_view("ASCII\0\0\0", 8));
  put(comment, "a cat\nSteps: 30");
  const auto info =
      read_ok(jpeg(100, 50, {jpeg_exif_segment(tiff(true, comment)), jpeg_segment(0xfe, bytes_of("made with love"))}));
  BOOST_CHECK_EQUAL(info.width, 100u);
  BOOST_CHECK_EQUAL(info.height, 50u);
  BOOST_REQUIRE_EQUAL(info.text.size(), 2u);
  BOOST_CHECK_EQUAL(info.text[0].first, "parameters");
  BOOST_CHECK_EQUAL(info.text[0].second, "a cat\nSteps: 30");
  BOOST_CHECK_EQUAL(info.text[1].first, "comment");
  BOOST_CHECK_EQUAL(info.text[1].second, "made with love");
}

BOOST_AUTO_TEST_CASE(jpeg_exif_undefined_charset_is_utf8) {
  Bytes comment(8, 0);
  put(comment, "caf\xc3\xa9");
  comment.push_back(0);
  const auto info = read_ok(jpeg(8, 8, {jpeg_exif_segment(tiff(false, comment))}));
  BOOST_CHECK_EQUAL(sp::find_text(info, "parameters").value_or(""), "caf\xc3\xa9");
}

BOOST_AUTO_TEST_CASE(jpeg_blank_user_comment_is_ignored) {
  Bytes comment = bytes_of(std::string_view("ASCII\0\0\0", 8));
  put(comment, "        ");  // what cameras write
  const auto info = read_ok(jpeg(8, 8, {jpeg_exif_segment(tiff(true, comment))}));
  BOOST_CHECK(info.text.empty());
}

BOOST_AUTO_TEST_CASE(jpeg_segment_running_past_the_end_is_reported) {
  Bytes bytes = {0xff, 0xd8};
  put(bytes, Bytes{0xff, 0xe1, 0x40, 0x00});  // APP1 claiming 16 KB
  put(bytes, "Exif");
  const auto error = read_error(bytes, "photo.jpg");
  BOOST_CHECK(error.code == ErrorCode::malformed);
  CHECK_CONTAINS(error.message, "photo.jpg: segment APP1 at offset 2 claims 16.0 KiB");
  CHECK_CONTAINS(error.message, "truncated");
}

BOOST_AUTO_TEST_CASE(jpeg_exif_offset_outside_the_block_is_reported) {
  Bytes comment = bytes_of(std::string_view("ASCII\0\0\0", 8));
  put(comment, "a long enough comment");
  Bytes t = tiff(true, comment);
  // The UserComment's value offset is the last 4 bytes of its entry, which
  // sits in the Exif IFD right after IFD0 (8 + 18 bytes in).
  const std::size_t value_offset = 8 + 18 + 2 + 8;
  t[value_offset] = 0x7f;
  const auto error = read_error(jpeg(8, 8, {jpeg_exif_segment(t)}), "photo.jpg");
  BOOST_CHECK(error.code == ErrorCode::malformed);
  CHECK_CONTAINS(error.message, "photo.jpg: segment APP1 at offset 2: UserComment claims");
  CHECK_CONTAINS(error.message, "EXIF block is corrupt");
}

BOOST_AUTO_TEST_CASE(jpeg_bad_tiff_byte_order_is_reported) {
  const auto error = read_error(jpeg(8, 8, {jpeg_exif_segment(bytes_of(std::string_view("XX\0*\0\0\0\x08", 8)))}));
  CHECK_CONTAINS(error.message, "does not start with a TIFF byte order");
}

BOOST_AUTO_TEST_CASE(jpeg_truncated_before_frame_header) {
  Bytes bytes = {0xff, 0xd8};
  put(bytes, jpeg_segment(0xe0, bytes_of(std::string_view("JFIF\0\1\1\0\0\1\0\1\0\0", 14))));
  CHECK_CONTAINS(read_error(bytes).message, "before the JPEG image data (SOS); the file is truncated");
}

// ---- WebP ----------------------------------------------------------------

BOOST_AUTO_TEST_CASE(webp_vp8x_canvas_and_exif_user_comment) {
  Bytes comment = bytes_of(std::string_view("UNICODE\0", 8));
  put(comment, utf16(u"a fox\nSteps: 20", true));
  Bytes exif_with_prefix = bytes_of(std::string_view("Exif\0\0", 6));
  put(exif_with_prefix, tiff(true, comment));
  const auto info = read_ok(webp({vp8x(1024, 1536), vp8l(1024, 1536), riff_chunk("EXIF", exif_with_prefix)}));
  BOOST_CHECK_EQUAL(info.mime_type, "image/webp");
  BOOST_CHECK_EQUAL(info.width, 1024u);
  BOOST_CHECK_EQUAL(info.height, 1536u);
  BOOST_CHECK_EQUAL(sp::find_text(info, "parameters").value_or(""), "a fox\nSteps: 20");

  // The EXIF chunk may also start directly with the TIFF header.
  const auto bare = read_ok(webp({vp8x(3, 5), vp8l(3, 5), riff_chunk("EXIF", tiff(false, comment))}));
  BOOST_CHECK_EQUAL(bare.width, 3u);
  BOOST_CHECK_EQUAL(sp::find_text(bare, "parameters").value_or(""), "a fox\nSteps: 20");
}

BOOST_AUTO_TEST_CASE(webp_vp8l_size) {
  const auto info = read_ok(webp({vp8l(16383, 7)}));
  BOOST_CHECK_EQUAL(info.width, 16383u);
  BOOST_CHECK_EQUAL(info.height, 7u);
  BOOST_CHECK(info.text.empty());
}

BOOST_AUTO_TEST_CASE(webp_vp8_lossy_size) {
  Bytes frame = {0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a};  // key frame tag, start code
  put_le16(frame, 832);
  put_le16(frame, 1216);
  put(frame, Bytes(8, 0));
  const auto info = read_ok(webp({riff_chunk("VP8 ", frame)}));
  BOOST_CHECK_EQUAL(info.width, 832u);
  BOOST_CHECK_EQUAL(info.height, 1216u);
}

BOOST_AUTO_TEST_CASE(webp_comfyui_metadata_in_ifd0) {
  // ComfyUI's SaveAnimatedWEBP: Model = "prompt:{...}", Make = "workflow:{...}".
  const std::vector<TiffEntry> ifd0 = {
      {0x010f, 2, bytes_of(std::string_view("workflow:{\"nodes\":[]}\0", 22))},
      {0x0110, 2, bytes_of(std::string_view("prompt:{\"3\":{}}\0", 16))},
  };
  const auto info = read_ok(webp({vp8l(8, 8), riff_chunk("EXIF", tiff(false, Bytes(8, 0), ifd0))}));
  BOOST_CHECK_EQUAL(sp::find_text(info, "workflow").value_or(""), "{\"nodes\":[]}");
  BOOST_CHECK_EQUAL(sp::find_text(info, "prompt").value_or(""), "{\"3\":{}}");
}

BOOST_AUTO_TEST_CASE(webp_truncated_chunk_is_reported) {
  Bytes bytes = webp({vp8l(8, 8), riff_chunk("EXIF", Bytes(40, 0))});
  bytes.resize(bytes.size() - 20);
  bytes[4] = static_cast<std::uint8_t>(bytes.size() - 8);  // RIFF size matches the cut file
  const auto error = read_error(bytes, "anim.webp");
  CHECK_CONTAINS(error.message, "anim.webp: WebP chunk 'EXIF' at offset 28 claims 40 bytes");
  CHECK_CONTAINS(error.message, "truncated");

  Bytes short_riff = webp({vp8l(8, 8)});
  short_riff.resize(short_riff.size() - 4);
  CHECK_CONTAINS(read_error(short_riff).message, "RIFF header claims");
}

BOOST_AUTO_TEST_CASE(webp_without_image_chunk_is_reported) {
  CHECK_CONTAINS(read_error(webp({riff_chunk("ICCP", Bytes(4, 0))})).message, "no VP8, VP8L or VP8X chunk");
}

// ---- Other input -----------------------------------------------------------

BOOST_AUTO_TEST_CASE(non_image_is_refused_with_its_first_bytes) {
  const auto error = read_error(bytes_of("GIF89a\x01\x00\x01\x00"), "cat.gif");
  BOOST_CHECK(error.code == ErrorCode::malformed);
  CHECK_CONTAINS(error.message,
                 "cat.gif: not a PNG, JPEG or WebP image nor an MP4 or WebM video (starts with bytes 47 49 46 38");
  CHECK_CONTAINS(read_error(Bytes{}).message, "empty");
  CHECK_CONTAINS(read_error(bytes_of(std::string_view("RIFF\x04\0\0\0WAVE", 12))).message, "not a PNG, JPEG or WebP");
}

BOOST_AUTO_TEST_CASE(read_image_file_reads_fixtures) {
  const std::filesystem::path dir = std::filesystem::path(SEEDBANK_FIXTURES_DIR) / "images";
  const auto jpg = sp::read_image_file(dir / "a1111.jpg");
  SB_REQUIRE_OK(jpg);
  BOOST_CHECK_EQUAL(jpg->width, 64u);
  BOOST_CHECK_EQUAL(jpg->height, 96u);
  BOOST_CHECK(sp::find_text(*jpg, "parameters").has_value());

  const auto webp_file = sp::read_image_file(dir / "a1111.webp");
  SB_REQUIRE_OK(webp_file);
  BOOST_CHECK_EQUAL(webp_file->width, 64u);
  BOOST_CHECK_EQUAL(webp_file->height, 96u);
  BOOST_CHECK_EQUAL(sp::find_text(*webp_file, "parameters").value_or(""),
                    sp::find_text(*jpg, "parameters").value_or("?"));

  const auto lossless = sp::read_image_file(dir / "lossless.webp");
  SB_REQUIRE_OK(lossless);
  BOOST_CHECK_EQUAL(lossless->width, 300u);
  BOOST_CHECK_EQUAL(lossless->height, 200u);

  const auto itxt = sp::read_image_file(dir / "itxt.png");
  SB_REQUIRE_OK(itxt);
  BOOST_CHECK(contains(sp::find_text(*itxt, "parameters").value_or(""), "Steps: 28"));
}

BOOST_AUTO_TEST_CASE(read_image_file_reports_missing_and_oversized_files) {
  const auto dir = std::filesystem::temp_directory_path() / ("seedbank_image_meta_test_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const auto missing = sp::read_image_file(dir / "nope.png");
  BOOST_REQUIRE(!missing.ok());
  BOOST_CHECK(missing.error().code == ErrorCode::io);
  CHECK_CONTAINS(missing.error().message, "nope.png");

  const auto big = dir / "big.png";
  { std::ofstream(big, std::ios::binary) << "\x89PNG"; }
  std::filesystem::resize_file(big, sp::kMaxImageFileBytes + 1);  // sparse: no disk use
  const auto too_big = sp::read_image_file(big);
  BOOST_REQUIRE(!too_big.ok());
  BOOST_CHECK(too_big.error().code == ErrorCode::limit);
  CHECK_CONTAINS(too_big.error().message, "64 MiB");
  std::filesystem::remove_all(dir);
}

BOOST_AUTO_TEST_SUITE_END()
