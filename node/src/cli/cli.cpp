#include "cli.h"

#include <fstream>
#include <iostream>
#include <sstream>

#include "seedbank/node/data_dir.h"

namespace seedbank::node::cli {

std::filesystem::path GlobalOptions::resolved_data_dir() const {
  // Absolute, because BitTorrent maps files by absolute store paths.
  std::error_code ec;
  auto dir = data_dir.empty() ? default_data_dir() : std::filesystem::path(data_dir);
  auto absolute = std::filesystem::absolute(dir, ec);
  return ec ? dir : absolute.lexically_normal();
}

protocol::Result<std::unique_ptr<NodeContext>> open_node(const Context& ctx) {
  NodeOptions options;
  options.data_dir = ctx.global.resolved_data_dir();
  options.network = ctx.global.network;
  options.index_size = ctx.global.index_size;
  // What the node refuses, commands that fetch without it refuse too.
  auto config = load_node_config(config_path(options.data_dir));
  if (!config) return config.error();
  options.config = std::move(config).value();
  return NodeContext::open(options);
}

void with_node(Context& ctx, const std::function<int(NodeContext&)>& body) {
  auto node = open_node(ctx);
  ctx.exit_code = node ? body(**node) : report(node.error());
}

void CommandNetwork::add_to(CLI::App* command) {
  command->add_option("--bootstrap", bootstrap,
                      "Without a running node: gossip peer HOST:PORT or list file to find peers and seeders through "
                      "(repeatable; default: <data dir>/bootstrap.txt and the peers in peers.json)");
  command->add_option("--bt-listen", bt_listen,
                      "Without a running node: BitTorrent listen address (default 0.0.0.0:0)");
  command->add_flag("--no-dht", no_dht,
                    "Without a running node: do not use the Mainline DHT (neither for torrents nor to find nodes when "
                    "no address is known)");
  command->add_option("--dht-bootstrap", dht_bootstrap,
                      "Without a running node: DHT router HOST:PORT (repeatable; replaces the public routers)");
}

CommandNetworkOptions CommandNetwork::options() const {
  CommandNetworkOptions out;
  out.bootstrap = bootstrap;
  out.bt_listen = bt_listen;
  out.dht = !no_dht;
  out.dht_bootstrap = dht_bootstrap;
  return out;
}

protocol::Result<std::string> text_or_file(const std::string& text, const std::string& file) {
  if (file.empty()) return text;
  std::ifstream in(file, std::ios::binary);
  if (!in) return protocol::make_error(protocol::ErrorCode::not_found, file + ": cannot read it");
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

int report(const protocol::Error& error) {
  std::cerr << "seedbank: " << error.message << "\n";
  switch (error.code) {
    case protocol::ErrorCode::not_found:
      return kNotFound;
    case protocol::ErrorCode::ambiguous:
      return kAmbiguous;
    case protocol::ErrorCode::bad_signature:
      return kVerifyFailed;
    case protocol::ErrorCode::invalid_argument:
      return kUsage;
    default:
      return kError;
  }
}

void print_json(const nlohmann::ordered_json& value) {
  std::cout << value.dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace) << "\n";
}

}  // namespace seedbank::node::cli
