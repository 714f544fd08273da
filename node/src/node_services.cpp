#include "node_services.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

namespace seedbank::node {

namespace p = seedbank::protocol;

NodeServices::NodeServices(boost::asio::io_context& io, indexer::Index& index, TorrentService& torrents,
                           GossipService* gossip, protocol::Log log,
                           std::function<void(const std::vector<p::RecordId>&)> announce_local)
    : io_(io),
      index_(index),
      torrents_(torrents),
      gossip_(gossip),
      log_(log.with_component("node")),
      announce_local_(std::move(announce_local)),
      stopped_(std::make_shared<std::atomic<bool>>()) {}

NodeServices::~NodeServices() { stop(); }

void NodeServices::stop() { stopped_->store(true); }

bool NodeServices::post(std::function<void()> job) {
  if (stopped_->load()) return false;  // nothing posted now would run
  boost::asio::post(io_, [this, job = std::move(job), stopped = stopped_] {
    if (stopped->load()) return;
    try {
      job();
    } catch (const std::exception& e) {  // a request must never stop the node
      log_.error(std::string("HTTP job failed: ") + e.what());
    }
  });
  return true;
}

p::Status NodeServices::take_fetch_budget(FetchFor why) {
  std::lock_guard lock(mutex_);
  auto& started = why == FetchFor::listing ? listing_fetches_ : http_fetches_;
  const std::size_t most = why == FetchFor::listing ? kListingFetchesPerMinute : kHttpFetchesPerMinute;
  auto now = std::chrono::steady_clock::now();
  while (!started.empty() && now - started.front() > std::chrono::minutes(1)) started.pop_front();
  if (started.size() >= most)
    return p::make_error(p::ErrorCode::limit, "this node started " + std::to_string(most) + " fetches for HTTP " +
                                                  (why == FetchFor::listing ? "listings" : "clients") +
                                                  " in the last minute; try again shortly");
  started.push_back(now);
  return {};
}

bool NodeServices::fetched_lately(const p::RecordId& id) const {
  std::lock_guard lock(mutex_);
  auto it = image_fetches_.find(id);
  return it != image_fetches_.end() && std::chrono::steady_clock::now() - it->second < kImageFetchInterval;
}

void NodeServices::mark_fetched(const p::RecordId& id) {
  std::lock_guard lock(mutex_);
  auto now = std::chrono::steady_clock::now();
  if (image_fetches_.size() > 10000)  // forget the expired ones only
    std::erase_if(image_fetches_, [&](const auto& e) { return now - e.second >= kImageFetchInterval; });
  image_fetches_[id] = now;
}

void NodeServices::fetch_release_images(const p::RecordId& release) {
  mark_fetched(release);
  post([this, release] {
    auto rec = index_.get(release);
    if (!rec) return;
    auto st = torrents_.fetch(*rec, true, seeders_for(gossip_, *rec));
    (void)st;  // shown by `seedbank status`; the gallery retries the image
  });
}

void NodeServices::fetch_image(const p::Sha256Digest& sha256, const p::RecordId& owner) {
  if (!gossip_) return;
  mark_fetched(owner);
  post([this, sha256, owner] { gossip_->fetch_blob(sha256, owner); });
}

std::shared_ptr<BodySource> NodeServices::stream_file(const p::RecordId& release, const std::string& name,
                                                      std::uint64_t size) {
  auto watch = std::make_shared<DownloadWatch>();
  // Starts the fetch without waiting; the first refresh reports how it went.
  post([this, watch, release, name] {
    auto rec = index_.get(release);
    TorrentService::FileProgress failed;
    if (!rec)
      failed.error = "the release left the index";
    else if (auto st = torrents_.fetch_files(*rec, {name}, seeders_for(gossip_, *rec)); !st)
      failed.error = st.error().message;
    std::lock_guard lock(watch->mutex);
    if (!failed.error.empty()) watch->progress = failed;
  });
  auto release_hex = p::to_hex(release);
  auto ask = [this, watch, release_hex, name] {
    bool posted = post([this, watch, release_hex, name] {
      std::uint64_t from = 0;
      {
        std::lock_guard lock(watch->mutex);
        if (watch->progress && !watch->progress->error.empty()) {  // the start failed: nothing to ask
          watch->asking = false;
          return;
        }
        from = watch->from;
      }
      auto now = torrents_.file_progress(release_hex, name, from);
      std::lock_guard lock(watch->mutex);
      watch->asking = false;
      if (watch->progress && !watch->progress->error.empty()) return;  // the start failed
      if (now) {
        watch->progress = std::move(now);
      } else if (watch->progress) {  // it was running: pruned since (retracted, denied, out of policy)
        watch->progress->error =
            "the download stopped: this node no longer keeps the release (retracted, denied or outside its "
            "content policy)";
      }
    });
    if (!posted) {
      std::lock_guard lock(watch->mutex);
      watch->progress = TorrentService::FileProgress{};
      watch->progress->error = "the node is shutting down";
    }
  };
  return std::make_shared<FileSource>(size, watch, ask);
}

void NodeServices::announce(std::vector<p::RecordId> ids) {
  if (!announce_local_) return;
  post([this, ids = std::move(ids)] { announce_local_(ids); });
}

void NodeServices::set_seeding(std::map<p::RecordId, Seeding> now) {
  std::lock_guard lock(mutex_);
  seeding_ = std::move(now);
}

std::optional<NodeServices::Seeding> NodeServices::seeding(const p::RecordId& release) const {
  std::lock_guard lock(mutex_);
  auto it = seeding_.find(release);
  if (it == seeding_.end()) return std::nullopt;
  return it->second;
}

std::uint32_t NodeServices::seeder_count(const p::Sha256Digest& info_hash) const {
  return gossip_ ? gossip_->seeder_count(info_hash) : 0;
}

std::vector<std::pair<p::Sha256Digest, std::uint32_t>> NodeServices::most_seeded(std::size_t n) const {
  if (!gossip_) return {};
  return gossip_->most_seeded(n);
}

bool NodeServices::fetching_image(const p::Sha256Digest& sha256) const {
  return gossip_ && gossip_->fetching_blob(sha256);
}

std::optional<p::RecordId> NodeServices::image_owner(const p::Sha256Digest& sha256) const {
  if (!gossip_) return std::nullopt;
  return gossip_->image_owner(sha256);
}

}  // namespace seedbank::node
