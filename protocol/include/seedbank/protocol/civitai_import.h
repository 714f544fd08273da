// Reading what Civitai already knows about a model: a `.civitai.info` file
// (what AUTOMATIC1111's Civitai Helper saves) or a model-version object from
// Civitai's API (GET /api/v1/model-versions/:id or .../by-hash/:hash), so
// people can move their existing uploads. Pure: parses text, no I/O.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "seedbank/protocol/bytes.h"
#include "seedbank/protocol/generation_params.h"
#include "seedbank/protocol/result.h"

namespace seedbank::protocol {

struct CivitaiImage {
  std::uint32_t width = 0, height = 0;
  bool nsfw = false;
  std::optional<GenerationParams> meta;  // the image's "meta" object
};

// One entry of a version's "files": what Civitai recorded for it.
struct CivitaiFile {
  std::string name;
  std::optional<Sha256Digest> sha256;  // hashes.SHA256
  std::string autov2;                  // hashes.AutoV2, uppercase, as recorded
  bool primary = false;
};

struct CivitaiImport {
  std::uint64_t model_id = 0, version_id = 0;  // modelId, id
  std::string creator;                         // creator.username (the version's, else the model's)
  std::vector<CivitaiFile> files;
  // The model's license permissions, when the JSON has them (a model
  // object from /api/v1/models does; a .civitai.info usually not).
  std::optional<bool> allow_no_credit, allow_derivatives, allow_different_license;
  std::vector<std::string> allow_commercial_use;  // "None", "Image", "RentCivit", "Rent", "Sell"
  std::string model_name;                         // model.name
  std::string version_name;                       // name
  std::string type;                               // model.type ("LORA", "Checkpoint", ...)
  std::string base_model;                         // baseModel
  std::string description;                        // description (version), else model.description
  std::string model_description;                  // model.description
  std::vector<std::string> tags;                  // model.tags, if present
  std::vector<std::string> trained_words;         // trainedWords
  bool nsfw = false;                              // model.nsfw
  std::vector<CivitaiImage> images;
};

// Accepts either JSON shape, and ComfyUI-Lora-Manager's
// `<model>.metadata.json` (the version object under "civitai"). Fields that are missing stay empty; fields of
// the wrong type are an error naming the field. Limits: 16 MiB of text.
Result<CivitaiImport> parse_civitai_version_json(std::string_view json_text, std::string_view name_for_messages);

// Civitai's image "meta" object (prompt, negativePrompt, steps, sampler,
// cfgScale, seed, Size, "Model hash", Model, ...) -> GenerationParams.
GenerationParams generation_from_civitai_meta(std::string_view meta_json);

}  // namespace seedbank::protocol
