#include "seedbank/node/context.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <future>
#include <iostream>

#include "control.h"
#include "http/api.h"
#include "seedbank/node/data_dir.h"
#include "views.h"

namespace seedbank::node {

protocol::Result<std::unique_ptr<NodeContext>> NodeContext::open(const NodeOptions& options) {
  if (auto st = prepare_data_dir(options.data_dir); !st) return st.error();
  auto node = std::make_unique<NodeContext>();
  node->options = options;
  indexer::IndexOptions index_options;
  index_options.dir = index_dir(options.data_dir);
  index_options.network = options.network;
  auto index = indexer::Index::open(index_options);
  if (!index) return index.error();
  node->index = std::move(index).value();
  node->store = std::make_unique<ContentStore>(store_dir(options.data_dir));
  if (auto st = node->store->open(); !st) return st.error();
  return node;
}

namespace {

// Answers the CLI's requests (see control.h).
nlohmann::json handle_control(NodeContext& node, const nlohmann::json& req) {
  std::string cmd = req.value("cmd", "");
  if (cmd == "status") {
    nlohmann::json torrents = nlohmann::json::array();
    for (const auto& s : node.torrents->status()) torrents.push_back(torrent_status_json(s));
    auto stats = node.index->stats();
    return {{"network", node.options.network},
            {"btListen", node.torrents->listen_address()},
            {"gossipListen", node.gossip ? node.gossip->listen_address() : ""},
            {"httpListen", node.http_listen},
            {"gossipPeers", node.gossip ? node.gossip->peers().size() : 0},
            {"records", stats.records},
            {"releases", stats.by_kind[1]},
            {"torrents", torrents}};
  }
  if (cmd == "fetch") {
    auto id = protocol::from_hex_fixed<32>(req.value("release", ""));
    if (!id) return {{"error", "fetch needs a release id"}};
    auto rec = node.index->get(*id);
    if (!rec) return {{"error", rec.error().message}};
    std::vector<std::string> peers = req.value("peers", std::vector<std::string>{});
    for (auto& seeder : seeders_for(node.gossip.get(), *rec)) peers.push_back(seeder);
    std::vector<std::string> files = req.value("files", std::vector<std::string>{});
    auto st = files.empty() ? node.torrents->fetch(*rec, req.value("imagesOnly", false), peers)
                            : node.torrents->fetch_files(*rec, files, peers);
    if (!st) return {{"error", st.error().message}};
    return {{"ok", true}};
  }
  if (cmd == "torrent") {
    auto s = node.torrents->status_of(req.value("release", ""));
    if (!s) return {{"error", "not loaded"}};
    return torrent_status_json(*s);
  }
  if (cmd == "rescan") {
    if (node.gossip) node.gossip->scan_local();
    return {{"added", node.torrents->seed_all()}};
  }
  if (cmd == "peers") {
    nlohmann::json peers = nlohmann::json::array();
    if (node.gossip)
      for (const auto& p : node.gossip->peers())
        peers.push_back({{"address", p.address},
                         {"nodeId", p.node_id},
                         {"outbound", p.outbound},
                         {"state", p.state},
                         {"agent", p.agent},
                         {"version", p.version},
                         {"features", p.features},
                         {"gossipPort", p.gossip_port},
                         {"btPort", p.bt_port},
                         {"bytesIn", p.bytes_in},
                         {"bytesOut", p.bytes_out},
                         {"recordsIn", p.records_in},
                         {"recordsOut", p.records_out},
                         {"connectedSeconds", p.connected_seconds}});
    nlohmann::json out = {{"peers", peers}};
    if (node.gossip) {
      auto st = node.gossip->stats();
      out["nodeId"] = node.gossip->node_id();
      out["listen"] = node.gossip->listen_address();
      out["recordsReceived"] = st.records_received;
      out["bans"] = st.bans;
      out["reconciliations"] = st.reconciliations;
    }
    return out;
  }
  if (cmd == "query") {
    // Asks every peer about a hash; the answer comes with "query-status".
    if (!node.gossip) return {{"error", "gossip is off on this node"}};
    auto id = node.next_query++;
    if (node.queries.size() > 1000) node.queries.clear();
    node.queries[id] = std::nullopt;
    int wait_ms = std::clamp(req.value("timeoutMs", 5000), 100, 60000);
    node.gossip->query(req.value("hash", ""), std::chrono::milliseconds(wait_ms),
                       [&node, id](std::size_t received) { node.queries[id] = received; });
    return {{"queryId", id}, {"peers", node.gossip->open_sessions()}};
  }
  if (cmd == "query-status") {
    auto it = node.queries.find(req.value("queryId", 0u));
    if (it == node.queries.end()) return {{"error", "no such query"}};
    if (!it->second) return {{"done", false}};
    nlohmann::json out = {{"done", true}, {"received", *it->second}};
    node.queries.erase(it);
    return out;
  }
  if (cmd == "add-peer") {
    if (!node.gossip) return {{"error", "gossip is off on this node"}};
    node.gossip->add_peer(req.value("address", ""));
    return {{"ok", true}};
  }
  return {{"error", "unknown command '" + cmd + "'"}};
}

// Tells peers which releases this node seeds, and hands downloading
// torrents the BitTorrent addresses of peers that seed them.
void share_swarms(NodeContext& node) {
  std::vector<protocol::Sha256Digest> seeding;
  for (const auto& s : node.torrents->status()) {
    auto ih = protocol::from_hex_fixed<32>(s.info_hash);
    if (!ih) continue;
    if (s.all_stored) {
      seeding.push_back(*ih);
    } else if (!s.complete && s.peers == 0) {
      node.gossip->ask_seeders(*ih);
      auto seeders = node.gossip->seeders_of(*ih);
      if (!seeders.empty()) node.torrents->add_peers(s.release_id, seeders);
    }
  }
  node.gossip->set_seeding(std::move(seeding));
}

}  // namespace

int run_node(NodeContext& node, boost::asio::io_context& io) {
  TorrentOptions topts = node.options.torrents;
  topts.data_dir = node.options.data_dir;
  if (topts.store_quota == 0) topts.store_quota = node.options.config.store_quota;
  auto torrents = TorrentService::start(topts, *node.index, *node.store);
  if (!torrents) {
    std::cerr << "seedbank node: " << torrents.error().message << "\n";
    return 1;
  }
  node.torrents = std::move(torrents).value();
  auto control = ControlServer::start(io, control_socket_path(node.options.data_dir),
                                      [&node](const nlohmann::json& req) { return handle_control(node, req); });
  if (!control) {
    std::cerr << "seedbank node: " << control.error().message << "\n";
    return 1;
  }
  // Retracted, denied and out-of-policy releases are neither seeded nor fetched.
  node.torrents->set_filter(
      [&node](const protocol::Record& rec) { return node.options.config.refuses(rec, *node.index); });
  std::size_t seeding = node.torrents->seed_all();
  if (node.options.gossip_enabled) {
    auto key = load_or_create_node_key(node.options.data_dir);
    if (!key) {
      std::cerr << "seedbank node: " << key.error().message << "\n";
      return 1;
    }
    GossipOptions gopts = node.options.gossip;
    gopts.data_dir = node.options.data_dir;
    if (node.options.config.new_key_work_bits)
      gopts.admission.new_key_work_bits = *node.options.config.new_key_work_bits;
    if (node.options.config.per_author_per_hour)
      gopts.admission.per_author_per_hour = *node.options.config.per_author_per_hour;
    gopts.network = node.options.network;
    gopts.store = node.store.get();
    gopts.store_quota = topts.store_quota;
    gopts.image_policy = [&node](const protocol::Record& owner, const protocol::Sha256Digest& sha256) {
      return node.options.config.refuses_image(owner, sha256, *node.index);
    };
    auto bt = node.torrents->listen_address();
    gopts.bt_port = static_cast<std::uint16_t>(std::atoi(bt.c_str() + bt.rfind(':') + 1));
    auto gossip = GossipService::start(io, gopts, *node.index, *key);
    if (!gossip) {
      std::cerr << "seedbank node: " << gossip.error().message << "\n";
      return 1;
    }
    node.gossip = std::move(gossip).value();
  }
  // The gallery and API: their own threads; BitTorrent is reached
  // through jobs posted to this thread.
  std::unique_ptr<Api> api;
  std::unique_ptr<HttpServer> http;
  auto stopping = std::make_shared<std::atomic<bool>>(false);
  if (node.options.http != "off") {
    NodeLink link;
    link.torrents = node.torrents.get();
    link.gossip = node.gossip.get();
    link.run = [&io, stopping](std::function<void()> job, std::chrono::milliseconds timeout) {
      if (stopping->load()) return false;  // nothing posted now would run
      auto done = std::make_shared<std::promise<void>>();
      auto ran = done->get_future();
      boost::asio::post(io, [job = std::move(job), done] {
        try {
          job();
        } catch (const std::exception& e) {  // a request must never stop the node
          std::cerr << "seedbank node: HTTP job failed: " << e.what() << "\n";
        }
        done->set_value();
      });
      return timeout.count() == 0 || ran.wait_for(timeout) == std::future_status::ready;
    };
    api = std::make_unique<Api>(*node.index, *node.store, node.options.data_dir, std::move(link), node.options.config);
    api->set_listen_address(node.options.http);
    HttpOptions hopts;
    hopts.listen = node.options.http;
    hopts.threads = node.options.http_threads;
    auto server = HttpServer::start(hopts, [a = api.get()](const HttpRequest& r) { return a->handle(r); });
    if (!server) {
      std::cerr << "seedbank node: " << server.error().message << "\n";
      return 1;
    }
    http = std::move(server).value();
    node.http_listen = http->listen_address();
    api->set_listen_address(node.http_listen);
  }
  // libtorrent's news (a piece to verify, a file to move) is handled at
  // once, not at the next 100 ms tick.
  node.torrents->set_notify([&io, &node] {
    boost::asio::post(io, [&node] {
      if (node.torrents) node.torrents->poll();
    });
  });
  auto stats = node.index->stats();
  std::cerr << "seedbank node: data dir " << node.options.data_dir.string() << ", network '" << node.options.network
            << "', " << stats.records << " records (" << stats.by_kind[1] << " releases)\n"
            << "seedbank node: BitTorrent on " << node.torrents->listen_address() << ", seeding " << seeding
            << " releases\n";
  if (node.gossip)
    std::cerr << "seedbank node: gossip on "
              << (node.gossip->listen_address().empty() ? std::string("(not listening)")
                                                        : node.gossip->listen_address())
              << ", node id " << node.gossip->node_id() << "\n";
  if (http) std::cerr << "seedbank node: web gallery and API on http://" << http->listen_address() << "/\n";
  std::cerr << "seedbank node: running; press Ctrl-C to stop\n";

  // Alerts every 100 ms; new releases (published by another process on
  // this data dir) picked up within 2 s.
  boost::asio::steady_timer poll_timer(io);
  std::uint64_t known_records = stats.records;
  int ticks = 0;
  std::function<void()> poll = [&] {
    node.torrents->poll();
    if (++ticks % 20 == 0) {
      auto now = node.index->stats().records;
      if (now != known_records) {
        known_records = now;
        // A retraction or deny-list may have arrived: stop seeding those.
        if (auto dropped = node.torrents->prune())
          std::cerr << "seedbank node: stopped seeding " << dropped
                    << " releases (retracted, denied or out of policy)\n";
        node.torrents->seed_all();
        if (node.gossip) node.gossip->scan_local();
      }
      if (node.gossip) share_swarms(node);
    }
    poll_timer.expires_after(std::chrono::milliseconds(100));
    poll_timer.async_wait([&](const boost::system::error_code& ec) {
      if (!ec) poll();
    });
  };
  poll();

  boost::asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code& ec, int signal) {
    if (!ec) std::cerr << "seedbank node: signal " << signal << ", shutting down\n";
    stopping->store(true);
    io.stop();
  });
  io.run();
  http.reset();  // its threads may wait on jobs for this thread: stop them first
  api.reset();
  control->reset();
  node.gossip.reset();
  node.torrents->set_notify({});
  node.torrents->save_state();
  node.torrents.reset();
  std::cerr << "seedbank node: stopped\n";
  return 0;
}

}  // namespace seedbank::node
