// Building Release records from plain structs, and Civitai's vocabulary.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "seedbank/protocol/bytes.h"
#include "seedbank/protocol/content_hash.h"
#include "seedbank/protocol/generation_params.h"
#include "seedbank/protocol/record.h"

namespace seedbank::protocol {

struct ReleaseFile {
  std::string name;
  std::uint64_t size = 0;
  schema::FileRole role = schema::FileRole::MODEL;
  schema::FileFormat format = schema::FileFormat::SAFE_TENSOR;
  schema::Precision precision = schema::Precision::UNKNOWN;
  bool primary = false;
  Sha256Digest sha256{};
  Sha256Digest autov1{};
  std::optional<Sha256Digest> autov3;
  std::uint32_t crc32 = 0;
  std::optional<Sha256Digest> pieces_root;

  // Copies every hash from a hashing pass.
  void set_hashes(const FileDigests& digests);
};

struct ReleaseImage {
  std::string name;
  Sha256Digest sha256{};
  std::uint64_t size = 0;
  std::uint32_t width = 0, height = 0;
  std::string mime_type;
  bool nsfw = false;
  std::uint8_t nsfw_level = 0;  // NsfwLevel; 0: from nsfw
  std::optional<GenerationParams> generation;
};

// A mirror's origin (schema Origin): where the files were published first.
struct ReleaseOrigin {
  std::string site;  // "civitai"
  std::uint64_t model_id = 0, version_id = 0;
  std::string creator, url;
  std::vector<Sha256Digest> sha256;  // what the site recorded, in files order
};

struct ReleaseDraft {
  std::string model_name;
  std::string model_slug;  // empty: slugify(model_name)
  std::string version_name;
  schema::ModelType type = schema::ModelType::OTHER;
  std::string base_model;
  std::string description;        // this version's notes (Markdown)
  std::string model_description;  // the model's own page (Markdown)
  std::vector<std::string> tags;
  std::vector<std::string> trigger_words;
  std::string license_name;
  std::vector<schema::CommercialUse> allow_commercial_use;
  bool allow_derivatives = true;
  bool allow_no_credit = true;
  bool allow_different_license = true;
  std::vector<ReleaseFile> files;
  std::vector<ReleaseImage> images;
  Sha256Digest info_hash_v2{};
  std::optional<Sha1Digest> info_hash_v1;
  Bytes torrent_info;          // bencoded info dictionary
  Bytes torrent_piece_layers;  // bencoded, may be empty
  std::vector<std::string> trackers;
  std::optional<RecordId> supersedes;
  bool nsfw = false;
  std::optional<ReleaseOrigin> origin;  // set: a mirror
};

// The origin of a mirror; nullopt for a creator's own release.
std::optional<ReleaseOrigin> read_origin(schema::Release::Reader release);
inline bool is_mirror(schema::Release::Reader release) { return release.hasOrigin(); }

// Writes the draft into a body's payload.
void fill_release(const ReleaseDraft& draft, schema::RecordBody::Builder body);

// GenerationParams <-> schema, for sample images and image posts.
void fill_generation(const GenerationParams& params, schema::GenerationParams::Builder out);
// A sample image (of a release, or of an image post).
void fill_sample_image(const ReleaseImage& image, schema::SampleImage::Builder out);
GenerationParams read_generation(schema::GenerationParams::Reader in);

// A release as its author's update (schema ReleaseUpdate) shows it: the
// update's model description, description, tags, trigger words, NSFW flag
// and sample images. Only the release's own images are shown: those the
// update names by SHA-256, in its order, with its NSFW levels and, when
// it has some, its generation data (name, size and type stay the
// release's). Files, names,
// type, base model, license and torrent are the release's.
// The result keeps the release's id and signature but is for views only:
// its bytes are not what the author signed, so never store or relay it.
// nullopt when `update` is not an update of this release by its author.
std::optional<Record> apply_update(const Record& release, const Record& update);

// "Detail Tweaker XL!" -> "detail-tweaker-xl"
std::string slugify(std::string_view name);

// Civitai's model type names ("Checkpoint", "LORA", "TextualInversion", ...).
std::string_view model_type_name(schema::ModelType type);
// Case-insensitive; also accepts common aliases ("lora", "embedding", "ti").
std::optional<schema::ModelType> parse_model_type(std::string_view name);
std::vector<std::string_view> model_type_names();
// Civitai's base model names, for --help and warnings about unknown ones.
const std::vector<std::string_view>& known_base_models();

// Civitai's browsing levels, a bit each so a set of them is a mask.
enum NsfwLevel : std::uint8_t { kPG = 1, kPG13 = 2, kR = 4, kX = 8, kXXX = 16 };
inline constexpr std::uint8_t kAllNsfwLevels = 31;
// An image's level as shown: the one its record sets, at least R (4) for
// an image marked NSFW; without one (records made before levels, or a value
// this version does not know) 4 for an image marked NSFW and 1 for one
// that is not. Policies go by this, never by the flag alone.
std::uint8_t nsfw_level_of(schema::SampleImage::Reader image);
// The same for an image of `release`, or posted about it: at least R when
// the release is marked NSFW.
std::uint8_t nsfw_level_of(schema::SampleImage::Reader image, schema::Release::Reader release);
// "PG", "PG-13", "R", "X", "XXX" and their numbers (also "1".."16"), any
// case; nullopt for anything else.
std::optional<std::uint8_t> parse_nsfw_level(std::string_view text);
// Civitai's /images names: None (1), Soft (2), Mature (4), X (8 and 16).
std::string_view civitai_nsfw_name(std::uint8_t level);

}  // namespace seedbank::protocol
