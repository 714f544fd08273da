// The gallery's static files (node/web/), compiled into the binary by
// node/embed_web.cmake so a node serves them with no files beside it.
#pragma once

#include <cstddef>

namespace seedbank::node {

struct WebAsset {
  const char* path;  // "/static/js/app.js"; index.html is "/index.html"
  const unsigned char* data;
  std::size_t size;
};

extern const WebAsset kWebAssets[];
extern const std::size_t kWebAssetCount;

}  // namespace seedbank::node
