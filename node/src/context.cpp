#include "seedbank/node/context.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <memory>

#include "community.h"
#include "files.h"
#include "seedbank/node/data_dir.h"

namespace seedbank::node {

protocol::Result<std::unique_ptr<NodeContext>> NodeContext::open(const NodeOptions& options) {
  if (auto st = prepare_data_dir(options.data_dir); !st) return st.error();
  auto node = std::make_unique<NodeContext>();
  node->options = options;
  // policy.mirrors "followed": the keys this data dir's user follows.
  if (auto& config = node->options.config; config.mirrors == NodeConfig::Mirrors::followed)
    if (auto lists = read_local_lists(local_lists_path(options.data_dir)))
      for (const auto& k : lists->follows)
        if (auto key = protocol::PublicKey::from_text(k)) config.followed.push_back(*key);
  indexer::IndexOptions index_options;
  index_options.dir = index_dir(options.data_dir);
  index_options.network = options.network;
  index_options.log = options.log.with_component("index");
  if (const auto size = options.index_size ? options.index_size : options.config.index_size) {
    if (size < kMinIndexSize || size > kMaxIndexSize)
      return protocol::make_error(protocol::ErrorCode::invalid_argument,
                                  "--index-size " + std::to_string(size) +
                                      (size < kMinIndexSize ? " is below the least an index needs (1 MiB)"
                                                            : " is above the most a node maps (64 TiB)"));
    // Below what the index holds, LMDB raises it to that: the index is
    // then full until a larger size is given.
    index_options.map_size = size;
  }
  // A full index grows to a raised indexSize in config.json, read again
  // then, so a running node needs no restart; --index-size is fixed for
  // the run it was given to.
  if (options.index_size)
    index_options.size_limit = [size = options.index_size] { return size; };
  else
    index_options.size_limit =
        [path = options.config_file.empty() ? config_path(options.data_dir) : options.config_file,
         log = index_options.log, said = std::make_shared<std::atomic<std::int64_t>>(0)]() -> std::uint64_t {
      auto config = load_node_config(path);
      if (!config) {  // asked once per full write: said once a minute
        const auto now =
            std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now().time_since_epoch())
                .count();
        if (auto last = said->load(); now - last >= 60 && said->compare_exchange_strong(last, now))
          log.warn("the index is full and " + config.error().message);
        return 0;
      }
      return config->index_size ? std::clamp(config->index_size, kMinIndexSize, kMaxIndexSize)
                                : indexer::IndexOptions{}.map_size;
    };
  auto index = indexer::Index::open(index_options);
  if (!index) return index.error();
  node->index = std::move(index).value();
  node->store = std::make_unique<ContentStore>(store_dir(options.data_dir));
  if (auto st = node->store->open(); !st) return st.error();
  // Half-written peers.json, favourites or thumbnails of a killed process.
  remove_abandoned_temps(options.data_dir);
  remove_abandoned_temps(options.data_dir / "thumbs");
  return node;
}

}  // namespace seedbank::node
