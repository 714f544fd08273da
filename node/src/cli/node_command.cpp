// seedbank node [--bt-listen ADDR] [--no-dht] [--dht-bootstrap HOST:PORT]...
#include <algorithm>
#include <filesystem>
#include <iostream>

#include "../client.h"
#include "../discovery.h"
#include "cli.h"
#include "seedbank/node/context.h"
#include "seedbank/node/progress.h"
#include "seedbank/node/runtime.h"
#include "seedbank/protocol/log.h"

namespace seedbank::node::cli {

namespace {

void add_peers_command(CLI::App& app, Context& ctx) {
  auto json = std::make_shared<bool>(false);
  auto add = std::make_shared<std::string>();
  auto* cmd = app.add_subcommand("peers", "Gossip peers of the running node and their state");
  cmd->add_flag("--json", *json, "Print JSON");
  cmd->add_option("--add", *add, "Dial HOST:PORT now");
  cmd->callback([&ctx, json, add] {
    auto client = connect_to_node(ctx.global.resolved_data_dir());
    if (!client) {
      ctx.exit_code = report(client.error());
      return;
    }
    if (!add->empty())
      if (auto st = (*client)->add_peer(*add); !st) {
        ctx.exit_code = report(st.error());
        return;
      }
    auto reply = (*client)->peers();
    if (!reply) {
      ctx.exit_code = report(reply.error());
      return;
    }
    if (*json) {
      print_json(nlohmann::ordered_json::parse(reply_json(*reply).dump()));
      return;
    }
    std::cout << "node " << reply->node_id << ", gossip on " << reply->listen << ", " << reply->peers.size()
              << " peers\n";
    if (const auto& d = reply->discovery) {
      std::cout << "discovery: "
                << (d->rendezvous ? "DHT rendezvous (" + std::to_string(d->dht_nodes) + " DHT nodes, " +
                                        std::to_string(d->lookups) + " lookups, " + std::to_string(d->found_dht) +
                                        " addresses found, " + human_bytes(d->dht_bytes_in + d->dht_bytes_out) +
                                        " of DHT traffic)"
                                  : std::string("no DHT"))
                << ", " << (d->lan ? "LAN beacons (" + std::to_string(d->found_lan) + " found)" : std::string("no LAN"))
                << ", reachable from outside: " << protocol::printable_for_terminal(d->reachable) << "\n";
    }
    for (const auto& p : reply->peers)
      std::cout << "  " << p.address << "  " << (p.outbound ? "out" : "in ") << "  " << p.state << "  "
                << (p.source.empty() ? "" : "from " + p.source + "  ") << p.node_id << "  " << human_bytes(p.bytes_in)
                << " in, " << human_bytes(p.bytes_out) << " out, " << p.records_in << " records in\n";
  });
}

}  // namespace

void add_node_command(CLI::App& app, Context& ctx) {
  add_peers_command(app, ctx);
  auto options = std::make_shared<TorrentOptions>();
  auto no_dht = std::make_shared<bool>(false);
  auto* cmd = app.add_subcommand("node", "Run a node: seed the store, fetch on request, until Ctrl-C");
  cmd->footer(
      "Opens (or creates) the data dir, keeps its index in sync with other nodes over\n"
      "gossip (--listen, --bootstrap; peers learnt are kept in peers.json), seeds every\n"
      "release whose files are in the store, resumes unfinished fetches, and answers\n"
      "`fetch`, `resolve`, `status` and `peers` on <data dir>/control.sock. It serves the web\n"
      "gallery and a Civitai-compatible API on --http (docs/http-api.md). Releases published on the same\n"
      "data dir while it runs are seeded at once. SIGINT/SIGTERM save resume\n"
      "data and close the index. BitTorrent runs over TCP (uTP off).\n\n"
      "It finds other nodes by itself (docs/user-guide.md, \"How a node finds the network\"):\n"
      "it announces its gossip port on the Mainline DHT under a key derived from the\n"
      "network name and looks that key up (--no-dht: neither), sends LAN beacons\n"
      "(--no-lan), and asks the router to forward its ports (--no-port-mapping).");
  cmd->add_option("--bt-listen", options->listen, "BitTorrent listen address (default 0.0.0.0:6881)");
  cmd->add_flag("--no-dht", *no_dht,
                "Do not use the Mainline DHT: neither for torrents nor to find other nodes (tests, isolated "
                "networks)");
  cmd->add_option("--dht-bootstrap", options->dht_bootstrap,
                  "DHT bootstrap router HOST:PORT (repeatable; replaces the public routers: private networks, tests)");
  cmd->add_flag("--lsd", options->local_discovery, "libtorrent's local service discovery for torrents on the LAN");
  auto no_port_mapping = std::make_shared<bool>(false);
  cmd->add_flag("--port-mapping", options->port_mapping,
                "Ask the router to forward the BitTorrent and gossip ports (UPnP, NAT-PMP; the default)");
  cmd->add_flag("--no-port-mapping", *no_port_mapping, "Do not ask the router to forward ports");
  auto no_lan = std::make_shared<bool>(false);
  auto lan_beacon = std::make_shared<std::string>(kDefaultLanBeacon);
  cmd->add_flag("--no-lan", *no_lan, "Send no LAN beacons and ignore those of other nodes");
  cmd->add_option(
      "--lan-beacon", *lan_beacon,
      std::string("Where LAN beacons go: an IPv4 multicast group or broadcast address HOST:PORT (default ") +
          kDefaultLanBeacon + ")");
  cmd->add_option("--download-limit", options->download_limit, "Download limit in bytes/s (0: none)");
  cmd->add_option("--upload-limit", options->upload_limit, "Upload limit in bytes/s (0: none)");
  cmd->add_option("--store-quota", options->store_quota,
                  "Refuse fetches that would grow the store past this many bytes");
  cmd->add_option("--bt-log", options->log_file,
                  "Append libtorrent's log of connections, peers' messages and errors to FILE (to find out why a "
                  "download does not move; verbose)");
  cmd->add_option("--tracker", options->trackers,
                  "Also announce every torrent to this tracker URL (repeatable), besides each release's own");
  auto gossip = std::make_shared<GossipOptions>();
  auto bootstrap = std::make_shared<std::vector<std::string>>();
  auto no_gossip = std::make_shared<bool>(false);
  auto sync_ms = std::make_shared<unsigned>(10000);
  cmd->add_option("--listen", gossip->listen, "Gossip listen address HOST:PORT, or 'off' (default 0.0.0.0:7400)");
  cmd->add_option("--bootstrap", *bootstrap,
                  "Peer to start from: HOST:PORT, or a file listing them (repeatable; see bootstrap/README.md). "
                  "Without it: <data dir>/bootstrap.txt if present, and the peers remembered in peers.json");
  cmd->add_option("--outbound", gossip->outbound, "Gossip sessions to keep dialled (default 4)");
  cmd->add_option("--sync-interval", *sync_ms,
                  "Milliseconds between reconciliations with a random peer (default 10000)");
  cmd->add_flag("--no-gossip", *no_gossip, "Do not talk to other nodes (BitTorrent only)");
  auto config_file = std::make_shared<std::string>();
  cmd->add_option("--config", *config_file,
                  "Node config: deny-lists followed, content policy, store quota (default <data dir>/config.json; "
                  "see docs/user-guide.md)");
  auto log_level = std::make_shared<std::string>("info");
  cmd->add_option("--log-level", *log_level,
                  "What the console says: debug, info (peers joining and leaving, records received, publishes, "
                  "fetches started and finished), warn, error or off (default info)")
      ->check(CLI::IsMember({"debug", "info", "warn", "error", "off"}));
  auto http = std::make_shared<std::string>("127.0.0.1:7480");
  auto http_threads = std::make_shared<unsigned>(2);
  cmd->add_option("--http", *http,
                  "Web gallery and Civitai-compatible API address HOST:PORT, or 'off' (default 127.0.0.1:7480: "
                  "this machine only; 0.0.0.0:7480 serves the network)");
  cmd->add_option("--http-threads", *http_threads, "Threads answering HTTP requests (default 2)");
  auto web_dir = std::make_shared<std::string>();
  cmd->add_option("--web-dir", *web_dir,
                  "Serve the gallery's files from DIR (node/web/ of a checkout) instead of the copy built in, so "
                  "edits show on reload (for working on the gallery)")
      ->check(CLI::ExistingDirectory);
  auto no_compat = std::make_shared<bool>(false);
  cmd->add_flag("--no-v1-compat", *no_compat,
                "Do not also seed each release as a plain v1 torrent (for clients that cannot load BEP 52 "
                "torrents, e.g. aria2 1.36, Transmission 3)");
  cmd->callback([&ctx, options, no_dht, no_compat, gossip, bootstrap, no_gossip, sync_ms, http, http_threads,
                 config_file, log_level, no_port_mapping, no_lan, lan_beacon, web_dir] {
    NodeOptions node_options;
    node_options.data_dir = ctx.global.resolved_data_dir();
    node_options.network = ctx.global.network;
    node_options.index_size = ctx.global.index_size;
    node_options.torrents = *options;
    node_options.torrents.dht = !*no_dht;
    node_options.torrents.port_mapping = !*no_port_mapping;
    node_options.lan_beacon = *no_lan ? "" : *lan_beacon;
    node_options.torrents.v1_compat = !*no_compat;
    node_options.gossip = *gossip;
    node_options.gossip.sync_interval = std::chrono::milliseconds(std::max(100u, *sync_ms));
    node_options.gossip_enabled = !*no_gossip;
    node_options.http = *http;
    node_options.http_threads = std::clamp(*http_threads, 1u, 64u);
    node_options.web_dir = *web_dir;
    node_options.log.set_level(*protocol::parse_log_level(*log_level));
    auto peers = bootstrap_peers(node_options.data_dir, *bootstrap);
    if (!peers) {
      ctx.exit_code = report(peers.error());
      return;
    }
    node_options.gossip.bootstrap = std::move(peers).value();
    auto config = load_node_config(config_file->empty() ? config_path(node_options.data_dir)
                                                        : std::filesystem::path(*config_file));
    if (!config) {
      ctx.exit_code = report(config.error());
      return;
    }
    node_options.config = std::move(config).value();
    node_options.config_file = *config_file;
    auto node = NodeContext::open(node_options);
    if (!node) {
      ctx.exit_code = report(node.error());
      return;
    }
    ctx.exit_code = run_node(**node);
  });
}

}  // namespace seedbank::node::cli
