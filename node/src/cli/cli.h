// The `seedbank` command line: one add_*_command per subcommand group.
// Private to node/.
#pragma once

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <functional>
#include <string>

#include "../client.h"
#include "seedbank/node/context.h"
#include "seedbank/protocol/result.h"

namespace seedbank::node::cli {

// Exit codes shared by every command (docs/user-guide.md lists them).
enum ExitCode : int {
  kOk = 0,
  kError = 1,         // anything else: the message says what
  kUsage = 2,         // bad command line
  kNotFound = 3,      // no such record or hash
  kAmbiguous = 4,     // a short hash matched several things
  kVerifyFailed = 5,  // content or signature did not verify
  kNoPeers = 6,       // nobody to fetch from
};

struct GlobalOptions {
  std::string data_dir;  // empty: default_data_dir()
  std::string network = "main";
  std::uint64_t index_size = 0;  // --index-size; 0: config.json's, else 64 GiB
  std::filesystem::path resolved_data_dir() const;
};

// Each command sets `exit_code` from its callback.
struct Context {
  GlobalOptions global;
  int exit_code = kOk;
};

void add_hash_command(CLI::App& app, Context& ctx);
void add_inspect_command(CLI::App& app, Context& ctx);
void add_key_commands(CLI::App& app, Context& ctx);
void add_node_command(CLI::App& app, Context& ctx);
void add_publish_commands(CLI::App& app, Context& ctx);
void add_fetch_commands(CLI::App& app, Context& ctx);

// The network options of a command that works without a running node
// (fetch, resolve): --bootstrap, --bt-listen, --no-dht, --dht-bootstrap.
struct CommandNetwork {
  std::vector<std::string> bootstrap, dht_bootstrap;
  std::string bt_listen = "0.0.0.0:0";
  bool no_dht = false;
  void add_to(CLI::App* command);
  CommandNetworkOptions options() const;
};

// Follows the fetch of `release` through `client` until its wanted files
// are stored (0), an error, the timeout, or 30 s without a peer (its exit
// code). A progress bar shows on a TTY unless `quiet`. The last status is
// left in `last`.
int follow_fetch(NodeClient& client, const protocol::RecordId& release, int timeout_s, bool quiet, TorrentStatus* last,
                 double* first_peer_seconds = nullptr);
void add_resolve_command(CLI::App& app, Context& ctx);
void add_share_command(CLI::App& app, Context& ctx);
void add_community_commands(CLI::App& app, Context& ctx);
void add_collection_commands(CLI::App& app, Context& ctx);

// The signing key a command's --key names (empty: <data dir>/identity.key).
protocol::Result<protocol::SecretKey> key_of(const Context& ctx, const std::string& key);
// Signs (at created_at_ms; 0: now), stores and announces one community
// record; prints its id, or with `json` an object with recordId, kind,
// author and `extra`. Returns the exit code.
int sign_and_store(NodeContext& node, const protocol::SecretKey& key, bool json, const protocol::CommunityDraft& draft,
                   nlohmann::ordered_json extra = {}, std::uint64_t created_at_ms = 0);

// A release id, or any hash that names exactly one release of the local
// index. Errors: not_found, ambiguous (listing the candidates).
protocol::Result<protocol::Record> find_release(indexer::Index& index, const std::string& what);

// Opens the data dir of the command line (index and store; no network).
protocol::Result<std::unique_ptr<NodeContext>> open_node(const Context& ctx);
// Opens the data dir and sets ctx.exit_code to what `body` returns on it, or
// to the report of why it could not be opened.
void with_node(Context& ctx, const std::function<int(NodeContext&)>& body);

// Prints "seedbank: <message>" to stderr and returns the exit code that
// matches the error.
int report(const protocol::Error& error);
// An option given as text or as a file to read (--x and --x-file): the
// file's contents when `file` is set, else `text`. Error: the file cannot
// be read.
protocol::Result<std::string> text_or_file(const std::string& text, const std::string& file);
void print_json(const nlohmann::ordered_json& value);

}  // namespace seedbank::node::cli
