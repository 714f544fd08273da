// Thumbnails of hostile images (node/src/http/thumbnail.h): a small PNG
// that inflates to hundreds of MB is refused from its header, before a
// pixel is decoded; ordinary images still get thumbnails.
#include <zlib.h>

#include <boost/test/unit_test.hpp>

#include <cstdint>
#include <string>

#include "../node/src/http/thumbnail.h"
#include "seedbank/protocol/bytes.h"

namespace {

using seedbank::protocol::Bytes;

void put_be32(Bytes& out, std::uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<std::uint8_t>(v >> shift));
}

void chunk(Bytes& out, const char* type, const Bytes& data) {
  put_be32(out, static_cast<std::uint32_t>(data.size()));
  Bytes body(type, type + 4);
  body.insert(body.end(), data.begin(), data.end());
  out.insert(out.end(), body.begin(), body.end());
  put_be32(out, static_cast<std::uint32_t>(crc32(0, body.data(), static_cast<uInt>(body.size()))));
}

// A real PNG of `width` x `height` black pixels, `depth` bits per channel,
// RGBA: the image data is deflated row by row, so a bomb costs little here.
Bytes png(std::uint32_t width, std::uint32_t height, std::uint8_t depth) {
  Bytes out = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  Bytes ihdr;
  put_be32(ihdr, width);
  put_be32(ihdr, height);
  for (std::uint8_t b : {depth, std::uint8_t{6}, std::uint8_t{0}, std::uint8_t{0}, std::uint8_t{0}}) ihdr.push_back(b);
  chunk(out, "IHDR", ihdr);
  z_stream z{};
  deflateInit(&z, 9);
  Bytes row(1 + static_cast<std::size_t>(width) * 4 * depth / 8, 0);
  Bytes idat, buf(1 << 16);
  for (std::uint32_t y = 0; y <= height; ++y) {
    bool last = y == height;
    z.next_in = last ? nullptr : row.data();
    z.avail_in = last ? 0 : static_cast<uInt>(row.size());
    do {
      z.next_out = buf.data();
      z.avail_out = static_cast<uInt>(buf.size());
      deflate(&z, last ? Z_FINISH : Z_NO_FLUSH);
      idat.insert(idat.end(), buf.data(), buf.data() + (buf.size() - z.avail_out));
    } while (z.avail_out == 0);
  }
  deflateEnd(&z);
  chunk(out, "IDAT", idat);
  chunk(out, "IEND", {});
  return out;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(thumbnail_test)

BOOST_AUTO_TEST_CASE(a_png_that_inflates_to_hundreds_of_mb_is_refused_before_decoding) {
  // 16 MP, under the pixel limit, 16 bits per channel: ~200 KB on disk,
  // 128 MB of rows for libpng plus 64 MB for libgd.
  auto bomb = png(4096, 4096, 16);
  BOOST_TEST(bomb.size() < (1u << 20));
  BOOST_TEST(4096ull * 4096 <= seedbank::node::kMaxThumbnailSourcePixels);
  BOOST_TEST(seedbank::node::thumbnail_decode_bytes(bomb) == 4096ull * 4096 * 12);
  auto refused = seedbank::node::make_thumbnail(bomb, 320);
  BOOST_REQUIRE(!refused);
  BOOST_TEST((refused.error().code == seedbank::protocol::ErrorCode::limit));
  BOOST_TEST(refused.error().message.find("MiB to decode") != std::string::npos, refused.error().message);

  // An ordinary image of the same kind still gets its thumbnail.
  auto ordinary = seedbank::node::make_thumbnail(png(640, 480, 8), 320);
  BOOST_REQUIRE_MESSAGE(ordinary, (ordinary ? "" : ordinary.error().message));
  BOOST_TEST(ordinary->substr(0, 2) == "\xff\xd8");  // a JPEG
}

BOOST_AUTO_TEST_SUITE_END()
