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
#include <condition_variable>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "seedbank/indexer/index.h"
#include "seedbank/node/store.h"
#include "seedbank/protocol/log.h"
#include "seedbank/protocol/result.h"

namespace seedbank::node {

class ShareWatch {
 public:
  static constexpr std::chrono::seconds kSweep{5};
  static constexpr std::size_t kMaxWatches = 8192;     // folders; beyond them, the sweep alone
  static constexpr std::size_t kMaxAppeared = 100000;  // new files waiting to settle

  // `changed` runs on the io_context whenever a shared file may have
  // changed (an event in its folder, or the sweep: `list` false) and after
  // shared.json was written again (`list` true: the store has reloaded it).
  // `found` gets model files (and folders) that appeared in watched folders
  // (share --watch): closed after writing or moved in, then quiet for
  // kSettle.
  ShareWatch(boost::asio::io_context& io, ContentStore& store, protocol::Log log,
             std::function<void(bool list)> changed,
             std::function<void(std::vector<std::filesystem::path>)> found = {});
  static constexpr std::chrono::seconds kSettle{2};
  ~ShareWatch();
  ShareWatch(const ShareWatch&) = delete;
  ShareWatch& operator=(const ShareWatch&) = delete;

  // Starts watching (error io when inotify is unavailable: then the sweep
  // alone notices changes, and the node says so).
  protocol::Status start();

 private:
  void rewatch();  // the folders of the files shared now, and watched trees
  void watch(const std::filesystem::path& folder, bool tree);
  void watch_tree(const std::filesystem::path& top);
  void settle();
  void read();
  void sweep();
  void handle(const char* data, std::size_t size);

  boost::asio::io_context& io_;
  ContentStore& store_;
  protocol::Log log_;
  std::function<void(bool list)> changed_;
  std::function<void(std::vector<std::filesystem::path>)> found_;
  boost::asio::steady_timer settle_;
  // Waiting for kSettle of quiet: when each was last written or appeared.
  std::map<std::filesystem::path, std::chrono::steady_clock::time_point> appeared_;
  bool settling_ = false;
  std::set<int> tree_;                     // watch descriptors of watched trees
  std::set<std::filesystem::path> trees_;  // the tops of the trees watched now
  bool warned_limit_ = false;
  std::unique_ptr<boost::asio::posix::stream_descriptor> fd_;
  boost::asio::steady_timer timer_;
  std::map<int, std::filesystem::path> watches_;  // watch descriptor -> folder
  int store_watch_ = -1;
  std::array<char, 64 * 1024> buffer_{};
  bool warned_full_ = false;
};

// Files that appeared in watched folders: hashed on a thread of their own
// (hash-cache.json as `seedbank share` keeps it), and those a release the
// node keeps names are shared in place (ContentStore::share; the node's
// ShareWatch then reloads the list and seeds them). Nothing is published:
// a file the network lacks is only named in the log.
class ShareScanner {
 public:
  using Refuses = std::function<bool(const protocol::Record&)>;
  ShareScanner(ContentStore& store, const indexer::Index& index, std::filesystem::path data_dir, Refuses refuses,
               protocol::Log log);
  // Stops after the file being hashed (hashing cannot be interrupted: a
  // multi-GB file delays a shutdown by the seconds its read takes).
  ~ShareScanner();
  ShareScanner(const ShareScanner&) = delete;
  ShareScanner& operator=(const ShareScanner&) = delete;
  // `quiet`: a scan at start, which names no unknown files or problems.
  void add(const std::vector<std::filesystem::path>& paths, bool quiet = false);

 private:
  void run();
  bool stopping();
  void scan(const std::vector<std::filesystem::path>& paths, bool quiet);
  ContentStore& store_;
  const indexer::Index& index_;
  std::filesystem::path data_dir_;
  Refuses refuses_;
  protocol::Log log_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::map<std::filesystem::path, bool> queue_;  // path -> quiet; bounded: kMaxQueue
  std::set<std::filesystem::path> told_;         // unknown files named in the log (scanner thread only)
  bool stop_ = false;
  std::thread thread_;
  static constexpr std::size_t kMaxQueue = 100000;
};

}  // namespace seedbank::node
