// RAII over the LMDB C API. Private to indexer/.
//
// Gate holds new transactions while the map is resized; Txn is a read or
// write transaction that aborts unless committed; Cursor belongs to a Txn.
// LMDB error codes become protocol::Error with the operation named.
#pragma once

#include <lmdb.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "seedbank/protocol/bytes.h"
#include "seedbank/protocol/result.h"

namespace seedbank::indexer::lmdb {

using protocol::ByteView;
using protocol::Error;
using protocol::ErrorCode;
using protocol::Result;
using protocol::Status;

inline Error lmdb_error(const char* what, int rc) {
  // A full index is this node's own limit, not something a peer sent wrong:
  // io, so gossip drops the records and keeps the peer.
  ErrorCode code = ErrorCode::io;
  std::string hint;
  if (rc == MDB_MAP_FULL)
    hint =
        "; the index reached its size limit (64 GiB unless indexSize or --index-size set it): raise indexSize in "
        "the data dir's config.json (e.g. \"indexSize\": 137438953472), which every seedbank command on it reads, "
        "or give --index-size to this run; a running node takes a raised indexSize at its next write, without a "
        "restart (one started with --index-size needs a restart with a larger one); nothing was lost";
  if (rc == ENOSPC) hint = "; the disk is full, free space and retry";
  return protocol::make_error(code, std::string("index: ") + what + ": " + mdb_strerror(rc) + hint);
}

// mdb_env_set_mapsize may only be called while this process has no
// transaction open on the environment. Every transaction passes the gate;
// quiesce() closes it, waits for the open ones to end, runs the resize and
// opens it again. A thread that already holds a transaction here (a read
// nested in another) is let through a closed gate, so it can finish and
// end what it holds; a thread holding one cannot quiesce (it would wait
// for itself).
class Gate {
 public:
  void enter() {
    std::unique_lock lock(mutex_);
    int& mine = held_here();
    if (mine == 0) open_cv_.wait(lock, [&] { return !closed_; });
    ++mine;
    ++active_;
  }
  void leave() {
    std::lock_guard lock(mutex_);
    auto& mine = held();
    auto it = std::find_if(mine.begin(), mine.end(), [&](const auto& e) { return e.first == this; });
    if (it != mine.end() && --it->second <= 0) {
      *it = mine.back();  // keeps the vector's memory: no allocation per transaction
      mine.pop_back();
    }
    if (--active_ == 0) idle_cv_.notify_all();
  }
  // Runs `resize` with no transaction open, after at most `wait` for the
  // open ones to end; false (not run) when they did not, or when this
  // thread holds one.
  bool quiesce(std::chrono::milliseconds wait, const std::function<void()>& resize) {
    std::unique_lock lock(mutex_);
    if (std::any_of(held().begin(), held().end(), [&](const auto& e) { return e.first == this; })) return false;
    const auto deadline = std::chrono::steady_clock::now() + wait;
    if (!open_cv_.wait_until(lock, deadline, [&] { return !closed_; })) return false;
    closed_ = true;
    const bool idle = idle_cv_.wait_until(lock, deadline, [&] { return active_ == 0; });
    if (idle) resize();
    closed_ = false;
    open_cv_.notify_all();
    return idle;
  }
  // Set by a write that found the map full, for the writer to grow it.
  std::atomic<bool> map_full{false};

