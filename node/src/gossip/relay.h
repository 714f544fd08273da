// Records between nodes: the set of record ids reconciliation works on,
// what has been asked of which session (in_flight), announcements, the
// records each session waits to be sent (push queue) or has sent and not
// yet stored (ingest buffer), and records refused here. Part of the Engine;
// gossip thread only.
#pragma once

#include <deque>
#include <functional>
#include <map>
#include <unordered_map>
#include <vector>

#include "gossip/sessions.h"
#include "seedbank/indexer/index.h"
#include "seedbank/protocol/log.h"
#include "seedbank/protocol/reconcile.h"
#include "seedbank/protocol/record.h"

namespace seedbank::node::gossip {

class Relay {
 public:
  // `stored` runs for each record stored from a peer (added or superseding).
  Relay(Sessions& sessions, indexer::Index& index, indexer::Admission admission,
        std::function<void(const protocol::Record&)> stored, protocol::Log log = {})
      : sessions_(sessions), index_(index), admission_(admission), stored_(std::move(stored)), log_(std::move(log)) {}

  // The ids of the index, sorted by (time, id), with what arrived since.
  const std::vector<protocol::reconcile::Item>& item_set();
  void load_items();
  // Picks up records another process stored and announces them.
  void scan_local();

  void opened(SessionId id);
  void closed(SessionId id);

  // Message kinds this part answers. Each closes (maybe bans) a session
  // that breaks the protocol.
  void on_have(SessionId id, capnp::List<capnp::Data>::Reader ids, Clock::time_point now);
  void on_want(SessionId id, capnp::List<capnp::Data>::Reader ids);
  void on_records(SessionId id, capnp::List<capnp::Data>::Reader records, Clock::time_point now);
  void on_reconcile(SessionId id, capnp::Data::Reader data, Clock::time_point now);
  // Verifies and stores records from a peer. False when the session was
  // closed for them.
  bool store(SessionId id, std::vector<protocol::Bytes> batch, Clock::time_point now);
  // Stores what `id` sent and is not stored yet (no more frames are waiting).
  void flush_ingest(SessionId id, Clock::time_point now);
  bool has_ingest(SessionId id) const;
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
    std::uint32_t refused = 0;                   // records it sent that admission refused
    Counters counters;
  };
  struct Requested {
    Clock::time_point until;
    SessionId from;
  };
  Peer* peer(SessionId id);
  void request(SessionId id, const std::vector<protocol::RecordId>& ids, Clock::time_point now);
  void send_ids(SessionId id, bool want, const std::vector<protocol::RecordId>& ids);
  void flush_announcements();
  void remember_refused(const protocol::RecordId& id, Clock::time_point now);
  bool recently_refused(const protocol::RecordId& id, Clock::time_point now);

  Sessions& sessions_;
  indexer::Index& index_;
  indexer::Admission admission_;
  std::function<void(const protocol::Record&)> stored_;
  protocol::Log log_;
  std::vector<protocol::reconcile::Item> items_, pending_items_;
  std::map<protocol::RecordId, Requested> in_flight_;
  std::vector<std::pair<protocol::RecordId, SessionId>> to_announce_;  // id, and who sent it to us
  bool announce_posted_ = false;
  // Records admission refused are not asked for again for an hour (a rate
  // limit may allow them then), so reconciliation does not fetch them from
  // every peer over and over.
  std::map<protocol::RecordId, Clock::time_point> refused_ids_;  // id -> when refused
  std::map<SessionId, Peer> peers_;
  std::uint64_t records_received_ = 0, reconciliations_ = 0;
};

}  // namespace seedbank::node::gossip
