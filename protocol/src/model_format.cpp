#include "seedbank/protocol/model_format.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <iterator>
#include <optional>
#include <vector>

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

// Whether `arg` is what a protocol 0 opcode's text argument looks like.
bool line_argument_fits(std::uint8_t op, std::string_view arg) {
  auto digits = [](std::string_view t) {
    if (!t.empty() && (t[0] == '-' || t[0] == '+')) t.remove_prefix(1);
    return !t.empty() && std::all_of(t.begin(), t.end(), [](char c) { return c >= '0' && c <= '9'; });
  };
  switch (op) {
    case 'I':
    case 'g':
    case 'p':
      return digits(arg);
    case 'L':
      return arg.ends_with('L') ? digits(arg.substr(0, arg.size() - 1)) : digits(arg);
    case 'F':
      return !arg.empty() && std::all_of(arg.begin(), arg.end(), [](char c) {
        return (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '+' || c == 'e' || c == 'E' || c == 'i' ||
               c == 'n' || c == 'f' || c == 'a';
      });
    case 'S':
      return arg.size() >= 2 && (arg[0] == '\'' || arg[0] == '"') && arg.back() == arg[0];
    default:  // V (raw-unicode-escape text), P (a persistent id)
      return true;
  }
}

// Pickles of protocols 0 and 1 (Python 2 era, and what `pickle.dumps`
// with protocol=0 writes today) have no magic: they are recognised by
// walking their opcodes through `bytes`. Every opcode must be one pickle
// defines, with well-formed arguments (text lines end in a newline, a
// GLOBAL names "module\nname\n" in identifier characters, a quoted
// STRING starts with a quote), and the walk must reach STOP or the end of
// `bytes` after a few opcodes. Text and other formats fail within bytes:
// a space, for one, is no opcode.
// What one protocol 0/1 opcode does to the unpickler's stack, which holds
// `items` objects, `marks` of them put aside by MARK; false when the stack
// could not take it (popping what is not there), which no pickler writes.
bool apply_to_stack(std::uint8_t op, std::size_t& items, std::vector<std::size_t>& marks) {
  const std::size_t floor = marks.empty() ? 0 : marks.back();
  const std::size_t above = items - floor;  // objects since the last mark
  auto close_mark = [&](std::size_t need_above, std::size_t need_below, std::size_t push) {
    if (marks.empty() || above < need_above || floor < need_below) return false;
    items = floor + push;
    marks.pop_back();
    return true;
  };
  switch (op) {
    case '(':  // MARK
      marks.push_back(items);
      return true;
    case '0':  // POP: an object, or the mark on top
      if (above == 0 && !marks.empty()) {
        marks.pop_back();
        return true;
      }
      if (above == 0) return false;
      --items;
      return true;
    case '1':  // POP_MARK
      return close_mark(0, 0, 0);
    case '2':  // DUP
    case 'Q':  // BINPERSID: replaces the top
    case 'p':  // PUT, BINPUT, LONG_BINPUT: memoize the top
    case 'q':
    case 'r':
      if (above == 0) return false;
      if (op == '2') ++items;
      return true;
    case 'a':  // APPEND, BUILD, REDUCE: two into one
    case 'b':
    case 'R':
      if (above < 2) return false;
      --items;
      return true;
    case 's':  // SETITEM: three into one
      if (above < 3) return false;
      items -= 2;
      return true;
    case 'e':  // APPENDS, SETITEMS: into the object below the mark
    case 'u':
      return close_mark(0, 1, 0);
    case 'd':  // DICT, LIST, TUPLE, INST: the marked objects into one
    case 'l':
    case 't':
    case 'i':
      return close_mark(0, 0, 1);
    case 'o':  // OBJ: a class and its arguments into one
      return close_mark(1, 0, 1);
    default:  // everything else pushes one object
      ++items;
      return true;
  }
}

// Pickles of protocols 0 and 1 (Python 2 era, and what `pickle.dumps`
// with protocol=0 writes today) have no magic: they are recognised by
// walking their opcodes through `bytes`. Every opcode must be one pickle
// defines, with well-formed arguments (text lines end in a newline, a
// GLOBAL names "module\nname\n" in identifier characters, a quoted STRING
// is quoted), that the unpickler's stack can take, and STOP must leave
// exactly one object. Text and other formats fail within bytes: a space,
// for one, is no opcode, and "1.0" pops a mark that was never pushed.
bool walks_as_pickle(ByteView bytes) {
  // Fewer bytes than a sniff takes: the whole file is here, and a pickle
  // must end in STOP. Otherwise the walk may run off the prefix mid-pickle.
  const bool whole_file = bytes.size() < kFormatSniffBytes;
  std::size_t at = 0, opcodes = 0, items = 0;
  std::vector<std::size_t> marks;
  auto ran_off = [&] { return !whole_file && opcodes >= 2; };
  auto line_end = [&](std::size_t from) -> std::optional<std::size_t> {
    for (std::size_t i = from; i < bytes.size(); ++i)
      if (bytes[i] == '\n') return i;
    return std::nullopt;
  };
  auto is_name = [](std::uint8_t c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.';
  };
  auto names_line = [&](std::size_t from, std::size_t end) {
    if (end == from) return false;
    for (std::size_t i = from; i < end; ++i)
      if (!is_name(bytes[i])) return false;
    return true;
  };
  while (at < bytes.size()) {
    std::uint8_t op = bytes[at++];
    ++opcodes;
    std::size_t fixed = 0;         // bytes of argument that follow
    std::size_t length_bytes = 0;  // a little-endian length, then that many bytes
    int lines = 0;                 // newline-terminated arguments
    switch (op) {
      case '.':  // STOP
        return opcodes >= 2 && items == 1 && marks.empty();
      case '(':
      case '0':
      case '1':
      case '2':
      case 'N':
      case 'Q':
      case 'R':
      case 'a':
      case 'b':
      case 'd':
      case '}':
      case 'e':
      case 'l':
      case ']':
      case 'o':
      case 's':
      case 't':
      case ')':
      case 'u':
        break;  // no argument
      case 'F':
      case 'I':
      case 'L':
      case 'P':
      case 'S':
      case 'V':
      case 'g':
      case 'p':
        lines = 1;
        break;
      case 'c':
      case 'i':  // GLOBAL, INST: module and name lines
        lines = 2;
        break;
      case 'K':
      case 'h':
      case 'q':
        fixed = 1;
        break;
      case 'M':
        fixed = 2;
        break;
      case 'J':
      case 'j':
      case 'r':
        fixed = 4;
        break;
      case 'G':
        fixed = 8;
        break;
      case 'U':
      case 'C':
        length_bytes = 1;
        break;
      case 'T':
      case 'X':
      case 'B':
        length_bytes = 4;
        break;
      default:
        return false;
    }
    for (int l = 0; l < lines; ++l) {
      auto end = line_end(at);
      if (!end) return ran_off();
      std::string_view arg(reinterpret_cast<const char*>(bytes.data() + at), *end - at);
      if (lines == 2 ? !names_line(at, *end) : !line_argument_fits(op, arg)) return false;
      at = *end + 1;
    }
    if (length_bytes) {
      if (at + length_bytes > bytes.size()) return ran_off();
      std::uint64_t length = read_le(bytes, at, length_bytes);
      if (length > (64u << 20)) return false;  // four letters of text read as a length: hundreds of MB
      fixed = length_bytes + static_cast<std::size_t>(length);
    }
    if (at + fixed > bytes.size()) return ran_off();  // the argument runs past the prefix
    at += fixed;
    if (!apply_to_stack(op, items, marks)) return false;
  }
  return ran_off();  // no STOP: a pickle only if the file goes on past the prefix
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
  if (walks_as_pickle(bytes)) {
    return Match{ModelFileFormat::pickle, "Python pickle (protocol 0 or 1)", std::string(kRunsPickle)};
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

// What unrecognised content looks like, for a message.
std::string what_it_is(ByteView bytes) {
  auto starts = [&](std::string_view magic, std::size_t at = 0) {
    return bytes.size() >= at + magic.size() &&
           std::equal(magic.begin(), magic.end(), bytes.begin() + static_cast<std::ptrdiff_t>(at),
                      [](char a, std::uint8_t b) { return static_cast<std::uint8_t>(a) == b; });
  };
  if (starts("\x89PNG")) return "it is a PNG image";
  if (starts("\xff\xd8\xff")) return "it is a JPEG image";
  if (starts("RIFF") && starts("WEBP", 8)) return "it is a WebP image";
  if (starts("\x1f\x8b")) return "it is gzip-compressed";
  if (starts("\x7f"
             "ELF"))
    return "it is an executable";
  bool text = std::all_of(bytes.begin(), bytes.end(),
                          [](std::uint8_t b) { return b >= 0x20 || b == '\n' || b == '\r' || b == '\t'; });
  if (text) return "it is text";
  return "it starts with bytes " + leading_bytes_hex(bytes);
}

}  // namespace

FormatDetection detect_model_format(ByteView first_bytes, std::string_view file_name) {
  first_bytes = first_bytes.first(std::min(first_bytes.size(), kFormatSniffBytes));
  std::string ext = extension_of(file_name);
  NamedAs name = named_as(ext);
  if (first_bytes.empty()) return {ModelFileFormat::unknown, false, "empty file: not a model"};

  if (std::optional<Match> match = match_content(first_bytes, name)) {
    FormatDetection result{match->format, match->format == ModelFileFormat::pickle, "", false};
    result.detail = match->what;
    NamedAs expected = named_as(match->format);
    // Content of another format, or recognised content of no model format
    // (a zip archive without a pickle) under a model format's name.
    bool mislabeled = name != NamedAs::other && name != expected &&
                      (match->format != ModelFileFormat::unknown || name != NamedAs::pickle);
    result.mislabeled = mislabeled;
    if (mislabeled) result.detail += " despite the " + ext + " name";
    result.detail += ": " + match->consequence;
    if (mislabeled && match->format != ModelFileFormat::unknown) {
      result.detail += "; rename it to " + std::string(usual_extension(match->format));
      if (match->format == ModelFileFormat::pickle) result.detail += " or convert it to safetensors";
    }
    return result;
  }

  std::string is = " (" + what_it_is(first_bytes) + ")";
  switch (name) {
    case NamedAs::pickle:
      return {ModelFileFormat::pickle, true,
              "named " + ext +
                  " and matches no safe format: treated as a Python pickle (old "
                  "protocols have no signature); " +
                  std::string(kRunsPickle)};
    case NamedAs::safetensors:
      return {ModelFileFormat::unknown, false,
              "named " + ext + " but does not start like a safetensors file (8-byte header length, then '{')" + is +
                  "; the file is corrupt or mislabeled",
              true};
    case NamedAs::gguf:
      return {ModelFileFormat::unknown, false,
              "named " + ext + " but lacks the \"GGUF\" magic" + is + "; the file is corrupt or mislabeled", true};
    case NamedAs::onnx:
      return {ModelFileFormat::unknown, false,
              "named " + ext + " but does not start like an ONNX protobuf" + is + "; the file is corrupt or mislabeled",
              true};
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
