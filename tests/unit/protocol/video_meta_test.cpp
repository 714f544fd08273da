// read_video_info (and read_image_info, which hands videos to it) over the
// MP4 and WebM fixtures that tests/fixtures/make_video_fixtures.sh wrote
// with ffmpeg, the way each tool stores its generation data, and over
// files built here box by box where a case needs bytes no tool writes.
#include <boost/test/unit_test.hpp>

#include "seedbank/protocol/generation_params.h"
#include "seedbank/protocol/image_meta.h"
#include "support/require_ok.h"

#include <filesystem>
#include <fstream>
#include <string>

namespace sp = seedbank::protocol;
using sp::Bytes;
using sp::ErrorCode;

namespace {

Bytes fixture(const std::string& name) {
  std::ifstream in(std::filesystem::path(SEEDBANK_FIXTURES_DIR) / "videos" / name, std::ios::binary);
  BOOST_REQUIRE_MESSAGE(in, "missing fixture videos/" << name);
  std::string s(std::istreambuf_iterator<char>(in), {});
  return Bytes(s.begin(), s.end());
}

sp::ImageInfo read_ok(const Bytes& bytes, const std::string& name = "test.video") {
  auto info = sp::read_image_info(bytes, name);
  SB_REQUIRE_OK(info);
  return std::move(info).value();
}

sp::Error read_error(const Bytes& bytes, const std::string& name = "test.video") {
  auto info = sp::read_video_info(bytes, name);
  BOOST_REQUIRE_MESSAGE(!info.ok(), "expected an error, got a video");
  BOOST_TEST(info.error().message.rfind(name + ": ", 0) == 0u, info.error().message);
  return info.error();
}

bool contains(const std::string& haystack, std::string_view needle) {
  return haystack.find(needle) != std::string::npos;
}

#define CHECK_CONTAINS(message, needle) \
  BOOST_CHECK_MESSAGE(contains((message), (needle)), "\"" << (message) << "\" lacks \"" << (needle) << "\"")

// The ComfyUI graph the fixtures carry, as generation parameters.
void check_comfy_params(const sp::ImageInfo& info) {
  auto p = sp::generation_params_from_image(info);
  BOOST_TEST_REQUIRE(p.has_value());
  BOOST_TEST(p->prompt == "a paper boat drifting");
  BOOST_TEST(p->negative_prompt == "blurry");
  BOOST_TEST(p->seed.value_or(0) == 42);
  BOOST_TEST(p->steps.value_or(0) == 12u);
  BOOST_TEST(p->cfg_scale.value_or(0) == 6.5);
  BOOST_TEST(p->sampler == "euler");
  BOOST_TEST(p->model_name == "animated.safetensors");
  BOOST_TEST(p->width.value_or(0) == 64u);
  BOOST_TEST(p->comfy_prompt.rfind("{\"3\"", 0) == 0u);  // the graph itself, not a JSON string of it
  BOOST_TEST(p->comfy_workflow.rfind("{\"last_node_id\"", 0) == 0u);
}

// ---- Builders: MP4 boxes and EBML elements ---------------------------------

void put_be32(Bytes& out, std::uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<std::uint8_t>(v >> shift));
}

Bytes box(std::string_view type, const Bytes& payload) {
  Bytes out;
  put_be32(out, static_cast<std::uint32_t>(payload.size() + 8));
  for (char c : type) out.push_back(static_cast<std::uint8_t>(c));
  for (std::uint8_t b : payload) out.push_back(b);
  return out;
}

