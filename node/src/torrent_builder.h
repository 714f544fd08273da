// Builds a release's torrent from hashes already computed (no second read).
// Private to node/; keeps libtorrent headers out of everything else.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "seedbank/protocol/content_hash.h"
#include "seedbank/protocol/result.h"

namespace seedbank::node {

struct TorrentInput {
  std::string path;                                // inside the torrent, '/'-separated, without the torrent name
  const protocol::FileDigests* digests = nullptr;  // hashed with the torrent's piece size
};

struct BuiltTorrent {
  protocol::Bytes info;          // bencoded info dictionary
  protocol::Bytes piece_layers;  // bencoded "piece layers" dictionary, may be empty
  protocol::Sha256Digest info_hash_v2{};
  std::optional<protocol::Sha1Digest> info_hash_v1;  // hybrid torrents only
  std::uint64_t piece_size = 0;
};

// The explicit piece size rule: about 1,000 pieces, a power of two between
// 256 KiB and 16 MiB. Depends only on the total size, so the same files
// always give the same torrent.
std::uint64_t choose_piece_size(std::uint64_t total_bytes);

// Hybrid (v1 + v2, BEP 52 with BEP 47 pad files) unless v2_only. The info
// dictionary holds only name, piece length, meta version, file tree and (for
// hybrid) files and pieces: no dates, no attributes, so it is reproducible.
// Every input's digests must come from hash_file with this piece size
// (v1_pieces and pad_last_v1_piece set for hybrid).
protocol::Result<BuiltTorrent> build_torrent(const std::string& name, const std::vector<TorrentInput>& files,
                                             std::uint64_t piece_size, bool v2_only);

// magnet:?xt=urn:btih:...&xt=urn:btmh:1220...&dn=...&tr=... (each xt when given)
std::string magnet_link(const std::optional<protocol::Sha256Digest>& v2, const std::optional<protocol::Sha1Digest>& v1,
                        const std::string& name, const std::vector<std::string>& trackers);

}  // namespace seedbank::node
