// Watching files shared in place (seedbank share) for edits, moves and
// deletions, and the shared list itself for changes made by `seedbank
// share` while the node runs. Linux inotify on the folders that hold shared
// files (one watch per folder, however many files), read on the node's
// io_context. Private to node/.
//
// inotify sees write(2), truncate, renames and unlinks; it does not see
// writes through a shared mmap, nor files on network filesystems changed by
// another machine. So the node also compares every shared file's identity
// on a timer (ShareWatch::kSweep): a change is noticed at once, or within
// that time.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>

#include <array>
#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>

#include "seedbank/node/store.h"
#include "seedbank/protocol/log.h"
#include "seedbank/protocol/result.h"

namespace seedbank::node {

class ShareWatch {
 public:
  static constexpr std::chrono::seconds kSweep{5};
  static constexpr std::size_t kMaxWatches = 8192;  // folders; beyond them, the sweep alone

  // `changed` runs on the io_context whenever a shared file may have
  // changed (an event in its folder, or the sweep: `list` false) and after
  // shared.json was written again (`list` true: the store has reloaded it).
  ShareWatch(boost::asio::io_context& io, ContentStore& store, protocol::Log log,
             std::function<void(bool list)> changed);
  ~ShareWatch();
  ShareWatch(const ShareWatch&) = delete;
  ShareWatch& operator=(const ShareWatch&) = delete;

  // Starts watching (error io when inotify is unavailable: then the sweep
  // alone notices changes, and the node says so).
  protocol::Status start();

 private:
  void rewatch();  // the folders of the files shared now
  void read();
  void sweep();
  void handle(const char* data, std::size_t size);

  boost::asio::io_context& io_;
  ContentStore& store_;
  protocol::Log log_;
  std::function<void(bool list)> changed_;
  std::unique_ptr<boost::asio::posix::stream_descriptor> fd_;
  boost::asio::steady_timer timer_;
  std::map<int, std::filesystem::path> watches_;  // watch descriptor -> folder
  int store_watch_ = -1;
  std::array<char, 64 * 1024> buffer_{};
  bool warned_full_ = false;
};

}  // namespace seedbank::node
