#include "seedbank/protocol/safetensors.h"

#include "seedbank/protocol/text.h"
#include "seedbank/protocol/util.h"

#include <algorithm>
#include <array>
#include <cstdio>
#include <fstream>
#include <limits>
#include <map>
#include <new>
#include <nlohmann/json.hpp>
#include <system_error>
#include <unordered_set>

namespace seedbank::protocol {
namespace {

using Json = nlohmann::json;

constexpr std::string_view kMetadataKey = "__metadata__";
constexpr char kCorrupt[] = "; the file is corrupt or not a safetensors file";

// ---------------------------------------------------------------------------
// Text for messages. Names come from the file, so they are escaped (control
// bytes, invalid UTF-8) and shortened before they reach a user's screen or a
// JSON API response.

std::string printable(std::string_view s, std::size_t max_bytes = 120) {
  std::string out;
  std::size_t i = 0;
  while (i < s.size()) {
    if (out.size() >= max_bytes) {
      out += "...";
      break;
    }
    std::size_t n = utf8_sequence_length(s, i);
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (n == 0 || (n == 1 && (c < 0x20 || c == 0x7f))) {
      char escaped[8];
      std::snprintf(escaped, sizeof escaped, "\\x%02x", c);
      out += escaped;
      ++i;
    } else {
      out.append(s.substr(i, n));
      i += n;
    }
  }
  return out;
}

std::string quote(std::string_view s) { return "\"" + printable(s, 80) + "\""; }

std::string tensor_label(std::string_view name) { return "tensor " + quote(name); }

std::string shape_text(const std::vector<std::uint64_t>& shape) {
  std::string out = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (i != 0) out += ", ";
    out += std::to_string(shape[i]);
  }
  return out + "]";
}

// As written in the header.
std::string offsets_text(const TensorInfo& t) {
  return "data_offsets [" + std::to_string(t.begin) + ", " + std::to_string(t.end) + "]";
}

// The bytes a tensor occupies, as a half-open range.
std::string tensor_with_range(const TensorInfo& t) {
  return tensor_label(t.name) + " (bytes [" + std::to_string(t.begin) + ", " + std::to_string(t.end) + "))";
}

// "512 bytes", or "2147483648 bytes (2.1 GB)" when the exact count is hard to read.
std::string byte_count(std::uint64_t bytes) {
  std::string exact = std::to_string(bytes) + (bytes == 1 ? " byte" : " bytes");
  return bytes < 1000 ? exact : exact + " (" + util::human_bytes(bytes) + ")";
}

// ---------------------------------------------------------------------------
// Dtypes.

struct DtypeSize {
  std::string_view name;
  unsigned bits;
};

constexpr std::array<DtypeSize, 22> kDtypes = {{
    {"BOOL", 8},        {"U8", 8},          {"I8", 8},      {"F8_E5M2", 8}, {"F8_E4M3", 8}, {"F8_E8M0", 8},
    {"F8_E4M3FNUZ", 8}, {"F8_E5M2FNUZ", 8}, {"I16", 16},    {"U16", 16},    {"F16", 16},    {"BF16", 16},
    {"I32", 32},        {"U32", 32},        {"F32", 32},    {"F64", 64},    {"I64", 64},    {"U64", 64},
    {"C64", 64},        {"F4", 4},          {"F6_E2M3", 6}, {"F6_E3M2", 6},
}};

std::string known_dtypes() {
  std::string out;
  for (const auto& d : kDtypes) {
    if (!out.empty()) out += ", ";
    out += d.name;
  }
  return out;
}

// ---------------------------------------------------------------------------
// The JSON header, read as a stream of SAX events so that duplicate keys can
// be rejected (a DOM keeps only one of them, and two readers may disagree on
// which) and so that no DOM of up to 100 MB is built.

class HeaderReader final : public nlohmann::json_sax<Json> {
 public:
  explicit HeaderReader(std::string file) : file_(std::move(file)) {}

  std::vector<TensorInfo>& tensors() { return tensors_; }
  std::vector<std::pair<std::string, std::string>>& metadata() { return metadata_; }
  std::optional<Error>& error() { return error_; }

  bool null() override { return scalar("null"); }
  bool boolean(bool) override { return scalar("a boolean"); }
  bool number_integer(number_integer_t value) override {
    if (value >= 0) return integer(static_cast<std::uint64_t>(value));
    return scalar("a negative number");
  }
  bool number_unsigned(number_unsigned_t value) override { return integer(value); }
  bool number_float(number_float_t, const string_t&) override { return scalar("a fractional or out-of-range number"); }
  bool binary(binary_t&) override { return scalar("binary data"); }

  bool string(string_t& value) override {
    if (stack_.empty()) return wrong_type("a string");
    Frame& top = stack_.back();
    switch (top.kind) {
      case Kind::metadata:
        metadata_.emplace_back(top.key, std::move(value));
        return true;
      case Kind::tensor:
        if (top.key == "dtype") {
          tensor_.dtype = std::move(value);
          has_dtype_ = true;
          return true;
        }
        return is_tensor_field(top.key) ? wrong_type("a string") : true;
      case Kind::ignored_object:
      case Kind::ignored_array:
        return true;
      default:
        return wrong_type("a string");
    }
  }

