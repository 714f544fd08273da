// Community acts signed with a key of this node's user, shared by the
// command line (cli/community_commands.cpp) and the HTTP API (the gallery's
// forms): storing an image to share, signing a record into the index, and
// the local favourites and follows. Private to node/.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "seedbank/indexer/index.h"
#include "seedbank/node/store.h"
#include "seedbank/protocol/community_draft.h"
#include "seedbank/protocol/keys.h"
#include "seedbank/protocol/release.h"
#include "seedbank/protocol/result.h"

namespace seedbank::node {

// Reads an image's header and generation parameters and hashes it.
// Errors: not a PNG, JPEG or WebP; over kMaxBlobBytes (images shared this
// way travel over gossip).
protocol::Result<protocol::ReleaseImage> read_image(const std::filesystem::path& path);
// The same, then adds a copy to the store.
protocol::Result<protocol::ReleaseImage> store_image(ContentStore& store, const std::filesystem::path& path);

// Checks and signs a draft by `key` at `created_at_ms` (0: now), with the
// work stamp new keys need (protocol::kDefaultWorkBits), and stores it
// durably. A draft that fails protocol::check_draft, or a rejection (a
// retraction of another author's release, say) is an error.
protocol::Result<indexer::IngestOutcome> sign_and_ingest(indexer::Index& index, const protocol::SecretKey& key,
                                                         const protocol::CommunityDraft& draft,
                                                         std::uint64_t created_at_ms = 0);
std::uint64_t now_ms();

// Favourites (release ids, hex) and followed creators (sbpk1 keys): this
// node's own, never gossiped. Kept in <data dir>/local.json as
// {"favorites": [...], "follows": [...]}, which is also the export format.
struct LocalLists {
  std::vector<std::string> favorites, follows;
};
inline std::filesystem::path local_lists_path(const std::filesystem::path& data_dir) { return data_dir / "local.json"; }
// A missing file is two empty lists; entries that are not strings are
// skipped. Error: not a JSON object.
protocol::Result<LocalLists> read_local_lists(const std::filesystem::path& path);
protocol::Status write_local_lists(const std::filesystem::path& path, const LocalLists& lists);
// Adds or removes `value`; false when that changed nothing.
bool set_listed(std::vector<std::string>& list, const std::string& value, bool listed);

}  // namespace seedbank::node
