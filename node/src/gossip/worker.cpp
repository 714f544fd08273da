#include "gossip/worker.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

namespace seedbank::node::gossip {

ThreadWorker::ThreadWorker(boost::asio::io_context& io) : io_(io), thread_([this] { run(); }) {}

ThreadWorker::~ThreadWorker() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    jobs_.clear();
  }
  wake_.notify_one();
  thread_.join();
  *alive_ = false;  // continuations already posted find the worker gone
}

void ThreadWorker::submit(Job job, TimePoint) {
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return;
    jobs_.push_back(std::move(job));
  }
  wake_.notify_one();
}

void ThreadWorker::run() {
  for (;;) {
    Job job;
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [this] { return stopping_ || !jobs_.empty(); });
      if (stopping_) return;
      job = std::move(jobs_.front());
      jobs_.pop_front();
    }
    auto then = job();
    boost::asio::post(io_, [alive = alive_, then = std::move(then)] {
      if (*alive && then) then(std::chrono::steady_clock::now());
    });
  }
}

}  // namespace seedbank::node::gossip