Bytes cat(std::initializer_list<Bytes> parts) {
  Bytes out;
  for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

Bytes text_bytes(std::string_view s) { return Bytes(s.begin(), s.end()); }

Bytes ftyp(std::string_view brand) { return box("ftyp", cat({text_bytes(brand), Bytes(4, 0), text_bytes(brand)})); }

// A video track of width x height (tkhd version 0).
Bytes video_trak(std::uint32_t width, std::uint32_t height) {
  Bytes tkhd(76, 0);
  put_be32(tkhd, width << 16);
  put_be32(tkhd, height << 16);
  Bytes hdlr(8, 0);
  for (char c : std::string_view("vide")) hdlr.push_back(static_cast<std::uint8_t>(c));
  hdlr.resize(hdlr.size() + 13, 0);
  return box("trak", cat({box("tkhd", tkhd), box("mdia", box("hdlr", hdlr))}));
}

// An EBML element with a one-byte size (data under 127 bytes) or an
// unknown size.
Bytes ebml(std::uint32_t id, const Bytes& data, bool unknown_size = false) {
  Bytes out;
  for (int shift = 24; shift >= 0; shift -= 8)
    if (id >> shift || !out.empty()) out.push_back(static_cast<std::uint8_t>(id >> shift));
  if (unknown_size) {
    out.push_back(0xff);
  } else {
    BOOST_REQUIRE(data.size() < 127);
    out.push_back(static_cast<std::uint8_t>(0x80 | data.size()));
  }
  out.insert(out.end(), data.begin(), data.end());
  return out;
}

Bytes ebml_header(std::string_view doc_type) { return ebml(0x1A45DFA3, ebml(0x4282, text_bytes(doc_type))); }

Bytes webm_tracks(std::uint8_t width, std::uint8_t height) {
  return ebml(0x1654AE6B,
              ebml(0xAE, cat({ebml(0x83, {1}), ebml(0xE0, cat({ebml(0xB0, {width}), ebml(0xBA, {height})}))})));
}

Bytes webm_tag(std::string_view name, std::string_view value) {
  return ebml(0x1254C367,
              ebml(0x7373, ebml(0x67C8, cat({ebml(0x45A3, text_bytes(name)), ebml(0x4487, text_bytes(value))}))));
}

}  // namespace

BOOST_AUTO_TEST_SUITE(video_meta_test)

BOOST_AUTO_TEST_CASE(comfyui_mp4_keys_give_the_graph) {
  const auto info = read_ok(fixture("vhs.mp4"));
  BOOST_TEST(info.mime_type == "video/mp4");
  BOOST_TEST(sp::is_video_type(info.mime_type));
  BOOST_TEST(info.width == 64u);
  BOOST_TEST(info.height == 48u);
  check_comfy_params(info);
}

BOOST_AUTO_TEST_CASE(comfyui_webm_tags_give_the_graph) {
  const auto info = read_ok(fixture("vhs.webm"));
  BOOST_TEST(info.mime_type == "video/webm");
  BOOST_TEST(info.width == 64u);
  BOOST_TEST(info.height == 48u);
  BOOST_TEST(sp::find_text(info, "encoder").has_value());  // tags are read in lowercase
  check_comfy_params(info);
}

BOOST_AUTO_TEST_CASE(an_older_video_combine_comment_gives_prompt_and_workflow) {
  // One COMMENT of {"prompt": "<the graph as a JSON string>", "workflow": {...}}.
  const auto info = read_ok(fixture("vhs-legacy.webm"));
  BOOST_TEST(sp::find_text(info, "comment").has_value());
  check_comfy_params(info);
}

BOOST_AUTO_TEST_CASE(animatediff_mp4_comment_is_a1111_infotext) {
  const auto info = read_ok(fixture("animatediff.mp4"));
  BOOST_TEST(info.mime_type == "video/mp4");
  auto p = sp::generation_params_from_image(info);
  BOOST_TEST_REQUIRE(p.has_value());
  BOOST_TEST(p->prompt == "a paper boat drifting");
  BOOST_TEST(p->sampler == "Euler a");
  BOOST_TEST(p->model_hash == "6ce0161689");
  const auto resources = sp::generation_resources(*p);
  BOOST_TEST_REQUIRE(resources.size() == 1u);
  BOOST_TEST(resources[0].hash == "6ce0161689");
}

