#include "client.h"

#include <boost/asio/io_context.hpp>

#include <iostream>
#include <thread>
#include <utility>

#include "control.h"
#include "seedbank/node/runtime.h"

namespace seedbank::node {
namespace {

namespace p = seedbank::protocol;
using Clock = std::chrono::steady_clock;

// Over <data dir>/control.sock.
class ControlClient final : public NodeClient {
 public:
  // `probe`: the status reply that showed the node is there, given as the
  // first status() answer rather than asked again.
  ControlClient(std::filesystem::path data_dir, nlohmann::json probe)
      : data_dir_(std::move(data_dir)), probe_(std::move(probe)) {}
  bool remote() const override { return true; }

  p::Result<StatusReply> status(bool with_peers) override {
    if (!probe_.is_null() && !with_peers) return parse_status_reply(std::exchange(probe_, nullptr));
    return call(StatusRequest{with_peers}, parse_status_reply);
  }
  p::Result<FetchReply> fetch(const FetchRequest& r) override { return call(r, parse_fetch_reply); }
  p::Result<TorrentStatus> torrent(const p::RecordId& release) override {
    return call(TorrentRequest{release}, parse_torrent_reply);
  }
  p::Result<QueryReply> query(const QueryRequest& r) override {
    // The node answers when its peers have: wait a little longer than it does.
    return call(r, parse_query_reply, r.timeout + std::chrono::seconds(5));
  }
  p::Result<PeersReply> peers() override { return call(PeersRequest{}, parse_peers_reply); }
  p::Status add_peer(const std::string& address) override {
    auto reply = control_request(data_dir_, request_json(AddPeerRequest{address}));
    if (!reply) return reply.error();
    return parse_ok_reply(*reply);
  }
  p::Result<AnnounceReply> announce(const AnnounceRequest& r) override { return call(r, parse_announce_reply); }
  void wait(std::chrono::milliseconds timeout) override { std::this_thread::sleep_for(timeout); }

 private:
  template <typename Parse>
  auto call(const ControlRequest& request, Parse parse, std::chrono::milliseconds timeout = std::chrono::seconds(60))
      -> decltype(parse(nlohmann::json())) {
    auto reply = control_request(data_dir_, request_json(request), timeout);
    if (!reply) return reply.error();
    return parse(*reply);
  }
  std::filesystem::path data_dir_;
  nlohmann::json probe_;
};

// Over a runtime on this thread: requests run on it directly, and waiting
// runs its loop.
class LocalClient final : public NodeClient {
 public:
  // `start` makes the runtime on first use, so a command that finds all it
  // needs locally never starts BitTorrent or gossip.
  LocalClient(std::function<p::Result<std::unique_ptr<NodeRuntime>>()> start, bool wait_for_peers)
      : start_(std::move(start)), wait_for_peers_(wait_for_peers) {}
  explicit LocalClient(NodeRuntime& runtime) : runtime_(&runtime) {}
  bool remote() const override { return false; }

  p::Result<StatusReply> status(bool with_peers) override {
    if (auto st = ready(false); !st) return st.error();
    return runtime_->status(with_peers);
  }
  p::Result<FetchReply> fetch(const FetchRequest& r) override {
    if (auto st = ready(true); !st) return st.error();
    // Sessions to the other known peers were dialled with the first one and
    // open within a few round trips: let them, so more peers are asked.
    if (!settled_ && runtime_->gossip_sessions() > 0) runtime_->run_for(std::chrono::milliseconds(50));
    settled_ = true;
    // Who seeds it: ask, and give the answers a moment to arrive, so the
    // torrent starts with peers rather than at the next swarm check.
    auto* gossip = runtime_->gossip();
    auto rec = runtime_->context().index->get(r.release);
    if (gossip && rec && gossip->open_sessions() > 0 && seeders_for(gossip, *rec).empty())
      runtime_->run_for(std::chrono::milliseconds(300), [&] { return !seeders_for(gossip, *rec).empty(); });
    return runtime_->fetch(r);
  }
  p::Result<TorrentStatus> torrent(const p::RecordId& release) override {
    if (auto st = ready(false); !st) return st.error();
    return runtime_->torrent(release);
  }
  p::Result<QueryReply> query(const QueryRequest& r) override {
    if (auto st = ready(true); !st) return st.error();
    // Shared: the answer may come after this call gave up waiting.
    auto answer = std::make_shared<std::optional<QueryReply>>();
    runtime_->query(r, [answer](QueryReply q) { *answer = q; });
    runtime_->run_for(r.timeout + std::chrono::seconds(1), [&] { return answer->has_value(); });
    if (!*answer) return p::make_error(p::ErrorCode::io, "peers did not answer the query in time");
    return **answer;
  }
  p::Result<PeersReply> peers() override {
    if (auto st = ready(false); !st) return st.error();
    return runtime_->peers();
  }
  p::Status add_peer(const std::string& address) override {
    if (auto st = ready(false); !st) return st.error();
    return runtime_->add_peer(address);
  }
  p::Result<AnnounceReply> announce(const AnnounceRequest& r) override {
    if (auto st = ready(false); !st) return st.error();
    return runtime_->announce(r);
  }
  void wait(std::chrono::milliseconds timeout) override {
    if (!runtime_) {
      std::this_thread::sleep_for(timeout);
      return;
    }
    runtime_->run_for(timeout);  // libtorrent's news is posted to the loop as it comes
  }

