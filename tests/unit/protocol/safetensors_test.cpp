#include "seedbank/protocol/safetensors.h"

#include <algorithm>
#include <boost/test/unit_test.hpp>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <string_view>

using namespace seedbank::protocol;

namespace {

// A safetensors file image: u64le header length, the JSON, `padding`
// spaces, then `data_size` data bytes.
Bytes make_file(std::string_view json, std::size_t data_size, std::size_t padding = 0) {
  std::uint64_t length = json.size() + padding;
  Bytes out;
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<std::uint8_t>(length >> (8 * i)));
  out.insert(out.end(), json.begin(), json.end());
  out.insert(out.end(), padding, ' ');
  for (std::size_t i = 0; i < data_size; ++i) out.push_back(static_cast<std::uint8_t>(i));
  return out;
}

Result<SafetensorsHeader> parse(const Bytes& file) { return parse_safetensors(file, file.size(), "model.safetensors"); }

// The error message for a file that must not parse ("" if it parsed).
std::string error_of(const Bytes& file) {
  auto result = parse(file);
  BOOST_TEST_REQUIRE(!result.ok());
  return result.error().message;
}

bool contains(const std::string& message, std::string_view part) {
  if (message.find(part) != std::string::npos) return true;
  BOOST_TEST_MESSAGE("message lacks \"" << part << "\": " << message);
  return false;
}

constexpr std::string_view kTwoTensors = R"({
  "__metadata__": {"format": "pt", "author": "me"},
  "weight": {"dtype": "F16", "shape": [4], "data_offsets": [24, 32]},
  "bias": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 24]}
})";

}  // namespace

BOOST_AUTO_TEST_SUITE(safetensors_test)

BOOST_AUTO_TEST_CASE(parses_tensors_and_metadata) {
  Bytes file = make_file(kTwoTensors, 32, /*padding=*/5);
  auto header = parse(file);
  BOOST_TEST_REQUIRE(header.ok(), (header.ok() ? "" : header.error().message));
  BOOST_TEST(header->header_length == kTwoTensors.size() + 5);
  BOOST_TEST(header->data_offset == 8 + kTwoTensors.size() + 5);
  BOOST_TEST(header->file_size == file.size());

  BOOST_TEST_REQUIRE(header->tensors.size() == 2u);
  const TensorInfo& bias = header->tensors[0];  // sorted by begin, not by name or header order
  BOOST_TEST(bias.name == "bias");
  BOOST_TEST(bias.dtype == "F32");
  BOOST_TEST(bias.shape == (std::vector<std::uint64_t>{2, 3}), boost::test_tools::per_element());
  BOOST_TEST(bias.begin == 0u);
  BOOST_TEST(bias.end == 24u);
  const TensorInfo& weight = header->tensors[1];
  BOOST_TEST(weight.name == "weight");
  BOOST_TEST(weight.dtype == "F16");
  BOOST_TEST(weight.shape == (std::vector<std::uint64_t>{4}), boost::test_tools::per_element());
  BOOST_TEST(weight.begin == 24u);
  BOOST_TEST(weight.end == 32u);

  BOOST_TEST_REQUIRE(header->metadata.size() == 2u);
  BOOST_TEST(header->metadata[0].first == "author");  // key order
  BOOST_TEST(header->metadata[0].second == "me");
  BOOST_TEST(header->metadata[1].first == "format");
  BOOST_TEST(header->metadata[1].second == "pt");
  BOOST_TEST(metadata_value(*header, "format").value_or("") == "pt");
  BOOST_TEST(!metadata_value(*header, "missing").has_value());
}

BOOST_AUTO_TEST_CASE(accepts_edge_cases_the_format_allows) {
  // No tensors, no data.
  auto empty = parse(make_file("{}", 0));
  BOOST_TEST_REQUIRE(empty.ok());
  BOOST_TEST(empty->tensors.empty());
  BOOST_TEST(empty->data_offset == 10u);

  // A scalar, an empty tensor, a sub-byte dtype filling whole bytes, an
  // unknown field (ignored, like the reference reader does) and an escaped
  // name.
  auto mixed = parse(make_file(R"({
    "scale": {"dtype": "F64", "shape": [], "data_offsets": [0, 8]},
    "none": {"dtype": "I32", "shape": [0, 5], "data_offsets": [8, 8]},
    "packed": {"dtype": "F4", "shape": [2, 3], "data_offsets": [8, 11], "note": {"a": [1, {}]}},
    "caf\u00e9": {"dtype": "F8_E8M0", "shape": [1], "data_offsets": [11, 12]}
  })",
                               12));
  BOOST_TEST_REQUIRE(mixed.ok(), (mixed.ok() ? "" : mixed.error().message));
  BOOST_TEST_REQUIRE(mixed->tensors.size() == 4u);
  BOOST_TEST(mixed->tensors[0].name == "scale");
  BOOST_TEST(mixed->tensors[0].shape.empty());
  BOOST_TEST(mixed->tensors[1].name == "none");
  BOOST_TEST(mixed->tensors[2].name == "packed");
  BOOST_TEST(mixed->tensors[3].name == "caf\xc3\xa9");
}