BOOST_AUTO_TEST_CASE(a_video_without_generation_data_has_none) {
  const auto info = read_ok(fixture("plain.webm"));
  BOOST_TEST(info.width == 64u);
  BOOST_TEST(!sp::generation_params_from_image(info).has_value());
}

BOOST_AUTO_TEST_CASE(every_truncation_is_an_error_naming_the_file) {
  for (const char* name : {"vhs.mp4", "vhs.webm", "animatediff.mp4"}) {
    const Bytes whole = fixture(name);
    std::size_t errors = 0;
    for (std::size_t cut = 8; cut < whole.size(); cut += 7) {
      auto info = sp::read_video_info(sp::ByteView(whole.data(), cut), name);
      if (info) continue;  // a cut inside a trailing element nothing reads may still be a video
      ++errors;
      BOOST_CHECK(info.error().code == ErrorCode::malformed);
      BOOST_TEST(info.error().message.rfind(std::string(name) + ": ", 0) == 0u, info.error().message);
    }
    BOOST_TEST(errors > (whole.size() - 8) / 7 / 2, name << ": most cuts must be refused");
  }
  // The MP4's index (moov) comes after its frames: cut off, nothing is left.
  const Bytes mp4 = fixture("vhs.mp4");
  CHECK_CONTAINS(read_error(Bytes(mp4.begin(), mp4.begin() + 2000)).message, "truncated");
}

BOOST_AUTO_TEST_CASE(mp4_refusals_say_what_is_wrong) {
  CHECK_CONTAINS(read_error(ftyp("heic")).message, "HEIF/AVIF still image");
  CHECK_CONTAINS(read_error(ftyp("isom")).message, "has no moov box");
  CHECK_CONTAINS(read_error(cat({ftyp("isom"), box("moov", {})})).message, "has no video track");
  // A box claiming more than the file holds.
  Bytes lying = cat({ftyp("isom"), box("moov", video_trak(8, 8))});
  lying[ftyp("isom").size() + 3] += 40;
  CHECK_CONTAINS(read_error(lying).message, "claims");
  // A well-formed file built here: the frame size from the video track.
  const auto info = read_ok(cat({ftyp("isom"), box("moov", video_trak(320, 240))}));
  BOOST_TEST(info.width == 320u);
  BOOST_TEST(info.height == 240u);
}

BOOST_AUTO_TEST_CASE(webm_refusals_say_what_is_wrong) {
  CHECK_CONTAINS(read_error(cat({ebml_header("matroska"), ebml(0x18538067, webm_tracks(8, 8))})).message,
                 "Matroska (.mkv)");
  CHECK_CONTAINS(read_error(ebml_header("webm")).message, "has no video track");
  // An element with an unknown size other than a Segment or Cluster.
  CHECK_CONTAINS(read_error(cat({ebml_header("webm"), ebml(0x18538067, ebml(0x1254C367, {}, true))})).message,
                 "unknown size");
  // A malformed id (a zero first byte).
  CHECK_CONTAINS(read_error(cat({ebml_header("webm"), Bytes{0x00, 0x81, 0x00}})).message, "malformed element id");
}

BOOST_AUTO_TEST_CASE(webm_tags_after_a_cluster_of_unknown_size_are_read) {
  // As a live encoder writes it: a Segment and a Cluster of unknown size,
  // then the Tags; the Cluster ends where the Tags start.
  const Bytes cluster = ebml(0x1F43B675, cat({ebml(0xE7, {0}), ebml(0xA3, Bytes(20, 0x55))}), true);
  const Bytes segment =
      ebml(0x18538067, cat({webm_tracks(40, 30), cluster, webm_tag("PROMPT", "\"{\\\"1\\\": {}}\"")}), true);
  const auto info = read_ok(cat({ebml_header("webm"), segment}));
  BOOST_TEST(info.width == 40u);
  BOOST_TEST(info.height == 30u);
  BOOST_TEST(sp::find_text(info, "prompt").value_or("") == "{\"1\": {}}");  // unwrapped
}

