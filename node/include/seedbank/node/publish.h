// Publishing a release: model files + sample images + metadata -> a signed
// Release in the index, the files in the content store, a torrent to seed.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

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
  // These of `files` and `images` (the gallery's finished uploads, removed
  // once published) are hard-linked into the store rather than copied.
  std::vector<std::filesystem::path> link_files;
};

struct PublishedFile {
  std::string name;
  bool image = false;
  bool stored_new = false;  // false: the content was already in the store
  protocol::FileDigests digests;
};

// A published file as `seedbank publish --json` and the gallery's publish
// job show it: {name, kind, size, hashes {SHA256, AutoV1, AutoV2, AutoV3,
// CRC32}, piecesRoot (with `pieces_root`), storedNew}.
nlohmann::ordered_json published_file_json(const PublishedFile& f, bool pieces_root = false);

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

// What publish() would sign, without hashing or writing anything: every
// input checked as publish() checks it (the same errors and warnings), the
// metadata chosen from the request, then the .civitai.info, then the
// primary file's own (safetensors metadata), and the release it would
// supersede. The gallery's form shows this before it publishes.
struct PublishPreview {
  protocol::ReleaseDraft draft;  // names, type, texts, tags, license, permissions, supersedes; no files yet
  struct Input {
    std::string name;
    bool image = false;
    std::uint64_t size = 0;
    schema::FileFormat format = schema::FileFormat::OTHER;  // models
    schema::Precision precision = schema::Precision::UNKNOWN;
    unsigned width = 0, height = 0;  // images
    std::string mime_type;
    std::optional<protocol::GenerationParams> generation;
  };
  std::vector<Input> inputs;  // models, then images
  std::vector<std::string> warnings;
  // Set when nothing names the type (no request field, .civitai.info or
  // metadata): the error publish() gives, also among the warnings.
  std::optional<std::string> type_missing;
};
protocol::Result<PublishPreview> preview_publish(PublishTarget& target, const protocol::SecretKey& key,
                                                 const PublishRequest& request);

// Validates everything before writing anything; on any failure the index and
// the store are as they were. Reads each file once for all hashes (the store
// copy is a separate, kernel-side copy). `progress` gets bytes hashed so far
// over all files.
protocol::Result<PublishResult> publish(PublishTarget& target, const protocol::SecretKey& key,
                                        const PublishRequest& request, const protocol::ProgressFn& progress = {});

}  // namespace seedbank::node
