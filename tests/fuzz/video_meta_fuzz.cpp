// Fuzzes the video metadata readers (MP4 boxes, WebM's EBML elements) and
// what is made of their text: the generation parameters and the resources
// they name. Seeds: tests/fixtures/videos/ as ffmpeg wrote them
// (tests/fixtures/make_video_fixtures.sh).
//
// Besides "no crash, no leak, no UB" it checks the contracts callers rely
// on: errors name the file, a video read has a video type and a frame
// size, text comes out as valid UTF-8, and the entry limits hold.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "seedbank/protocol/generation_params.h"
#include "seedbank/protocol/image_meta.h"
#include "seedbank/protocol/text.h"

namespace sp = seedbank::protocol;

namespace {

constexpr std::string_view kName = "fuzz.video";

[[noreturn]] void violated(const char* what, std::string_view detail) {
  std::fprintf(stderr, "contract violated: %s: %.*s\n", what, static_cast<int>(detail.size()), detail.data());
  std::abort();
}

void check(const sp::Result<sp::ImageInfo>& info) {
  if (!info) {
    const std::string& message = info.error().message;
    if (message.rfind(std::string(kName) + ": ", 0) != 0) violated("error names the file", message);
    return;
  }
  if (info->mime_type != "video/mp4" && info->mime_type != "video/webm") violated("mime type", info->mime_type);
  if (!info->width || !info->height) violated("a video has a frame size", info->mime_type);
  if (info->text.size() > sp::kMaxImageTextEntries) violated("text entry limit", "");
  for (const auto& [key, value] : info->text) {
    if (!sp::valid_utf8(key)) violated("key is UTF-8", key);
    if (!sp::valid_utf8(value)) violated("text is UTF-8", value);
  }
  if (auto params = sp::generation_params_from_image(*info))
    if (sp::generation_resources(*params).size() > sp::kMaxGenerationResources) violated("resource limit", "");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const sp::ByteView bytes(data, size);
  const auto video = sp::read_video_info(bytes, kName);
  check(video);
  // read_image_info hands videos to the same reader: the same answer.
  const auto any = sp::read_image_info(bytes, kName);
  if (video.ok() && (!any.ok() || any->text != video->text)) violated("read_image_info reads videos the same", "");
  return 0;
}
