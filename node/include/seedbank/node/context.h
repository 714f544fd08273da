// NodeContext owns the parts of a running node; `seedbank node` builds one
// and tears it down in reverse order. No part reaches for globals: each gets
// what it needs from here.
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "seedbank/indexer/index.h"
#include "seedbank/node/config.h"
#include "seedbank/node/gossip.h"
#include "seedbank/node/store.h"
#include "seedbank/node/torrents.h"
#include "seedbank/protocol/result.h"

namespace boost::asio {
class io_context;
}

namespace seedbank::node {

struct NodeOptions {
  std::filesystem::path data_dir;
  std::string network = "main";
  TorrentOptions torrents;  // used by run_node; data_dir is filled in
  GossipOptions gossip;     // used by run_node; data_dir, network, bt_port filled in
  bool gossip_enabled = true;
  std::string http = "127.0.0.1:7480";  // web gallery and API; "off": none
  NodeConfig config;                    // <data dir>/config.json
  unsigned http_threads = 2;
};

struct NodeContext {
  NodeOptions options;
  std::unique_ptr<indexer::Index> index;
  std::unique_ptr<ContentStore> store;
  std::unique_ptr<TorrentService> torrents;  // started by run_node
  std::unique_ptr<GossipService> gossip;     // started by run_node
  // Hash queries to peers started through the control socket: id -> new
  // records received once finished.
  std::map<std::uint32_t, std::optional<std::size_t>> queries;
  std::uint32_t next_query = 1;
  std::string http_listen;  // where the gallery and API answer, once started

  // Opens (creating when missing) the data dir, the index and the store.
  static protocol::Result<std::unique_ptr<NodeContext>> open(const NodeOptions& options);
};

// Starts BitTorrent (seeding everything complete in the store) and the
// control socket, then runs `io` until SIGINT or SIGTERM; saves resume data
// and returns the exit code.
int run_node(NodeContext& node, boost::asio::io_context& io);

}  // namespace seedbank::node
