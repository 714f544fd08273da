#include "seedbank/node/context.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>

#include <iostream>

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

int run_node(NodeContext& node, boost::asio::io_context& io) {
  auto stats = node.index->stats();
  std::cerr << "seedbank node: data dir " << node.options.data_dir.string() << ", network '" << node.options.network
            << "', " << stats.records << " records (" << stats.by_kind[1] << " releases)\n"
            << "seedbank node: running; press Ctrl-C to stop\n";
  boost::asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code& ec, int signal) {
    if (!ec) std::cerr << "seedbank node: signal " << signal << ", shutting down\n";
    io.stop();
  });
  io.run();
  return 0;
}

}  // namespace seedbank::node
