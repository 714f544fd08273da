// Safetensors headers: parse and validate them without touching tensor data,
// and derive the hints a publisher pre-fills (base model, type, triggers).
//
// File layout (huggingface/safetensors):
//   u64 little-endian N | N bytes of UTF-8 JSON, may end in spaces | data area
// The JSON maps each tensor name to {"dtype", "shape", "data_offsets":
// [begin, end]} with offsets relative to the data area, plus an optional
// "__metadata__" object of string -> string.
//
// Every input here is untrusted: a malformed file yields an Error naming the
// problem, never a crash or an exception.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "seedbank/protocol/bytes.h"
#include "seedbank/protocol/result.h"

namespace seedbank::protocol {

struct TensorInfo {
  std::string name;
  std::string dtype;                 // safetensors spelling: "F16", "BF16", "F8_E4M3", ...
  std::vector<std::uint64_t> shape;  // empty for a scalar
  std::uint64_t begin = 0, end = 0;  // byte range relative to the data area
};

struct SafetensorsHeader {
  std::uint64_t header_length = 0;  // N, the JSON's length including padding
  std::uint64_t data_offset = 0;    // 8 + header_length: where the data area starts
  std::uint64_t file_size = 0;
  std::vector<TensorInfo> tensors;                            // sorted by begin; together they tile the data area
  std::vector<std::pair<std::string, std::string>> metadata;  // __metadata__, sorted by key
};

// Slightly above the reference reader's 100,000,000; real headers are a few MB.
inline constexpr std::uint64_t kMaxSafetensorsHeader = 100 * 1024 * 1024;
// Limits that keep a hostile header from costing more memory than its size
// suggests. Real models have tens of thousands of tensors, names under 200
// bytes and at most a handful of dimensions.
inline constexpr std::size_t kMaxSafetensorsTensors = 1'000'000;
inline constexpr std::size_t kMaxTensorNameLength = 4096;
inline constexpr std::size_t kMaxTensorRank = 64;

// Bits per element of a safetensors dtype ("F32" -> 32, "F4" -> 4), or
// nullopt when the name is not one the format defines. Knows every dtype of
// the reference implementation, including F8_E8M0, the FNUZ float8s, C64 and
// the sub-byte F4, F6_E2M3 and F6_E3M2 (a sub-byte tensor must still fill a
// whole number of bytes).
std::optional<unsigned> safetensors_dtype_bits(std::string_view dtype);

// Pure. `prefix` holds at least the first min(file_size, 8 + N) bytes of a
// file whose total size is `file_size`; bytes past the header are ignored, so
// passing the whole file image is fine. `name_for_messages` starts every
// error message (usually the file name).
//
// Succeeds only when all of these hold: the file has the 8-byte length;
// 2 <= N <= kMaxSafetensorsHeader and 8 + N <= file_size; the header is a
// UTF-8 JSON object starting with '{' (so format sniffing and parsing agree),
// optionally padded with whitespace, with no duplicate key at any level;
// every entry but "__metadata__" is an object with a known "dtype", a "shape"
// of non-negative integers whose byte size fits in 64 bits, and
// "data_offsets" [begin, end] spanning exactly that size inside the data
// area; sorted by begin, the tensors cover the data area exactly, without gap
// or overlap; "__metadata__" is an object mapping strings to strings.
// Unknown fields inside a tensor entry are ignored, as the reference reader
// does. Errors: ErrorCode::malformed for a broken file, ErrorCode::limit when
// a limit above is exceeded, ErrorCode::invalid_argument when `prefix` is
// shorter than the contract requires.
Result<SafetensorsHeader> parse_safetensors(ByteView prefix, std::uint64_t file_size,
                                            std::string_view name_for_messages);

// Reads the length and the JSON header of the file at `path` (never the
// tensors) and parses them as above. ErrorCode::io when the file cannot be
// read; messages start with the file's name.
Result<SafetensorsHeader> read_safetensors_header(const std::filesystem::path& path);

// The __metadata__ value stored under `key`, if any. The view points into
// `header`.
std::optional<std::string_view> metadata_value(const SafetensorsHeader& header, std::string_view key);

// What a header suggests about the model, to pre-fill a publish form. Every
// field is a best-effort guess the user confirms; empty means "no idea".
struct ModelHints {
  std::string base_model;  // Civitai's name: "SD 1.5", "SDXL 1.0", "Pony", "Flux.1 D", ...
  std::string type;        // Civitai's type: "Checkpoint", "LORA", "LoCon", "DoRA",
                           // "TextualInversion", "VAE", "Controlnet"
  std::optional<std::pair<std::uint32_t, std::uint32_t>> resolution;  // width, height
  std::vector<std::string> trigger_words;
  std::string title, description, author, license;
  std::string precision;  // "fp16", "fp32", "bf16" or "fp8": the dtype holding the most bytes
};

// Sources, strongest first:
// - Stability's modelspec keys: modelspec.architecture ("stable-diffusion-
//   xl-v1-base/lora"), .title, .description, .author, .license, .resolution
//   ("1024x1024") and .trigger_phrase (comma separated).
// - kohya-ss sd-scripts training keys: ss_base_model_version ("sd_v1",
//   "sdxl_base_v1-0", "flux1", ...), ss_v2, ss_sd_model_name (tells Pony,
//   Illustrious and NoobAI apart from plain SDXL), ss_resolution,
//   ss_network_module and ss_network_args (LyCORIS algo, dora_wd),
//   ss_tag_frequency (trigger words: the five most frequent tags summed over
//   datasets, ties alphabetical) and ss_output_name (title fallback).
// - Tensor names and shapes, when the metadata is silent: "lora_unet_",
//   ".lora_down." -> LORA, "hada_"/"lokr_" -> LoCon, "dora_scale" -> DoRA,
//   "model.diffusion_model." -> Checkpoint, and so on; the base model only
//   where names or shapes pin it down (e.g. "lora_te2_" or a 2048-wide
//   cross-attention key is SDXL).
// Where the evidence cannot settle a choice, the common case wins: SD 1.x ->
// "SD 1.5", SD 2.x -> "SD 2.1", Flux not marked schnell -> "Flux.1 D", any
// LyCORIS algorithm -> "LoCon".
ModelHints derive_model_hints(const SafetensorsHeader& header);

}  // namespace seedbank::protocol