BOOST_AUTO_TEST_CASE(dtype_sizes) {
  BOOST_TEST(safetensors_dtype_bits("BOOL").value_or(0) == 8u);
  BOOST_TEST(safetensors_dtype_bits("BF16").value_or(0) == 16u);
  BOOST_TEST(safetensors_dtype_bits("F8_E4M3").value_or(0) == 8u);
  BOOST_TEST(safetensors_dtype_bits("U64").value_or(0) == 64u);
  BOOST_TEST(safetensors_dtype_bits("F6_E3M2").value_or(0) == 6u);
  BOOST_TEST(safetensors_dtype_bits("F4").value_or(0) == 4u);
  BOOST_TEST(!safetensors_dtype_bits("f32").has_value());
  BOOST_TEST(!safetensors_dtype_bits("F17").has_value());
}

BOOST_AUTO_TEST_CASE(rejects_files_shorter_than_the_length_prefix) {
  Bytes file = {2, 0, 0, 0, 0};
  auto result = parse(file);
  BOOST_TEST_REQUIRE(!result.ok());
  BOOST_TEST((result.error().code == ErrorCode::malformed));
  BOOST_TEST(contains(result.error().message, "model.safetensors: file is 5 bytes"));
  BOOST_TEST(contains(result.error().message, "shorter than the 8-byte"));
}

BOOST_AUTO_TEST_CASE(rejects_bad_header_lengths) {
  Bytes beyond = make_file("{}", 0);
  beyond[0] = 0xe8;  // 1000
  beyond[1] = 0x03;
  std::string message = error_of(beyond);
  BOOST_TEST(contains(message, "header length 1000 exceeds file size 10 bytes"));
  BOOST_TEST(contains(message, "truncated"));

  Bytes huge(8, 0xff);  // 2^64 - 1: must not overflow 8 + N
  BOOST_TEST(contains(error_of(huge), "header length 18446744073709551615 exceeds file size"));

  // Over the limit but inside a big file: only the prefix is needed.
  Bytes prefix = make_file("{}", 0);
  std::uint64_t length = kMaxSafetensorsHeader + 1;
  for (int i = 0; i < 8; ++i) prefix[i] = static_cast<std::uint8_t>(length >> (8 * i));
  auto over = parse_safetensors(prefix, 1ull << 40, "big.safetensors");
  BOOST_TEST_REQUIRE(!over.ok());
  BOOST_TEST((over.error().code == ErrorCode::limit));
  BOOST_TEST(contains(over.error().message, "big.safetensors: header length 104857601 exceeds"));

  Bytes tiny = make_file("{", 0);
  BOOST_TEST(contains(error_of(tiny), "header length 1 is too small"));
}

BOOST_AUTO_TEST_CASE(rejects_a_prefix_shorter_than_the_header) {
  Bytes file = make_file(kTwoTensors, 32);
  auto result = parse_safetensors(ByteView(file).first(20), file.size(), "m");
  BOOST_TEST_REQUIRE(!result.ok());
  BOOST_TEST((result.error().code == ErrorCode::invalid_argument));
  BOOST_TEST(contains(result.error().message, "pass the whole header"));
}

BOOST_AUTO_TEST_CASE(rejects_invalid_json) {
  BOOST_TEST(contains(error_of(make_file(R"({"a": {"dtype": )", 0)), "not valid JSON"));
  BOOST_TEST(contains(error_of(make_file(R"({} x)", 0)), "not valid JSON"));
  BOOST_TEST(contains(error_of(make_file(R"( {})", 0)), "must start with '{'"));
  // Invalid UTF-8 inside a string; the raw byte is escaped in the message.
  std::string message = error_of(make_file("{\"\xff\": 1}", 0));
  BOOST_TEST(contains(message, "not valid JSON"));
  BOOST_TEST(contains(message, "UTF-8"));
  BOOST_TEST(message.find('\xff') == std::string::npos);
}

