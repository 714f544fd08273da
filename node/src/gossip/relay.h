// Records between nodes: the set of record ids reconciliation works on,
// what has been asked of which session (in_flight), announcements, the
// records each session waits to be sent (push queue) or has sent and not
// yet stored (ingest buffer), and records refused here. Part of the Engine;
// gossip thread only.
#pragma once

#include <atomic>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <unordered_map>
#include <vector>

#include "gossip/sessions.h"
#include "gossip/worker.h"
#include "seedbank/indexer/index.h"
#include "seedbank/protocol/log.h"
#include "seedbank/protocol/reconcile.h"
#include "seedbank/protocol/record.h"

namespace seedbank::node::gossip {

class Relay {
 public:
  // `stored` runs for each record stored from a peer (added or
  // superseding), at the time the store finished. Records from peers are
  // verified and stored on `worker`.
  using Stored = std::function<void(const protocol::Record&, Clock::time_point now)>;
  Relay(Sessions& sessions, Worker& worker, indexer::Index& index, indexer::Admission admission, Stored stored,
        protocol::Log log = {})
      : sessions_(sessions),
        worker_(worker),
        index_(index),
        admission_(admission),
        stored_(std::move(stored)),
        log_(std::move(log)) {}

  // The ids of the index, sorted by (time, id), with what arrived since.
  const std::vector<protocol::reconcile::Item>& item_set();
  void load_items();
  // Records this node's processes stored (a publish, a rating): announces
  // those not announced yet and returns them.
  std::vector<protocol::RecordId> add_local(const std::vector<protocol::RecordId>& ids);
  // The same for records stored without being handed over (another
  // process's import): found by walking the index when it holds more
  // records than the relay knows of and has on the worker (those are
  // skipped: their own announcement follows).
  std::vector<protocol::RecordId> scan_local();

  void opened(SessionId id);
  // Records it sent and that were not stored yet are stored now.
  void closed(SessionId id, Clock::time_point now);

  // Message kinds this part answers. Each closes (maybe bans) a session
  // that breaks the protocol.
  void on_have(SessionId id, capnp::List<capnp::Data>::Reader ids, Clock::time_point now);
  void on_want(SessionId id, capnp::List<capnp::Data>::Reader ids);
  void on_records(SessionId id, capnp::List<capnp::Data>::Reader records, Clock::time_point now);
  void on_reconcile(SessionId id, capnp::Data::Reader data, Clock::time_point now);
  // Verifies and stores records from a peer (a query's answer) on the
  // worker; `then` runs on the gossip thread with how many were new, also
  // when the session was closed for them.
  void store(SessionId id, std::vector<protocol::Bytes> batch, Clock::time_point now,
             std::function<void(std::size_t, Clock::time_point)> then);
  // Stores what `id` sent and is not stored yet (no more frames are
  // waiting), unless its previous batch is still being stored: then it
  // follows that one.
  void flush_ingest(SessionId id, Clock::time_point now);
  bool has_ingest(SessionId id) const;
  // False while `id` has a batch being stored and a full one waiting, or
  // while all sessions together hold kMaxIngestBytes of records to store:
  // the transport stops reading it until Sessions::resume.
  bool accepting(SessionId id, Clock::time_point now);
  // Sends `id` records from its push queue while its send queue is short.
  void pump(SessionId id);
  // Announces ids to every open session but `from`, in one `have` per peer
  // at the end of this I/O turn.
  void announce(const std::vector<protocol::RecordId>& ids, SessionId from);
  void start_reconcile(SessionId id);
  // Whether `id` has nothing waiting to be sent (a reconciliation may start).
  bool idle(SessionId id) const;
  // Forgets requests that were not answered in time.
  void expire(Clock::time_point now);

  struct Counters {
    std::uint64_t records_in = 0, records_out = 0;
  };
  Counters counters(SessionId id) const;
  std::uint64_t records_received() const { return records_received_; }
  std::uint64_t reconciliations() const { return reconciliations_; }
  std::size_t in_flight() const { return in_flight_.size(); }

 private:
  struct Peer {
    std::deque<protocol::RecordId> push_queue;
    std::vector<protocol::Bytes> ingest_buffer;  // received records not yet stored
    std::size_t buffer_bytes = 0;
    bool storing = false;               // a batch of its records is on the worker
    std::optional<SessionFacts> facts;  // as it opened: who to ban for records checked after it closed
    std::uint32_t refused = 0;          // records it sent that admission refused
    Counters counters;
  };
  struct Requested {
    Clock::time_point until;
    SessionId from;
  };
  Peer* peer(SessionId id);
  // Hands `id`'s ingest buffer to the worker (a session's batches are
  // stored one after another, in order).
  void store_stream(SessionId id, Clock::time_point now);
  // Verifies and stores `batch` on the worker. `counted`: how many of
  // held_bytes_ are its (a buffer's); `from`: the sender, for a ban.
  void submit(SessionId id, std::optional<SessionFacts> from, std::vector<protocol::Bytes> batch, std::size_t counted,
              Clock::time_point now, std::function<void(std::size_t, Clock::time_point)> then);
  // On the gossip thread, with the worker's outcomes: bookkeeping,
  // announcements, bans. Returns how many records were new.
  std::size_t stored(SessionId id, const std::optional<SessionFacts>& from, const std::vector<protocol::Bytes>& batch,
                     const std::vector<indexer::IngestOutcome>& outcomes, Clock::time_point now);
  // Reads again the sessions paused for the all-sessions limit, once under it.
  void resume_paused();
  void request(SessionId id, const std::vector<protocol::RecordId>& ids, Clock::time_point now);
  void send_ids(SessionId id, bool want, const std::vector<protocol::RecordId>& ids);
  void flush_announcements();
  void remember_refused(const protocol::RecordId& id, Clock::time_point now);
  bool recently_refused(const protocol::RecordId& id, Clock::time_point now);

  Sessions& sessions_;
  Worker& worker_;
  indexer::Index& index_;
  indexer::Admission admission_;
  Stored stored_;
  protocol::Log log_;
  std::vector<protocol::reconcile::Item> items_, pending_items_;
  std::map<protocol::RecordId, Requested> in_flight_;
  std::vector<std::pair<protocol::RecordId, SessionId>> to_announce_;  // id, and who sent it to us
  bool announce_posted_ = false;
  // When a storage failure (a full index or disk) was last logged: once a minute.
  std::optional<Clock::time_point> storage_warned_;
  // Records admission refused are not asked for again for an hour (a rate
  // limit may allow them then), so reconciliation does not fetch them from
  // every peer over and over.
  std::map<protocol::RecordId, Clock::time_point> refused_ids_;  // id -> when refused
  std::map<SessionId, Peer> peers_;
  std::uint64_t records_received_ = 0, reconciliations_ = 0;
  std::map<protocol::RecordId, unsigned> on_worker_;  // records submitted and not yet back
  // Of those, how many the worker has stored (added or superseding); the
  // worker adds, the continuation takes away.
  std::shared_ptr<std::atomic<std::size_t>> landed_ = std::make_shared<std::atomic<std::size_t>>(0);
  std::size_t held_bytes_ = 0;  // in ingest buffers and on the worker
  std::set<SessionId> paused_;  // by the all-sessions limit
};

}  // namespace seedbank::node::gossip
