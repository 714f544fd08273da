// Image headers and embedded text of sample images (PNG, JPEG, WebP) and of
// short sample videos (MP4, WebM).
//
// Sample images come from peers and users, so every byte is untrusted: the
// readers check every length against the bytes that are left, bound all
// decompression, and report any problem as an Error whose message names the
// file, the place in it and what is wrong. They never throw and never read
// pixel data; only the headers and metadata are looked at.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "seedbank/protocol/bytes.h"
#include "seedbank/protocol/result.h"

namespace seedbank::protocol {

// Limits that keep a hostile file from costing more than a real one.
inline constexpr std::size_t kMaxImageFileBytes = 64u << 20;      // read_image_file
inline constexpr std::size_t kMaxInflatedChunkBytes = 8u << 20;   // one zTXt/iTXt
inline constexpr std::size_t kMaxInflatedTotalBytes = 32u << 20;  // all of a file's
inline constexpr std::size_t kMaxImageChunks = 1u << 17;          // chunks/segments walked
inline constexpr std::size_t kMaxImageTextEntries = 256;

struct ImageInfo {
  // "image/png", "image/jpeg", "image/webp", or for a video "video/mp4" or
  // "video/webm" (is_video_type).
  std::string mime_type;
  std::uint32_t width = 0;
  std::uint32_t height = 0;
  // Embedded text in file order, always valid UTF-8:
  // - PNG: each tEXt/zTXt/iTXt chunk as keyword -> text. tEXt and zTXt are
  //   Latin-1 by the spec, but text that is already valid UTF-8 is kept as
  //   is, because some tools write UTF-8 there.
  // - JPEG and WebP: the EXIF UserComment as "parameters" (AUTOMATIC1111
  //   stores its infotext there); IFD0 Make/Model/ImageDescription values of
  //   the form "prompt:{...}" or "workflow:{...}" (ComfyUI's WebP) as
  //   "prompt"/"workflow" -> the JSON; a JPEG COM segment as "comment".
  // - MP4 and WebM: their metadata keys in lowercase (MP4's "mdta" keys, the
  //   ilst items ©cmt as "comment", ©nam as "title", desc as "description";
  //   WebM's SimpleTags and Info/Title), with ComfyUI's "prompt" and
  //   "workflow" as the JSON even where a tool stored them as a JSON string
  //   of it or inside a "comment" object (older Video Combine).
  std::vector<std::pair<std::string, std::string>> text;
};

inline bool is_video_type(std::string_view mime_type) { return mime_type.starts_with("video/"); }

// Parses the headers of a PNG, JPEG or WebP image held in `bytes`.
// `name_for_messages` (usually the file name) starts every error message.
// Errors: ErrorCode::malformed for anything that is not a well-formed image
// of these three kinds (unknown format, truncation, bad PNG CRC, bad EXIF
// offsets, a zlib stream that does not decode), ErrorCode::limit when a text
// chunk inflates past kMaxInflatedChunkBytes (or the file's texts together
// past kMaxInflatedTotalBytes), or when there are more than kMaxImageChunks
// chunks or kMaxImageTextEntries text entries. Pure: no I/O, thread-safe.
// MP4 and WebM videos too (read_video_info).
Result<ImageInfo> read_image_info(ByteView bytes, std::string_view name_for_messages);

// Parses the boxes (MP4) or elements (WebM) of a video held in `bytes`: the
// frame size of its first video track and its metadata, never a frame.
// Errors as read_image_info's: ErrorCode::malformed for a truncated or
// damaged file, a HEIF/AVIF still image, a Matroska file that is not WebM,
// or one without a video track; ErrorCode::limit past kMaxImageChunks boxes
// or elements or kMaxImageTextEntries entries. Pure, thread-safe.
Result<ImageInfo> read_video_info(ByteView bytes, std::string_view name_for_messages);

// Reads the file at `path` and parses it with read_image_info. Errors:
// ErrorCode::io when it cannot be read, ErrorCode::limit when it is larger
// than kMaxImageFileBytes, otherwise as read_image_info.
Result<ImageInfo> read_image_file(const std::filesystem::path& path);

// The text of the first entry whose key equals `key` exactly (PNG keywords
// are case-sensitive); nullopt when there is none.
std::optional<std::string> find_text(const ImageInfo& info, std::string_view key);

}  // namespace seedbank::protocol