BOOST_AUTO_TEST_CASE(rejects_duplicate_keys) {
  std::string tensor = R"({"dtype": "U8", "shape": [1], "data_offsets": [0, 1]})";
  std::string message = error_of(make_file(R"({"w": )" + tensor + R"(, "w": )" + tensor + "}", 1));
  BOOST_TEST(contains(message, "duplicate key"));
  BOOST_TEST(contains(message, "tensor \"w\" twice"));

  message = error_of(make_file(R"({"__metadata__": {"k": "1", "k": "2"}})", 0));
  BOOST_TEST(contains(message, "__metadata__ has key \"k\" twice"));

  message = error_of(make_file(R"({"w": {"dtype": "U8", "dtype": "U8", "shape": [1], "data_offsets": [0, 1]}})", 1));
  BOOST_TEST(contains(message, "tensor \"w\" has field \"dtype\" twice"));

  message = error_of(make_file(R"({"__metadata__": {}, "__metadata__": {}})", 0));
  BOOST_TEST(contains(message, "two __metadata__ entries"));
}

BOOST_AUTO_TEST_CASE(rejects_unknown_dtype) {
  std::string message = error_of(make_file(R"({"w": {"dtype": "F17", "shape": [1], "data_offsets": [0, 2]}})", 2));
  BOOST_TEST(contains(message, "tensor \"w\" has unknown dtype \"F17\""));
  BOOST_TEST(contains(message, "BF16"));  // lists what is known
}

BOOST_AUTO_TEST_CASE(rejects_size_not_matching_shape_and_dtype) {
  std::string message = error_of(make_file(R"({"w": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 20]}})", 20));
  BOOST_TEST(contains(message, "tensor \"w\": data_offsets [0, 20] span 20 bytes"));
  BOOST_TEST(contains(message, "F32 shape [2, 3] needs 24 bytes"));

  message = error_of(make_file(R"({"w": {"dtype": "F4", "shape": [3], "data_offsets": [0, 2]}})", 2));
  BOOST_TEST(contains(message, "do not fill a whole number of bytes"));
}

BOOST_AUTO_TEST_CASE(rejects_overlapping_tensors) {
  std::string message = error_of(make_file(R"({
    "a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
    "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}
  })",
                                           12));
  BOOST_TEST(contains(message, "tensor \"b\" (bytes [4, 12)) overlaps tensor \"a\" (bytes [0, 8))"));
}

BOOST_AUTO_TEST_CASE(rejects_gaps_between_tensors) {
  std::string message = error_of(make_file(R"({
    "a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
    "b": {"dtype": "F32", "shape": [2], "data_offsets": [12, 20]}
  })",
                                           20));
  BOOST_TEST(contains(message, "gap of 4 bytes between tensor \"a\" (bytes [0, 8)) and tensor \"b\""));

  message = error_of(make_file(R"({"b": {"dtype": "U8", "shape": [2], "data_offsets": [3, 5]}})", 5));
  BOOST_TEST(contains(message, "gap of 3 bytes at the start of the data area, before tensor \"b\""));
}

BOOST_AUTO_TEST_CASE(rejects_data_not_covered_by_tensors) {
  std::string message = error_of(make_file(R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}})", 12));
  BOOST_TEST(contains(message, "4 bytes at the end of the data area are not covered"));
  BOOST_TEST(contains(message, "tensor \"a\", ends at byte 8"));

  message = error_of(make_file("{}", 3));
  BOOST_TEST(contains(message, "3 bytes at the end of the data area are not covered"));
  BOOST_TEST(contains(message, "no tensors"));
}

BOOST_AUTO_TEST_CASE(rejects_offsets_past_the_data_area) {
  std::string message = error_of(make_file(R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}})", 4));
  BOOST_TEST(
      contains(message, "tensor \"a\": data_offsets [0, 8] run past the end of the data area, which holds 4 bytes"));
  BOOST_TEST(contains(message, "truncated"));

  message =
      error_of(make_file(R"({"a": {"dtype": "U8", "shape": [0], "data_offsets": [18446744073709551615, 0]}})", 0));
  BOOST_TEST(contains(message, "end before they begin"));
}

