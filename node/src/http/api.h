// The HTTP API every node serves: Civitai's public API v1 (same paths,
// parameters and field names, so AUTOMATIC1111 and ComfyUI tools work
// unchanged), image files and thumbnails, downloads with Range, and the
// web gallery's pages. docs/http-api.md lists every route.
//
// Api::handle is called from the HTTP server's threads concurrently. It
// reads the index directly (LMDB readers are concurrent) and reaches the
// node's BitTorrent and gossip sides only through NodeServices
// (node_services.h), whose calls post work to the node's own thread.
#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>

#include "http/server.h"
#include "seedbank/indexer/index.h"
#include "seedbank/node/config.h"
#include "seedbank/node/store.h"

namespace seedbank::node {

class NodeServices;

class Api {
 public:
  // `config`: deny-lists followed and content policy; what they refuse is
  // not listed or served (404, as if unknown). `node` (outliving this) may
  // be null: then nothing is fetched from peers.
  Api(indexer::Index& index, ContentStore& store, std::filesystem::path data_dir, NodeServices* node,
      NodeConfig config = {});
  ~Api();
  HttpResponse handle(const HttpRequest& request);
  // Where the server listens (HOST:PORT): the base of absolute URLs when a
  // request has no usable Host header; on a loopback address, requests
  // must name a loopback host.
  void set_listen_address(const std::string& address);
  // Serve the gallery's files from `dir` (node/web/ of a checkout) instead
  // of the compiled-in copy: for working on the gallery without rebuilding.
  void set_web_dir(std::filesystem::path dir);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace seedbank::node
