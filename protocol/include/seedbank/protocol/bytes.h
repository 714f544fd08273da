// Byte strings and their text forms (hex).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace seedbank::protocol {

using Bytes = std::vector<std::uint8_t>;
using ByteView = std::span<const std::uint8_t>;
using Sha256Digest = std::array<std::uint8_t, 32>;
using Sha1Digest = std::array<std::uint8_t, 20>;

inline ByteView as_bytes(std::string_view s) { return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()}; }

std::string to_hex(ByteView bytes);        // lowercase
std::string to_hex_upper(ByteView bytes);  // Civitai's style

// Decodes an even-length hex string in any case; nullopt on any other input.
std::optional<Bytes> from_hex(std::string_view hex);

// Fixed-size decode: nullopt unless `hex` is exactly 2*N hex digits.
template <std::size_t N>
std::optional<std::array<std::uint8_t, N>> from_hex_fixed(std::string_view hex) {
  if (hex.size() != 2 * N) return std::nullopt;
  auto bytes = from_hex(hex);
  if (!bytes) return std::nullopt;
  std::array<std::uint8_t, N> out{};
  for (std::size_t i = 0; i < N; ++i) out[i] = (*bytes)[i];
  return out;
}

}  // namespace seedbank::protocol