BOOST_AUTO_TEST_CASE(rejects_non_string_metadata) {
  std::string message = error_of(make_file(R"({"__metadata__": {"epochs": 10}})", 0));
  BOOST_TEST(contains(message, "__metadata__ value for \"epochs\" must be a string, found a number"));

  message = error_of(make_file(R"({"__metadata__": ["x"]})", 0));
  BOOST_TEST(contains(message, "__metadata__ must be an object"));
}

BOOST_AUTO_TEST_CASE(rejects_shapes_that_overflow) {
  std::string message =
      error_of(make_file(R"({"w": {"dtype": "U8", "shape": [4294967296, 4294967296, 2], "data_offsets": [0, 0]}})", 0));
  BOOST_TEST(contains(message, "tensor \"w\": shape [4294967296, 4294967296, 2] overflows"));

  // Fits as an element count, overflows once multiplied by the dtype size.
  message =
      error_of(make_file(R"({"w": {"dtype": "F64", "shape": [4611686018427387904], "data_offsets": [0, 0]}})", 0));
  BOOST_TEST(contains(message, "overflows"));
}

BOOST_AUTO_TEST_CASE(rejects_malformed_tensor_entries) {
  BOOST_TEST(contains(error_of(make_file(R"({"w": 3})", 0)),
                      "tensor \"w\" must be an object with dtype, shape and data_offsets"));
  BOOST_TEST(
      contains(error_of(make_file(R"({"w": {"dtype": "U8", "shape": [1]}})", 1)), "tensor \"w\" lacks data_offsets"));
  BOOST_TEST(contains(error_of(make_file(R"({"w": {"dtype": "U8", "shape": [-1], "data_offsets": [0, 1]}})", 1)),
                      "shape must hold only non-negative integers, found a negative number"));
  BOOST_TEST(contains(error_of(make_file(R"({"w": {"dtype": "U8", "shape": [1.5], "data_offsets": [0, 1]}})", 1)),
                      "found a fractional or out-of-range number"));
  BOOST_TEST(contains(error_of(make_file(R"({"w": {"dtype": "U8", "shape": [1], "data_offsets": [0, 1, 2]}})", 1)),
                      "data_offsets must be [begin, end]"));
  BOOST_TEST(contains(error_of(make_file(R"({"w": {"dtype": "U8", "shape": [1], "data_offsets": [0]}})", 1)),
                      "data_offsets must be [begin, end], found 1 numbers"));
  BOOST_TEST(contains(error_of(make_file(R"({"w": {"dtype": 8, "shape": [1], "data_offsets": [0, 1]}})", 1)),
                      "dtype must be a string, found a number"));
}

BOOST_AUTO_TEST_CASE(enforces_limits) {
  std::string deep = R"({"w": {"dtype": "U8", "shape": [1], "data_offsets": [0, 1], "x": )" + std::string(100, '[') +
                     std::string(100, ']') + "}}";
  auto result = parse(make_file(deep, 1));
  BOOST_TEST_REQUIRE(!result.ok());
  BOOST_TEST((result.error().code == ErrorCode::limit));
  BOOST_TEST(contains(result.error().message, "deeper than"));

  std::string long_name(kMaxTensorNameLength + 1, 'n');
  result = parse(make_file("{\"" + long_name + R"(": {"dtype": "U8", "shape": [1], "data_offsets": [0, 1]}})", 1));
  BOOST_TEST_REQUIRE(!result.ok());
  BOOST_TEST((result.error().code == ErrorCode::limit));
  BOOST_TEST(contains(result.error().message, "4097 bytes long"));

  std::string rank = R"({"w": {"dtype": "U8", "shape": [)";
  for (std::size_t i = 0; i <= kMaxTensorRank; ++i) rank += i == 0 ? "1" : ", 1";
  result = parse(make_file(rank + R"(], "data_offsets": [0, 1]}})", 1));
  BOOST_TEST_REQUIRE(!result.ok());
  BOOST_TEST(contains(result.error().message, "more than 64 dimensions"));
}

BOOST_AUTO_TEST_CASE(escapes_names_in_messages) {
  std::string message =
      error_of(make_file(R"({"bad\u0001\nname": {"dtype": "X", "shape": [], "data_offsets": [0, 0]}})", 0));
  BOOST_TEST(contains(message, R"(tensor "bad\x01\x0aname")"));
  for (char c : message) BOOST_TEST(static_cast<unsigned char>(c) >= 0x20);
}

