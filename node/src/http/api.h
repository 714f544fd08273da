// The HTTP API every node serves: Civitai's public API v1 (same paths,
// parameters and field names, so AUTOMATIC1111 and ComfyUI tools work
// unchanged), image files and thumbnails, downloads with Range, and the
// web gallery's pages. docs/http-api.md lists every route.
//
// Api::handle is called from the HTTP server's threads concurrently. It
// reads the index directly (LMDB readers are concurrent) and reaches the
// node's BitTorrent side only through NodeLink::run, which runs a job on
// the node's own thread.
#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>

#include "http/server.h"
#include "seedbank/indexer/index.h"
#include "seedbank/node/config.h"
#include "seedbank/node/gossip.h"
#include "seedbank/node/store.h"
#include "seedbank/node/torrents.h"

namespace seedbank::node {

struct NodeLink {
  // Runs `job` on the node's thread; waits up to `timeout` for it to have
  // run (0: does not wait). False when it has not run by then. A job must
  // capture only what outlives the wait (shared state, not locals).
  std::function<bool(std::function<void()> job, std::chrono::milliseconds timeout)> run;
  TorrentService* torrents = nullptr;  // touched only inside jobs
  GossipService* gossip = nullptr;     // seeder_count/most_seeded: thread-safe; null when gossip is off
};

class Api {
 public:
  // `config`: deny-lists followed and content policy; what they refuse is
  // not listed or served (404, as if unknown).
  Api(indexer::Index& index, ContentStore& store, std::filesystem::path data_dir, NodeLink link,
      NodeConfig config = {});
  ~Api();
  HttpResponse handle(const HttpRequest& request);
  // Where the server listens (HOST:PORT): the base of absolute URLs when a
  // request has no usable Host header; on a loopback address, requests
  // must name a loopback host.
  void set_listen_address(const std::string& address);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace seedbank::node
