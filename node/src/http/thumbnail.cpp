#include "http/thumbnail.h"

#include <gd.h>

#include <algorithm>
#include <memory>

#include "seedbank/protocol/image_meta.h"

namespace seedbank::node {

namespace p = seedbank::protocol;

std::uint64_t thumbnail_decode_bytes(p::ByteView image) {
  auto info = p::read_image_info(image, "image");
  if (!info) return 0;
  std::uint64_t pixels = static_cast<std::uint64_t>(info->width) * info->height;
  std::uint64_t source = 4;  // WebP decodes to RGBA; libjpeg goes a row at a time (counted as 4 to be safe)
  if (info->mime_type == "image/png" && image.size() >= 26) {
    // IHDR: bit depth at byte 24, colour type at 25; libpng holds the rows.
    unsigned depth = image[24], type = image[25];
    unsigned channels = type == 2 ? 3 : type == 4 ? 2 : type == 6 ? 4 : 1;
    source = (channels * std::max(depth, 8u) + 7) / 8;
  }
  return pixels * (4 + source);
}

protocol::Result<std::string> make_thumbnail(p::ByteView image, unsigned width) {
  auto info = p::read_image_info(image, "image");
  if (!info) return info.error();
  if (auto decoded = thumbnail_decode_bytes(image); decoded > kMaxThumbnailDecodeBytes)
    return p::make_error(p::ErrorCode::limit, "image would take " + std::to_string(decoded >> 20) +
                                                  " MiB to decode; thumbnails are made of images up to " +
                                                  std::to_string(kMaxThumbnailDecodeBytes >> 20) + " MiB decoded");
  if (info->width == 0 || info->height == 0 ||
      static_cast<std::uint64_t>(info->width) * info->height > kMaxThumbnailSourcePixels)
    return p::make_error(p::ErrorCode::limit, "image is " + std::to_string(info->width) + "x" +
                                                  std::to_string(info->height) +
                                                  " pixels; thumbnails are made of images up to " +
                                                  std::to_string(kMaxThumbnailSourcePixels >> 20) + " megapixels");
  auto size = static_cast<int>(image.size());
  void* data = const_cast<std::uint8_t*>(image.data());
  gdImagePtr src = nullptr;
  if (info->mime_type == "image/png")
    src = gdImageCreateFromPngPtr(size, data);
  else if (info->mime_type == "image/jpeg")
    src = gdImageCreateFromJpegPtr(size, data);
  else if (info->mime_type == "image/webp")
    src = gdImageCreateFromWebpPtr(size, data);
  if (!src) return p::make_error(p::ErrorCode::malformed, "the " + info->mime_type + " image does not decode");
  std::unique_ptr<gdImage, void (*)(gdImagePtr)> src_owner(src, gdImageDestroy);
  const int sw = gdImageSX(src), sh = gdImageSY(src);
  const int w = std::max(1, std::min(sw, static_cast<int>(width)));
  const int h = std::max(1, static_cast<int>(static_cast<long long>(sh) * w / sw));
  gdImagePtr dst = gdImageCreateTrueColor(w, h);
  if (!dst) return p::make_error(p::ErrorCode::internal, "out of memory making a thumbnail");
  std::unique_ptr<gdImage, void (*)(gdImagePtr)> dst_owner(dst, gdImageDestroy);
  gdImageFilledRectangle(dst, 0, 0, w - 1, h - 1, gdTrueColor(24, 24, 27));
  gdImageAlphaBlending(dst, 1);
  gdImageCopyResampled(dst, src, 0, 0, 0, 0, w, h, sw, sh);
  int out_size = 0;
  void* out = gdImageJpegPtr(dst, &out_size, 82);
  if (!out) return p::make_error(p::ErrorCode::internal, "JPEG encoding failed");
  std::string bytes(static_cast<const char*>(out), static_cast<std::size_t>(out_size));
  gdFree(out);
  return bytes;
}

}  // namespace seedbank::node