  bool start_object(std::size_t) override {
    if (stack_.empty()) return push(Kind::root);
    const Frame& top = stack_.back();
    switch (top.kind) {
      case Kind::root:
        if (top.key == kMetadataKey) return push(Kind::metadata);
        return begin_tensor(top.key);
      case Kind::tensor:
        return is_tensor_field(top.key) ? wrong_type("an object") : push(Kind::ignored_object);
      case Kind::ignored_object:
      case Kind::ignored_array:
        return push(Kind::ignored_object);
      default:
        return wrong_type("an object");
    }
  }

  bool key(string_t& key) override {
    Frame& top = stack_.back();  // the parser only reports keys inside an object
    if (top.kind == Kind::root && key != kMetadataKey && key.size() > kMaxTensorNameLength) {
      return fail(ErrorCode::limit, "a tensor name is " + std::to_string(key.size()) +
                                        " bytes long, more than the limit of " + std::to_string(kMaxTensorNameLength) +
                                        ": " + quote(key) + kCorrupt);
    }
    if (!top.keys.insert(key).second) return duplicate_key(top, key);
    top.key = std::move(key);
    return true;
  }

  bool end_object() override {
    Kind kind = stack_.back().kind;
    stack_.pop_back();
    return kind == Kind::tensor ? finish_tensor() : true;
  }

  bool start_array(std::size_t) override {
    if (stack_.empty()) return wrong_type("an array");
    const Frame& top = stack_.back();
    switch (top.kind) {
      case Kind::tensor:
        if (top.key == "shape") return push(Kind::shape);
        if (top.key == "data_offsets") return push(Kind::offsets);
        return is_tensor_field(top.key) ? wrong_type("an array") : push(Kind::ignored_array);
      case Kind::ignored_object:
      case Kind::ignored_array:
        return push(Kind::ignored_array);
      default:
        return wrong_type("an array");
    }
  }

  bool end_array() override {
    Kind kind = stack_.back().kind;
    stack_.pop_back();
    if (kind == Kind::shape) has_shape_ = true;
    if (kind == Kind::offsets) {
      if (offsets_.size() != 2) {
        return fail(ErrorCode::malformed, tensor_label(tensor_.name) + ": data_offsets must be [begin, end], found " +
                                              std::to_string(offsets_.size()) + " numbers" + kCorrupt);
      }
      has_offsets_ = true;
    }
    return true;
  }

  bool parse_error(std::size_t position, const std::string&, const nlohmann::detail::exception& e) override {
    // e.what() reads "[json.exception.parse_error.101] parse error at line 1,
    // column 7: <detail>"; keep the detail, report the byte offset instead.
    std::string_view what = e.what();
    std::size_t column = what.find("column ");
    std::size_t colon = what.find(": ", column == std::string_view::npos ? 0 : column);
    std::string_view detail = colon == std::string_view::npos ? what : what.substr(colon + 2);
    std::size_t at = position == 0 ? 0 : position - 1;  // nlohmann counts from 1
    return fail(ErrorCode::malformed, "header is not valid JSON at header byte " + std::to_string(at) + ": " +
                                          printable(detail, 300) + kCorrupt);
  }

 private:
  enum class Kind { root, metadata, tensor, shape, offsets, ignored_object, ignored_array };

  struct Frame {
    Kind kind;
    std::string key;                       // objects: the key whose value is being read
    std::unordered_set<std::string> keys;  // objects: keys seen so far
  };

  // root, tensor and shape use three levels; the rest is for unknown fields.
  static constexpr std::size_t kMaxDepth = 32;

  static bool is_tensor_field(std::string_view key) {
    return key == "dtype" || key == "shape" || key == "data_offsets";
  }

  bool fail(ErrorCode code, std::string message) {
    error_ = make_error(code, file_ + ": " + message);
    return false;
  }

  bool push(Kind kind) {
    if (stack_.size() >= kMaxDepth) {
      return fail(ErrorCode::limit, "header nests JSON deeper than " + std::to_string(kMaxDepth) + " levels inside " +
                                        tensor_label(tensor_.name) + kCorrupt);
    }
    stack_.push_back(Frame{kind, {}, {}});
    return true;
  }

  bool begin_tensor(std::string name) {  // by value: push() may move the frame holding it
    if (tensors_.size() >= kMaxSafetensorsTensors) {
      return fail(ErrorCode::limit, "header lists more than " + std::to_string(kMaxSafetensorsTensors) +
                                        " tensors, the most Seedbank accepts" + kCorrupt);
    }
    tensor_ = TensorInfo{};
    tensor_.name = std::move(name);
    offsets_.clear();
    has_dtype_ = has_shape_ = has_offsets_ = false;
    return push(Kind::tensor);
  }

  bool finish_tensor() {
    std::string missing;
    auto require = [&](bool present, std::string_view field) {
      if (present) return;
      if (!missing.empty()) missing += ", ";
      missing += field;
    };
    require(has_dtype_, "dtype");
    require(has_shape_, "shape");
    require(has_offsets_, "data_offsets");
    if (!missing.empty()) {
      return fail(ErrorCode::malformed, tensor_label(tensor_.name) + " lacks " + missing + kCorrupt);
    }
    tensor_.begin = offsets_[0];
    tensor_.end = offsets_[1];
    tensors_.push_back(std::move(tensor_));
    return true;
  }