BOOST_AUTO_TEST_CASE(never_throws_on_random_corruption) {
  Bytes good = make_file(kTwoTensors, 32);
  std::mt19937 random(1234);
  for (int round = 0; round < 2000; ++round) {
    Bytes file = good;
    for (int flips = 0; flips < 3; ++flips) {
      std::size_t at = random() % file.size();
      file[at] = static_cast<std::uint8_t>(random());
    }
    file.resize(random() % (file.size() + 1));
    auto result = parse(file);
    if (result.ok())
      derive_model_hints(*result);
    else
      BOOST_TEST(!result.error().message.empty());
  }
}

BOOST_AUTO_TEST_CASE(reads_only_the_header_from_disk) {
  namespace fs = std::filesystem;
  fs::path dir = fs::temp_directory_path() / ("seedbank-safetensors-test-" + std::to_string(std::random_device{}()));
  fs::create_directories(dir);
  struct Cleanup {
    fs::path dir;
    ~Cleanup() {
      std::error_code ignored;
      fs::remove_all(dir, ignored);
    }
  } cleanup{dir};

  Bytes image = make_file(kTwoTensors, 32, 3);
  fs::path good = dir / "good.safetensors";
  std::ofstream(good, std::ios::binary)
      .write(reinterpret_cast<const char*>(image.data()), static_cast<std::streamsize>(image.size()));
  auto header = read_safetensors_header(good);
  BOOST_TEST_REQUIRE(header.ok(), (header.ok() ? "" : header.error().message));
  BOOST_TEST(header->file_size == image.size());
  BOOST_TEST(header->tensors.size() == 2u);
  BOOST_TEST(metadata_value(*header, "author").value_or("") == "me");

  // A download cut off inside the data area.
  fs::path cut = dir / "cut.safetensors";
  std::ofstream(cut, std::ios::binary)
      .write(reinterpret_cast<const char*>(image.data()), static_cast<std::streamsize>(image.size() - 10));
  auto truncated = read_safetensors_header(cut);
  BOOST_TEST_REQUIRE(!truncated.ok());
  BOOST_TEST(contains(truncated.error().message, "cut.safetensors: tensor \"weight\""));
  BOOST_TEST(contains(truncated.error().message, "run past the end"));

  // Cut off inside the header.
  fs::path stub = dir / "stub.safetensors";
  std::ofstream(stub, std::ios::binary).write(reinterpret_cast<const char*>(image.data()), 30);
  auto short_header = read_safetensors_header(stub);
  BOOST_TEST_REQUIRE(!short_header.ok());
  BOOST_TEST(contains(short_header.error().message, "stub.safetensors: header length"));

  auto missing = read_safetensors_header(dir / "missing.safetensors");
  BOOST_TEST_REQUIRE(!missing.ok());
  BOOST_TEST((missing.error().code == ErrorCode::io));
  BOOST_TEST(contains(missing.error().message, "missing.safetensors"));

  auto directory = read_safetensors_header(dir);
  BOOST_TEST_REQUIRE(!directory.ok());
  BOOST_TEST(contains(directory.error().message, "not a regular file"));
}

// ---------------------------------------------------------------------------
// Hints.

namespace {

// A header whose tensors are laid out back to back, for hint tests.
SafetensorsHeader header_of(std::vector<TensorInfo> tensors,
                            std::vector<std::pair<std::string, std::string>> metadata = {}) {
  SafetensorsHeader header;
  std::uint64_t offset = 0;
  for (TensorInfo& t : tensors) {
    std::uint64_t elements = 1;
    for (std::uint64_t d : t.shape) elements *= d;
    t.begin = offset;
    t.end = offset += elements * (safetensors_dtype_bits(t.dtype).value_or(8) / 8);
  }
  header.tensors = std::move(tensors);
  std::sort(metadata.begin(), metadata.end());
  header.metadata = std::move(metadata);
  return header;
}

TensorInfo tensor(std::string name, std::vector<std::uint64_t> shape, std::string dtype = "F16") {
  return TensorInfo{std::move(name), std::move(dtype), std::move(shape), 0, 0};
}

}  // namespace

