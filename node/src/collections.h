// Collections (schema Collection): a user's signed, replaceable list of
// releases and images. What the command line (cli/collection_commands.cpp)
// and the HTTP API (http/api_collections.cpp) build and show alike.
// Private to node/.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "seedbank/indexer/index.h"
#include "seedbank/node/config.h"
#include "seedbank/protocol/community_draft.h"
#include "seedbank/protocol/keys.h"
#include "seedbank/protocol/result.h"

namespace seedbank::node {

// What a user asks of one of their collections: what is not set stays as
// it is now. A collection that does not exist yet needs a name.
struct CollectionRequest {
  std::string slug;
  std::optional<std::string> name, description;
  std::optional<std::vector<protocol::CollectionItemDraft>> items;  // the whole new list
  std::vector<protocol::CollectionItemDraft> add;                   // appended; one listed already keeps its place
  std::vector<indexer::Subject> remove;
  bool deleted = false;  // withdraw it: the rest is ignored
  bool create = false;   // only a new one: error conflict when the slug has a current record (a deletion too)
};

// The draft `author` signs: the author's current collection of that slug
// (if any) with the request applied, and the earliest createdAt that
// replaces it (sign at max(now, that)). New items must be shown here
// (NodeConfig::refuses_subject); items already listed stay even when this
// node leaves them out. Errors: invalid_argument (a bad slug, no name for
// a new collection, a request that changes nothing, over the limits),
// not_found (removing or deleting what is not there), refused (an item
// this node does not show, with why).
struct CollectionChange {
  protocol::CollectionDraft draft;
  std::uint64_t not_before_ms = 0;
};
protocol::Result<CollectionChange> collection_change(const indexer::Index& index, const NodeConfig& config,
                                                     const protocol::PublicKey& author,
                                                     const CollectionRequest& request);

// Why this node leaves a collection record out (not a collection, a
// deletion, replaced by a newer one of its author, its key revoked, it or
// its author on a deny-list this node follows), or nullopt when it shows it.
std::optional<std::string> refuses_collection(const indexer::Index& index, const NodeConfig& config,
                                              const protocol::Record& collection);

// One item of a collection as this node shows it: the release (as its
// author's update shows it), and for an image the sample image's index in
// the shown release or the post.
struct ShownItem {
  protocol::CollectionItemDraft item;
  protocol::Record release;              // shown (Index::shown)
  std::optional<unsigned> image;         // index into the shown release's images
  std::optional<protocol::Record> post;  // an image post
  bool is_image() const { return image || post; }
};
// Calls `visit` with each item this node shows, in the collection's
// order, among the first `limit` items listed (those refused here,
// NodeConfig::refuses_subject, or whose image the release no longer shows,
// are left out), until it returns false. An item and its records live only
// during its call: a page holds what it keeps, not the collection's
// releases. Returns how many items were shown.
inline constexpr std::size_t kMaxShownItems = 1000;  // a collection's most items (schema limit)
// The most of one author's collections a listing reads (in the order of
// their slugs' SHA-256, then sorted newest first).
inline constexpr std::size_t kMaxAuthorCollections = 1000;
std::size_t for_each_shown_item(const indexer::Index& index, const NodeConfig& config,
                                const protocol::Record& collection, std::size_t limit,
                                const std::function<bool(const ShownItem&)>& visit);

// A collection's number in the API (numeric_id of its collection_key).
std::uint64_t collection_number(const protocol::Record& collection);

}  // namespace seedbank::node
