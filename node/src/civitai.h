// Civitai-shaped JSON for releases: the model-version object that
// `.civitai.info` sidecars hold (and the HTTP API serves), with Seedbank's
// own ids under extra keys. Field names follow Civitai's public API v1.
// Private to node/.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>

#include "seedbank/indexer/index.h"
#include "seedbank/protocol/record.h"

namespace seedbank::node {

// Civitai's ids are integers; ours are stable ones derived from record ids:
// the first 53 bits of a SHA-256 (within JavaScript's safe integer range),
// never 0.
std::uint64_t civitai_id(const protocol::Sha256Digest& digest);
// A model groups the versions one author publishes under one slug.
std::uint64_t civitai_model_id(const protocol::PublicKey& author, std::string_view slug);

// Civitai's names: "Model", "SafeTensor", "fp16", "pruned", ...
std::string civitai_file_type(schema::FileRole role);
std::string civitai_format(schema::FileFormat format);
std::string civitai_precision(schema::Precision precision);

struct CivitaiLinks {
  // Prefix for downloadUrl and image urls (an HTTP API base such as
  // "http://127.0.0.1:7480"); empty: downloadUrl is the release's magnet
  // link and image urls are file names inside the release.
  std::string base_url;
};

// The model-version object for a release record.
nlohmann::ordered_json civitai_model_version(const protocol::Record& release, const indexer::Index& index,
                                             const CivitaiLinks& links = {});

// ISO 8601 UTC with milliseconds, as Civitai writes createdAt.
std::string iso8601(std::uint64_t unix_ms);

}  // namespace seedbank::node
