// Readers for the two containers short sample videos come in, on the same
// terms as the image readers: every length is checked against the bytes
// left, no frame data is touched, and every problem is an Error whose
// message names the file, the place and what is wrong.
//
// Formats, as far as they are read here:
//   MP4   (ISO/IEC 14496-12, with QuickTime's metadata): boxes of size(u32
//         BE; 1: a u64 follows the type, 0: to the end) type(4 bytes). ftyp
//         comes first; moov holds each trak (tkhd ends with the frame size
//         as 16.16 fixed point; mdia/hdlr names the handler, "vide" for
//         video) and udta/meta (or meta itself): a hdlr of "mdir", whose
//         ilst items are named by four-character codes ("©cmt": comment), or
//         of "mdta", whose ilst items are named by their 1-based index into
//         the keys box. An item holds data boxes: type(u32; 1: UTF-8)
//         locale(u32) value.
//   WebM  (Matroska's EBML): elements of id (1-4 bytes) size (1-8 bytes;
//         all value bits set: unknown) data. The EBML header (DocType
//         "webm"), then a Segment holding Info (Title), Tracks (TrackEntry:
//         TrackType 1 is video, Video: PixelWidth, PixelHeight) and Tags
//         (Tag, SimpleTag: TagName, TagString). A Cluster of unknown size
//         ends where an element of the Segment's own level starts.
//
// The generation data comes out under the keys the image readers use
// (normalize_generation_text): ComfyUI's Video Combine and SaveVideo store
// "prompt" and "workflow" (MP4 keys, WebM tags PROMPT and WORKFLOW; some
// versions as a JSON string of the JSON), older Video Combine one
// "comment" holding both, and AnimateDiff for AUTOMATIC1111 its infotext
// as "comment".
#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <cstring>
#include <functional>
#include <limits>
#include <optional>

#include "media_bytes.h"
#include "seedbank/protocol/image_meta.h"
#include "seedbank/protocol/text.h"
#include "seedbank/protocol/util.h"

