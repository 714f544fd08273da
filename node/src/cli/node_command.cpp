// seedbank node [--bt-listen ADDR] [--no-dht] [--dht-bootstrap HOST:PORT]...
#include <boost/asio/io_context.hpp>

#include "cli.h"
#include "seedbank/node/context.h"

namespace seedbank::node::cli {

void add_node_command(CLI::App& app, Context& ctx) {
  auto options = std::make_shared<TorrentOptions>();
  auto no_dht = std::make_shared<bool>(false);
  auto* cmd = app.add_subcommand("node", "Run a node: seed the store, fetch on request, until Ctrl-C");
  cmd->footer(
      "Opens (or creates) the data dir, seeds every release whose files are in the\n"
      "store, resumes unfinished fetches, and answers `seedbank fetch` and\n"
      "`seedbank status` on <data dir>/control.sock. Releases published on the same\n"
      "data dir while it runs are seeded within 2 seconds. SIGINT/SIGTERM save resume\n"
      "data and close the index. BitTorrent runs over TCP (uTP off); LSD, UPnP and\n"
      "NAT-PMP are off unless asked for.");
  cmd->add_option("--bt-listen", options->listen, "BitTorrent listen address (default 0.0.0.0:6881)");
  cmd->add_flag("--no-dht", *no_dht, "Do not use the Mainline DHT (tests, private networks)");
  cmd->add_option("--dht-bootstrap", options->dht_bootstrap, "DHT bootstrap router HOST:PORT (repeatable)");
  cmd->add_flag("--lsd", options->local_discovery, "Local service discovery on the LAN");
  cmd->add_flag("--port-mapping", options->port_mapping, "Ask the router for a port (UPnP, NAT-PMP)");
  cmd->add_option("--download-limit", options->download_limit, "Download limit in bytes/s (0: none)");
  cmd->add_option("--upload-limit", options->upload_limit, "Upload limit in bytes/s (0: none)");
  cmd->add_option("--store-quota", options->store_quota, "Refuse fetches that would grow the store past this many bytes");
  auto no_compat = std::make_shared<bool>(false);
  cmd->add_flag("--no-v1-compat", *no_compat,
                "Do not also seed each release as a plain v1 torrent (for clients that cannot load BEP 52 "
                "torrents, e.g. aria2 1.36, Transmission 3)");
  cmd->callback([&ctx, options, no_dht, no_compat] {
    NodeOptions node_options;
    node_options.data_dir = ctx.global.resolved_data_dir();
    node_options.network = ctx.global.network;
    node_options.torrents = *options;
    node_options.torrents.dht = !*no_dht;
    node_options.torrents.v1_compat = !*no_compat;
    auto node = NodeContext::open(node_options);
    if (!node) {
      ctx.exit_code = report(node.error());
      return;
    }
    boost::asio::io_context io;
    ctx.exit_code = run_node(**node, io);
  });
}

}  // namespace seedbank::node::cli
