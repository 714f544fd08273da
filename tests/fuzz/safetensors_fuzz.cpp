// libFuzzer target for the safetensors header parser. The input is a whole
// file image. Besides "no crash, no leak, no UB", it checks what
// parse_safetensors promises about a header it accepts, that format
// detection agrees, and that derive_model_hints copes with anything accepted.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "seedbank/protocol/model_format.h"
#include "seedbank/protocol/safetensors.h"

using namespace seedbank::protocol;

namespace {

void require(bool condition) {
  if (!condition) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  ByteView file(data, size);
  // The name steers detection (ONNX and legacy pickle rules need it).
  for (const char* name : {"fuzz.ckpt", "fuzz.onnx", "fuzz"}) {
    FormatDetection d = detect_model_format(file, name);
    require(!d.detail.empty() && d.unsafe == (d.format == ModelFileFormat::pickle));
    require(!d.mislabeled || std::string_view(name) != "fuzz");  // a name that claims nothing never disagrees
  }
  FormatDetection format = detect_model_format(file, "fuzz.safetensors");
  Result<SafetensorsHeader> header = parse_safetensors(file, size, "fuzz.safetensors");
  if (!header.ok()) {
    require(!header.error().message.empty());
    return 0;
  }

  // Whatever parses is sniffed as safetensors, so the two never disagree.
  require(format.format == ModelFileFormat::safetensors && !format.unsafe);

  require(header->file_size == size);
  require(header->data_offset == 8 + header->header_length);
  require(header->data_offset <= size);
  std::uint64_t covered = 0;
  for (const TensorInfo& t : header->tensors) {
    require(t.begin == covered && t.begin <= t.end);
    require(safetensors_dtype_bits(t.dtype).has_value());
    covered = t.end;
  }
  require(covered == size - header->data_offset);
  for (std::size_t i = 1; i < header->metadata.size(); ++i)
    require(header->metadata[i - 1].first < header->metadata[i].first);

  // The header alone is enough: parsing just the prefix gives the same result.
  Result<SafetensorsHeader> again =
      parse_safetensors(file.first(static_cast<std::size_t>(header->data_offset)), size, "again");
  require(again.ok() && again->tensors.size() == header->tensors.size() && again->metadata == header->metadata);

  ModelHints hints = derive_model_hints(*header);
  if (hints.resolution) require(hints.resolution->first > 0 && hints.resolution->second > 0);
  for (const std::string& word : hints.trigger_words) require(!word.empty());
  return 0;
}