  bool integer(std::uint64_t value) {
    if (stack_.empty()) return wrong_type("a number");
    const Frame& top = stack_.back();
    switch (top.kind) {
      case Kind::shape:
        if (tensor_.shape.size() >= kMaxTensorRank) {
          return fail(ErrorCode::limit, tensor_label(tensor_.name) + ": shape has more than " +
                                            std::to_string(kMaxTensorRank) + " dimensions" + kCorrupt);
        }
        tensor_.shape.push_back(value);
        return true;
      case Kind::offsets:
        if (offsets_.size() == 2) {
          return fail(ErrorCode::malformed, tensor_label(tensor_.name) +
                                                ": data_offsets must be [begin, end], found "
                                                "more than two numbers" +
                                                kCorrupt);
        }
        offsets_.push_back(value);
        return true;
      case Kind::tensor:
        return is_tensor_field(top.key) ? wrong_type("a number") : true;
      case Kind::ignored_object:
      case Kind::ignored_array:
        return true;
      default:
        return wrong_type("a number");
    }
  }

  bool scalar(std::string_view found) {
    if (stack_.empty()) return wrong_type(found);
    const Frame& top = stack_.back();
    switch (top.kind) {
      case Kind::tensor:
        return is_tensor_field(top.key) ? wrong_type(found) : true;
      case Kind::ignored_object:
      case Kind::ignored_array:
        return true;
      default:
        return wrong_type(found);
    }
  }

  // The value just read has the wrong JSON type for where it stands.
  bool wrong_type(std::string_view found) {
    std::string got = ", found " + std::string(found);
    if (stack_.empty()) {
      return fail(ErrorCode::malformed, "header must be a JSON object" + got + kCorrupt);
    }
    const Frame& top = stack_.back();
    std::string tensor = tensor_label(tensor_.name);
    switch (top.kind) {
      case Kind::root:
        if (top.key == kMetadataKey) {
          return fail(ErrorCode::malformed,
                      "__metadata__ must be an object mapping strings to strings" + got + kCorrupt);
        }
        return fail(ErrorCode::malformed, tensor_label(top.key) +
                                              " must be an object with dtype, shape and "
                                              "data_offsets" +
                                              got + kCorrupt);
      case Kind::metadata:
        return fail(ErrorCode::malformed, "__metadata__ value for " + quote(top.key) + " must be a string" + got +
                                              "; safetensors metadata holds only strings, so re-save the file with "
                                              "its metadata values written as strings");
      case Kind::tensor:
        if (top.key == "dtype") {
          return fail(ErrorCode::malformed, tensor + ": dtype must be a string" + got + kCorrupt);
        }
        return fail(ErrorCode::malformed,
                    tensor + ": " + top.key + " must be an array of non-negative integers" + got + kCorrupt);
      case Kind::shape:
        return fail(ErrorCode::malformed, tensor + ": shape must hold only non-negative integers" + got + kCorrupt);
      case Kind::offsets:
        return fail(ErrorCode::malformed,
                    tensor + ": data_offsets must hold two non-negative integers" + got + kCorrupt);
      default:
        return fail(ErrorCode::internal, "unexpected JSON value in an ignored field");
    }
  }

  bool duplicate_key(const Frame& top, const std::string& key) {
    std::string where;
    switch (top.kind) {
      case Kind::root:
        where = key == kMetadataKey ? "header has two __metadata__ entries"
                                    : "header lists " + tensor_label(key) + " twice";
        break;
      case Kind::metadata:
        where = "__metadata__ has key " + quote(key) + " twice";
        break;
      case Kind::tensor:
        where = tensor_label(tensor_.name) + " has field " + quote(key) + " twice";
        break;
      default:
        where = tensor_label(tensor_.name) + " has key " + quote(key) + " twice inside an unknown field";
        break;
    }
    return fail(ErrorCode::malformed, where + " (duplicate key: readers disagree on which copy counts)" + kCorrupt);
  }

