// NodeRuntime: the one wiring of a running node's network parts over a
// NodeContext (data dir, index, store). `seedbank node` starts it in the
// daemon role; commands that need the network without a running node
// (`fetch`, `resolve`) start it in the command role. Both get the same
// BitTorrent session setup, gossip, release filter and swarm sharing.
//
//   daemon:  BitTorrent and gossip on their configured ports, every complete
//            release seeded, the control socket, the HTTP gallery and API.
//   command: BitTorrent on the given address (port 0 by default), started
//            by the first fetch (a lookup needs only gossip), gossip
//            dialling out only (no listening socket), nothing seeded but what
//            the command fetches, no HTTP, no control socket (so a later
//            `seedbank node` never takes this process for a live node), and
//            nothing announced about this node. When no address it knows
//            answers, its client has it look the network's rendezvous key
//            up on the DHT (look_for_peers), never announcing on it.
//
// Threads: every method runs on the thread that runs io() (the node's
// thread); the HTTP server has its own threads and reaches the node only
// through jobs posted to io(). libtorrent runs its threads behind
// TorrentService. Teardown is in reverse order of start: HTTP, control,
// gossip, BitTorrent (which saves resume data).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "seedbank/node/context.h"
#include "seedbank/protocol/result.h"

namespace boost::asio {
class io_context;
}

namespace seedbank::node {

enum class RuntimeRole { daemon, command };

struct StatusReply;
struct FetchRequest;
struct FetchReply;
struct QueryRequest;
struct QueryReply;
struct PeersReply;
struct AnnounceRequest;
struct AnnounceReply;

class NodeRuntime {
 public:
  // Starts every part the role has (see above). Errors name the part and
  // the fix (a port in use, an unreadable node key).
  static protocol::Result<std::unique_ptr<NodeRuntime>> start(NodeContext& node, RuntimeRole role);
  ~NodeRuntime();
  NodeRuntime(const NodeRuntime&) = delete;
  NodeRuntime& operator=(const NodeRuntime&) = delete;

  boost::asio::io_context& io();
  RuntimeRole role() const;
  NodeContext& context();

  // Daemon: runs the loop on this thread until SIGINT or SIGTERM; the exit
  // code of `seedbank node`.
  int run_until_signal();
  // Runs the loop on this thread for up to `timeout`, returning early when
  // `until` (checked after each handler) holds.
  void run_for(std::chrono::milliseconds timeout, const std::function<bool()>& until = {});

  // The services the control socket and in-process clients call.
  StatusReply status(bool with_peers = false);
  protocol::Result<FetchReply> fetch(const FetchRequest& request);
  protocol::Result<TorrentStatus> torrent(const protocol::RecordId& release);
  // `done` runs on the node's thread once every peer answered or the
  // timeout passed.
  void query(const QueryRequest& request, std::function<void(QueryReply)> done);
  PeersReply peers();
  protocol::Status add_peer(const std::string& address);
  // Records stored by another process (a publish, a rating): seeded and
  // announced now.
  AnnounceReply announce(const AnnounceRequest& request);
  // Open gossip sessions (0 without gossip).
  std::size_t gossip_sessions() const;

  GossipService* gossip();  // null when gossip is off
  // Command role: starts looking the network's rendezvous key up on the
  // DHT (never announcing), when the DHT is on; true when it does. The
  // daemon looks by itself: false.
  bool look_for_peers();
  // DHT nodes in the routing table (0 before BitTorrent starts).
  std::int64_t dht_nodes() const;

 private:
  friend int run_node(NodeContext& node);
  struct Impl;
  explicit NodeRuntime(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// `seedbank node`: starts the daemon runtime, prints what it runs, and runs
// it until a signal. Returns the exit code.
int run_node(NodeContext& node);

}  // namespace seedbank::node
