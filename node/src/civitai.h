// Civitai-shaped JSON for releases: the model-version object that
// `.civitai.info` sidecars hold (and the HTTP API serves), with Seedbank's
// own ids under extra keys. Field names follow Civitai's public API v1.
// Private to node/.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "json_out.h"
#include "seedbank/indexer/index.h"
#include "seedbank/protocol/generation_params.h"
#include "seedbank/protocol/record.h"
#include "seedbank/protocol/util.h"

namespace seedbank::node {

using protocol::util::digest_of;

// Civitai's ids are integers; ours are stable ones derived from record ids:
// the first 53 bits of a SHA-256 (within JavaScript's safe integer range),
// never 0.
std::uint64_t civitai_id(const protocol::Sha256Digest& digest);
// A model groups the versions one author publishes under one slug.
std::uint64_t civitai_model_id(const protocol::PublicKey& author, std::string_view slug);
// An image is an item of the record that shows it: a release (its sample
// images, as its author's update shows them) or an image post. Its id is
// the first 24 bits of that record's id, then the first 29 bits of
// SHA-256(record id ++ image SHA-256), so a post of the same bytes as a
// sample image is another item, and the id leads back to its record
// (civitai_image_record_prefix) without a table of its own.
std::uint64_t civitai_image_id(const protocol::RecordId& record, const protocol::Sha256Digest& image);
// The first 3 bytes of the id of the record an image id names.
protocol::Bytes civitai_image_record_prefix(std::uint64_t image_id);

// Civitai's names: "Model", "SafeTensor", "fp16", "pruned", ...
std::string civitai_file_type(schema::FileRole role);
std::string civitai_format(schema::FileFormat format);
std::string civitai_precision(schema::Precision precision);
// Civitai's allowCommercialUse value ("Image", "RentCivit", "Rent",
// "Sell"); empty for a value this version does not know.
std::string_view civitai_commercial_use(schema::CommercialUse use);

struct CivitaiLinks {
  // Prefix for downloadUrl and image urls (an HTTP API base such as
  // "http://127.0.0.1:7480"); empty: downloadUrl is the release's magnet
  // link and image urls are file names inside the release.
  std::string base_url;
  // How many nodes are known to seed a release (by v2 info-hash): its
  // downloadCount. Unset: 0.
  std::function<std::uint32_t(const protocol::Sha256Digest&)> seeders;
  // Versions this node does not show (its config.json refuses them). Unset:
  // only retracted ones are left out.
  std::function<bool(const protocol::Record&)> hidden;
  // An image's level as this node shows it (NodeConfig::image_level).
  // Unset: its record's (protocol::nsfw_level_of).
  std::function<std::uint8_t(schema::SampleImage::Reader, schema::Release::Reader)> image_level;
  std::uint8_t level_of(schema::SampleImage::Reader image, schema::Release::Reader release) const;
};

// ISO 8601 UTC with milliseconds, as Civitai writes createdAt.
std::string iso8601(std::uint64_t unix_ms);

// An author's current profile's display name, or "" without one.
std::string display_name(const indexer::Index& index, const protocol::PublicKey& author);
// The key an author's releases show under: the author's, or the key its
// rotations (KeyRotation records) lead to.
protocol::PublicKey current_identity(const indexer::Index& index, protocol::PublicKey key);
// The name the API shows for an author: the display name of its current
// identity, else that key.
std::string username_of(const indexer::Index& index, const protocol::PublicKey& author);

// Ratings of one release as Civitai counts them.
struct RatingSummary {
  indexer::RatingAggregate aggregate;
  std::uint32_t thumbs_up = 0;    // 4 or 5 stars
  std::uint32_t thumbs_down = 0;  // 1 or 2 stars
  std::uint32_t comments = 0;     // with a review text
};
RatingSummary rating_summary(const indexer::Index& index, const protocol::RecordId& release);

// The model-version object for a release record, as a document (for
// `.civitai.info` sidecars).
nlohmann::ordered_json civitai_model_version(const protocol::Record& release, const indexer::Index& index,
                                             const CivitaiLinks& links = {});

// Writers of Civitai's objects into a JSON text (fast: the API's listings).
// The model-version object; `nested` leaves out "model" (inside a model's
// modelVersions).
// Returns the figures it wrote, for a model's totals.
struct VersionStats {
  RatingSummary summary;
  std::uint64_t downloads = 0;
};
VersionStats write_model_version(JsonOut& out, const protocol::Record& release, const indexer::Index& index,
                                 const CivitaiLinks& links, bool nested);
// Civitai's creator object {username, image} plus Seedbank's key and
// profile; with modelCount and link when `model_count` is given.
void write_creator(JsonOut& out, const protocol::PublicKey& author, const indexer::Index& index,
                   const CivitaiLinks& links, std::optional<std::uint64_t> model_count);
// The model object: the newest listed version's name, type, tags and
// license, and every version not retracted, newest first. `head` is the
// record of model.head.
void write_model(JsonOut& out, const indexer::ModelInfo& model, const protocol::Record& head,
                 const indexer::Index& index, const CivitaiLinks& links);
// Civitai's image "meta" object from generation parameters.
void write_generation_meta(JsonOut& out, const protocol::GenerationParams& params);

}  // namespace seedbank::node
