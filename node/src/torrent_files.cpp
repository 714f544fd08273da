// The Verifier, and a release's .torrent file.
#include "torrents_impl.h"

namespace seedbank::node {

Verifier::Verifier() : thread_([this] { run(); }) {}

Verifier::~Verifier() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void Verifier::push(Task task) {
  {
    std::lock_guard lock(mutex_);
    tasks_.push_back(std::move(task));
  }
  cv_.notify_all();
}

void Verifier::set_notify(std::function<void()> fn) {
  std::lock_guard lock(mutex_);
  notify_ = std::move(fn);
}

std::vector<Verifier::Done> Verifier::take_done() {
  std::lock_guard lock(mutex_);
  return std::exchange(done_, {});
}

void Verifier::run() {
  for (;;) {
    Task task;
    {
      std::unique_lock lock(mutex_);
      cv_.wait(lock, [&] { return stop_ || !tasks_.empty(); });
      if (stop_) return;
      task = std::move(tasks_.front());
      tasks_.pop_front();
    }
    if (task.length) {
      task.stream->update(
          p::ByteView(reinterpret_cast<const std::uint8_t*>(task.data.get()) + task.start, task.length));
      if (task.hashed) task.hashed->fetch_add(task.length);
      progressed_ = true;
      std::function<void()> notify;
      {
        std::lock_guard lock(mutex_);
        if (tasks_.empty()) notify = notify_;  // caught up: the node may read more back
      }
      if (notify) notify();
    }
    if (task.finish) {
      std::function<void()> notify;
      {
        std::lock_guard lock(mutex_);
        done_.push_back({task.info_hash, task.slot, task.stream->finish()});
        notify = notify_;
      }
      if (notify) notify();
    }
  }
}

p::Bytes torrent_file_of(schema::Release::Reader release) {
  auto t = release.getTorrent();
  std::string whole = "d4:info";
  whole.append(reinterpret_cast<const char*>(t.getInfo().begin()), t.getInfo().size());
  if (t.getPieceLayers().size()) {
    whole += "12:piece layers";
    whole.append(reinterpret_cast<const char*>(t.getPieceLayers().begin()), t.getPieceLayers().size());
  }
  whole += "e";
  return p::Bytes(whole.begin(), whole.end());
}

}  // namespace seedbank::node
