// Scaled-down copies of sample images for the gallery (libgd behind this
// header), so a grid of cards does not load multi-megabyte originals.
#pragma once

#include <string>

#include "seedbank/protocol/bytes.h"
#include "seedbank/protocol/result.h"

namespace seedbank::node {

// Images above this many pixels are not decoded (a small PNG can claim
// 60000x60000 and inflate to gigabytes).
inline constexpr std::uint64_t kMaxThumbnailSourcePixels = 32ull << 20;
// And above this many bytes decoded: libgd's 4 bytes a pixel plus the
// decoder's own full-image buffer (a 16-bit RGBA PNG: 8 more). A 250 KB PNG
// under the pixel limit inflated to 254 MB before this bound.
inline constexpr std::uint64_t kMaxThumbnailDecodeBytes = 128ull << 20;
// What decoding `image` would take at most, from its header (0: unknown).
std::uint64_t thumbnail_decode_bytes(protocol::ByteView image);

// A JPEG at most `width` pixels wide (never wider than the original), with
// transparency flattened onto the gallery's background. `image` is a PNG,
// JPEG or WebP file; its header is checked before any pixel is decoded.
// Errors: malformed (not an image these decoders read), limit (too large).
protocol::Result<std::string> make_thumbnail(protocol::ByteView image, unsigned width);

}  // namespace seedbank::node
