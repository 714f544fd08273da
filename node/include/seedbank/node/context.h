// NodeContext owns the parts of a running node; `seedbank node` builds one
// and tears it down in reverse order. No part reaches for globals: each gets
// what it needs from here.
#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include "seedbank/indexer/index.h"
#include "seedbank/node/store.h"
#include "seedbank/protocol/result.h"

namespace boost::asio {
class io_context;
}

namespace seedbank::node {

struct NodeOptions {
  std::filesystem::path data_dir;
  std::string network = "main";
};

struct NodeContext {
  NodeOptions options;
  std::unique_ptr<indexer::Index> index;
  std::unique_ptr<ContentStore> store;

  // Opens (creating when missing) the data dir, the index and the store.
  static protocol::Result<std::unique_ptr<NodeContext>> open(const NodeOptions& options);
};

// Runs the node on `io` until SIGINT or SIGTERM; returns the exit code.
int run_node(NodeContext& node, boost::asio::io_context& io);

}  // namespace seedbank::node