BOOST_AUTO_TEST_CASE(hints_from_a_kohya_sdxl_lora) {
  // Built as bytes, the way kohya's trainer writes it: every metadata value
  // is a string, JSON ones included.
  nlohmann::json tags = {
      {"10_alice", {{"alice", 10}, {" smile", 3}, {"1girl", 10}}},
      {"5_background", {{"smile ", 4}, {"outdoors", 2}, {"solo", 1}, {"blue sky", 1}}},
  };
  nlohmann::json json = {
      {"__metadata__",
       {{"ss_base_model_version", "sdxl_base_v1-0"},
        {"ss_network_module", "networks.lora"},
        {"ss_network_args", R"({"conv_dim": "4"})"},
        {"ss_resolution", "(1024, 1024)"},
        {"ss_v2", "False"},
        {"ss_sd_model_name", "sd_xl_base_1.0.safetensors"},
        {"ss_output_name", "alice_v1"},
        {"ss_tag_frequency", tags.dump()}}},
      {"lora_unet_input_blocks_4_1_transformer_blocks_0_attn2_to_k.lora_down.weight",
       {{"dtype", "F16"}, {"shape", {4, 2048}}, {"data_offsets", {0, 16384}}}},
      {"lora_te2_text_model_encoder_layers_0_mlp_fc1.lora_up.weight",
       {{"dtype", "F16"}, {"shape", {4, 4}}, {"data_offsets", {16384, 16416}}}},
      {"lora_te1_text_model_encoder_layers_0_mlp_fc1.alpha",
       {{"dtype", "F32"}, {"shape", nlohmann::json::array()}, {"data_offsets", {16416, 16420}}}},
  };
  auto header = parse(make_file(json.dump(), 16420));
  BOOST_TEST_REQUIRE(header.ok(), (header.ok() ? "" : header.error().message));

  ModelHints hints = derive_model_hints(*header);
  BOOST_TEST(hints.base_model == "SDXL 1.0");
  BOOST_TEST(hints.type == "LORA");
  BOOST_TEST_REQUIRE(hints.resolution.has_value());
  BOOST_TEST(hints.resolution->first == 1024u);
  BOOST_TEST(hints.resolution->second == 1024u);
  // Summed over datasets and trimmed: alice 10, 1girl 10, smile 7, outdoors 2,
  // blue sky 1, solo 1; ties alphabetical; at most five.
  std::vector<std::string> expected = {"1girl", "alice", "smile", "outdoors", "blue sky"};
  BOOST_TEST(hints.trigger_words == expected, boost::test_tools::per_element());
  BOOST_TEST(hints.title == "alice_v1");
  BOOST_TEST(hints.precision == "fp16");
  BOOST_TEST(hints.description.empty());
}

BOOST_AUTO_TEST_CASE(hints_tell_sdxl_finetunes_apart_by_training_model) {
  auto with_model = [](std::string name) {
    return derive_model_hints(
               header_of({tensor("lora_unet_x.lora_down.weight", {4, 4})},
                         {{"ss_base_model_version", "sdxl_base_v1-0"}, {"ss_sd_model_name", std::move(name)}}))
        .base_model;
  };
  BOOST_TEST(with_model("ponyDiffusionV6XL_v6StartWithThisOne.safetensors") == "Pony");
  BOOST_TEST(with_model("illustriousXL_v01.safetensors") == "Illustrious");
  BOOST_TEST(with_model("noobaiXLNAIXL_epsilonPred10Version.safetensors") == "NoobAI");
  BOOST_TEST(with_model("juggernautXL_v9.safetensors") == "SDXL 1.0");
}

BOOST_AUTO_TEST_CASE(hints_from_modelspec) {
  nlohmann::json tags = {{"ds", {{"ignored", 99}}}};
  SafetensorsHeader header = header_of({tensor("lora_unet_down_blocks_0.lora_down.weight", {4, 320}, "BF16"),
                                        tensor("lora_unet_down_blocks_0.alpha", {}, "F32")},
                                       {{"modelspec.sai_model_spec", "1.0.0"},
                                        {"modelspec.architecture", "stable-diffusion-v1/lora"},
                                        {"modelspec.title", "Red Hat Girl"},
                                        {"modelspec.description", "A character LoRA."},
                                        {"modelspec.author", "someone"},
                                        {"modelspec.license", "CreativeML Open RAIL-M"},
                                        {"modelspec.resolution", "512x768"},
                                        {"modelspec.trigger_phrase", "mychar, red hat , ,mychar"},
                                        {"ss_output_name", "not the title"},
                                        {"ss_tag_frequency", tags.dump()}});
  ModelHints hints = derive_model_hints(header);
  BOOST_TEST(hints.base_model == "SD 1.5");
  BOOST_TEST(hints.type == "LORA");
  BOOST_TEST_REQUIRE(hints.resolution.has_value());
  BOOST_TEST(hints.resolution->first == 512u);
  BOOST_TEST(hints.resolution->second == 768u);
  std::vector<std::string> expected = {"mychar", "red hat"};  // wins over tag frequency
  BOOST_TEST(hints.trigger_words == expected, boost::test_tools::per_element());
  BOOST_TEST(hints.title == "Red Hat Girl");
  BOOST_TEST(hints.description == "A character LoRA.");
  BOOST_TEST(hints.author == "someone");
  BOOST_TEST(hints.license == "CreativeML Open RAIL-M");
  BOOST_TEST(hints.precision == "bf16");
}