BOOST_AUTO_TEST_CASE(mp4_box_forms_tools_write_are_read) {
  // tkhd version 1 (64-bit times), a moov with a 64-bit size, QuickTime's
  // meta without version bytes holding mdir items (©cmt, ©nam), and a last
  // box of size 0 (to the end of the file).
  Bytes tkhd{1, 0, 0, 0};
  tkhd.resize(88, 0);
  put_be32(tkhd, 720u << 16);
  put_be32(tkhd, 1280u << 16);
  Bytes vide(8, 0);
  for (char c : std::string_view("vide")) vide.push_back(static_cast<std::uint8_t>(c));
  vide.resize(vide.size() + 12, 0);
  Bytes mdir(8, 0);
  for (char c : std::string_view("mdir")) mdir.push_back(static_cast<std::uint8_t>(c));
  mdir.resize(mdir.size() + 12, 0);
  auto data = [](std::string_view text) { return box("data", cat({Bytes{0, 0, 0, 1, 0, 0, 0, 0}, text_bytes(text)})); };
  const Bytes meta = box(
      "meta",
      cat({box("hdlr", mdir), box("ilst", cat({box("\xa9"
                                                   "cmt",
                                                   data("Steps: 8, Sampler: Euler, Seed: 3, Model hash: 0123456789")),
                                               box("\xa9"
                                                   "nam",
                                                   data("Boat"))}))}));
  const Bytes moov_payload =
      cat({box("trak", cat({box("tkhd", tkhd), box("mdia", box("hdlr", vide))})), box("udta", meta)});
  Bytes moov;
  put_be32(moov, 1);
  for (char c : std::string_view("moov")) moov.push_back(static_cast<std::uint8_t>(c));
  put_be32(moov, 0);
  put_be32(moov, static_cast<std::uint32_t>(moov_payload.size() + 16));
  moov.insert(moov.end(), moov_payload.begin(), moov_payload.end());
  Bytes mdat{0, 0, 0, 0, 'm', 'd', 'a', 't', 1, 2, 3};
  const auto info = read_ok(cat({ftyp("mp42"), moov, mdat}));
  BOOST_TEST(info.width == 720u);
  BOOST_TEST(info.height == 1280u);
  BOOST_TEST(sp::find_text(info, "title").value_or("") == "Boat");
  auto p = sp::generation_params_from_image(info);
  BOOST_TEST_REQUIRE(p.has_value());  // AnimateDiff's infotext in ©cmt
  BOOST_TEST(p->model_hash == "0123456789");
}

BOOST_AUTO_TEST_CASE(mp4_keys_cannot_multiply_the_text_held) {
  // One 200 KiB key named by 256 items: 50 MiB of text if each copied it.
  Bytes mdta(8, 0);
  for (char c : std::string_view("mdta")) mdta.push_back(static_cast<std::uint8_t>(c));
  mdta.resize(mdta.size() + 12, 0);
  Bytes keys{0, 0, 0, 0, 0, 0, 0, 1};
  put_be32(keys, 8 + (200u << 10));
  for (char c : std::string_view("mdta")) keys.push_back(static_cast<std::uint8_t>(c));
  keys.resize(keys.size() + (200u << 10), 'k');
  Bytes items;
  for (int i = 0; i < 256; ++i) {
    const Bytes item = cat({Bytes{0, 0, 0, 24, 0, 0, 0, 1}, box("data", Bytes{0, 0, 0, 1, 0, 0, 0, 0})});
    items.insert(items.end(), item.begin(), item.end());
  }
  const Bytes file = cat(
      {ftyp("isom"), box("moov", cat({video_trak(8, 8), box("meta", cat({Bytes(4, 0), box("hdlr", mdta),
                                                                         box("keys", keys), box("ilst", items)}))}))});
  const auto error = read_error(file);
  BOOST_CHECK(error.code == ErrorCode::limit);
  CHECK_CONTAINS(error.message, "MiB of metadata text");
}

BOOST_AUTO_TEST_SUITE_END()