namespace seedbank::protocol {
namespace {

using TextEntries = std::vector<std::pair<std::string, std::string>>;

constexpr int kMaxJsonDepth = 256;

using media::be32;
using media::fail;
using media::tag_text;

std::uint64_t be64(ByteView b, std::size_t at) { return std::uint64_t{be32(b, at)} << 32 | be32(b, at + 4); }

bool equals(ByteView b, std::string_view s) {
  return b.size() == s.size() && std::memcmp(b.data(), s.data(), s.size()) == 0;
}

std::string lower_ascii(std::string s) {
  for (char& c : s)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return s;
}

// Adds an entry; `total` counts the bytes of every entry so far, which
// stay under kMaxInflatedTotalBytes (MP4 items can name one key many times).
Status add_text(TextEntries& text, std::size_t& total, std::string key, std::string value, std::string_view name) {
  if (text.size() >= kMaxImageTextEntries)
    return fail(ErrorCode::limit, name,
                "has more than " + std::to_string(kMaxImageTextEntries) +
                    " metadata entries, the most Seedbank reads; strip the extra metadata");
  total += key.size() + value.size();
  if (total > kMaxInflatedTotalBytes)
    return fail(ErrorCode::limit, name,
                "has more than " + std::to_string(kMaxInflatedTotalBytes >> 20) +
                    " MiB of metadata text, the most Seedbank reads; strip the extra metadata");
  text.emplace_back(lower_ascii(std::move(key)), std::move(value));
  return {};
}

// A JSON string's value (`"..."`), for text stored as a JSON string of
// JSON; nullopt for anything else.
std::optional<std::string> json_string(const std::string& text) {
  if (text.empty() || text.front() != '"') return std::nullopt;
  const auto j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_string()) return std::nullopt;
  return j.get<std::string>();
}

// The generation data of a video under the keys the image readers use:
// "prompt" and "workflow" stored as a JSON string of the JSON are unwrapped,
// and a comment holding both (older Video Combine) gives them.
void normalize_generation_text(std::vector<std::pair<std::string, std::string>>& text) {
  bool have_prompt = false;
  for (auto& [key, value] : text) {
    if (key != "prompt" && key != "workflow") continue;
    if (auto inner = json_string(value)) value = std::move(*inner);
    have_prompt = have_prompt || key == "prompt";
  }
  if (have_prompt) return;
  // Older Video Combine: one comment {"prompt": ..., "workflow": ...}.
  for (std::size_t i = 0; i < text.size(); ++i) {
    const std::string& comment = text[i].second;
    if (text[i].first != "comment" || comment.empty() || comment.front() != '{' ||
        !json_depth_at_most(comment, kMaxJsonDepth))
      continue;
    const auto j = nlohmann::json::parse(comment, nullptr, /*allow_exceptions=*/false);
    if (!j.is_object()) continue;
    for (const char* key : {"prompt", "workflow"}) {
      const auto it = j.find(key);
      if (it == j.end() || text.size() >= kMaxImageTextEntries) continue;
      if (it->is_string())
        text.emplace_back(key, it->get<std::string>());
      else if (it->is_object())
        text.emplace_back(key, it->dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
    }
    return;
  }
}

// ---- MP4 -------------------------------------------------------------------

struct Box {
  ByteView type;
  std::size_t offset = 0;  // of its header in the file
  ByteView payload;
  std::size_t payload_offset = 0;
};

// Still-image brands of the same box format (HEIF, AVIF).
constexpr std::array<std::string_view, 10> kStillBrands = {"heic", "heix", "heim", "heis", "hevc",
                                                           "hevx", "mif1", "msf1", "avif", "avis"};

class Mp4Reader {
 public:
  Mp4Reader(ByteView bytes, std::string_view name) : b_(bytes), name_(name) {}

  Result<ImageInfo> read() {
    info_.mime_type = "video/mp4";
    bool moov = false;
    auto st = boxes(b_, 0, "the file", [&](const Box& box) -> Status {
      if (equals(box.type, "ftyp")) {
        if (box.offset != 0) return fail(ErrorCode::malformed, name_, "has its ftyp box after another box");
        if (box.payload.size() >= 4)
          for (auto brand : kStillBrands)
            if (equals(box.payload.subspan(0, 4), brand))
              return fail(ErrorCode::malformed, name_,
                          "is a HEIF/AVIF still image (brand '" + std::string(brand) +
                              "'); share images as PNG, JPEG or WebP, and videos as MP4 or WebM");
      } else if (equals(box.type, "moov")) {
        if (moov) return fail(ErrorCode::malformed, name_, "has two moov boxes");
        moov = true;
        return read_moov(box);
      }
      return {};
    });
    if (!st) return st.error();
    if (!moov)
      return fail(ErrorCode::malformed, name_,
                  "has no moov box (the index of its frames): the file is truncated, or was copied while being "
                  "written; save the video again");
    if (!video_track_)
      return fail(ErrorCode::malformed, name_, "has no video track; only videos with pictures are shared");
    normalize_generation_text(info_.text);
    return std::move(info_);
  }

 private:
  // Calls visit for each box of `region`, which starts at file offset
  // `base`; the boxes must fill the region exactly.
  Status boxes(ByteView region, std::size_t base, const std::string& where,
               const std::function<Status(const Box&)>& visit) {
    std::size_t at = 0;
    while (at < region.size()) {
      if (++count_ > kMaxImageChunks)
        return fail(ErrorCode::limit, name_,
                    "has more than " + std::to_string(kMaxImageChunks) + " boxes, the most Seedbank reads");
      const std::size_t left = region.size() - at;
      if (left < 8)
        return fail(ErrorCode::malformed, name_,
                    "box header at offset " + std::to_string(base + at) + " in " + where + " needs 8 bytes but " +
                        std::to_string(left) + " remain; the file is truncated");
      std::uint64_t size = be32(region, at);
      std::size_t header = 8;
      if (size == 1) {
        if (left < 16)
          return fail(
              ErrorCode::malformed, name_,
              "box at offset " + std::to_string(base + at) + " has a 64-bit size cut off; the file is truncated");
        size = be64(region, at + 8);
        header = 16;
      } else if (size == 0) {
        size = left;  // to the end
      }
      const ByteView type = region.subspan(at + 4, 4);
      if (size < header || size > left)
        return fail(ErrorCode::malformed, name_,
                    "box '" + tag_text(type) + "' at offset " + std::to_string(base + at) + " claims " +
                        std::to_string(size) + " bytes but " + std::to_string(left) + " remain in " + where +
                        "; the file is truncated or damaged");
      const auto n = static_cast<std::size_t>(size);
      Box box{type, base + at, region.subspan(at + header, n - header), base + at + header};
      if (auto st = visit(box); !st) return st;
      at += n;
    }
    return {};
  }

  Status read_moov(const Box& moov) {
    return boxes(moov.payload, moov.payload_offset, "moov", [&](const Box& box) -> Status {
      if (equals(box.type, "trak")) return read_trak(box);
      if (equals(box.type, "meta")) return read_meta(box);
      if (equals(box.type, "udta"))
        return boxes(box.payload, box.payload_offset, "udta", [&](const Box& inner) -> Status {
          return equals(inner.type, "meta") ? read_meta(inner) : Status{};
        });
      return {};
    });
  }

  // The handler type of a hdlr box: version/flags(4) pre_defined(4) type(4).
  Result<ByteView> handler(const Box& hdlr) {
    if (hdlr.payload.size() < 12)
      return fail(ErrorCode::malformed, name_,
                  "hdlr box at offset " + std::to_string(hdlr.offset) + " is " + std::to_string(hdlr.payload.size()) +
                      " bytes, too short for its handler type");
    return hdlr.payload.subspan(8, 4);
  }

  Status read_trak(const Box& trak) {
    std::optional<Box> tkhd;
    bool video = false;
    auto st = boxes(trak.payload, trak.payload_offset, "trak", [&](const Box& box) -> Status {
      if (equals(box.type, "tkhd")) tkhd = box;
      if (!equals(box.type, "mdia")) return {};
      return boxes(box.payload, box.payload_offset, "mdia", [&](const Box& inner) -> Status {
        if (!equals(inner.type, "hdlr")) return {};
        auto type = handler(inner);
        if (!type) return type.error();
        video = equals(*type, "vide");
        return {};
      });
    });
    if (!st || !video || video_track_) return st;
    if (!tkhd) return fail(ErrorCode::malformed, name_, "has a video track without a tkhd box (its frame size)");
    // version(1) flags(3), then v0: 5 u32 / v1: 2 u64, 2 u32, 1 u64; then
    // 8 reserved, layer, group, volume, reserved (2 each), a 36-byte
    // matrix, width and height.
    const std::size_t at = tkhd->payload.empty() || tkhd->payload[0] != 1 ? 76 : 88;
    if (tkhd->payload.size() < at + 8)
      return fail(ErrorCode::malformed, name_,
                  "tkhd box at offset " + std::to_string(tkhd->offset) + " is " + std::to_string(tkhd->payload.size()) +
                      " bytes, too short for the frame size");
    info_.width = be32(tkhd->payload, at) >> 16;
    info_.height = be32(tkhd->payload, at + 4) >> 16;
    if (!info_.width || !info_.height)
      return fail(ErrorCode::malformed, name_,
                  "has a video track of " + std::to_string(info_.width) + "x" + std::to_string(info_.height) +
                      " pixels (tkhd at offset " + std::to_string(tkhd->offset) + "); save the video again");
    video_track_ = true;
    return {};
  }

  Status read_meta(const Box& meta) {
    // ISO's meta is a full box (4 bytes of version and flags first);
    // QuickTime's starts with its hdlr at once.
    std::size_t skip = 4;
    if (meta.payload.size() >= 8 && equals(meta.payload.subspan(4, 4), "hdlr")) skip = 0;
    if (meta.payload.size() < skip)
      return fail(ErrorCode::malformed, name_, "meta box at offset " + std::to_string(meta.offset) + " is empty");
    bool mdta = false;
    std::vector<std::string> keys;
    std::optional<Box> ilst;
    auto st = boxes(meta.payload.subspan(skip), meta.payload_offset + skip, "meta", [&](const Box& box) -> Status {
      if (equals(box.type, "hdlr")) {
        auto type = handler(box);
        if (!type) return type.error();
        mdta = equals(*type, "mdta");
      } else if (equals(box.type, "keys")) {
        return read_keys(box, keys);
      } else if (equals(box.type, "ilst")) {
        ilst = box;
      }
      return {};
    });
    if (!st || !ilst) return st;
    return boxes(ilst->payload, ilst->payload_offset, "ilst", [&](const Box& item) -> Status {
      std::string key;
      const std::string* named = nullptr;  // an mdta key, copied only with a value
      if (mdta) {
        const std::uint32_t index = be32(item.type, 0);
        if (index == 0 || index > keys.size()) return {};  // names no key: nothing to read it as
        named = &keys[index - 1];
      } else if (equals(item.type,
                        "\xa9"
                        "cmt")) {
        key = "comment";
      } else if (equals(item.type,
                        "\xa9"
                        "nam")) {
        key = "title";
      } else if (equals(item.type, "desc") || equals(item.type,
                                                     "\xa9"
                                                     "des")) {
        key = "description";
      } else {
        return {};
      }
      std::optional<std::string> value;
      auto read = boxes(item.payload, item.payload_offset, "an ilst item", [&](const Box& data) -> Status {
        if (value || !equals(data.type, "data")) return {};
        if (data.payload.size() < 8)
          return fail(ErrorCode::malformed, name_,
                      "data box at offset " + std::to_string(data.offset) + " is too short for its type and locale");
        if (be32(data.payload, 0) == 1)  // UTF-8
          value = sanitize_utf8(as_chars(data.payload.subspan(8)));
        return {};
      });
      if (!read) return read;
      if (!value) return {};
      return add_text(info_.text, text_bytes_, named ? *named : std::move(key), std::move(*value), name_);
    });
  }

  // keys: version/flags(4) count(u32), then count entries of size(u32,
  // counting its 8-byte header) namespace(4) key.
  Status read_keys(const Box& box, std::vector<std::string>& keys) {
    const ByteView p = box.payload;
    if (p.size() < 8)
      return fail(ErrorCode::malformed, name_, "keys box at offset " + std::to_string(box.offset) + " is too short");
    const std::uint32_t count = be32(p, 4);
    std::size_t at = 8;
    for (std::uint32_t i = 0; i < count; ++i) {
      if (p.size() - at < 8 || be32(p, at) < 8 || be32(p, at) > p.size() - at)
        return fail(ErrorCode::malformed, name_,
                    "keys box at offset " + std::to_string(box.offset) + " lists " + std::to_string(count) +
                        " keys but key " + std::to_string(i + 1) + " runs past its end");
      if (keys.size() >= kMaxImageTextEntries)
        return fail(
            ErrorCode::limit, name_,
            "has more than " + std::to_string(kMaxImageTextEntries) + " metadata keys, the most Seedbank reads");
      const std::uint32_t size = be32(p, at);
      keys.push_back(sanitize_utf8(as_chars(p.subspan(at + 8, size - 8))));
      at += size;
    }
    return {};
  }

  ByteView b_;
  std::string_view name_;
  ImageInfo info_;
  std::size_t count_ = 0;
  std::size_t text_bytes_ = 0;
  bool video_track_ = false;
};

// ---- WebM ------------------------------------------------------------------

constexpr std::uint32_t kEbml = 0x1A45DFA3, kDocType = 0x4282, kSegment = 0x18538067, kInfo = 0x1549A966,
                        kTitle = 0x7BA9, kTracks = 0x1654AE6B, kTrackEntry = 0xAE, kTrackType = 0x83, kVideo = 0xE0,
                        kPixelWidth = 0xB0, kPixelHeight = 0xBA, kTags = 0x1254C367, kTag = 0x7373, kSimpleTag = 0x67C8,
                        kTagName = 0x45A3, kTagString = 0x4487, kCluster = 0x1F43B675;
// The elements a Segment holds directly: one of them ends a Cluster of
// unknown size.
constexpr std::array<std::uint32_t, 8> kSegmentChildren = {0x114D9B74, kInfo,      kTracks,    kTags,
                                                           kCluster,   0x1C53BB6B, 0x1043A770, 0x1941A469};

struct Element {
  std::uint32_t id = 0;
  std::size_t offset = 0;       // of its id in the file
  std::size_t data_offset = 0;  // of its data in the file
  std::uint64_t size = 0;
  bool unknown_size = false;
};

class WebmReader {
 public:
  WebmReader(ByteView bytes, std::string_view name) : b_(bytes), name_(name) {}

  Result<ImageInfo> read() {
    info_.mime_type = "video/webm";
    auto header = element(0);
    if (!header) return header.error();
    if (header->id != kEbml || header->unknown_size)
      return fail(ErrorCode::malformed, name_, "does not start with an EBML header");
    std::string doc_type;
    auto st = children(*header, [&](const Element& e) -> Status {
      if (e.id == kDocType) doc_type = string_of(e);
      return {};
    });
    if (!st) return st.error();
    if (doc_type == "matroska")
      return fail(ErrorCode::malformed, name_,
                  "is a Matroska (.mkv) video, which browsers do not play; remux it without re-encoding, e.g. "
                  "`ffmpeg -i in.mkv -c copy out.webm` (VP8, VP9 or AV1) or `out.mp4` (H.264)");
    if (doc_type != "webm")
      return fail(ErrorCode::malformed, name_,
                  "is an EBML file of type '" + tag_text(as_bytes(doc_type)) + "', not a WebM video");
    // The Segment, after anything else at the top level.
    for (std::size_t at = header->data_offset + static_cast<std::size_t>(header->size); at < b_.size();) {
      auto e = element(at);
      if (!e) return e.error();
      if (e->id == kSegment) {
        if (auto read = children(*e, [&](const Element& child) { return segment_child(child); }); !read)
          return read.error();
        break;
      }
      if (e->unknown_size) break;
      at = e->data_offset + static_cast<std::size_t>(e->size);
    }
    if (!info_.width || !info_.height)
      return fail(ErrorCode::malformed, name_,
                  "has no video track with a frame size; only videos with pictures are shared");
    normalize_generation_text(info_.text);
    return std::move(info_);
  }

 private:
  // The element whose id starts at `at`. Its data may be of unknown size
  // (only a Segment's or a Cluster's): then `size` is what is left.
  Result<Element> element(std::size_t at) {
    if (++count_ > kMaxImageChunks)
      return fail(ErrorCode::limit, name_,
                  "has more than " + std::to_string(kMaxImageChunks) + " elements, the most Seedbank reads");
    Element e;
    e.offset = at;
    auto vint = [&](std::size_t max_length, bool keep_marker, const char* what) -> Result<std::uint64_t> {
      if (at >= b_.size())
        return fail(ErrorCode::malformed, name_,
                    std::string("ends inside the ") + what + " of the element at offset " + std::to_string(e.offset) +
                        "; the file is truncated");
      const std::uint8_t first = b_[at];
      std::size_t length = 1;
      while (length <= 8 && !(first & (0x80 >> (length - 1)))) ++length;
      if (length > max_length)
        return fail(ErrorCode::malformed, name_,
                    std::string("has a malformed element ") + what + " at offset " + std::to_string(at));
      if (b_.size() - at < length)
        return fail(ErrorCode::malformed, name_,
                    std::string("ends inside the ") + what + " of the element at offset " + std::to_string(e.offset) +
                        "; the file is truncated");
      std::uint64_t value = keep_marker ? first : first & (0xffu >> length);
      bool all_ones = (first & (0xffu >> length)) == (0xffu >> length);
      for (std::size_t k = 1; k < length; ++k) {
        value = value << 8 | b_[at + k];
        all_ones = all_ones && b_[at + k] == 0xff;
      }
      at += length;
      if (!keep_marker && all_ones) e.unknown_size = true;
      return value;
    };
    auto id = vint(4, true, "id");
    if (!id) return id.error();
    e.id = static_cast<std::uint32_t>(*id);
    auto size = vint(8, false, "size");
    if (!size) return size.error();
    e.data_offset = at;
    const std::size_t left = b_.size() - at;
    if (e.unknown_size) {
      if (e.id != kSegment && e.id != kCluster)
        return fail(ErrorCode::malformed, name_,
                    "element " + id_text(e.id) + " at offset " + std::to_string(e.offset) +
                        " has an unknown size, which only a Segment or a Cluster may have");
      e.size = left;
    } else if (*size > left) {
      return fail(ErrorCode::malformed, name_,
                  "element " + id_text(e.id) + " at offset " + std::to_string(e.offset) + " claims " +
                      std::to_string(*size) + " bytes but " + std::to_string(left) +
                      " remain; the file is truncated or damaged");
    } else {
      e.size = *size;
    }
    return e;
  }

  static std::string id_text(std::uint32_t id) {
    static constexpr char kHex[] = "0123456789ABCDEF";
    std::string out = "0x";
    bool started = false;
    for (int shift = 28; shift >= 0; shift -= 4) {
      const unsigned digit = (id >> shift) & 15;
      started = started || digit || shift < 8;
      if (started) out += kHex[digit];
    }
    return out;
  }

  // Calls visit for each element inside `parent`, except Clusters of
  // unknown size, which are only walked to find their end.
  Status children(const Element& parent, const std::function<Status(const Element&)>& visit) {
    const std::size_t end = parent.data_offset + static_cast<std::size_t>(parent.size);
    std::size_t at = parent.data_offset;
    while (at < end) {
      auto e = element(at);
      if (!e) return e.error();
      if (e->data_offset + e->size > end)
        return fail(ErrorCode::malformed, name_,
                    "element " + id_text(e->id) + " at offset " + std::to_string(e->offset) +
                        " runs past the end of the element " + id_text(parent.id) + " that holds it");
      if (e->unknown_size) {
        // A Cluster of unknown size: walk it to find where it ends.
        std::size_t cluster_end = e->data_offset;
        auto st = walk_open_cluster(*e, cluster_end);
        if (!st) return st;
        at = cluster_end;
        continue;
      }
      if (auto st = visit(*e); !st) return st;
      at = e->data_offset + static_cast<std::size_t>(e->size);
    }
    return {};
  }

  // Where a Cluster of unknown size ends: at the first element a Segment
  // holds directly, or at the end of the file.
  Status walk_open_cluster(const Element& cluster, std::size_t& end) {
    std::size_t at = cluster.data_offset;
    while (at < b_.size()) {
      auto e = element(at);
      if (!e) return e.error();
      if (std::find(kSegmentChildren.begin(), kSegmentChildren.end(), e->id) != kSegmentChildren.end()) break;
      if (e->unknown_size)
        return fail(ErrorCode::malformed, name_,
                    "element " + id_text(e->id) + " at offset " + std::to_string(e->offset) +
                        " inside a Cluster has an unknown size");
      at = e->data_offset + static_cast<std::size_t>(e->size);
    }
    end = at;
    return {};
  }

  ByteView data_of(const Element& e) const { return b_.subspan(e.data_offset, static_cast<std::size_t>(e.size)); }
  std::string string_of(const Element& e) const {
    ByteView d = data_of(e);
    while (!d.empty() && d.back() == 0) d = d.first(d.size() - 1);  // padding NULs
    return sanitize_utf8(as_chars(d));
  }
  std::optional<std::uint64_t> uint_of(const Element& e) const {
    if (e.size > 8) return std::nullopt;
    std::uint64_t v = 0;
    for (std::uint8_t c : data_of(e)) v = v << 8 | c;
    return v;
  }

  Status segment_child(const Element& e) {
    if (e.id == kInfo)
      return children(e, [&](const Element& c) -> Status {
        return c.id == kTitle ? add_text(info_.text, text_bytes_, "title", string_of(c), name_) : Status{};
      });
    if (e.id == kTracks)
      return children(
          e, [&](const Element& entry) -> Status { return entry.id == kTrackEntry ? track_entry(entry) : Status{}; });
    if (e.id == kTags)
      return children(e, [&](const Element& tag) -> Status {
        if (tag.id != kTag) return {};
        return children(tag, [&](const Element& simple) -> Status {
          if (simple.id != kSimpleTag) return {};
          std::optional<std::string> key, value;
          auto st = children(simple, [&](const Element& c) -> Status {
            if (c.id == kTagName && !key) key = string_of(c);
            if (c.id == kTagString && !value) value = string_of(c);
            return {};
          });
          if (!st || !key || !value) return st;
          return add_text(info_.text, text_bytes_, std::move(*key), std::move(*value), name_);
        });
      });
    return {};
  }

  Status track_entry(const Element& entry) {
    std::optional<std::uint64_t> type, width, height;
    auto st = children(entry, [&](const Element& c) -> Status {
      if (c.id == kTrackType) type = uint_of(c);
      if (c.id != kVideo) return {};
      return children(c, [&](const Element& v) -> Status {
        if (v.id == kPixelWidth) width = uint_of(v);
        if (v.id == kPixelHeight) height = uint_of(v);
        return {};
      });
    });
    if (!st) return st;
    if (type == 1u && width && height && !info_.width && *width <= std::numeric_limits<std::uint32_t>::max() &&
        *height <= std::numeric_limits<std::uint32_t>::max()) {
      info_.width = static_cast<std::uint32_t>(*width);
      info_.height = static_cast<std::uint32_t>(*height);
    }
    return {};
  }

  ByteView b_;
  std::string_view name_;
  ImageInfo info_;
  std::size_t count_ = 0;
  std::size_t text_bytes_ = 0;
};

}  // namespace

Result<ImageInfo> read_video_info(ByteView bytes, std::string_view name_for_messages) {
  if (bytes.size() >= 8 && equals(bytes.subspan(4, 4), "ftyp")) return Mp4Reader(bytes, name_for_messages).read();
  if (bytes.size() >= 4 && be32(bytes, 0) == kEbml) return WebmReader(bytes, name_for_messages).read();
  return fail(ErrorCode::malformed, name_for_messages, "is not an MP4 or WebM video");
}

}  // namespace seedbank::protocol
