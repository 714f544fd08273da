// NodeClient: how a command talks to a node. Two implementations behind one
// interface: over the control socket to a node running on the data dir, or
// in process over a NodeRuntime the command starts for itself (command
// role: no fixed ports, no HTTP, no control socket). Requests that wait (a
// query) block until answered or timed out; nothing polls. Private to node/.
//
// Not thread-safe: one client per command thread.
#pragma once

#include <chrono>
#include <filesystem>
#include <memory>

#include "control_protocol.h"
#include "seedbank/node/context.h"

namespace seedbank::node {

class NodeRuntime;

class NodeClient {
 public:
  virtual ~NodeClient() = default;
  // Whether a separate node process answers (false: this command's own).
  virtual bool remote() const = 0;
  virtual protocol::Result<StatusReply> status(bool with_peers = false) = 0;
  virtual protocol::Result<FetchReply> fetch(const FetchRequest& request) = 0;
  // Error not_found when the release is not loaded.
  virtual protocol::Result<TorrentStatus> torrent(const protocol::RecordId& release) = 0;
  virtual protocol::Result<QueryReply> query(const QueryRequest& request) = 0;
  virtual protocol::Result<PeersReply> peers() = 0;
  virtual protocol::Status add_peer(const std::string& address) = 0;
  virtual protocol::Result<AnnounceReply> announce(const AnnounceRequest& request) = 0;
  // Lets time pass for up to `timeout` while the node works on a fetch
  // (in process: runs the runtime's loop; remote: sleeps).
  virtual void wait(std::chrono::milliseconds timeout) = 0;
};

// The client of the node running on `data_dir`; error not_found when none is.
protocol::Result<std::unique_ptr<NodeClient>> connect_to_node(const std::filesystem::path& data_dir);

// What a command-role runtime needs beyond the data dir.
struct CommandNetworkOptions {
  std::string bt_listen = "0.0.0.0:0";
  bool dht = true;
  std::vector<std::string> dht_bootstrap;  // DHT routers; empty: the public ones
  std::uint64_t download_limit = 0;
  std::uint64_t store_quota = 0;       // 0: config.json's
  std::vector<std::string> bootstrap;  // gossip HOST:PORT or list files; empty: bootstrap.txt, peers.json
};

// The running node's client, or else a runtime started in this process for
// the command's lifetime (its BitTorrent and gossip sessions stop, saving
// resume data, when the client is destroyed).
protocol::Result<std::unique_ptr<NodeClient>> connect_or_start(NodeContext& node, const CommandNetworkOptions& options);

// Tells the node running on `data_dir`, if any, about records this process
// just stored (empty: look for anything new); without a node, nothing.
void announce_to_node(const std::filesystem::path& data_dir, std::vector<protocol::RecordId> ids);

// A client over a runtime that already runs on this thread's loop (tests).
std::unique_ptr<NodeClient> in_process_client(NodeRuntime& runtime);

}  // namespace seedbank::node