  std::string file_;
  std::vector<Frame> stack_;
  std::vector<TensorInfo> tensors_;
  std::vector<std::pair<std::string, std::string>> metadata_;
  std::optional<Error> error_;
  TensorInfo tensor_;  // the entry being read; tensors never nest
  std::vector<std::uint64_t> offsets_;
  bool has_dtype_ = false, has_shape_ = false, has_offsets_ = false;
};

// ---------------------------------------------------------------------------
// Layout: each tensor's size matches its dtype and shape, and together the
// tensors tile the data area.

Status check_tensor(const TensorInfo& t, std::uint64_t data_size, const std::string& file) {
  std::string label = file + ": " + tensor_label(t.name);
  std::optional<unsigned> bits = safetensors_dtype_bits(t.dtype);
  if (!bits) {
    return make_error(ErrorCode::malformed, label + " has unknown dtype " + quote(t.dtype) + "; known dtypes are " +
                                                known_dtypes() + ", so the file is corrupt or needs a newer Seedbank");
  }
  std::uint64_t elements = 1;
  for (std::uint64_t dim : t.shape) {
    if (__builtin_mul_overflow(elements, dim, &elements)) {
      return make_error(ErrorCode::malformed,
                        label + ": shape " + shape_text(t.shape) + " overflows a 64-bit element count" + kCorrupt);
    }
  }
  std::uint64_t total_bits;
  if (__builtin_mul_overflow(elements, std::uint64_t{*bits}, &total_bits)) {
    return make_error(ErrorCode::malformed, label + ": " + t.dtype + " shape " + shape_text(t.shape) +
                                                " overflows a 64-bit size in bits" + kCorrupt);
  }
  if (total_bits % 8 != 0) {
    return make_error(ErrorCode::malformed, label + ": " + std::to_string(elements) + " elements of " + t.dtype +
                                                " do not fill a whole number of bytes" + kCorrupt);
  }
  std::uint64_t size = total_bits / 8;
  if (t.begin > t.end) {
    return make_error(ErrorCode::malformed, label + ": " + offsets_text(t) + " end before they begin" + kCorrupt);
  }
  if (t.end > data_size) {
    return make_error(ErrorCode::malformed, label + ": " + offsets_text(t) +
                                                " run past the end of the data area, "
                                                "which holds " +
                                                byte_count(data_size) +
                                                "; the file is truncated or its header is corrupt");
  }
  if (t.end - t.begin != size) {
    return make_error(ErrorCode::malformed, label + ": " + offsets_text(t) + " span " + byte_count(t.end - t.begin) +
                                                " but " + t.dtype + " shape " + shape_text(t.shape) + " needs " +
                                                byte_count(size) + kCorrupt);
  }
  return {};
}

// `tensors` is sorted by (begin, end).
Status check_coverage(const std::vector<TensorInfo>& tensors, std::uint64_t data_size, const std::string& file) {
  std::uint64_t covered = 0;
  const TensorInfo* previous = nullptr;
  for (const TensorInfo& t : tensors) {
    if (t.begin > covered) {
      std::string gap = "gap of " + byte_count(t.begin - covered);
      std::string where = previous == nullptr
                              ? " at the start of the data area, before " + tensor_with_range(t)
                              : " between " + tensor_with_range(*previous) + " and " + tensor_with_range(t);
      return make_error(ErrorCode::malformed,
                        file + ": " + gap + where + "; every data byte must belong to a tensor" + kCorrupt);
    }
    if (t.begin < covered) {
      return make_error(ErrorCode::malformed, file + ": " + tensor_with_range(t) + " overlaps " +
                                                  tensor_with_range(*previous) + "; overlapping tensors share bytes" +
                                                  kCorrupt);
    }
    covered = t.end;
    previous = &t;
  }
  if (covered != data_size) {
    std::string after = previous == nullptr
                            ? "the header lists no tensors"
                            : "the last, " + tensor_label(previous->name) + ", ends at byte " + std::to_string(covered);
    return make_error(ErrorCode::malformed, file + ": " + byte_count(data_size - covered) +
                                                " at the end of the data area are not covered by any tensor (" + after +
                                                "); the file has data appended or is corrupt");
  }
  return {};
}

std::uint64_t read_u64le(ByteView bytes) {
  std::uint64_t value = 0;
  for (int i = 7; i >= 0; --i) value = value << 8 | bytes[static_cast<std::size_t>(i)];
  return value;
}

Result<SafetensorsHeader> parse_unchecked(ByteView prefix, std::uint64_t file_size, const std::string& file) {
  if (file_size < 8) {
    return make_error(ErrorCode::malformed, file + ": file is " + util::human_bytes(file_size) +
                                                ", shorter than the 8-byte safetensors length prefix; the file is "
                                                "truncated or not a safetensors file");
  }
  if (prefix.size() > file_size) {
    return make_error(ErrorCode::invalid_argument, file + ": given " + std::to_string(prefix.size()) +
                                                       " bytes for a file of " + std::to_string(file_size) +
                                                       "; pass the file's real size");
  }
  if (prefix.size() < 8) {
    return make_error(ErrorCode::invalid_argument, file + ": given only " + std::to_string(prefix.size()) +
                                                       " bytes; pass at least the 8-byte length prefix");
  }
  SafetensorsHeader header;
  header.file_size = file_size;
  header.header_length = read_u64le(prefix.first(8));
  if (header.header_length > file_size - 8) {
    return make_error(ErrorCode::malformed, file + ": header length " + std::to_string(header.header_length) +
                                                " exceeds file size " + util::human_bytes(file_size) +
                                                "; the file is truncated or not a safetensors file");
  }
  if (header.header_length > kMaxSafetensorsHeader) {
    return make_error(ErrorCode::limit, file + ": header length " + std::to_string(header.header_length) +
                                            " exceeds the " + util::human_bytes(kMaxSafetensorsHeader) +
                                            " limit for safetensors headers" + kCorrupt);
  }
  if (header.header_length < 2) {
    return make_error(ErrorCode::malformed, file + ": header length " + std::to_string(header.header_length) +
                                                " is too small for a JSON object" + kCorrupt);
  }
  header.data_offset = 8 + header.header_length;
  if (prefix.size() < header.data_offset) {
    return make_error(ErrorCode::invalid_argument, file + ": given " + std::to_string(prefix.size()) +
                                                       " bytes but the header " + "ends at byte " +
                                                       std::to_string(header.data_offset) + "; pass the whole header");
  }
  ByteView json = prefix.subspan(8, header.header_length);
  if (json[0] != '{') {
    return make_error(ErrorCode::malformed,
                      file + ": header must start with '{' but starts with byte 0x" + to_hex(json.first(1)) + kCorrupt);
  }

  HeaderReader reader(file);
  const char* begin = reinterpret_cast<const char*>(json.data());
  bool parsed = Json::sax_parse(begin, begin + json.size(), &reader, Json::input_format_t::json,
                                /*strict=*/true, /*ignore_comments=*/false);
  if (!parsed) {
    if (reader.error()) return std::move(*reader.error());
    return make_error(ErrorCode::internal, file + ": header parser stopped without a reason");
  }

  std::uint64_t data_size = file_size - header.data_offset;
  for (const TensorInfo& t : reader.tensors()) {
    if (Status s = check_tensor(t, data_size, file); !s) return s.error();
  }
  header.tensors = std::move(reader.tensors());
  std::sort(header.tensors.begin(), header.tensors.end(), [](const TensorInfo& a, const TensorInfo& b) {
    if (a.begin != b.begin) return a.begin < b.begin;
    if (a.end != b.end) return a.end < b.end;
    return a.name < b.name;
  });
  if (Status s = check_coverage(header.tensors, data_size, file); !s) return s.error();

  header.metadata = std::move(reader.metadata());
  std::sort(header.metadata.begin(), header.metadata.end());
  return header;
}

}  // namespace

