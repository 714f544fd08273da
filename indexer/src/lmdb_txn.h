// RAII over the LMDB C API. Private to indexer/.
//
// Env owns the environment; Txn is a read or write transaction that aborts
// unless committed; Cursor belongs to a Txn. LMDB error codes become
// protocol::Error with the operation named.
#pragma once

#include <lmdb.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

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
        "or give --index-size to this run; nothing was lost";
  if (rc == ENOSPC) hint = "; the disk is full, free space and retry";
  return protocol::make_error(code, std::string("index: ") + what + ": " + mdb_strerror(rc) + hint);
}

inline MDB_val val(ByteView bytes) { return MDB_val{bytes.size(), const_cast<std::uint8_t*>(bytes.data())}; }
inline MDB_val val(std::string_view s) { return MDB_val{s.size(), const_cast<char*>(s.data())}; }
inline ByteView view(const MDB_val& v) { return ByteView(static_cast<const std::uint8_t*>(v.mv_data), v.mv_size); }

class Txn {
 public:
  Txn() = default;
  Txn(MDB_env* env, bool write, int* rc) {
    *rc = mdb_txn_begin(env, nullptr, write ? 0 : MDB_RDONLY, &txn_);
    if (*rc) txn_ = nullptr;
  }
  Txn(Txn&& o) noexcept : txn_(o.txn_) { o.txn_ = nullptr; }
  Txn& operator=(Txn&& o) noexcept {
    if (this != &o) {
      abort();
      txn_ = o.txn_;
      o.txn_ = nullptr;
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
  }
  Status commit() {
    int rc = mdb_txn_commit(txn_);
    txn_ = nullptr;
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
    if (rc && rc != MDB_KEYEXIST) return lmdb_error("put", rc);
    return {};
  }
  Status del(MDB_dbi dbi, ByteView key, const ByteView* value = nullptr) {
    MDB_val k = val(key), v;
    if (value) v = val(*value);
    int rc = mdb_del(txn_, dbi, &k, value ? &v : nullptr);
    if (rc && rc != MDB_NOTFOUND) return lmdb_error("delete", rc);
    return {};
  }

 private:
  MDB_txn* txn_ = nullptr;
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
