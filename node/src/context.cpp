#include "seedbank/node/context.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>

#include <iostream>

#include "control.h"
#include "views.h"
#include "seedbank/node/data_dir.h"

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
    return {{"network", node.options.network}, {"btListen", node.torrents->listen_address()},
            {"records", stats.records},        {"releases", stats.by_kind[1]},
            {"torrents", torrents}};
  }
  if (cmd == "fetch") {
    auto id = protocol::from_hex_fixed<32>(req.value("release", ""));
    if (!id) return {{"error", "fetch needs a release id"}};
    auto rec = node.index->get(*id);
    if (!rec) return {{"error", rec.error().message}};
    std::vector<std::string> peers = req.value("peers", std::vector<std::string>{});
    if (auto st = node.torrents->fetch(*rec, req.value("imagesOnly", false), peers); !st)
      return {{"error", st.error().message}};
    return {{"ok", true}};
  }
  if (cmd == "torrent") {
    auto s = node.torrents->status_of(req.value("release", ""));
    if (!s) return {{"error", "not loaded"}};
    return torrent_status_json(*s);
  }
  if (cmd == "rescan") return {{"added", node.torrents->seed_all()}};
  return {{"error", "unknown command '" + cmd + "'"}};
}

}  // namespace

int run_node(NodeContext& node, boost::asio::io_context& io) {
  TorrentOptions topts = node.options.torrents;
  topts.data_dir = node.options.data_dir;
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
  std::size_t seeding = node.torrents->seed_all();
  auto stats = node.index->stats();
  std::cerr << "seedbank node: data dir " << node.options.data_dir.string() << ", network '" << node.options.network
            << "', " << stats.records << " records (" << stats.by_kind[1] << " releases)\n"
            << "seedbank node: BitTorrent on " << node.torrents->listen_address() << ", seeding " << seeding
            << " releases\n"
            << "seedbank node: running; press Ctrl-C to stop\n";

  // Alerts every 100 ms; new releases (published by another process on
  // this data dir) picked up within 2 s.
  boost::asio::steady_timer poll_timer(io);
  std::uint64_t known_releases = stats.by_kind[1];
  int ticks = 0;
  std::function<void()> poll = [&] {
    node.torrents->poll();
    if (++ticks % 20 == 0) {
      auto now = node.index->stats().by_kind[1];
      if (now != known_releases) {
        known_releases = now;
        node.torrents->seed_all();
      }
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
    io.stop();
  });
  io.run();
  control->reset();
  node.torrents->save_state();
  node.torrents.reset();
  std::cerr << "seedbank node: stopped\n";
  return 0;
}

}  // namespace seedbank::node