std::optional<unsigned> safetensors_dtype_bits(std::string_view dtype) {
  for (const auto& d : kDtypes)
    if (d.name == dtype) return d.bits;
  return std::nullopt;
}

Result<SafetensorsHeader> parse_safetensors(ByteView prefix, std::uint64_t file_size,
                                            std::string_view name_for_messages) {
  std::string file = printable(name_for_messages, 200);
  try {
    return parse_unchecked(prefix, file_size, file);
  } catch (const std::bad_alloc&) {
    return make_error(ErrorCode::limit, file + ": not enough memory to hold the header's tensor list");
  } catch (const std::exception& e) {
    // The SAX parser reports errors through parse_error(); this is a bug.
    return make_error(ErrorCode::internal, file + ": header parser failed: " + printable(e.what(), 200));
  }
}

Result<SafetensorsHeader> read_safetensors_header(const std::filesystem::path& path) {
  std::string file = printable(path.filename().string(), 200);
  std::string full = printable(path.string(), 400);
  std::error_code ec;
  std::filesystem::file_status status = std::filesystem::status(path, ec);
  if (ec) return make_error(ErrorCode::io, "cannot read " + full + ": " + ec.message());
  if (!std::filesystem::is_regular_file(status)) {
    return make_error(ErrorCode::invalid_argument,
                      full + " is not a regular file; pass the path of a .safetensors file");
  }
  std::uint64_t size = std::filesystem::file_size(path, ec);
  if (ec) return make_error(ErrorCode::io, "cannot read " + full + ": " + ec.message());
  std::ifstream in(path, std::ios::binary);
  if (!in) return make_error(ErrorCode::io, "cannot open " + full + " for reading");

  auto read_into = [&](Bytes& buffer, std::size_t from) -> Status {
    in.read(reinterpret_cast<char*>(buffer.data() + from), static_cast<std::streamsize>(buffer.size() - from));
    auto got = static_cast<std::uint64_t>(in.gcount());
    if (got != buffer.size() - from) {
      return make_error(ErrorCode::io, file + ": read only " + std::to_string(from + got) + " of the first " +
                                           std::to_string(buffer.size()) + " bytes; the file shrank while being read");
    }
    return {};
  };

  Bytes prefix(static_cast<std::size_t>(std::min<std::uint64_t>(size, 8)));
  if (Status s = read_into(prefix, 0); !s) return s.error();
  if (prefix.size() == 8) {
    std::uint64_t length = read_u64le(prefix);
    // Read the rest only for a length parse_safetensors would accept; it
    // reports the others without needing more bytes.
    if (length >= 2 && length <= kMaxSafetensorsHeader && length <= size - 8) {
      try {
        prefix.resize(static_cast<std::size_t>(8 + length));
      } catch (const std::bad_alloc&) {
        return make_error(ErrorCode::limit,
                          file + ": not enough memory to read its " + util::human_bytes(length) + " header");
      }
      if (Status s = read_into(prefix, 8); !s) return s.error();
    }
  }
  return parse_safetensors(prefix, size, file);
}

