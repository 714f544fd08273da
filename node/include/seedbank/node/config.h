// A node's own choices, in <data dir>/config.json: whose deny-lists it
// follows and which content it stores, seeds and shows. Every key is
// optional; a missing file means the defaults (follow no one, keep
// everything). docs/user-guide.md ("Trust and moderation") documents it.
//
//   {
//     "denyListCurators": ["sbpk1..."],
//     "policy": {"types": ["Checkpoint", "LORA"], "nsfw": false, "mirrors": "followed"},
//     "storeQuota": 500000000000,
//     "indexSize": 137438953472,
//     "spam": {"newKeyWorkBits": 10, "perAuthorPerHour": 10000}
//   }
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "seedbank/protocol/community_draft.h"
#include "seedbank/protocol/keys.h"
#include "seedbank/protocol/record.h"
#include "seedbank/protocol/result.h"

namespace seedbank::indexer {
class Index;
}

namespace seedbank::node {

// The size limits an index may be given (--index-size, indexSize): the
// largest is what a 47-bit address space can map, with room to spare.
inline constexpr std::uint64_t kMinIndexSize = 1u << 20;
inline constexpr std::uint64_t kMaxIndexSize = 1ull << 46;

struct NodeConfig {
  std::vector<protocol::PublicKey> deny_curators;  // their current deny-lists apply here
  std::vector<std::uint16_t> types;                // schema::ModelType values kept; empty: all
  bool nsfw = true;                                // keep releases marked NSFW
  // Mirrors (releases carrying an origin: files first published elsewhere,
  // signed by whoever mirrored them): "all", "none", or "followed" (only
  // mirrors signed by a key in local.json's follows, as read at start).
  enum class Mirrors { all, none, followed } mirrors = Mirrors::all;
  std::vector<protocol::PublicKey> followed;  // for Mirrors::followed (NodeContext::open reads local.json)
  std::uint64_t store_quota = 0;              // bytes; 0: no limit (--store-quota wins)
  std::uint64_t index_size = 0;               // the index's size limit, bytes; 0: 64 GiB (--index-size wins)
  // "spam": {"newKeyWorkBits": N, "perAuthorPerHour": N, "socialWorkBits":
  // N, "socialPerHour": N}; unset: the gossip defaults (kDefaultNewKeyWorkBits,
  // kDefaultPerAuthorPerHour, kDefaultSocialWorkBits, kDefaultSocialPerHour).
  std::optional<std::uint32_t> new_key_work_bits;
  std::optional<std::uint32_t> per_author_per_hour;
  std::optional<std::uint32_t> social_work_bits;
  std::optional<std::uint32_t> social_per_hour;

  // Why this node does not keep `release` (retracted, denied, outside the
  // policy, signed by a revoked key), or nullopt when it does.
  std::optional<std::string> refuses(const protocol::Record& release, const indexer::Index& index) const;
  // The same for an image that `owner` names (a release's sample image, an
  // image post's image, a profile's avatar): also when `owner` does not
  // name it, or the post's release is refused or unknown.
  std::optional<std::string> refuses_image(const protocol::Record& owner, const protocol::Sha256Digest& sha256,
                                           const indexer::Index& index) const;
  // The same for what a reaction or comment is about: the release, and the
  // sample image or image post named (which must be of that release).
  std::optional<std::string> refuses_subject(const protocol::SubjectDraft& subject, const indexer::Index& index) const;
  // An image's level as this node shows it (protocol::NsfwLevel): its
  // record's (at least R in a release marked NSFW, or posted about one),
  // raised by the lists of the curators it follows (schema CuratedLevel).
  std::uint8_t image_level(schema::SampleImage::Reader image, schema::Release::Reader release,
                           const indexer::Index& index) const;
  // Whether a comment (one version of it) is left out: its author or the
  // comment's record id is on a deny-list this node follows, or its key is
  // revoked. Its subject is refuses_subject's.
  std::optional<std::string> refuses_comment(const protocol::Record& comment, const indexer::Index& index) const;
};

inline std::filesystem::path config_path(const std::filesystem::path& data_dir) { return data_dir / "config.json"; }

// Reads the config; defaults when the file does not exist. Errors name the
// file, the key and what it should be (malformed, invalid_argument).
protocol::Result<NodeConfig> load_node_config(const std::filesystem::path& path);

}  // namespace seedbank::node