 private:
  // This thread's open transactions, per gate: a thread uses one or two
  // gates, so a small vector, whose memory stays once grown.
  static std::vector<std::pair<const Gate*, int>>& held() {
    thread_local std::vector<std::pair<const Gate*, int>> counts;
    return counts;
  }
  int& held_here() {
    auto& mine = held();
    for (auto& e : mine)
      if (e.first == this) return e.second;
    return mine.emplace_back(this, 0).second;
  }
  std::mutex mutex_;
  std::condition_variable open_cv_, idle_cv_;
  bool closed_ = false;
  std::size_t active_ = 0;
};

inline MDB_val val(ByteView bytes) { return MDB_val{bytes.size(), const_cast<std::uint8_t*>(bytes.data())}; }
inline MDB_val val(std::string_view s) { return MDB_val{s.size(), const_cast<char*>(s.data())}; }
inline ByteView view(const MDB_val& v) { return ByteView(static_cast<const std::uint8_t*>(v.mv_data), v.mv_size); }

class Txn {
 public:
  Txn() = default;
  Txn(MDB_env* env, Gate* gate, bool write, int* rc) {
    gate->enter();
    *rc = mdb_txn_begin(env, nullptr, write ? 0 : MDB_RDONLY, &txn_);
    if (*rc) {
      txn_ = nullptr;
      gate->leave();
    } else {
      gate_ = gate;
    }
  }
  Txn(Txn&& o) noexcept : txn_(std::exchange(o.txn_, nullptr)), gate_(std::exchange(o.gate_, nullptr)) {}
  Txn& operator=(Txn&& o) noexcept {
    if (this != &o) {
      abort();
      txn_ = std::exchange(o.txn_, nullptr);
      gate_ = std::exchange(o.gate_, nullptr);
    }
    return *this;
  }
  Txn(const Txn&) = delete;
  Txn& operator=(const Txn&) = delete;
  ~Txn() { abort(); }

  MDB_txn* get() const { return txn_; }
  void abort() {
    if (txn_) mdb_txn_abort(txn_);
    txn_ = nullptr;
    release();
  }
  Status commit() {
    int rc = mdb_txn_commit(txn_);
    txn_ = nullptr;
    noted(rc);
    release();
    if (rc) return lmdb_error("commit", rc);
    return {};
  }

  // nullopt when absent; the view is valid until the transaction ends.
  std::optional<ByteView> get(MDB_dbi dbi, ByteView key) const {
    MDB_val k = val(key), v;
    if (mdb_get(txn_, dbi, &k, &v) != 0) return std::nullopt;
    return view(v);
  }
  Status put(MDB_dbi dbi, ByteView key, ByteView value, unsigned flags = 0) {
    MDB_val k = val(key), v = val(value);
    int rc = mdb_put(txn_, dbi, &k, &v, flags);
    noted(rc);
    if (rc && rc != MDB_KEYEXIST) return lmdb_error("put", rc);
    return {};
  }
  Status del(MDB_dbi dbi, ByteView key, const ByteView* value = nullptr) {
    MDB_val k = val(key), v;
    if (value) v = val(*value);
    int rc = mdb_del(txn_, dbi, &k, value ? &v : nullptr);
    noted(rc);
    if (rc && rc != MDB_NOTFOUND) return lmdb_error("delete", rc);
    return {};
  }
  // For a write made by mdb_* directly (mdb_drop): returns rc.
  int noted(int rc) const {
    if (rc == MDB_MAP_FULL && gate_) gate_->map_full = true;
    return rc;
  }

 private:
  void release() {
    if (gate_) std::exchange(gate_, nullptr)->leave();
  }
  MDB_txn* txn_ = nullptr;
  Gate* gate_ = nullptr;
};

class Cursor {
 public:
  Cursor(const Txn& txn, MDB_dbi dbi) { mdb_cursor_open(txn.get(), dbi, &cursor_); }
  Cursor(const Cursor&) = delete;
  Cursor& operator=(const Cursor&) = delete;
  ~Cursor() {
    if (cursor_) mdb_cursor_close(cursor_);
  }

  // Each returns false at the end. key()/value() are valid until the next move.
  bool seek(ByteView key) { return move(MDB_SET_RANGE, &key); }  // first key >= key
  bool first() { return move(MDB_FIRST); }
  bool last() { return move(MDB_LAST); }
  bool next() { return move(MDB_NEXT); }
  bool prev() { return move(MDB_PREV); }
  // Positions at the last key <= `key`.
  bool seek_at_or_before(ByteView key) {
    if (!seek(key)) return last();
    if (std::lexicographical_compare(key.begin(), key.end(), this->key().begin(), this->key().end())) return prev();
    return true;
  }
  ByteView key() const { return view(k_); }
  ByteView value() const { return view(v_); }

 private:
  bool move(MDB_cursor_op op, const ByteView* key = nullptr) {
    if (key) k_ = val(*key);
    return mdb_cursor_get(cursor_, &k_, &v_, op) == 0;
  }
  MDB_cursor* cursor_ = nullptr;
  MDB_val k_{}, v_{};
};

}  // namespace seedbank::indexer::lmdb
