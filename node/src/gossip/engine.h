// The gossip protocol without sockets: what this node does with one decoded
// message from a session, when a session opens or closes, and when time
// passes. libtorrent's lsd::process_packet() is the model: the transport
// (transport.h) decodes frames and calls handle(); unit tests and the
// fuzzer call it the same way with a Sessions of their own and a clock they
// control. The engine never reads a clock: every entry point takes `now`.
//
// It owns the record relay (relay.h), the seeding lists (seeders.h) and
// image fetches (blobs.h); the address book belongs to the caller. Gossip
// thread only, except the calls marked thread-safe. A peer that breaks the
// protocol is closed (and banned) through Sessions::close; a message kind
// this node does not know is ignored.
#pragma once

#include <functional>
#include <map>
#include <random>
#include <set>

#include "gossip/address_book.h"
#include "gossip/blobs.h"
#include "gossip/relay.h"
#include "gossip/seeders.h"
#include "gossip/sessions.h"
#include "gossip/view.h"
#include "gossip/worker.h"
#include "seedbank/node/gossip.h"

namespace seedbank::node::gossip {

class Engine {
 public:
  // `options` and everything else must outlive the engine. `unix_time`
  // gives the wall clock (seconds) for peers.json's lastSeen. Records from
  // peers are stored on `worker` (null: at once, inside the call that
  // brought them).
  Engine(Sessions& sessions, AddressBook& book, indexer::Index& index, const GossipOptions& options,
         const protocol::SecretKey& node_key, std::function<std::int64_t()> unix_time = {}, Worker* worker = nullptr);
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Where this node accepts sessions, told to peers in hello (0: nowhere).
  void set_gossip_port(std::uint16_t port) { gossip_port_ = port; }

  // A session is authenticated and open: greets it (hello, peers, seeding
  // list) and, when this node dialled it, starts a reconciliation.
  void on_open(SessionId id, Clock::time_point now);
  // A session closed: what was asked of it may be asked of others.
  void on_closed(SessionId id, Clock::time_point now);
  // One message from open session `id`. Never throws: a message that
  // breaks Cap'n Proto's limits closes and bans the session.
  void handle(SessionId id, const schema::GossipMessage::Reader& message, Clock::time_point now);
  // No more frames from `id` are waiting: stores the records it sent.
  void flush_ingest(SessionId id, Clock::time_point now);
  bool has_ingest(SessionId id) const { return relay_.has_ingest(id); }
  // False while `id` has sent more than the worker has stored: read it
  // again at Sessions::resume.
  bool accepting(SessionId id) { return relay_.accepting(id, now_); }
  // `id`'s send queue got shorter: sends it more of what it asked for.
  void pump(SessionId id) { relay_.pump(id); }

  // Timer-driven entry points. tick(): once a second (expires requests,
  // pings every kPingEvery ticks). sync(): every sync_interval, reconciles
  // with a random peer that is not being sent records. on_deadline(): when
  // Sessions::wake_at asked for it.
  void tick(Clock::time_point now);
  void sync(Clock::time_point now);
  void on_deadline(Clock::time_point now);

  // What GossipService offers, on the gossip thread.
  std::vector<protocol::RecordId> add_local(const std::vector<protocol::RecordId>& ids) {
    return relay_.add_local(ids);
  }
  std::vector<protocol::RecordId> scan_local() { return relay_.scan_local(); }
  void set_seeding(std::vector<protocol::Sha256Digest> info_hashes);
  void ask_seeders(const protocol::Sha256Digest& info_hash, Clock::time_point now) { seeders_.ask(info_hash, now); }
  std::vector<std::string> seeders_of(const protocol::Sha256Digest& info_hash) const { return seeders_.of(info_hash); }
  void query(const std::string& hash, std::chrono::milliseconds timeout, std::function<void(std::size_t)> done,
             Clock::time_point now);
  void fetch_blob(const protocol::Sha256Digest& sha256, const protocol::RecordId& record,
                  std::function<void(protocol::Status)> done, Clock::time_point now) {
    blobs_.want(sha256, record, kNoSession, std::move(done), now);
  }
  // What other threads may read (seeder counts, images being fetched).
  const View& view() const { return view_; }

  // records_received, sessions_opened, reconciliations (the transport
  // counts the rest).
  GossipStats stats() const;
  Relay::Counters counters(SessionId id) const { return relay_.counters(id); }
  // How many record ids are asked for and not received yet.
  std::size_t in_flight() const { return relay_.in_flight(); }
  const std::vector<protocol::reconcile::Item>& item_set() { return relay_.item_set(); }

 private:
  struct PendingQuery {
    std::set<SessionId> asked;  // sessions that have not answered yet
    std::size_t received = 0;
    std::size_t storing = 0;  // answers on the worker
    std::function<void(std::size_t)> done;
    Clock::time_point deadline;
  };
  void dispatch(SessionId id, const schema::GossipMessage::Reader& m, Clock::time_point now);
  void on_hello(SessionId id, schema::Hello::Reader h);
  void on_peers(SessionId id, capnp::List<schema::PeerAddress>::Reader peers);
  void on_query(SessionId id, schema::Query::Reader q);
  void on_query_reply(SessionId id, schema::QueryReply::Reader r, Clock::time_point now);
  void send_peers(const SessionFacts& s);
  void finish_query(std::uint32_t id);

  Sessions& sessions_;
  AddressBook& book_;
  indexer::Index& index_;
  const GossipOptions& options_;
  const protocol::SecretKey& node_key_;
  std::function<std::int64_t()> unix_time_;
  std::uint16_t gossip_port_ = 0;
  InlineWorker inline_worker_;
  View view_;
  Relay relay_;
  Seeders seeders_;
  Blobs blobs_;
  std::map<std::uint32_t, PendingQuery> queries_;
  std::map<SessionId, std::size_t> learnt_;  // new addresses each session taught the book
  std::uint32_t next_query_ = 1;
  std::mt19937_64 rng_{std::random_device{}()};
  std::uint64_t sessions_opened_ = 0;
  unsigned ticks_ = 0;
  Clock::time_point now_{};  // of the entry point running, for callbacks from the parts
};

}  // namespace seedbank::node::gossip
