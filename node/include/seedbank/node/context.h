// NodeContext: a node's data dir opened: its options, index and content
// store. Every command that reads or writes the data dir opens one; the
// network parts of a running node (BitTorrent, gossip, HTTP, control
// socket) belong to the NodeRuntime built over it (runtime.h). No part
// reaches for globals: each gets what it needs from here.
#pragma once

#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "seedbank/indexer/index.h"
#include "seedbank/node/config.h"
#include "seedbank/node/gossip.h"
#include "seedbank/node/store.h"
#include "seedbank/node/torrents.h"
#include "seedbank/protocol/log.h"
#include "seedbank/protocol/result.h"

namespace seedbank::node {

struct NodeOptions {
  std::filesystem::path data_dir;
  std::string network = "main";
  // The index's size limit in bytes (LMDB's map; the file grows as needed
  // up to it). 0: config.indexSize, else 64 GiB.
  std::uint64_t index_size = 0;
  TorrentOptions torrents;  // used by NodeRuntime; data_dir is filled in
  GossipOptions gossip;     // used by NodeRuntime; data_dir, network, bt_port filled in
  bool gossip_enabled = true;
  // LAN beacons (discovery.h): a multicast group or broadcast address,
  // HOST:PORT; empty: off.
  std::string lan_beacon;
  std::string http = "127.0.0.1:7480";  // web gallery and API; "off": none
  NodeConfig config;                    // <data dir>/config.json
  // Where `config` was read from (node --config), read again when the
  // index fills; empty: <data dir>/config.json.
  std::filesystem::path config_file;
  unsigned http_threads = 2;
  // Serve the gallery's files from this folder (node/web/ of a checkout)
  // instead of the copy compiled in, so edits show on reload. Empty: the
  // compiled-in copy.
  std::filesystem::path web_dir;
  protocol::Log log;  // the node console (stderr, info and above, unless the caller picks)
};

struct NodeContext {
  NodeOptions options;
  std::unique_ptr<indexer::Index> index;
  std::unique_ptr<ContentStore> store;

  // Opens (creating when missing) the data dir, the index and the store.
  static protocol::Result<std::unique_ptr<NodeContext>> open(const NodeOptions& options);
};

}  // namespace seedbank::node
