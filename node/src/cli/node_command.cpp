// seedbank node
#include <boost/asio/io_context.hpp>

#include "cli.h"
#include "seedbank/node/context.h"

namespace seedbank::node::cli {

void add_node_command(CLI::App& app, Context& ctx) {
  auto* cmd = app.add_subcommand("node", "Run a node on the data dir until Ctrl-C");
  cmd->footer("Opens (or creates) the data dir and its index, then serves until SIGINT/SIGTERM.");
  cmd->callback([&ctx] {
    NodeOptions options;
    options.data_dir = ctx.global.resolved_data_dir();
    options.network = ctx.global.network;
    auto node = NodeContext::open(options);
    if (!node) {
      ctx.exit_code = report(node.error());
      return;
    }
    boost::asio::io_context io;
    ctx.exit_code = run_node(**node, io);
  });
}

}  // namespace seedbank::node::cli
