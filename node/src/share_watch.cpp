#include "share_watch.h"

#include <sys/inotify.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <set>

#include "library.h"
#include "one_file.h"

namespace seedbank::node {

namespace p = seedbank::protocol;
namespace fs = std::filesystem;

namespace {
// What can change a file's bytes or take its name away; IN_CREATE and
// IN_MOVED_TO for a file put in place of a shared one.
constexpr std::uint32_t kFolderEvents = IN_MODIFY | IN_ATTRIB | IN_CLOSE_WRITE | IN_MOVED_FROM | IN_MOVED_TO |
                                        IN_CREATE | IN_DELETE | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR;
}  // namespace

ShareWatch::ShareWatch(boost::asio::io_context& io, ContentStore& store, p::Log log,
                       std::function<void(bool list)> changed, std::function<void(std::vector<fs::path>)> found)
    : io_(io),
      store_(store),
      log_(std::move(log)),
      changed_(std::move(changed)),
      found_(std::move(found)),
      settle_(io),
      timer_(io) {}

ShareWatch::~ShareWatch() {
  timer_.cancel();
  settle_.cancel();
  if (fd_) {
    boost::system::error_code ec;
    fd_->close(ec);
  }
}

p::Status ShareWatch::start() {
  changed_(true);  // what was shared before the node started
  sweep();
  int fd = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (fd < 0)
    return p::make_error(p::ErrorCode::io, std::string("cannot watch shared files (inotify: ") + std::strerror(errno) +
                                               "); edits are noticed every " + std::to_string(kSweep.count()) +
                                               " s instead");
  fd_ = std::make_unique<boost::asio::posix::stream_descriptor>(io_, fd);
  // The shared list: `seedbank share` replaces it (a rename into place).
  store_watch_ = ::inotify_add_watch(fd, store_.root().c_str(), IN_MOVED_TO | IN_CLOSE_WRITE | IN_ONLYDIR);
  rewatch();
  read();
  return {};
}

void ShareWatch::rewatch() {
  if (!fd_) return;
  std::set<fs::path> folders;
  for (const auto& f : store_.shared_files()) folders.insert(f.path.parent_path());
  int fd = fd_->native_handle();
  // Trees stay watched while their top is: walking them again on every
  // change of the list would block the node and drop events meanwhile.
  auto watched = store_.watched_folders();
  std::set<fs::path> tops(watched.begin(), watched.end());
  auto in_tree = [&](const fs::path& p) {
    for (const auto& t : tops) {
      auto rel = p.lexically_relative(t);
      if (p == t || (!rel.empty() && *rel.begin() != "..")) return true;
    }
    return false;
  };
  for (auto it = watches_.begin(); it != watches_.end();) {
    bool keep = tree_.count(it->first) ? in_tree(it->second) : folders.count(it->second) > 0;
    if (keep) {
      if (!tree_.count(it->first)) folders.erase(it->second);
      ++it;
    } else {
      ::inotify_rm_watch(fd, it->first);
      tree_.erase(it->first);
      it = watches_.erase(it);
    }
  }
  for (const auto& folder : folders) watch(folder, false);
  for (const auto& top : watched)
    if (!trees_.count(top)) {
      watch_tree(top);
      log_.info("watching " + top.string() + " for new model files");
    }
  trees_ = std::move(tops);
}

void ShareWatch::watch(const fs::path& folder, bool tree) {
  if (watches_.size() >= kMaxWatches) {
    if (!warned_full_)
      log_.warn("more than " + std::to_string(kMaxWatches) + " folders are watched; edits in the others are " +
                "noticed every " + std::to_string(kSweep.count()) + " s, new files there not at all");
    warned_full_ = true;
    return;
  }
  int wd = ::inotify_add_watch(fd_->native_handle(), folder.c_str(), kFolderEvents);
  if (wd < 0) {
    int err = errno;
    if (err == ENOSPC && !warned_limit_) {
      warned_limit_ = true;
      log_.warn("the system's inotify watch limit is reached (fs.inotify.max_user_watches); edits are noticed every " +
                std::to_string(kSweep.count()) + " s, new files in " + folder.string() + " not at all");
    }
    return;  // (ENOENT: a folder that is gone; its files are no longer served, see the sweep)
  }
  watches_[wd] = folder;  // the same wd again for a folder already watched
  if (tree) tree_.insert(wd);
}

// A watched folder and every folder under it (symlinked ones not followed:
// a loop would never end), leaving out what `share --stop` left out.
void ShareWatch::watch_tree(const fs::path& top) {
  auto excluded = store_.excluded_paths();
  auto left_out = [&](const fs::path& p) {
    for (const auto& e : excluded) {
      auto rel = p.lexically_relative(e);
      if (p == e || (!rel.empty() && *rel.begin() != "..")) return true;
    }
    return false;
  };
  std::error_code ec;
  if (!fs::is_directory(top, ec) || left_out(top)) return;
  watch(top, true);
  for (auto it = fs::recursive_directory_iterator(top, fs::directory_options::skip_permission_denied, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (!it->is_directory(ec) || it->is_symlink(ec)) continue;
    if (left_out(it->path())) {
      it.disable_recursion_pending();
      continue;
    }
    watch(it->path(), true);
  }
}

void ShareWatch::read() {
  fd_->async_read_some(boost::asio::buffer(buffer_), [this](const boost::system::error_code& ec, std::size_t n) {
    if (ec == boost::asio::error::operation_aborted) return;
    if (ec) {
      log_.warn("watching shared files stopped (" + ec.message() + "); edits are noticed every " +
                std::to_string(kSweep.count()) + " s");
      return;
    }
    handle(buffer_.data(), n);
    read();
  });
}

void ShareWatch::handle(const char* data, std::size_t size) {
  bool list_changed = false, files_changed = false;
  for (std::size_t at = 0; at + sizeof(inotify_event) <= size;) {
    inotify_event event{};
    std::memcpy(&event, data + at, sizeof event);
    std::string name = event.len ? std::string(data + at + sizeof event, ::strnlen(data + at + sizeof event, event.len))
                                 : std::string();
    at += sizeof event + event.len;
    if (event.mask & IN_Q_OVERFLOW) {
      files_changed = list_changed = true;  // events were lost: look at everything
      continue;
    }
    if (event.wd == store_watch_) {
      list_changed = list_changed || name == "shared.json";
      continue;
    }
    if (event.mask & IN_IGNORED) {  // the folder went away
      watches_.erase(event.wd);
      tree_.erase(event.wd);
    }
    files_changed = true;
    // share --watch: what appeared in a watched tree.
    auto where = watches_.find(event.wd);
    if (!found_ || name.empty() || !tree_.count(event.wd) || where == watches_.end()) continue;
    auto path = where->second / name;
    auto now = std::chrono::steady_clock::now();
    if ((event.mask & IN_ISDIR) && (event.mask & (IN_CREATE | IN_MOVED_TO))) {
      watch_tree(path);  // a new folder: watched, and its files looked at
      if (appeared_.size() < kMaxAppeared) appeared_[path] = now;
    } else if (event.mask & IN_ISDIR) {
      // A folder moved out or deleted: its watches go with IN_IGNORED or the next rewatch.
    } else if ((event.mask & (IN_CREATE | IN_CLOSE_WRITE | IN_MOVED_TO)) && is_model_file_name(path) &&
               appeared_.size() < kMaxAppeared) {
      appeared_[path] = now;  // also links (IN_CREATE only)
    } else if ((event.mask & IN_MODIFY) && appeared_.count(path)) {
      appeared_[path] = now;  // still being written: quiet is counted from now
    }
  }
  settle();
  if (list_changed) {
    if (auto st = store_.reload_shared(); !st) log_.warn(st.error().message);
    rewatch();
  }
  if (list_changed || files_changed) changed_(list_changed);
}

// Hands over files that appeared once each has been quiet for kSettle (a
// long download elsewhere in the tree delays nothing else).
void ShareWatch::settle() {
  if (appeared_.empty() || settling_) return;
  settling_ = true;
  settle_.expires_after(std::chrono::milliseconds(500));
  settle_.async_wait([this](const boost::system::error_code& ec) {
    if (ec) return;
    settling_ = false;
    auto quiet_since = std::chrono::steady_clock::now() - kSettle;
    std::vector<fs::path> ready;
    for (auto it = appeared_.begin(); it != appeared_.end();) {
      if (it->second <= quiet_since) {
        ready.push_back(it->first);
        it = appeared_.erase(it);
      } else {
        ++it;
      }
    }
    if (!ready.empty()) found_(std::move(ready));
    settle();
  });
}

void ShareWatch::sweep() {
  changed_(false);
  timer_.expires_after(kSweep);
  timer_.async_wait([this](const boost::system::error_code& ec) {
    if (!ec) sweep();
  });
}

ShareScanner::ShareScanner(ContentStore& store, const indexer::Index& index, fs::path data_dir, Refuses refuses,
                           p::Log log)
    : store_(store),
      index_(index),
      data_dir_(std::move(data_dir)),
      refuses_(std::move(refuses)),
      log_(std::move(log)),
      thread_([this] { run(); }) {}

ShareScanner::~ShareScanner() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

void ShareScanner::add(const std::vector<fs::path>& paths, bool quiet) {
  {
    std::lock_guard lock(mutex_);
    for (const auto& p : paths) {
      auto it = queue_.find(p);
      if (it != queue_.end())
        it->second = it->second && quiet;  // asked for aloud once: aloud
      else if (queue_.size() < kMaxQueue)
        queue_.emplace(p, quiet);
    }
  }
  wake_.notify_all();
}

void ShareScanner::run() {
  for (;;) {
    std::map<fs::path, bool> batch;
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [&] { return stop_ || !queue_.empty(); });
      if (stop_) return;
      batch.swap(queue_);
    }
    std::vector<fs::path> loud, quiet;
    for (const auto& [path, q] : batch) (q ? quiet : loud).push_back(path);
    if (!loud.empty()) scan(loud, false);
    if (!quiet.empty()) scan(quiet, true);
  }
}