 private:
  // Starts the runtime on first use (gossip only, in the command role:
  // BitTorrent starts with the first fetch); with `peers`, also gives gossip
  // up to 5 s to open its first session (dialled at start) so that queries
  // and seeder look-ups have someone to ask.
  p::Status ready(bool peers) {
    if (!runtime_) {
      auto started = start_();
      if (!started) return started.error();
      owned_ = std::move(started).value();
      runtime_ = owned_.get();
    }
    if (peers && !waited_) {
      waited_ = true;
      if (wait_for_peers_)
        runtime_->run_for(std::chrono::seconds(5), [this] { return runtime_->gossip_sessions() > 0; });
      // No address known, or none answered: ask the DHT. Up to 30 s to
      // find a node, unless after 5 s the DHT has no node at all (no router
      // reachable: offline).
      if (runtime_->gossip_sessions() == 0 && runtime_->look_for_peers()) {
        auto start = std::chrono::steady_clock::now();
        runtime_->run_for(std::chrono::seconds(30), [this, start] {
          return runtime_->gossip_sessions() > 0 ||
                 (std::chrono::steady_clock::now() - start > std::chrono::seconds(5) && runtime_->dht_nodes() == 0);
        });
      }
    }
    return {};
  }

  std::function<p::Result<std::unique_ptr<NodeRuntime>>()> start_;
  std::unique_ptr<NodeRuntime> owned_;
  NodeRuntime* runtime_ = nullptr;
  bool wait_for_peers_ = false, waited_ = false, settled_ = false;
};

}  // namespace

p::Result<std::unique_ptr<NodeClient>> connect_to_node(const std::filesystem::path& data_dir) {
  // A socket file without a node behind it (one killed) is not a node.
  auto probe = control_request(data_dir, request_json(StatusRequest{}), std::chrono::seconds(10));
  if (!probe) return probe.error();
  return std::unique_ptr<NodeClient>(new ControlClient(data_dir, std::move(probe).value()));
}

p::Result<std::unique_ptr<NodeClient>> connect_or_start(NodeContext& node, const CommandNetworkOptions& options) {
  auto remote = connect_to_node(node.options.data_dir);
  if (remote) return std::move(remote).value();
  // A node that is there but does not answer (starting, busy) is not
  // replaced by a second one on the same data dir.
  if (remote.error().code != p::ErrorCode::not_found) return remote.error();
  // No node on this data dir: this command's own runtime, made on first use.
  node.options.torrents.listen = options.bt_listen;
  node.options.torrents.dht = options.dht;
  node.options.torrents.dht_bootstrap = options.dht_bootstrap;
  node.options.torrents.download_limit = options.download_limit;
  if (options.store_quota) node.options.torrents.store_quota = options.store_quota;
  node.options.http = "off";
  auto peers = bootstrap_peers(node.options.data_dir, options.bootstrap);
  if (!peers) return peers.error();
  node.options.gossip.bootstrap = std::move(peers).value();
  // peers.json exists after any earlier command; it may hold no address.
  std::error_code ec;
  auto saved = std::filesystem::file_size(node.options.data_dir / "peers.json", ec);
  bool candidates = !node.options.gossip.bootstrap.empty() || (!ec && saved > 4);
  NodeContext* n = &node;
  return std::unique_ptr<NodeClient>(
      new LocalClient([n] { return NodeRuntime::start(*n, RuntimeRole::command); }, candidates));
}

void announce_to_node(const std::filesystem::path& data_dir, std::vector<p::RecordId> ids) {
  // One attempt, no probe: a node that is not there costs one failed connect.
  (void)control_request(data_dir, request_json(AnnounceRequest{std::move(ids)}), std::chrono::seconds(30));
}

std::unique_ptr<NodeClient> in_process_client(NodeRuntime& runtime) {
  return std::unique_ptr<NodeClient>(new LocalClient(runtime));
}

}  // namespace seedbank::node
