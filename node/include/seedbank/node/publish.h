// Publishing a release: model files + sample images + metadata -> a signed
// Release in the index, the files in the content store, a torrent to seed.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "seedbank/indexer/index.h"
#include "seedbank/node/store.h"
#include "seedbank/protocol/content_hash.h"
#include "seedbank/protocol/keys.h"
#include "seedbank/protocol/record.h"
#include "seedbank/protocol/release.h"

namespace seedbank::node {

struct PublishRequest {
  std::vector<std::filesystem::path> files;   // the first model file is the primary one
  std::vector<std::filesystem::path> images;  // PNG, JPEG or WebP sample images
  std::string name, version, type, base_model, description, license;
  std::string model_description;  // the model's page; empty: from civitai_json, else the older versions'
  std::vector<std::string> tags, trigger_words, trackers;
  // Civitai's allowCommercialUse values: "None", "Image", "RentCivit", "Rent", "Sell".
  std::vector<std::string> commercial_use;
  std::optional<bool> allow_derivatives, allow_no_credit, allow_different_license;
  std::optional<std::filesystem::path> civitai_json;  // .civitai.info or API model-version JSON
  std::string supersedes;                             // release id (hex); empty: by name and creator
  bool nsfw = false;
  // The browsing level of every sample image (protocol::NsfwLevel; 0: from
  // nsfw). R and above mark the images, and the release, NSFW.
  std::uint8_t image_nsfw_level = 0;
  bool v2_only = false;  // BitTorrent v2 only, no v1 pieces
  bool link = false;     // hard-link into the store instead of copying
  // Share the model files in place (ContentStore::share) instead of putting
  // them in the store: `seedbank share` mirroring a user's library. Sample
  // images still go into the store.
  bool in_place = false;
  // Set: a mirror of files first published elsewhere (signed by the
  // sharer, never presented as the creator's).
  std::optional<protocol::ReleaseOrigin> origin;
  // Without --supersedes, a release supersedes the author's latest of the
  // same model name; false: nothing (share publishing files by name).
  bool supersede_by_name = true;
  bool allow_unsafe = false;  // accept pickle-based files
};

struct PublishedFile {
  std::string name;
  bool image = false;
  bool stored_new = false;  // false: the content was already in the store
  protocol::FileDigests digests;
};

struct PublishResult {
  std::optional<protocol::Record> record;  // always set on success
  bool already_published = false;          // the same author published the same torrent before
  std::vector<PublishedFile> files;
  std::string torrent_name;
  std::string magnet;
  std::uint64_t piece_size = 0;
  std::vector<std::string> warnings;
  // Releases by others that already name one of these model files (same
  // SHA-256): the file is already on the network (a warning says so).
  std::vector<protocol::RecordId> already_named_by;
  double hash_seconds = 0, store_seconds = 0;
};

struct PublishTarget {
  indexer::Index& index;
  ContentStore& store;
  std::string network;
};

// Validates everything before writing anything; on any failure the index and
// the store are as they were. Reads each file once for all hashes (the store
// copy is a separate, kernel-side copy). `progress` gets bytes hashed so far
// over all files.
protocol::Result<PublishResult> publish(PublishTarget& target, const protocol::SecretKey& key,
                                        const PublishRequest& request, const protocol::ProgressFn& progress = {});

}  // namespace seedbank::node