bool ShareScanner::stopping() {
  std::lock_guard lock(mutex_);
  return stop_;
}

void ShareScanner::scan(const std::vector<fs::path>& paths, bool quiet) {
  auto walk = walk_library(paths, store_.excluded_paths());
  if (!quiet)
    for (const auto& problem : walk.problems) log_.warn("not shared: " + problem.path.string() + ": " + problem.what);
  HashCache cache(data_dir_ / "hash-cache.json");
  cache.load();
  std::vector<SharedFile> known;
  // What is hashed is kept and shared as it goes (every 16 files, and when
  // the node stops mid-way), not only at the end of a long scan.
  auto flush = [&] {
    (void)cache.save();
    if (!known.empty())
      if (auto st = store_.share(known); !st) log_.warn(st.error().message);
    known.clear();
  };
  auto already = store_.shared_files();
  for (const auto& f : walk.files) {
    if (std::any_of(already.begin(), already.end(),
                    [&](const SharedFile& s) { return s.path == f.path && s.identity == f.identity; }))
      continue;  // shared as it is
    if (stopping()) break;
    auto sha = cache.find(f.identity);
    if (!sha) {
      auto d = hash_library_file(f);
      if (!d) {
        log_.warn("not shared: " + d.error().message);
        continue;
      }
      sha = d->sha256;
      cache.put(f.identity, *sha);
    }
    auto claims = claims_on(*sha, index_, data_dir_, refuses_);
    if (claims.empty()) {
      if (quiet || !told_.insert(f.path).second || told_.size() > kMaxQueue) continue;  // said once per file
      bool refused = !claims_on(*sha, index_, data_dir_).empty();
      log_.info("found " + f.path.string() +
                (refused ? ": its releases are ones this node leaves out (retracted, denied or outside its policy), "
                           "so not shared"
                         : ": not on the network, so not shared (`seedbank share` publishes a mirror when a Civitai "
                           "sidecar is beside it)"));
      continue;
    }
    log_.info("sharing " + f.path.string() + " in place: a file of " +
              claims.front().body().getPayload().getRelease().getModelName().cStr());
    known.push_back(SharedFile{f.path, *sha, f.identity});
    if (known.size() == 16) flush();
  }
  flush();
}

}  // namespace seedbank::node
