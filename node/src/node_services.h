// NodeServices: what the HTTP side may ask of the running node, as typed
// calls. Owned by the NodeRuntime; every method is thread-safe and returns
// at once: work on BitTorrent or gossip is posted to the node's thread
// (which alone touches them), and facts the HTTP side reads are copies.
// The fetch policy for HTTP clients lives here too: how often one release's
// or record's images are fetched again, and how many fetches HTTP clients
// may start a minute. Private to node/.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "http/file_source.h"
#include "seedbank/indexer/index.h"
#include "seedbank/node/gossip.h"
#include "seedbank/node/torrents.h"
#include "seedbank/protocol/log.h"
#include "seedbank/protocol/result.h"

namespace boost::asio {
class io_context;
}

namespace seedbank::node {

inline constexpr auto kImageFetchInterval = std::chrono::seconds(30);  // per release or record
inline constexpr std::size_t kHttpFetchesPerMinute = 30;               // fetches HTTP clients may start
inline constexpr std::size_t kListingFetchesPerMinute = 20;            // image fetches listings may start

// Who starts a fetch for an HTTP client: a request for the thing itself
// (a download, an image, a lookup of one version), or a listing's
// look-ahead for the images its items show. Each has its own budget, so
// browsing listings never spends what a client's own requests need.
enum class FetchFor { request, listing };

class NodeServices {
 public:
  // `gossip` may be null (gossip off). The references outlive this.
  // `announce_local` runs on the node's thread with the ids of records the
  // HTTP side stored (the runtime seeds, prunes and announces them).
  NodeServices(boost::asio::io_context& io, indexer::Index& index, TorrentService& torrents, GossipService* gossip,
               protocol::Log log, std::function<void(const std::vector<protocol::RecordId>&)> announce_local);
  ~NodeServices();
  NodeServices(const NodeServices&) = delete;
  NodeServices& operator=(const NodeServices&) = delete;

  // From now on nothing is posted (the node's loop has stopped); streams
  // report that the node is shutting down.
  void stop();
  bool has_gossip() const { return gossip_ != nullptr; }

  // One more fetch an HTTP client starts, within kHttpFetchesPerMinute
  // (kListingFetchesPerMinute for a listing's). Error limit, saying when
  // to try again, when over it.
  protocol::Status take_fetch_budget(FetchFor why = FetchFor::request);
  // Whether the images of a release or record were asked for within
  // kImageFetchInterval (then a new request does not ask again).
  bool fetched_lately(const protocol::RecordId& id) const;
  // Starts an images-only fetch of `release` (its sample images). Does not wait.
  void fetch_release_images(const protocol::RecordId& release);
  // Fetches over gossip the image `sha256` that record `owner` names (a
  // post's image, an avatar). Does not wait.
  void fetch_image(const protocol::Sha256Digest& sha256, const protocol::RecordId& owner);
  // Starts fetching one file of `release` (in piece order) and returns a
  // body that streams it as its pieces pass their checks.
  std::shared_ptr<BodySource> stream_file(const protocol::RecordId& release, const std::string& name,
                                          std::uint64_t size);
  // Records the HTTP side stored (a rating, a post, a retraction): acted on
  // and announced to peers now.
  void announce(std::vector<protocol::RecordId> ids);

  // What this node's BitTorrent session holds of a release, as the runtime
  // last looked (every few seconds; set_seeding replaces the whole view).
  struct Seeding {
    std::string state;  // libtorrent's: "seeding", "downloading", "checking", ...
    int files = 0;      // the release's files this node wants
    int stored = 0;     // of them, in the store or shared in place
    bool all_stored = false;
    std::uint64_t uploaded = 0;  // payload bytes sent since the node started
    int peers = 0;
  };
  void set_seeding(std::map<protocol::RecordId, Seeding> now);
  std::optional<Seeding> seeding(const protocol::RecordId& release) const;

  // Gossip facts, from the summaries gossip keeps for other threads.
  std::uint32_t seeder_count(const protocol::Sha256Digest& info_hash) const;
  std::vector<std::pair<protocol::Sha256Digest, std::uint32_t>> most_seeded(std::size_t n) const;
  bool fetching_image(const protocol::Sha256Digest& sha256) const;
  std::optional<protocol::RecordId> image_owner(const protocol::Sha256Digest& sha256) const;

 private:
  bool post(std::function<void()> job);
  void mark_fetched(const protocol::RecordId& id);

  boost::asio::io_context& io_;
  indexer::Index& index_;
  TorrentService& torrents_;
  GossipService* gossip_;
  protocol::Log log_;
  std::function<void(const std::vector<protocol::RecordId>&)> announce_local_;
  std::shared_ptr<std::atomic<bool>> stopped_;
  mutable std::mutex mutex_;  // guards what follows
  std::map<protocol::RecordId, std::chrono::steady_clock::time_point> image_fetches_;
  std::map<protocol::RecordId, Seeding> seeding_;
  std::deque<std::chrono::steady_clock::time_point> http_fetches_;
  std::deque<std::chrono::steady_clock::time_point> listing_fetches_;
};

}  // namespace seedbank::node
