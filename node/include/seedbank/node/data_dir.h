// Where a node keeps its state.
//
//   <data dir>/            0700
//     identity.key         the node's default signing key (seed, 0600)
//     node.key             the node's gossip identity (seed, 0600)
//     peers.json           gossip peers learnt, reused after a restart
//     index/               LMDB environment (indexer::Index)
//     store/               content-addressed files, by SHA-256 (ContentStore)
#pragma once

#include <filesystem>
#include <string>

#include "seedbank/protocol/result.h"

namespace seedbank::node {

// --data-dir, else $SEEDBANK_DATA_DIR, else $XDG_DATA_HOME/seedbank, else
// ~/.local/share/seedbank.
std::filesystem::path default_data_dir();

// Creates the folder (mode 0700) when missing and checks it is writable.
protocol::Status prepare_data_dir(const std::filesystem::path& dir);

inline std::filesystem::path index_dir(const std::filesystem::path& data_dir) { return data_dir / "index"; }
inline std::filesystem::path store_dir(const std::filesystem::path& data_dir) { return data_dir / "store"; }
inline std::filesystem::path default_key_path(const std::filesystem::path& data_dir) {
  return data_dir / "identity.key";
}
// The node's own key for gossip sessions (its node id), made on first run.
// Separate from identity.key so a node id never reveals who publishes.
inline std::filesystem::path node_key_path(const std::filesystem::path& data_dir) { return data_dir / "node.key"; }

}  // namespace seedbank::node