namespace {

// ---------------------------------------------------------------------------
// Hints. Everything below is heuristics over trusted-to-be-valid structure
// but untrusted content: metadata strings may hold anything.

bool contains(std::string_view s, std::string_view part) { return s.find(part) != std::string_view::npos; }

std::string_view trim(std::string_view s) {
  constexpr std::string_view kSpace = " \t\r\n";
  std::size_t first = s.find_first_not_of(kSpace);
  if (first == std::string_view::npos) return {};
  return s.substr(first, s.find_last_not_of(kSpace) - first + 1);
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

bool truthy(std::string_view value) {
  std::string v = lower(trim(value));
  return v == "true" || v == "1" || v == "yes";
}

// Metadata values that are themselves JSON (kohya's ss_tag_frequency,
// ss_network_args). Values deeper than `max_depth` are dropped while parsing,
// so a hostile value cannot build a deep tree.
Json parse_embedded_json(std::string_view text, int max_depth) {
  try {
    return Json::parse(
        text.begin(), text.end(), [max_depth](int depth, Json::parse_event_t, Json&) { return depth <= max_depth; },
        /*allow_exceptions=*/false);
  } catch (const std::exception&) {
    return Json(Json::value_t::discarded);
  }
}

// "stable-diffusion-xl-v1-base/lora" -> ("stable-diffusion-xl-v1-base",
// "lora"). The spec's first draft wrote the adapter as "-lora".
std::pair<std::string, std::string> split_architecture(std::string_view architecture) {
  std::string arch = lower(trim(architecture));
  std::size_t slash = arch.find('/');
  if (slash != std::string::npos) return {arch.substr(0, slash), arch.substr(slash + 1)};
  for (std::string_view adapter : {"lora", "textual-inversion"}) {
    std::string suffix = "-" + std::string(adapter);
    if (arch.size() > suffix.size() && arch.ends_with(suffix))
      return {arch.substr(0, arch.size() - suffix.size()), std::string(adapter)};
  }
  return {arch, ""};
}

// `name` is lower case and names some SD3 variant.
std::string sd3_base(std::string_view name) {
  // SD 3 shipped only as Medium; every Large is 3.5.
  bool large = contains(name, "large");
  if (!contains(name, "3-5") && !contains(name, "3.5") && !contains(name, "35") && !large) return "SD 3";
  if (large) return contains(name, "turbo") ? "SD 3.5 Large Turbo" : "SD 3.5 Large";
  if (contains(name, "medium")) return "SD 3.5 Medium";
  return "SD 3.5";
}

std::string base_from_architecture(std::string_view base) {
  if (base.starts_with("stable-diffusion-xl")) return "SDXL 1.0";
  if (base.starts_with("stable-diffusion-v1")) return "SD 1.5";  // 1.4 and 1.5 share it
  if (base.starts_with("stable-diffusion-v2")) return "SD 2.1";  // likewise 2.0 and 2.1
  if (base.starts_with("stable-diffusion-3") || base.starts_with("stable-diffusion-v3")) return sd3_base(base);
  if (base.starts_with("flux-1")) return contains(base, "schnell") ? "Flux.1 S" : "Flux.1 D";
  if (base == "chroma") return "Chroma";
  if (base.starts_with("lumina")) return "Lumina";
  return "";
}

// kohya's ss_base_model_version: "sd_v1", "sd_v2_v", "sdxl_base_v1-0",
// "flux1", "chroma", "lumina2", and for SD3 the MMDiT variant ("medium",
// "5-large", "5-medium").
std::string base_from_kohya_version(std::string_view version) {
  std::string v = lower(trim(version));
  if (v.starts_with("sdxl")) return "SDXL 1.0";
  if (v.starts_with("sd_v1")) return "SD 1.5";
  if (v.starts_with("sd_v2")) return "SD 2.1";
  if (v.starts_with("sd3") || v == "medium" || v.starts_with("5-")) return sd3_base("sd3-" + v);
  if (v.starts_with("flux")) return contains(v, "schnell") ? "Flux.1 S" : "Flux.1 D";
  if (v == "chroma") return "Chroma";
  if (v.starts_with("lumina")) return "Lumina";
  return "";
}

// Pony, Illustrious and NoobAI are SDXL finetunes that Civitai lists as base
// models of their own; only the training checkpoint's name tells them apart.
std::string refine_sdxl(std::string_view training_model_name) {
  std::string name = lower(training_model_name);
  if (contains(name, "pony")) return "Pony";
  if (contains(name, "noob")) return "NoobAI";
  if (contains(name, "illustrious")) return "Illustrious";
  return "SDXL 1.0";
}

std::string network_arg(std::string_view network_args, const std::string& key) {
  Json args = parse_embedded_json(network_args, 1);
  if (!args.is_object()) return "";
  auto it = args.find(key);
  if (it == args.end()) return "";
  if (it->is_string()) return it->get<std::string>();
  if (it->is_boolean()) return it->get<bool>() ? "true" : "false";
  return "";
}

std::string type_from_metadata(std::string_view network_module, std::string_view network_args,
                               std::string_view adapter) {
  std::string module = lower(trim(network_module));
  bool dora = truthy(network_arg(network_args, "dora_wd"));
  // Civitai files every LyCORIS algorithm (LoCon, LoHa, LoKr, ...) as "LoCon".
  if (module.starts_with("lycoris")) return dora ? "DoRA" : "LoCon";
  if (module.starts_with("networks.lora") || module.starts_with("networks.dylora")) return dora ? "DoRA" : "LORA";
  if (adapter == "lora") return "LORA";
  if (adapter == "textual-inversion") return "TextualInversion";
  return "";
}

// What the tensor names and a few shapes reveal, gathered in one pass.
struct TensorSignals {
  bool lora = false;     // kohya "lora_unet_"/"lora_te*" or diffusers ".lora_down."/".lora_A."
  bool lycoris = false;  // LoHa / LoKr factors
  bool dora = false;
  bool kohya_te2 = false;      // SDXL's second text encoder (SD3 has one too)
  bool flux = false;           // Flux transformer blocks
  bool flux_bare = false;      // a Flux transformer saved without a prefix (BFL layout)
  bool flux_guidance = false;  // guidance embedding: Flux.1 dev has it, schnell not
  bool mmdit = false;          // SD3 joint blocks
  bool diffusion_model = false;
  bool sdxl_conditioner = false;
  bool sd1_text_encoder = false, sd2_text_encoder = false;
  bool control = false;
  bool embedding = false;               // A1111 textual inversion: "emb_params" or "string_to_param"
  bool clip_l = false, clip_g = false;  // SDXL textual inversion
  bool only_autoencoder = true, encoder = false, decoder = false;
  std::uint64_t cross_attention_width = 0;  // in-features of a LoRA attn2.to_k down-projection
  std::uint64_t text_encoder_width = 0;     // in-features of a "lora_te_" mlp.fc1 down-projection
  std::uint64_t embedding_width = 0;
};

TensorSignals scan_tensors(const std::vector<TensorInfo>& tensors) {
  TensorSignals s;
  for (const TensorInfo& t : tensors) {
    std::string_view n = t.name;
    bool lora_key = n.starts_with("lora_unet_") || n.starts_with("lora_te") || n.starts_with("lora_transformer_") ||
                    contains(n, ".lora_down.") || contains(n, ".lora_up.") || contains(n, ".lora_A.") ||
                    contains(n, ".lora_B.");
    s.lora |= lora_key;
    s.lycoris |= contains(n, "hada_") || contains(n, "lokr_");
    s.dora |= contains(n, "dora_scale");
    s.kohya_te2 |= n.starts_with("lora_te2_");
    s.flux |= contains(n, "double_blocks") || contains(n, "single_blocks") || contains(n, "single_transformer_blocks");
    s.flux_bare |= n.starts_with("double_blocks.") || n.starts_with("single_blocks.");
    s.flux_guidance |= contains(n, "guidance_in.");
    s.mmdit |= contains(n, "joint_blocks");
    s.diffusion_model |= n.starts_with("model.diffusion_model.");
    s.sdxl_conditioner |= n.starts_with("conditioner.embedders.1.");
    s.sd1_text_encoder |= n.starts_with("cond_stage_model.transformer.");
    s.sd2_text_encoder |= n.starts_with("cond_stage_model.model.");
    s.control |= n.starts_with("control_model.") || contains(n, "controlnet");
    s.clip_l |= n == "clip_l";
    s.clip_g |= n == "clip_g";
    if (n == "emb_params" || n.starts_with("string_to_param")) {
      s.embedding = true;
      if (!t.shape.empty()) s.embedding_width = t.shape.back();
    }

    std::string_view vae_name = n;
    for (std::string_view prefix : {"first_stage_model.", "vae."})
      if (vae_name.starts_with(prefix)) vae_name.remove_prefix(prefix.size());
    bool encoder = vae_name.starts_with("encoder.") || vae_name.starts_with("quant_conv.");
    bool decoder = vae_name.starts_with("decoder.") || vae_name.starts_with("post_quant_conv.");
    s.encoder |= encoder;
    s.decoder |= decoder;
    s.only_autoencoder &= encoder || decoder;

    bool down = contains(n, "lora_down") || contains(n, "lora_A");
    if (down && t.shape.size() == 2) {
      if (contains(n, "attn2_to_k") || contains(n, "attn2.to_k")) s.cross_attention_width = t.shape[1];
      if (n.starts_with("lora_te_") && contains(n, "mlp_fc1")) s.text_encoder_width = t.shape[1];
    }
  }
  return s;
}

std::string base_from_width(std::uint64_t width, bool sdxl_possible) {
  if (width == 768) return "SD 1.5";                      // CLIP ViT-L
  if (width == 1024) return "SD 2.1";                     // OpenCLIP ViT-H
  if (width == 2048 && sdxl_possible) return "SDXL 1.0";  // both SDXL text encoders
  return "";
}

std::string base_from_tensors(const TensorSignals& s) {
  if (s.flux) return s.flux_guidance || s.lora ? "Flux.1 D" : "Flux.1 S";
  if (s.mmdit) return "";  // SD 3 and the 3.5 sizes share key names
  if (s.sdxl_conditioner || s.kohya_te2 || (s.clip_l && s.clip_g)) return "SDXL 1.0";
  if (s.sd1_text_encoder) return "SD 1.5";
  if (s.sd2_text_encoder) return "SD 2.1";
  if (s.cross_attention_width != 0) return base_from_width(s.cross_attention_width, true);
  if (s.text_encoder_width != 0) return base_from_width(s.text_encoder_width, false);
  if (s.embedding) return base_from_width(s.embedding_width, false);
  return "";
}

std::string type_from_tensors(const TensorSignals& s, std::size_t tensor_count) {
  if (s.dora) return "DoRA";
  if (s.lycoris) return "LoCon";
  if (s.lora) return "LORA";
  // Embeddings hold one vector table per text encoder; a handful of tensors at most.
  if (tensor_count <= 8 && (s.embedding || (s.clip_l && s.clip_g))) return "TextualInversion";
  if (s.control) return "Controlnet";
  if (s.diffusion_model || s.sdxl_conditioner || s.flux_bare) return "Checkpoint";
  if (s.only_autoencoder && s.encoder && s.decoder) return "VAE";
  return "";
}

// "1024x1024", "(1024, 1024)", "[512, 768]" or "512" -> width, height.
std::optional<std::pair<std::uint32_t, std::uint32_t>> parse_resolution(std::string_view text) {
  std::vector<std::uint32_t> numbers;
  std::size_t i = 0;
  while (i < text.size()) {
    char c = text[i];
    if (c >= '0' && c <= '9') {
      std::uint32_t value = 0;
      while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
        value = value * 10 + static_cast<std::uint32_t>(text[i] - '0');
        if (value > 65536) return std::nullopt;
        ++i;
      }
      if (value == 0 || numbers.size() == 2) return std::nullopt;
      numbers.push_back(value);
    } else if (contains(" \t()[],xX*", std::string_view(&c, 1))) {
      ++i;
    } else {
      return std::nullopt;
    }
  }
  if (numbers.empty()) return std::nullopt;
  return std::pair{numbers.front(), numbers.back()};
}

std::vector<std::string> split_phrases(std::string_view text) {
  std::vector<std::string> out;
  while (!text.empty()) {
    std::size_t comma = text.find(',');
    std::string phrase(trim(text.substr(0, comma)));
    if (!phrase.empty() && std::find(out.begin(), out.end(), phrase) == out.end()) out.push_back(std::move(phrase));
    if (comma == std::string_view::npos) break;
    text.remove_prefix(comma + 1);
  }
  return out;
}

// kohya's ss_tag_frequency: {"dataset dir": {"tag": count, ...}, ...}.
std::vector<std::string> frequent_tags(std::string_view tag_frequency, std::size_t limit) {
  Json datasets = parse_embedded_json(tag_frequency, 2);
  if (!datasets.is_object()) return {};
  std::map<std::string, std::uint64_t> totals;
  for (const auto& [dataset, tags] : datasets.items()) {
    if (!tags.is_object()) continue;
    for (const auto& [tag, count] : tags.items()) {
      if (!count.is_number_integer()) continue;  // also true for unsigned
      std::uint64_t n = count.is_number_unsigned()
                            ? count.get<std::uint64_t>()
                            : static_cast<std::uint64_t>(std::max<std::int64_t>(0, count.get<std::int64_t>()));
      std::string name(trim(tag));
      if (n == 0 || name.empty()) continue;
      std::uint64_t& total = totals[name];
      total =
          n > std::numeric_limits<std::uint64_t>::max() - total ? std::numeric_limits<std::uint64_t>::max() : total + n;
    }
  }
  std::vector<std::pair<std::string, std::uint64_t>> ranked(totals.begin(), totals.end());
  // `totals` is in name order, so a stable sort leaves ties alphabetical.
  std::stable_sort(ranked.begin(), ranked.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
  std::vector<std::string> out;
  for (std::size_t i = 0; i < ranked.size() && i < limit; ++i) out.push_back(std::move(ranked[i].first));
  return out;
}

std::string precision_of(const std::vector<TensorInfo>& tensors) {
  std::map<std::string_view, std::uint64_t> bytes;
  for (const TensorInfo& t : tensors) bytes[t.dtype] += t.end - t.begin;
  std::string_view dominant;
  std::uint64_t most = 0;
  for (const auto& [dtype, total] : bytes) {
    if (total > most) {
      most = total;
      dominant = dtype;
    }
  }
  if (dominant == "F16") return "fp16";
  if (dominant == "BF16") return "bf16";
  if (dominant == "F32") return "fp32";
  if (dominant.starts_with("F8_")) return "fp8";
  return "";
}

constexpr std::size_t kMaxTriggerWordsFromTags = 5;

}  // namespace

std::optional<std::string_view> metadata_value(const SafetensorsHeader& header, std::string_view key) {
  auto it = std::lower_bound(
      header.metadata.begin(), header.metadata.end(), key,
      [](const std::pair<std::string, std::string>& entry, std::string_view k) { return entry.first < k; });
  if (it == header.metadata.end() || it->first != key) return std::nullopt;
  return std::string_view(it->second);
}

ModelHints derive_model_hints(const SafetensorsHeader& header) {
  auto meta = [&](std::string_view key) { return trim(metadata_value(header, key).value_or(std::string_view{})); };
  TensorSignals signals = scan_tensors(header.tensors);
  auto [architecture, adapter] = split_architecture(meta("modelspec.architecture"));
  ModelHints hints;

  hints.base_model = base_from_architecture(architecture);
  if (hints.base_model.empty()) hints.base_model = base_from_kohya_version(meta("ss_base_model_version"));
  if (hints.base_model.empty() && truthy(meta("ss_v2"))) hints.base_model = "SD 2.1";
  if (hints.base_model.empty()) hints.base_model = base_from_tensors(signals);
  // kohya wrote ss_v2 before it wrote ss_base_model_version, when SD 1.x
  // and 2.x were all it trained.
  if (hints.base_model.empty() && lower(meta("ss_v2")) == "false") hints.base_model = "SD 1.5";
  if (hints.base_model == "SDXL 1.0") hints.base_model = refine_sdxl(meta("ss_sd_model_name"));

  hints.type = type_from_metadata(meta("ss_network_module"), meta("ss_network_args"), adapter);
  if ((hints.type == "LORA" || hints.type == "LoCon") && signals.dora) hints.type = "DoRA";
  if (hints.type.empty()) hints.type = type_from_tensors(signals, header.tensors.size());
  // A modelspec architecture without an adapter suffix names a full model.
  if (hints.type.empty() && !architecture.empty() && adapter.empty()) hints.type = "Checkpoint";

  hints.resolution = parse_resolution(meta("modelspec.resolution"));
  if (!hints.resolution) hints.resolution = parse_resolution(meta("ss_resolution"));

  hints.trigger_words = split_phrases(meta("modelspec.trigger_phrase"));
  if (hints.trigger_words.empty())
    hints.trigger_words = frequent_tags(meta("ss_tag_frequency"), kMaxTriggerWordsFromTags);

  hints.title = meta("modelspec.title");
  if (hints.title.empty()) hints.title = meta("ss_output_name");
  hints.description = meta("modelspec.description");
  hints.author = meta("modelspec.author");
  hints.license = meta("modelspec.license");
  hints.precision = precision_of(header.tensors);
  return hints;
}

}  // namespace seedbank::protocol
