// Content hashes of a file, all computed in one read on two cores.
//
// The hashes people already use for model files:
//   SHA256  full-file SHA-256; the canonical id ("sha256:<hex>")
//   AutoV2  the first 10 hex digits of SHA256
//   AutoV1  SHA-256 of the 0x10000 bytes at offset 0x100000, first 8 hex
//           (AUTOMATIC1111's old "model hash"); a file shorter than 0x110000
//           bytes hashes whatever lies in that window, possibly nothing
//   AutoV3  for a safetensors file, SHA-256 of everything after the header
//           (8 + u64le(header_len) bytes in), first 12 hex: it survives
//           edits of the header metadata
//   CRC32   IEEE CRC-32 as zlib computes it
// plus the BitTorrent v2 (BEP 52) merkle "pieces root" of the file, and on
// request the piece layer and the v1 SHA-1 piece hashes that a torrent needs.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "seedbank/protocol/bytes.h"
#include "seedbank/protocol/result.h"

namespace seedbank::protocol {

inline constexpr std::uint64_t kAutoV1Offset = 0x100000;
inline constexpr std::uint64_t kAutoV1Length = 0x10000;
inline constexpr std::uint64_t kMerkleBlockSize = 16 * 1024;  // BEP 52 leaf size

struct HashOptions {
  // 0: no torrent pieces. Otherwise a power of two, 16 KiB to 64 MiB: fills
  // piece_layer (BEP 52) and, with v1_pieces, the SHA-1 piece hashes.
  std::uint64_t piece_size = 0;
  bool v1_pieces = false;
  // A hybrid torrent pads every file but the last to a piece boundary with
  // zeros, and its last v1 piece hashes those zeros too.
  bool pad_last_v1_piece = false;
  // Worker threads (1 or 2 are useful on this machine's two cores).
  unsigned threads = 2;
};

struct FileDigests {
  std::uint64_t size = 0;
  Sha256Digest sha256{};
  Sha256Digest autov1{};               // full digest; AutoV1 shows 4 bytes
  bool autov1_window_short = false;    // the file ends before 0x110000
  std::optional<Sha256Digest> autov3;  // full digest; AutoV3 shows 6 bytes
  std::uint64_t autov3_offset = 0;     // where the hashed tensor data starts
  std::uint32_t crc32 = 0;
  std::optional<Sha256Digest> pieces_root;  // none for an empty file
  std::vector<Sha256Digest> piece_layer;    // only for files larger than piece_size
  std::vector<Sha1Digest> v1_pieces;

  // Civitai's text forms, uppercase hex.
  std::string sha256_hex() const;
  std::string autov1_hex() const;  // 8
  std::string autov2_hex() const;  // 10
  std::string autov3_hex() const;  // 12, empty when there is none
  std::string crc32_hex() const;   // 8
};

// Called from the hashing thread with bytes done so far and the total.
using ProgressFn = std::function<void(std::uint64_t done, std::uint64_t total)>;

// Reads `path` once. Errors: the file is missing, unreadable, or changed size
// while it was read (then no digest is returned).
Result<FileDigests> hash_file(const std::filesystem::path& path, const HashOptions& options = {},
                              const ProgressFn& progress = {});

// A running SHA-256 (OpenSSL), for data that arrives in pieces. Not
// thread-safe; movable.
class Sha256Stream {
 public:
  Sha256Stream();
  ~Sha256Stream();
  Sha256Stream(Sha256Stream&& other) noexcept;
  Sha256Stream& operator=(Sha256Stream&&) = delete;
  void update(ByteView data);
  Sha256Digest finish();

 private:
  void* ctx_;  // EVP_MD_CTX
};

// Same, over bytes in memory (tests, small sample images).
FileDigests hash_bytes(ByteView data, const HashOptions& options = {});

// Where a safetensors file's tensor data starts (8 + header length), judged
// from its first bytes: nullopt unless the length fits the file and the
// header opens with '{'. Used to decide whether AutoV3 exists.
std::optional<std::uint64_t> safetensors_data_offset(ByteView first_bytes, std::uint64_t file_size);

// BEP 52 merkle helpers. A zero-padding leaf is 32 zero bytes; pad_hash(h)
// is the root of a subtree of 2^h padding leaves.
Sha256Digest sha256_pair(const Sha256Digest& left, const Sha256Digest& right);
Sha256Digest merkle_pad_hash(unsigned height);
// Root over `nodes` padded with pad_hash(height) to a power of two >= 1 node.
Sha256Digest merkle_root(std::vector<Sha256Digest> nodes, unsigned height = 0);
// Root of a subtree of exactly `width` leaves (a power of two), the given
// leaves first and zero leaves after them.
Sha256Digest merkle_subtree_root(std::span<const Sha256Digest> leaves, std::size_t width);

}  // namespace seedbank::protocol
