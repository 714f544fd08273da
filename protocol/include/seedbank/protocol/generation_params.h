// Generation parameters of a sample image: the prompt and settings that made
// it, as AUTOMATIC1111-style tools (A1111, Forge, SD.Next) and ComfyUI embed
// them in the image.
//
// The text comes from untrusted images. These functions never fail and never
// throw: what cannot be understood is kept verbatim (in `raw`, `prompt` or
// the ComfyUI fields) rather than guessed at.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "seedbank/protocol/image_meta.h"

namespace seedbank::protocol {

struct GenerationParams {
  std::string prompt;
  std::string negative_prompt;
  std::optional<std::uint32_t> steps;
  std::string sampler;  // e.g. "Euler a", or ComfyUI's "euler_ancestral"
  std::optional<double> cfg_scale;
  std::optional<std::int64_t> seed;  // -1 means "random" in A1111
  std::optional<std::uint32_t> width;
  std::optional<std::uint32_t> height;
  std::string model_hash;  // A1111's short hash, e.g. "6ce0161689"
  std::string model_name;
  // Every "Key: value" of the A1111 settings line in order, the ones above
  // included, with quoted values unquoted and unescaped.
  std::vector<std::pair<std::string, std::string>> settings;
  std::string comfy_prompt;    // ComfyUI "prompt" (the node graph run), verbatim JSON
  std::string comfy_workflow;  // ComfyUI "workflow" (the editor's graph), verbatim JSON
  std::string raw;             // the A1111 parameters text exactly as found

  // True when nothing was found: every field above except `raw` is unset or
  // empty.
  bool empty() const;
};

// Parses AUTOMATIC1111's infotext:
//   <prompt, possibly several lines>
//   Negative prompt: <negative prompt, possibly several lines>   (optional)
//   Steps: 20, Sampler: Euler a, CFG scale: 7, Seed: 1, Size: 512x768, ...
// The last line counts as the settings line only when it has that shape
// (a run of "Key: value" pairs, values optionally JSON-quoted); otherwise all
// the text before "Negative prompt:" is the prompt. Accepts \r\n line ends.
// Never fails: text in no known layout becomes the prompt.
GenerationParams parse_a1111_parameters(std::string_view text);

// The generation parameters an image carries: its "parameters" text (A1111),
// its "prompt"/"workflow" JSON (ComfyUI; the prompt, negative prompt, seed,
// steps, cfg, sampler, size and checkpoint are read from the graph's
// KSampler where it has a plain shape), or a JPEG comment laid out as A1111
// infotext. A1111 fields win where both are present. nullopt when the image
// carries none of these.
std::optional<GenerationParams> generation_params_from_image(const ImageInfo& info);

// A checkpoint, LoRA, embedding or VAE that generation data names by hash,
// as Civitai's image meta lists it under "resources".
struct GenerationResource {
  std::string type;              // "model", "lora", "embed", "vae" or "hypernet"
  std::string name;              // as the tool wrote it; may be empty
  std::string hash;              // lowercase hex, 8 to 64 digits (AutoV1/V2/V3 or a SHA256 prefix)
  std::optional<double> weight;  // a LoRA's, from "<lora:name:weight>" in the prompt
};

// The resources in A1111's settings: "Model hash" and "Model", "VAE hash"
// and "VAE", "Lora hashes" and "TI hashes" ("name: hash, ..."), and the
// "Hashes" JSON that Civitai's extension writes ({"model": h, "lora:name": h,
// ...}). Each hash once, in that order, at most kMaxGenerationResources;
// anything that is not a hash is left out.
inline constexpr std::size_t kMaxGenerationResources = 32;
std::vector<GenerationResource> generation_resources(const GenerationParams& params);

}  // namespace seedbank::protocol