BOOST_AUTO_TEST_CASE(hints_map_architectures_and_versions_to_civitai_names) {
  auto base = [](std::string key, std::string value) {
    return derive_model_hints(header_of({}, {{std::move(key), std::move(value)}})).base_model;
  };
  BOOST_TEST(base("modelspec.architecture", "stable-diffusion-xl-v1-base/lora") == "SDXL 1.0");
  BOOST_TEST(base("modelspec.architecture", "stable-diffusion-v2-768-v") == "SD 2.1");
  BOOST_TEST(base("modelspec.architecture", "stable-diffusion-3-medium/lora") == "SD 3");
  BOOST_TEST(base("modelspec.architecture", "stable-diffusion-3-5-large/lora") == "SD 3.5 Large");
  BOOST_TEST(base("modelspec.architecture", "flux-1-dev/lora") == "Flux.1 D");
  BOOST_TEST(base("modelspec.architecture", "flux-1-schnell") == "Flux.1 S");
  BOOST_TEST(base("modelspec.architecture", "gpt-neo-x") == "");
  BOOST_TEST(base("ss_base_model_version", "sd_v1") == "SD 1.5");
  BOOST_TEST(base("ss_base_model_version", "sd_v2_v") == "SD 2.1");
  BOOST_TEST(base("ss_base_model_version", "sd3") == "SD 3");
  BOOST_TEST(base("ss_base_model_version", "5-medium") == "SD 3.5 Medium");
  BOOST_TEST(base("ss_base_model_version", "flux1") == "Flux.1 D");
  BOOST_TEST(base("ss_v2", "True") == "SD 2.1");
  BOOST_TEST(base("ss_v2", "False") == "SD 1.5");

  auto type = [](std::string key, std::string value) {
    return derive_model_hints(header_of({}, {{std::move(key), std::move(value)}})).type;
  };
  BOOST_TEST(type("modelspec.architecture", "stable-diffusion-v1/textual-inversion") == "TextualInversion");
  BOOST_TEST(type("modelspec.architecture", "stable-diffusion-xl-v1-base") == "Checkpoint");
}

BOOST_AUTO_TEST_CASE(hints_read_lycoris_and_dora_from_network_settings) {
  auto type = [](std::string module, std::string args) {
    return derive_model_hints(
               header_of({}, {{"ss_network_module", std::move(module)}, {"ss_network_args", std::move(args)}}))
        .type;
  };
  BOOST_TEST(type("lycoris.kohya", R"({"algo": "locon", "conv_dim": "8"})") == "LoCon");
  BOOST_TEST(type("lycoris.kohya", R"({"algo": "lora"})") == "LoCon");
  BOOST_TEST(type("lycoris.kohya", R"({"algo": "lora", "dora_wd": "True"})") == "DoRA");
  BOOST_TEST(type("networks.lora", "not json") == "LORA");
  BOOST_TEST(type("networks.lora_flux", "") == "LORA");
}

