#include "gossip/relay.h"

#include <algorithm>
#include <cstring>

#include "gossip/endpoint.h"
#include "gossip/limits.h"
#include "seedbank/protocol/gossip_session.h"
#include "seedbank/protocol/util.h"

namespace seedbank::node::gossip {

namespace p = seedbank::protocol;
namespace rc = seedbank::protocol::reconcile;
using p::ErrorCode;

namespace {

bool ids_of(capnp::List<capnp::Data>::Reader list, std::vector<p::RecordId>* out) {
  if (list.size() > kMaxIds) return false;
  for (auto d : list) {
    if (d.size() != 32) return false;
    out->push_back(p::util::digest_of(d));
  }
  return true;
}

}  // namespace

const std::vector<rc::Item>& Relay::item_set() {
  if (!pending_items_.empty()) {
    std::sort(pending_items_.begin(), pending_items_.end());
    auto mid = items_.size();
    items_.insert(items_.end(), pending_items_.begin(), pending_items_.end());
    std::inplace_merge(items_.begin(), items_.begin() + static_cast<long>(mid), items_.end());
    items_.erase(std::unique(items_.begin(), items_.end()), items_.end());
    pending_items_.clear();
  }
  return items_;
}

void Relay::load_items() {
  items_.clear();
  index_.for_each_by_time(0, [&](std::uint64_t t, const p::RecordId& id) {
    items_.push_back({t, id});
    return true;
  });
}

std::vector<p::RecordId> Relay::add_local(const std::vector<p::RecordId>& ids) {
  const auto& items = item_set();
  std::vector<p::RecordId> fresh;
  for (const auto& id : ids) {
    auto rec = index_.get(id);
    if (!rec) continue;
    rc::Item item{rec->body().getCreatedAt(), id};
    if (std::binary_search(items.begin(), items.end(), item) ||
        std::find(pending_items_.begin(), pending_items_.end(), item) != pending_items_.end())
      continue;
    pending_items_.push_back(item);
    fresh.push_back(id);
  }
  announce(fresh, kNoSession);
  return fresh;
}

std::vector<p::RecordId> Relay::scan_local() {
  auto stored = index_.stats().records;
  // Records the worker has stored and whose news is on its way are not
  // this node's own: they neither call for a walk nor are taken by one.
  if (stored <= items_.size() + pending_items_.size() + landed_->load()) return {};
  const auto& items = item_set();
  std::vector<p::RecordId> fresh;
  index_.for_each_by_time(0, [&](std::uint64_t t, const p::RecordId& id) {
    rc::Item item{t, id};
    if (!on_worker_.count(id) && !std::binary_search(items.begin(), items.end(), item)) {
      pending_items_.push_back(item);
      fresh.push_back(id);
    }
    return true;
  });
  announce(fresh, kNoSession);
  return fresh;
}

void Relay::opened(SessionId id) { peers_[id].facts = sessions_.facts(id); }

void Relay::closed(SessionId id, Clock::time_point now) {
  // What it was asked for may be asked of others at once.
  for (auto it = in_flight_.begin(); it != in_flight_.end();)
    it = it->second.from == id ? in_flight_.erase(it) : std::next(it);
  paused_.erase(id);
  auto it = peers_.find(id);
  if (it == peers_.end()) return;
  // What it sent and was not stored yet is still checked (and its sender
  // banned if it must be).
  auto peer = std::move(it->second);
  peers_.erase(it);
  if (!peer.ingest_buffer.empty()) submit(id, peer.facts, std::move(peer.ingest_buffer), peer.buffer_bytes, now, {});
}

Relay::Peer* Relay::peer(SessionId id) {
  auto it = peers_.find(id);
  return it == peers_.end() ? nullptr : &it->second;
}

bool Relay::idle(SessionId id) const {
  auto it = peers_.find(id);
  return it != peers_.end() && it->second.push_queue.empty();
}

Relay::Counters Relay::counters(SessionId id) const {
  auto it = peers_.find(id);
  return it == peers_.end() ? Counters{} : it->second.counters;
}

void Relay::expire(Clock::time_point now) {
  for (auto it = in_flight_.begin(); it != in_flight_.end();)
    it = it->second.until < now ? in_flight_.erase(it) : std::next(it);
}

void Relay::start_reconcile(SessionId id) {
  ++reconciliations_;
  rc::Reconciler r(item_set());
  auto first = r.initiate();
  capnp::MallocMessageBuilder m;
  m.initRoot<schema::GossipMessage>().setReconcile(capnp::Data::Reader(first.data(), first.size()));
  sessions_.send(id, m);
}

void Relay::send_ids(SessionId id, bool want, const std::vector<p::RecordId>& ids) {
  for (std::size_t at = 0; at < ids.size(); at += kMaxIds) {
    std::size_t n = std::min(kMaxIds, ids.size() - at);
    capnp::MallocMessageBuilder m;
    auto root = m.initRoot<schema::GossipMessage>();
    auto list = want ? root.initWant(static_cast<unsigned>(n)) : root.initHave(static_cast<unsigned>(n));
    for (std::size_t i = 0; i < n; ++i) list.set(static_cast<unsigned>(i), capnp::Data::Reader(ids[at + i].data(), 32));
    sessions_.send(id, m);
  }
}

void Relay::remember_refused(const p::RecordId& id, Clock::time_point now) {
  if (refused_ids_.size() >= 100000) {  // forget the expired ones; at worst, all
    std::erase_if(refused_ids_, [&](const auto& e) { return now - e.second > std::chrono::hours(1); });
    if (refused_ids_.size() >= 100000) refused_ids_.clear();
  }
  refused_ids_[id] = now;
}

bool Relay::recently_refused(const p::RecordId& id, Clock::time_point now) {
  auto it = refused_ids_.find(id);
  if (it == refused_ids_.end()) return false;
  if (now - it->second <= std::chrono::hours(1)) return true;
  refused_ids_.erase(it);
  return false;
}

// Asks `id` for the ids this node lacks and nobody is sending yet.
void Relay::request(SessionId id, const std::vector<p::RecordId>& ids, Clock::time_point now) {
  std::vector<p::RecordId> wanted;
  for (const auto& r : ids) {
    if (in_flight_.size() >= kMaxInFlight) break;  // the rest comes with a later reconciliation
    if (in_flight_.count(r) || recently_refused(r, now) || index_.contains(r)) continue;
    in_flight_[r] = {now + kInFlightTimeout, id};
    wanted.push_back(r);
  }
  if (!wanted.empty()) send_ids(id, true, wanted);
}

// Queues ids for one `have` per peer at the end of this I/O turn, so a busy
// relay sends one announcement for many received messages; the peer a
// record came from is not told about it.
void Relay::announce(const std::vector<p::RecordId>& ids, SessionId from) {
  if (ids.empty()) return;
  for (const auto& id : ids) to_announce_.emplace_back(id, from);
  if (announce_posted_) return;
  announce_posted_ = true;
  sessions_.defer([this] { flush_announcements(); });
}

void Relay::flush_announcements() {
  announce_posted_ = false;
  auto queued = std::exchange(to_announce_, {});
  for (const auto& s : sessions_.open_sessions()) {
    std::vector<p::RecordId> ids;
    for (const auto& [id, from] : queued)
      if (from != s.id) ids.push_back(id);
    if (!ids.empty()) send_ids(s.id, false, ids);
  }
}

void Relay::store(SessionId id, std::vector<p::Bytes> batch, Clock::time_point now,
                  std::function<void(std::size_t, Clock::time_point)> then) {
  submit(id, sessions_.facts(id), std::move(batch), 0, now, std::move(then));
}

void Relay::store_stream(SessionId id, Clock::time_point now) {
  auto* pr = peer(id);
  if (!pr || pr->storing || pr->ingest_buffer.empty()) return;
  pr->storing = true;
  auto counted = std::exchange(pr->buffer_bytes, 0);
  submit(id, pr->facts, std::exchange(pr->ingest_buffer, {}), counted, now,
         [this, id](std::size_t, Clock::time_point now) {
           auto* pr = peer(id);
           if (!pr) return;
           pr->storing = false;
           // What arrived meanwhile follows at once (the flush when the
           // socket ran dry found this batch on the worker); then the
           // session, if it was paused, is read again.
           store_stream(id, now);
           sessions_.resume(id);
         });
}

void Relay::submit(SessionId id, std::optional<SessionFacts> from, std::vector<p::Bytes> batch, std::size_t counted,
                   Clock::time_point now, std::function<void(std::size_t, Clock::time_point)> then) {
  held_bytes_ -= std::min(held_bytes_, counted);
  // Records already here cost a hash, not a signature check. So do records
  // refused within the hour (a peer's reconciliation offers them again
  // each round).
  batch.erase(std::remove_if(batch.begin(), batch.end(),
                             [&](const p::Bytes& b) {
                               auto rid = p::record_id_of(b);
                               if (!recently_refused(rid, now) && !index_.contains(rid)) return false;
                               in_flight_.erase(rid);
                               return true;
                             }),
              batch.end());
  if (batch.empty()) {
    resume_paused();
    if (then) then(0, now);
    return;
  }
  // Verification and the commit run on the worker. Until they are back,
  // the records count against held_bytes_ and a scan skips them.
  std::size_t bytes = 0;
  std::vector<p::RecordId> ids;
  for (const auto& b : batch) {
    bytes += b.size();
    ids.push_back(p::record_id_of(b));
    ++on_worker_[ids.back()];
  }
  held_bytes_ += bytes;
  auto shared = std::make_shared<std::vector<p::Bytes>>(std::move(batch));
  worker_.submit(
      [this, id, from = std::move(from), shared, bytes, ids = std::move(ids), then = std::move(then), &index = index_,
       admission = admission_, landed_counter = landed_]() mutable {
        auto outcomes = std::make_shared<std::vector<indexer::IngestOutcome>>(
            index.ingest_batch(*shared, indexer::Durability::replicated, admission));
        std::size_t landed = 0;
        for (const auto& o : *outcomes)
          landed += o.status == indexer::IngestStatus::added || o.status == indexer::IngestStatus::superseded;
        *landed_counter += landed;
        return Worker::Continuation([this, id, from = std::move(from), shared, bytes, ids = std::move(ids), outcomes,
                                     landed, then = std::move(then)](Clock::time_point now) {
          *landed_ -= landed;
          for (const auto& rid : ids)
            if (auto it = on_worker_.find(rid); it != on_worker_.end() && --it->second == 0) on_worker_.erase(it);
          held_bytes_ -= std::min(held_bytes_, bytes);
          auto fresh = stored(id, from, *shared, *outcomes, now);
          resume_paused();
          if (then) then(fresh, now);
        });
      },
      now);
}

void Relay::resume_paused() {
  if (held_bytes_ >= kMaxIngestBytes) return;
  for (auto id : std::exchange(paused_, {})) sessions_.resume(id);
}

std::size_t Relay::stored(SessionId id, const std::optional<SessionFacts>& from, const std::vector<p::Bytes>& batch,
                          const std::vector<indexer::IngestOutcome>& outcomes, Clock::time_point now) {
  std::vector<p::RecordId> fresh;
  // Every outcome counts, also after a record that gets its sender closed:
  // the index has stored the valid ones in the same batch.
  std::optional<std::pair<std::string, bool>> punish;  // reason, ban
  std::size_t unstored = 0;
  const p::Error* storage = nullptr;
  for (std::size_t i = 0; i < outcomes.size() && i < batch.size(); ++i) {
    const auto& o = outcomes[i];
    in_flight_.erase(o.id);
    if (o.status == indexer::IngestStatus::added || o.status == indexer::IngestStatus::superseded) {
      fresh.push_back(o.id);
      auto rec = p::load_stored_record(batch[i]);
      if (rec) pending_items_.push_back({rec->body().getCreatedAt(), o.id});
      if (rec && stored_) stored_(*rec, now);
    } else if (o.status == indexer::IngestStatus::rejected) {
      auto code = o.error.code;
      // Only what no honest node sends bans: a bad signature, broken
      // framing, a limit every node applies, a contradiction. (A record of
      // a kind this node does not know is none of them: the index keeps it.)
      if (code == ErrorCode::bad_signature || code == ErrorCode::malformed || code == ErrorCode::limit ||
          code == ErrorCode::conflict) {
        if (!punish || !punish->second) punish = {{"sent an invalid record: " + o.error.message, true}};
        continue;
      }
      // Refused by this node's own limits (which the peer cannot know: its
      // limits or view may differ, and an attacker could feed it records to
      // get it banned here): not asked for again for a while. Any other
      // reason (a clock ahead of ours, a storage error, a kind or value
      // this node does not support): drop the record, keep the peer.
      if (code == ErrorCode::io) {
        ++unstored;
        storage = &o.error;
      }
      if (code == ErrorCode::refused) {
        remember_refused(o.id, now);
        // The penalty: a session that keeps bringing refused records is
        // closed, not banned (it may be an honest relay; it can redial).
        auto* pr = peer(id);
        if (pr && ++pr->refused > kMaxRefusedPerSession && !punish)
          punish = {
              {"sent " + std::to_string(pr->refused) + " records this node refuses (" + o.error.message + ")", false}};
      }
    }
  }
  // Dropped records are fetched again by a later sync, once there is room.
  if (storage && (!storage_warned_ || now - *storage_warned_ >= std::chrono::minutes(1))) {
    storage_warned_ = now;
    log_.warn("could not store " + std::to_string(unstored) + (unstored == 1 ? " record" : " records") +
              (from ? " from " + endpoint_text(from->remote_ip, from->remote_port) : std::string()) +
              " (a later sync fetches them again): " + storage->message);
  }
  if (auto* pr = peer(id)) pr->counters.records_in += fresh.size();
  records_received_ += fresh.size();
  if (!fresh.empty() && log_.enabled(p::LogLevel::info)) {
    log_.info("received " + std::to_string(fresh.size()) + (fresh.size() == 1 ? " new record" : " new records") +
              (from ? " from " + endpoint_text(from->remote_ip, from->remote_port) : std::string()));
  }
  announce(fresh, id);
  if (punish) {
    if (sessions_.facts(id))
      sessions_.close(id, punish->first, punish->second);
    else if (punish->second && from)  // it hung up before its records were checked
      sessions_.ban(*from, punish->first);
  }
  return fresh.size();
}

bool Relay::has_ingest(SessionId id) const {
  auto it = peers_.find(id);
  return it != peers_.end() && !it->second.ingest_buffer.empty();
}

bool Relay::accepting(SessionId id, Clock::time_point now) {
  // Over the all-sessions limit, what every session holds goes to the
  // worker now (a peer that keeps its buffer just short of a batch, with
  // a frame always half sent, cannot sit on its share), so that every byte
  // held is on its way there and the limit is always left again. Storing
  // may close sessions.
  if (held_bytes_ >= kMaxIngestBytes) {
    std::vector<SessionId> idle;
    for (const auto& [sid, pr] : peers_)
      if (!pr.storing && !pr.ingest_buffer.empty()) idle.push_back(sid);
    for (auto sid : idle) store_stream(sid, now);
  }
  auto* pr = peer(id);
  if (!pr) return true;
  // Its own batch is being stored and the next is full: read it again
  // when that batch is back (store_stream).
  if (pr->storing && (pr->ingest_buffer.size() >= kIngestBatch || pr->buffer_bytes >= kIngestBytes)) return false;
  // All sessions together hold too much: read again once under the limit.
  if (held_bytes_ >= kMaxIngestBytes) {
    paused_.insert(id);
    return false;
  }
  return true;
}

void Relay::flush_ingest(SessionId id, Clock::time_point now) { store_stream(id, now); }

void Relay::pump(SessionId id) {
  for (;;) {
    auto facts = sessions_.facts(id);
    auto* pr = peer(id);
    if (!facts || !pr || facts->queued >= kQueueLow || pr->push_queue.empty()) return;
    std::vector<p::Bytes> batch;
    std::size_t bytes = 0;
    while (!pr->push_queue.empty() && bytes < kRecordsPerFrame && batch.size() < kMaxIds) {
      auto rec = index_.get(pr->push_queue.front());
      pr->push_queue.pop_front();
      if (!rec) continue;
      auto b = rec->bytes();
      if (!batch.empty() && bytes + b.size() > protocol::gossip::kMaxFramePlaintext - 65536) {
        pr->push_queue.push_front(rec->id());
        break;
      }
      bytes += b.size();
      batch.emplace_back(b.begin(), b.end());
    }
    if (batch.empty()) return;
    capnp::MallocMessageBuilder m;
    auto list = m.initRoot<schema::GossipMessage>().initRecords(static_cast<unsigned>(batch.size()));
    for (unsigned i = 0; i < batch.size(); ++i) list.set(i, capnp::Data::Reader(batch[i].data(), batch[i].size()));
    pr->counters.records_out += batch.size();
    sessions_.send(id, m);
  }
}

void Relay::on_have(SessionId id, capnp::List<capnp::Data>::Reader list, Clock::time_point now) {
  std::vector<p::RecordId> ids;
  if (!ids_of(list, &ids)) return sessions_.close(id, "malformed have", true);
  request(id, ids, now);
}

void Relay::on_want(SessionId id, capnp::List<capnp::Data>::Reader list) {
  std::vector<p::RecordId> ids;
  if (!ids_of(list, &ids)) return sessions_.close(id, "malformed want", true);
  auto* pr = peer(id);
  if (!pr) return;
  if (pr->push_queue.size() + ids.size() > kMaxPushQueue) return sessions_.close(id, "asks for too much at once", true);
  pr->push_queue.insert(pr->push_queue.end(), ids.begin(), ids.end());
  pump(id);
}

void Relay::on_records(SessionId id, capnp::List<capnp::Data>::Reader list, Clock::time_point now) {
  if (list.size() > kMaxIds) return sessions_.close(id, "too many records in one message", true);
  auto* pr = peer(id);
  if (!pr) return;
  for (auto r : list) {
    pr->ingest_buffer.emplace_back(r.begin(), r.end());
    pr->buffer_bytes += r.size();
    held_bytes_ += r.size();
  }
  // A full batch is stored at once (so is anything, over the all-sessions
  // limit: what is held must be on its way to the worker); the rest once no
  // frame is waiting (flush_ingest).
  if (pr->ingest_buffer.size() >= kIngestBatch || pr->buffer_bytes >= kIngestBytes || held_bytes_ >= kMaxIngestBytes)
    store_stream(id, now);
}

void Relay::on_reconcile(SessionId id, capnp::Data::Reader data, Clock::time_point now) {
  rc::Reconciler r(item_set());
  rc::Outcome outcome;
  auto reply = r.reply(p::ByteView(data.begin(), data.size()), &outcome);
  if (!reply) return sessions_.close(id, "bad reconciliation message: " + reply.error().message, true);
  if (!reply->empty()) {
    capnp::MallocMessageBuilder out;
    out.initRoot<schema::GossipMessage>().setReconcile(capnp::Data::Reader(reply->data(), reply->size()));
    sessions_.send(id, out);
  }
  request(id, outcome.need, now);
  auto* pr = peer(id);
  if (!pr) return;
  // Over the cap, the rest waits for a later round (nothing is lost).
  for (const auto& rid : outcome.have)
    if (pr->push_queue.size() < kMaxPushQueue) pr->push_queue.push_back(rid);
  pump(id);
}

}  // namespace seedbank::node::gossip
