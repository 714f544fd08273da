// Writes small but valid model files for tests.
#pragma once

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>

namespace seedbank::testing {

// A safetensors file: one U8 tensor of `n` random bytes (seeded), with an
// optional raw `metadata_json` object as __metadata__.
inline std::string safetensors_bytes(std::size_t n, unsigned seed, const std::string& metadata_json = "") {
  std::string header = "{";
  if (!metadata_json.empty()) header += "\"__metadata__\":" + metadata_json + ",";
  header +=
      R"("w":{"dtype":"U8","shape":[)" + std::to_string(n) + R"(],"data_offsets":[0,)" + std::to_string(n) + "]}}";
  header.resize((header.size() + 7) / 8 * 8, ' ');
  std::string bytes(8, '\0');
  for (int i = 0; i < 8; ++i) bytes[static_cast<std::size_t>(i)] = static_cast<char>(header.size() >> (8 * i));
  bytes += header;
  std::mt19937 rng(seed);
  bytes.reserve(bytes.size() + n);
  for (std::size_t i = 0; i < n; ++i) bytes += static_cast<char>(rng());
  return bytes;
}

inline std::filesystem::path write_safetensors(const std::filesystem::path& path, std::size_t n, unsigned seed,
                                               const std::string& metadata_json = "") {
  std::ofstream(path, std::ios::binary) << safetensors_bytes(n, seed, metadata_json);
  return path;
}

}  // namespace seedbank::testing
