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
#include "seedbank/node/config.h"
#include "seedbank/node/store.h"
#include "seedbank/protocol/community_draft.h"
#include "seedbank/protocol/keys.h"
#include "seedbank/protocol/release.h"
#include "seedbank/protocol/result.h"

namespace seedbank::node {

// Reads an image's (or short video's) header and generation parameters
// and hashes it. Errors: not a PNG, JPEG or WebP image nor an MP4 or WebM
// video; over kMaxBlobBytes (images and videos shared this way travel over
// gossip).
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

// ---- release updates: what a release's page shows, changed by its author ----

// What the author changes; what is not set stays as shown now.
struct UpdateRequest {
  std::optional<std::string> model_description, description;
  std::optional<std::vector<std::string>> tags, trigger_words;
  std::optional<bool> nsfw;
  std::vector<std::pair<protocol::Sha256Digest, std::uint8_t>> image_levels;  // an image's new NSFW level
  std::vector<protocol::Sha256Digest> hidden_images;                          // images no longer shown
  std::vector<protocol::Sha256Digest> shown_images;                           // shown again (at the end)
};
// The update `signer` signs for `release` (the signed record): the release
// as shown now with the request applied. Errors: refused (`signer` did not
// sign the release), invalid_argument (an image the release does not have,
// a request that changes nothing, a field over its limit).
protocol::Result<protocol::ReleaseUpdateDraft> update_draft(const indexer::Index& index,
                                                            const protocol::Record& release,
                                                            const protocol::PublicKey& signer,
                                                            const UpdateRequest& request);

// ---- comments: the command line and the HTTP API build and show them alike ----

// What a user asks: a comment on `subject`, or a reply (parent: a
// top-level comment as first written); or, with `edits`, new text for one
// of their comments, or (deleted) its withdrawal.
struct CommentRequest {
  std::optional<indexer::Subject> subject;  // not for edits: they keep their comment's
  std::optional<protocol::RecordId> parent, edits;
  std::string text;
  bool deleted = false;
};
// The draft `author` signs for `request`, checked against what this node
// holds. Errors: not_found (no such release, image, post or comment here),
// refused (an edit of someone else's comment; a subject this node leaves
// out), invalid_argument (a reply to a reply, a parent about something
// else, empty or oversized text).
protocol::Result<protocol::CommentDraft> comment_draft(const indexer::Index& index, const NodeConfig& config,
                                                       const protocol::PublicKey& author,
                                                       const CommentRequest& request);

// Whether a comment is left out here: a deny-list names its author or its
// record id, or its key is revoked.
bool hidden_comment(const indexer::Index& index, const NodeConfig& config, const protocol::Record& original);
// The author's current edit of a comment first written as `original`, when
// one is shown: it keeps the comment's subject and parent and is not
// hidden. nullopt: the original is shown.
std::optional<protocol::Record> current_edit(const indexer::Index& index, const NodeConfig& config,
                                             const protocol::Record& original);

struct CommentView {
  protocol::Record original;
  std::optional<protocol::Record> edit;  // shown instead of the original
  std::vector<CommentView> replies;      // the first ones, oldest first, none deleted
  bool more_replies = false;             // the rest: replies_page
  const protocol::Record& shown() const { return edit ? *edit : original; }
  bool deleted() const { return shown().body().getPayload().getComment().getDeleted(); }
};
// A position in a list of comments (or collections) as text (80 hex
// digits) and back.
std::string comment_cursor(const indexer::FeedEntry& position);
std::optional<indexer::FeedEntry> parse_comment_cursor(std::string_view text);

inline constexpr std::size_t kInlineReplies = 20;  // replies shown under a comment in a page
// Up to `limit` top-level comments on `subject`, newest first, from the one
// after `before` (exclusive; nullopt: the newest), each with its first
// replies. Hidden comments, and deleted ones without replies, are skipped;
// a page looks at a bounded number of records. `before` becomes the
// position to go on from, or nullopt at the end.
std::vector<CommentView> comment_page(const indexer::Index& index, const NodeConfig& config,
                                      const indexer::Subject& subject, std::optional<indexer::FeedEntry>& before,
                                      std::size_t limit);
// Replies to one top-level comment, oldest first, from the one after
// `after`; the same rules.
std::vector<CommentView> replies_page(const indexer::Index& index, const NodeConfig& config,
                                      const indexer::Subject& subject, const protocol::RecordId& parent,
                                      std::optional<indexer::FeedEntry>& after, std::size_t limit);

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
