#include "seedbank/protocol/model_format.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <iterator>
#include <optional>

#include "seedbank/protocol/safetensors.h"

namespace seedbank::protocol {
namespace {

// What the file name claims.
enum class NamedAs { safetensors, gguf, pickle, onnx, other };

std::string extension_of(std::string_view file_name) {
  std::size_t slash = file_name.find_last_of("/\\");
  if (slash != std::string_view::npos) file_name.remove_prefix(slash + 1);
  std::size_t dot = file_name.rfind('.');
  if (dot == std::string_view::npos || dot == 0) return "";
  std::string ext(file_name.substr(dot));
  for (char& c : ext)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return ext;
}

NamedAs named_as(std::string_view ext) {
  if (ext == ".safetensors" || ext == ".sft") return NamedAs::safetensors;
  if (ext == ".gguf") return NamedAs::gguf;
  if (ext == ".ckpt" || ext == ".pt" || ext == ".pth" || ext == ".bin" || ext == ".pkl" || ext == ".pickle")
    return NamedAs::pickle;
  if (ext == ".onnx") return NamedAs::onnx;
  return NamedAs::other;
}

// What each format is called, and the name a file of it usually has.
struct FormatNames {
  ModelFileFormat format;
  std::string_view name;
  NamedAs named_as;
  std::string_view usual_extension;
};
constexpr FormatNames kFormatNames[] = {
    {ModelFileFormat::safetensors, "safetensors", NamedAs::safetensors, ".safetensors"},
    {ModelFileFormat::pickle, "pickle", NamedAs::pickle, ".ckpt"},
    {ModelFileFormat::gguf, "gguf", NamedAs::gguf, ".gguf"},
    {ModelFileFormat::onnx, "onnx", NamedAs::onnx, ".onnx"},
    {ModelFileFormat::unknown, "unknown", NamedAs::other, ""},
};

const FormatNames& names_of(ModelFileFormat format) {
  for (const auto& names : kFormatNames)
    if (names.format == format) return names;
  return kFormatNames[std::size(kFormatNames) - 1];
}

NamedAs named_as(ModelFileFormat format) { return names_of(format).named_as; }

std::string_view usual_extension(ModelFileFormat format) { return names_of(format).usual_extension; }

std::uint64_t read_le(ByteView bytes, std::size_t at, std::size_t width) {
  std::uint64_t value = 0;
  for (std::size_t i = width; i-- > 0;) value = value << 8 | bytes[at + i];
  return value;
}

// Zip entry names come from the file: keep printable ASCII only.
std::string printable_ascii(std::string_view s) {
  std::string out;
  for (char c : s.substr(0, 100)) out += (c >= 0x20 && c < 0x7f) ? c : '?';
  return out;
}

// Content that was recognised: the format, what it is ("Python pickle
// (protocol 4)") and what loading it means.
struct Match {
  ModelFileFormat format;
  std::string what;
  std::string consequence;
};

constexpr std::string_view kRunsPickle = "loading it runs Python pickle code, which can do anything";

// PyTorch's zip checkpoints keep their object graph in "<archive>/data.pkl",
// written as the first entry. Walk the local file headers that fit in
// `bytes` looking for any pickle entry.
std::optional<Match> match_zip(ByteView bytes, NamedAs name) {
  std::string first_entry;
  std::size_t pos = 0;
  while (pos + 30 <= bytes.size() && read_le(bytes, pos, 4) == 0x04034b50) {
    std::uint64_t flags = read_le(bytes, pos + 6, 2);
    std::uint64_t compressed = read_le(bytes, pos + 18, 4);
    std::uint64_t name_length = read_le(bytes, pos + 26, 2);
    std::uint64_t extra_length = read_le(bytes, pos + 28, 2);
    if (pos + 30 + name_length > bytes.size()) break;
    std::string_view entry(reinterpret_cast<const char*>(bytes.data() + pos + 30),
                           static_cast<std::size_t>(name_length));
    if (first_entry.empty()) first_entry = printable_ascii(entry);
    if (entry.ends_with(".pkl")) {
      return Match{ModelFileFormat::pickle, "PyTorch zip archive with " + printable_ascii(entry),
                   std::string(kRunsPickle)};
    }
    if (flags & 0x08) break;  // sizes trail the data: the next header cannot be found
    std::uint64_t next = pos + 30 + name_length + extra_length + compressed;
    if (next > bytes.size()) break;
    pos = static_cast<std::size_t>(next);
  }
  if (name == NamedAs::pickle) {
    return Match{ModelFileFormat::pickle,
                 "zip archive named like a PyTorch checkpoint (no pickle entry among its first "
                 "entries)",
                 "PyTorch would load it as pickle code, which can do anything"};
  }
  std::string entry_note = first_entry.empty() ? "" : ", first entry \"" + first_entry + "\"";
  return Match{ModelFileFormat::unknown, "zip archive without a PyTorch pickle" + entry_note,
               "not a model format Seedbank can inspect; publish the model file itself"};
}

std::optional<Match> match_content(ByteView bytes, NamedAs name) {
  if (bytes.size() >= 9 && bytes[8] == '{') {
    std::uint64_t length = read_le(bytes, 0, 8);
    if (length >= 2 && length <= kMaxSafetensorsHeader) {
      return Match{ModelFileFormat::safetensors, "safetensors file (" + std::to_string(length) + "-byte header)",
                   "it holds only tensors, so loading it runs no code"};
    }
  }
  if (bytes.size() >= 4 && bytes[0] == 'G' && bytes[1] == 'G' && bytes[2] == 'U' && bytes[3] == 'F') {
    std::string version = bytes.size() >= 8 ? " (version " + std::to_string(read_le(bytes, 4, 4)) + ")" : "";
    return Match{ModelFileFormat::gguf, "GGUF file" + version,
                 "it holds tensors and typed metadata, so loading it runs no code"};
  }
  if (bytes.size() >= 4 && read_le(bytes, 0, 4) == 0x04034b50) return match_zip(bytes, name);
  if (bytes.size() >= 2 && bytes[0] == 0x80 && bytes[1] >= 2 && bytes[1] <= 5) {
    return Match{ModelFileFormat::pickle, "Python pickle (protocol " + std::to_string(bytes[1]) + ")",
                 std::string(kRunsPickle)};
  }
  // ONNX is a protobuf ModelProto whose first field is ir_version (field 1,
  // varint: tag 0x08). Too weak a signature to trust without the name.
  if (name == NamedAs::onnx && bytes.size() >= 2 && bytes[0] == 0x08 && bytes[1] >= 1 && bytes[1] < 0x80) {
    return Match{ModelFileFormat::onnx, "ONNX model (IR version " + std::to_string(bytes[1]) + ")",
                 "it holds a compute graph of standard operators, so loading it runs no "
                 "Python code"};
  }
  return std::nullopt;
}

std::string leading_bytes_hex(ByteView bytes) { return to_hex(bytes.first(std::min<std::size_t>(bytes.size(), 8))); }

}  // namespace

FormatDetection detect_model_format(ByteView first_bytes, std::string_view file_name) {
  first_bytes = first_bytes.first(std::min(first_bytes.size(), kFormatSniffBytes));
  std::string ext = extension_of(file_name);
  NamedAs name = named_as(ext);
  if (first_bytes.empty()) return {ModelFileFormat::unknown, false, "empty file: not a model"};

  if (std::optional<Match> match = match_content(first_bytes, name)) {
    FormatDetection result{match->format, match->format == ModelFileFormat::pickle, ""};
    result.detail = match->what;
    NamedAs expected = named_as(match->format);
    bool mislabeled = match->format != ModelFileFormat::unknown && name != NamedAs::other && name != expected;
    if (mislabeled) result.detail += " despite the " + ext + " name";
    result.detail += ": " + match->consequence;
    if (mislabeled) {
      result.detail += "; rename it to " + std::string(usual_extension(match->format));
      if (match->format == ModelFileFormat::pickle) result.detail += " or convert it to safetensors";
    }
    return result;
  }

  switch (name) {
    case NamedAs::pickle:
      return {ModelFileFormat::pickle, true,
              "named " + ext +
                  " and matches no safe format: treated as a Python pickle (old "
                  "protocols have no signature); " +
                  std::string(kRunsPickle)};
    case NamedAs::safetensors:
      return {ModelFileFormat::unknown, false,
              "named " + ext +
                  " but does not start like a safetensors file (8-byte header "
                  "length, then '{'); the file is corrupt or mislabeled"};
    case NamedAs::gguf:
      return {ModelFileFormat::unknown, false,
              "named " + ext + " but lacks the \"GGUF\" magic; the file is corrupt or mislabeled"};
    case NamedAs::onnx:
      return {ModelFileFormat::unknown, false,
              "named " + ext +
                  " but does not start like an ONNX protobuf; the file is corrupt "
                  "or mislabeled"};
    case NamedAs::other:
      break;
  }
  return {ModelFileFormat::unknown, false,
          "not a model format Seedbank recognises (starts with bytes " + leading_bytes_hex(first_bytes) + ")"};
}

std::string_view to_string(ModelFileFormat format) { return names_of(format).name; }

Result<Bytes> read_file_prefix(const std::filesystem::path& path, std::size_t n) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return make_error(ErrorCode::io, path.string() + ": cannot open: " + std::strerror(errno));
  Bytes out(n);
  ssize_t got = ::read(fd, out.data(), n);
  int err = errno;
  ::close(fd);
  if (got < 0) return make_error(ErrorCode::io, path.string() + ": cannot read: " + std::strerror(err));
  out.resize(static_cast<std::size_t>(got));
  return out;
}

}  // namespace seedbank::protocol
