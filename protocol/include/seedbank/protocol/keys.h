// Ed25519 identities (libsodium).
//
// A key file holds exactly the 32-byte seed, mode 0600; libtorrent's ed25519
// derives the same key pair from it. A public key's text form is bech32
// (BIP-173) with the human-readable part "sbpk": "sbpk1..." (59 characters);
// its checksum catches typos.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "seedbank/protocol/bytes.h"
#include "seedbank/protocol/result.h"

namespace seedbank::protocol {

using Signature = std::array<std::uint8_t, 64>;

struct PublicKey {
  std::array<std::uint8_t, 32> bytes{};

  std::string to_text() const;  // "sbpk1..."
  // Accepts the bech32 form (any case) or 64 hex digits.
  static std::optional<PublicKey> from_text(std::string_view text);
  static std::optional<PublicKey> from_bytes(ByteView bytes);
  auto operator<=>(const PublicKey&) const = default;
};

// Owns secret material; wiped on destruction. Move-only.
class SecretKey {
 public:
  static SecretKey generate();
  static Result<SecretKey> from_seed(ByteView seed);

  SecretKey(SecretKey&& other) noexcept;
  SecretKey& operator=(SecretKey&& other) noexcept;
  SecretKey(const SecretKey&) = delete;
  SecretKey& operator=(const SecretKey&) = delete;
  ~SecretKey();

  const PublicKey& public_key() const { return public_key_; }
  ByteView seed() const { return ByteView(expanded_.data(), 32); }  // libsodium keeps the seed first
  Signature sign(ByteView message) const;

 private:
  SecretKey() = default;
  std::array<std::uint8_t, 64> expanded_{};  // libsodium's seed ++ public key
  PublicKey public_key_;
};

// libsodium's strict verification (rejects non-canonical encodings).
bool verify_signature(const PublicKey& key, ByteView message, ByteView signature);

// Writes the seed with mode 0600, creating parent folders (0700). Refuses to
// overwrite an existing file unless `overwrite`.
Status save_secret_key(const std::filesystem::path& path, const SecretKey& key, bool overwrite = false);
// Errors name the file and the problem (missing, wrong size, too open).
Result<SecretKey> load_secret_key(const std::filesystem::path& path);

// bech32 (BIP-173), exposed for tests.
std::string bech32_encode(std::string_view hrp, ByteView data);
std::optional<Bytes> bech32_decode(std::string_view expected_hrp, std::string_view text);

}  // namespace seedbank::protocol
