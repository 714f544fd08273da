// What kind of model file this is, from its first bytes, and whether loading
// it can run code. Pure: the caller reads the bytes.
#pragma once

#include <cstddef>
#include <filesystem>
#include <string>
#include <string_view>

#include "seedbank/protocol/bytes.h"
#include "seedbank/protocol/result.h"

namespace seedbank::protocol {

enum class ModelFileFormat { safetensors, pickle, gguf, onnx, unknown };

struct FormatDetection {
  ModelFileFormat format = ModelFileFormat::unknown;
  bool unsafe = false;  // loading the file with its usual tool can run code
  std::string detail;   // one sentence for the user, e.g. "PyTorch zip archive with
                        // archive/data.pkl: loading it runs Python pickle code"
  // The name says one format and the content is another, or none the name
  // says (a text file named .safetensors): `detail` names what it is.
  bool mislabeled = false;
};

// How many leading bytes detect_model_format looks at; pass this many (or the
// whole file when it is shorter).
inline constexpr std::size_t kFormatSniffBytes = 4096;

// Content decides; the extension of `file_name` only breaks ties and is
// reported when it disagrees ("Python pickle ... despite the .safetensors name").
// - safetensors: a u64 little-endian header length (2 .. 100 MiB) then '{'.
// - gguf: the magic "GGUF".
// - pickle: a zip archive (PyTorch's format since 1.6) with an entry ending in
//   ".pkl" among the local file headers inside `first_bytes`, a raw pickle
//   stream (0x80 then protocol 2..5, PyTorch's legacy format), or one of
//   protocols 0 and 1, which have no magic, recognised by walking its
//   opcodes. A zip without one is a pickle only when named like a checkpoint
//   (see below); else unknown.
// - onnx: named .onnx and starting like an ONNX protobuf (field 1, ir_version).
// - A file named .ckpt/.pt/.pth/.bin/.pkl/.pickle whose content matches none of these
//   is reported as pickle: PyTorch's oldest pickle protocols have no magic.
// `unsafe` is true exactly for pickle. Never fails; unrecognised content is
// ModelFileFormat::unknown with a detail saying so.
// The first `n` bytes of a file (fewer if it is shorter), for sniffing.
Result<Bytes> read_file_prefix(const std::filesystem::path& path, std::size_t n = kFormatSniffBytes);

FormatDetection detect_model_format(ByteView first_bytes, std::string_view file_name);

// "safetensors", "pickle", "gguf", "onnx", "unknown".
std::string_view to_string(ModelFileFormat format);

}  // namespace seedbank::protocol