BOOST_AUTO_TEST_CASE(hints_from_tensor_names_when_metadata_is_silent) {
  auto hints = [](std::vector<TensorInfo> tensors) { return derive_model_hints(header_of(std::move(tensors))); };

  ModelHints sdxl = hints({tensor("model.diffusion_model.input_blocks.0.0.weight", {320, 4, 3, 3}),
                           tensor("conditioner.embedders.1.model.ln_final.weight", {1280})});
  BOOST_TEST(sdxl.type == "Checkpoint");
  BOOST_TEST(sdxl.base_model == "SDXL 1.0");

  ModelHints sd1 = hints({tensor("model.diffusion_model.out.2.weight", {4, 320, 3, 3}, "F32"),
                          tensor("cond_stage_model.transformer.text_model.final_layer_norm.weight", {768}, "F32")});
  BOOST_TEST(sd1.type == "Checkpoint");
  BOOST_TEST(sd1.base_model == "SD 1.5");
  BOOST_TEST(sd1.precision == "fp32");

  // Cross-attention width pins the base of an otherwise anonymous LoRA.
  ModelHints lora15 =
      hints({tensor("lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn2_to_k.lora_down.weight", {4, 768}),
             tensor("lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn2_to_k.lora_up.weight", {320, 4})});
  BOOST_TEST(lora15.type == "LORA");
  BOOST_TEST(lora15.base_model == "SD 1.5");

  ModelHints lora21 = hints({tensor("lora_te_text_model_encoder_layers_0_mlp_fc1.lora_down.weight", {8, 1024})});
  BOOST_TEST(lora21.base_model == "SD 2.1");

  ModelHints te2 = hints({tensor("lora_te2_text_model_encoder_layers_0_mlp_fc1.lora_down.weight", {8, 1280})});
  BOOST_TEST(te2.base_model == "SDXL 1.0");

  ModelHints loha = hints({tensor("lora_unet_mid_block_attentions_0_proj_in.hada_w1_a", {320, 8}),
                           tensor("lora_unet_mid_block_attentions_0_proj_in.hada_w1_b", {8, 320})});
  BOOST_TEST(loha.type == "LoCon");

  ModelHints dora = hints({tensor("lora_unet_mid_block_proj_in.lora_down.weight", {8, 320}),
                           tensor("lora_unet_mid_block_proj_in.dora_scale", {1, 320})});
  BOOST_TEST(dora.type == "DoRA");

  ModelHints embedding = hints({tensor("clip_g", {2, 1280}), tensor("clip_l", {2, 768})});
  BOOST_TEST(embedding.type == "TextualInversion");
  BOOST_TEST(embedding.base_model == "SDXL 1.0");

  ModelHints embedding15 = hints({tensor("emb_params", {4, 768}, "F32")});
  BOOST_TEST(embedding15.type == "TextualInversion");
  BOOST_TEST(embedding15.base_model == "SD 1.5");

  ModelHints vae =
      hints({tensor("encoder.conv_in.weight", {128, 3, 3, 3}), tensor("decoder.conv_out.weight", {3, 128, 3, 3}),
             tensor("quant_conv.weight", {8, 8, 1, 1})});
  BOOST_TEST(vae.type == "VAE");

  ModelHints controlnet = hints({tensor("control_model.input_blocks.0.0.weight", {320, 4, 3, 3}),
                                 tensor("control_model.input_hint_block.0.weight", {16, 3, 3, 3})});
  BOOST_TEST(controlnet.type == "Controlnet");

  ModelHints flux_dev = hints({tensor("double_blocks.0.img_attn.qkv.weight", {9216, 3072}, "BF16"),
                               tensor("guidance_in.in_layer.weight", {3072, 256}, "BF16")});
  BOOST_TEST(flux_dev.type == "Checkpoint");
  BOOST_TEST(flux_dev.base_model == "Flux.1 D");
  ModelHints flux_schnell = hints({tensor("double_blocks.0.img_attn.qkv.weight", {9216, 3072})});
  BOOST_TEST(flux_schnell.base_model == "Flux.1 S");

  ModelHints fp8 =
      hints({tensor("model.diffusion_model.x", {64}, "F8_E4M3"), tensor("model.diffusion_model.y", {8}, "F32")});
  BOOST_TEST(fp8.precision == "fp8");

  ModelHints nothing = hints({tensor("some.weight", {4})});
  BOOST_TEST(nothing.type == "");
  BOOST_TEST(nothing.base_model == "");
  BOOST_TEST(!nothing.resolution.has_value());
  BOOST_TEST(nothing.trigger_words.empty());
}

BOOST_AUTO_TEST_CASE(hints_ignore_malformed_metadata) {
  ModelHints hints = derive_model_hints(
      header_of({}, {{"ss_tag_frequency", R"({"ds": {"a": "many", "b": -3, "c": 1.5, "d": [1]}, "x": 5})"},
                     {"ss_resolution", "huge"},
                     {"modelspec.resolution", "0x0"},
                     {"ss_network_args", "[[[[[[[[[["}}));
  BOOST_TEST(hints.trigger_words.empty());
  BOOST_TEST(!hints.resolution.has_value());

  hints = derive_model_hints(
      header_of({}, {{"ss_tag_frequency", std::string(5000, '[')}, {"ss_resolution", "[512, 768]"}}));
  BOOST_TEST(hints.trigger_words.empty());
  BOOST_TEST_REQUIRE(hints.resolution.has_value());
  BOOST_TEST(hints.resolution->second == 768u);
}

BOOST_AUTO_TEST_SUITE_END()
