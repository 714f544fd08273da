#include "share_watch.h"

#include <sys/inotify.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <set>

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
                       std::function<void(bool list)> changed)
    : io_(io), store_(store), log_(std::move(log)), changed_(std::move(changed)), timer_(io) {}

ShareWatch::~ShareWatch() {
  timer_.cancel();
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
  for (auto it = watches_.begin(); it != watches_.end();) {
    if (folders.count(it->second)) {
      folders.erase(it->second);
      ++it;
    } else {
      ::inotify_rm_watch(fd, it->first);
      it = watches_.erase(it);
    }
  }
  for (const auto& folder : folders) {
    if (watches_.size() >= kMaxWatches) {
      if (!warned_full_)
        log_.warn("more than " + std::to_string(kMaxWatches) + " folders hold shared files; edits in the others are " +
                  "noticed every " + std::to_string(kSweep.count()) + " s");
      warned_full_ = true;
      break;
    }
    int wd = ::inotify_add_watch(fd, folder.c_str(), kFolderEvents);
    if (wd >= 0) watches_[wd] = folder;  // a folder that is gone: its files are no longer served (the sweep)
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
    if (event.mask & IN_IGNORED) watches_.erase(event.wd);  // the folder went away
    files_changed = true;
  }
  if (list_changed) {
    if (auto st = store_.reload_shared(); !st) log_.warn(st.error().message);
    rewatch();
  }
  if (list_changed || files_changed) changed_(list_changed);
}

void ShareWatch::sweep() {
  changed_(false);
  timer_.expires_after(kSweep);
  timer_.async_wait([this](const boost::system::error_code& ec) {
    if (!ec) sweep();
  });
}

}  // namespace seedbank::node
