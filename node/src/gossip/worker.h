// Where the gossip engine's slow work runs: verifying and storing records
// from peers (signature checks, an LMDB commit with fsync). The node runs
// it on a thread of its own (ThreadWorker), so the event loop keeps reading
// sessions while a batch is written; the engine tests and the fuzzer run it
// at once (InlineWorker), so what they drive stays deterministic.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>

namespace boost::asio {
class io_context;
}

namespace seedbank::node::gossip {

class Worker {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;
  // A job runs on the worker and returns what is then run on the gossip
  // thread with its result, and the time it runs at (the engine reads no
  // clock). A job touches only what outlives the worker (the index, its
  // own captures); the continuation may touch the engine.
  using Continuation = std::function<void(TimePoint now)>;
  using Job = std::function<Continuation()>;
  virtual ~Worker() = default;
  // `now`: the time of the engine call that submits it.
  virtual void submit(Job job, TimePoint now) = 0;
};

// Runs the job and its continuation inside submit(), at `now`.
class InlineWorker final : public Worker {
 public:
  void submit(Job job, TimePoint now) override { job()(now); }
};

// One thread; jobs run in the order submitted, and their continuations are
// posted to `io` in that order. The destructor (on the gossip thread)
// finishes the job running, drops the ones waiting, and makes sure no
// continuation runs after it.
class ThreadWorker final : public Worker {
 public:
  explicit ThreadWorker(boost::asio::io_context& io);
  ~ThreadWorker() override;
  ThreadWorker(const ThreadWorker&) = delete;
  ThreadWorker& operator=(const ThreadWorker&) = delete;
  // Continuations run at the steady clock's time.
  void submit(Job job, TimePoint now) override;

 private:
  void run();

  boost::asio::io_context& io_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);  // read and cleared on the gossip thread only
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Job> jobs_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace seedbank::node::gossip
