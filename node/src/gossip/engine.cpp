#include "gossip/engine.h"

#include <algorithm>
#include <cstring>

#include "gossip/endpoint.h"
#include "gossip/limits.h"

namespace seedbank::node::gossip {

namespace p = seedbank::protocol;

Engine::Engine(Sessions& sessions, AddressBook& book, indexer::Index& index, const GossipOptions& options,
               const p::SecretKey& node_key, std::function<std::int64_t()> unix_time, Worker* worker)
    : sessions_(sessions),
      book_(book),
      index_(index),
      options_(options),
      node_key_(node_key),
      unix_time_(std::move(unix_time)),
      relay_(
          sessions, worker ? *worker : inline_worker_, index, options.admission,
          [this](const p::Record& rec, Clock::time_point now) {
            blobs_.fetch_image_of(rec, now);
            if (options_.on_stored) options_.on_stored(rec);
          },
          options.log.with_component("gossip")),
      seeders_(sessions, view_, options.bt_port),
      blobs_(sessions, view_, index, options) {
  if (!unix_time_)
    unix_time_ = [] {
      return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
          .count();
    };
  relay_.load_items();
}

GossipStats Engine::stats() const {
  GossipStats s;
  s.records_received = relay_.records_received();
  s.sessions_opened = sessions_opened_;
  s.reconciliations = relay_.reconciliations();
  return s;
}

void Engine::on_open(SessionId id, Clock::time_point now) {
  now_ = now;
  auto s = sessions_.facts(id);
  if (!s) return;
  ++sessions_opened_;
  std::string how = "inbound";
  if (s->outbound) {
    auto source = book_.source_of(s->dial_address);
    how = "dialled, address from " + std::string(source ? to_string(*source) : "a peer");
  }
  options_.log.with_component("gossip").info("peer " + endpoint_text(s->remote_ip, s->remote_port) + " joined (" + how +
                                             ", " + s->peer_id.to_text() + ")");
  if (s->outbound && !s->dial_address.empty())
    book_.remember(s->dial_address, s->peer_id.to_text(), true, unix_time_());
  relay_.opened(id);
  {
    capnp::MallocMessageBuilder m;
    auto h = m.initRoot<schema::GossipMessage>().initHello();
    h.setVersion(kVersion);
    h.setAgent("seedbank/0.1");
    h.setGossipPort(gossip_port_);
    h.setBtPort(options_.bt_port);
    h.setRecords(relay_.item_set().size());
    h.setFeatures(kFeatures);
    sessions_.send(id, m);
  }
  send_peers(*s);
  seeders_.send_mine(id);
  if (s->outbound) relay_.start_reconcile(id);
}

void Engine::on_closed(SessionId id, Clock::time_point now) {
  now_ = now;
  relay_.closed(id, now);
  blobs_.closed(id, now);
  seeders_.closed(id);
  learnt_.erase(id);
  // A query that waited only for this peer is answered now, not at its
  // deadline (closing runs inside other calls: after this one).
  std::vector<std::uint32_t> answered;
  for (auto& [qid, q] : queries_)
    if (q.asked.erase(id) && q.asked.empty() && q.storing == 0) answered.push_back(qid);
  if (!answered.empty())
    sessions_.defer([this, answered] {
      for (auto qid : answered) finish_query(qid);
    });
}

void Engine::send_peers(const SessionFacts& s) {
  auto list = book_.to_share(s.dial_address, kPeersPerMessage, rng_);
  if (list.empty()) return;
  capnp::MallocMessageBuilder m;
  auto peers = m.initRoot<schema::GossipMessage>().initPeers(static_cast<unsigned>(list.size()));
  for (unsigned i = 0; i < list.size(); ++i) {
    peers[i].setHost(list[i].first.address.to_string());
    peers[i].setPort(list[i].first.port);
    if (auto key = p::PublicKey::from_text(list[i].second))
      peers[i].setNodeId(capnp::Data::Reader(key->bytes.data(), 32));
  }
  sessions_.send(s.id, m);
}

void Engine::flush_ingest(SessionId id, Clock::time_point now) {
  now_ = now;
  relay_.flush_ingest(id, now);
}

void Engine::handle(SessionId id, const schema::GossipMessage::Reader& message, Clock::time_point now) {
  now_ = now;
  try {
    dispatch(id, message, now);
  } catch (const kj::Exception& e) {
    sessions_.close(id, std::string("malformed message: ") + e.getDescription().cStr(), true);
  }
}

void Engine::dispatch(SessionId id, const schema::GossipMessage::Reader& m, Clock::time_point now) {
  using W = schema::GossipMessage;
  switch (m.which()) {
    case W::HELLO:
      return on_hello(id, m.getHello());
    case W::HAVE:
      return relay_.on_have(id, m.getHave(), now);
    case W::WANT:
      return relay_.on_want(id, m.getWant());
    case W::RECORDS:
      return relay_.on_records(id, m.getRecords(), now);
    case W::RECONCILE:
      return relay_.on_reconcile(id, m.getReconcile(), now);
    case W::PEERS:
      return on_peers(id, m.getPeers());
    case W::SEEDING:
      return seeders_.on_seeding(id, m.getSeeding());
    case W::QUERY:
      return on_query(id, m.getQuery());
    case W::QUERY_REPLY:
      return on_query_reply(id, m.getQueryReply(), now);
    case W::FIND_SEEDERS:
      return seeders_.on_find_seeders(id, m.getFindSeeders());
    case W::SEEDERS:
      return seeders_.on_seeders(id, m.getSeeders());
    case W::WANT_BLOB:
      return blobs_.on_want_blob(id, m.getWantBlob(), now);
    case W::BLOB:
      return blobs_.on_blob(id, m.getBlob(), now);
    case W::PING:
      return;
    case W::BYE:
      return sessions_.close(id, "peer said bye: " + std::string(m.getBye().cStr()).substr(0, 200), false);
    default:
      return;  // a newer message kind: ignore
  }
}

void Engine::on_hello(SessionId id, schema::Hello::Reader h) {
  auto s = sessions_.facts(id);
  if (!s) return;
  PeerHello hello;
  hello.version = h.getVersion();
  hello.features = h.getFeatures();
  hello.agent = std::string(h.getAgent().cStr()).substr(0, 64);
  hello.gossip_port = h.getGossipPort();
  hello.bt_port = h.getBtPort();
  sessions_.set_hello(id, hello);
  if (hello.gossip_port)
    book_.remember(endpoint_text(s->remote_ip, hello.gossip_port), s->peer_id.to_text(), true, unix_time_(),
                   s->outbound ? Source::exchange : Source::inbound);
}

void Engine::on_peers(SessionId id, capnp::List<schema::PeerAddress>::Reader peers) {
  if (peers.size() > 4 * kPeersPerMessage) return sessions_.close(id, "too many peer addresses", true);
  auto s = sessions_.facts(id);
  if (!s) return;
  for (auto a : peers) {
    boost::system::error_code ec;
    auto addr = boost::asio::ip::make_address(a.getHost().cStr(), ec);
    if (ec || a.getPort() == 0) continue;
    // The key a peer claims for an address is only a hint; it is learnt
    // for real from the session (so it cannot get an honest address
    // skipped as banned).
    if (a.getNodeId().size() == 32 && std::memcmp(a.getNodeId().begin(), node_key_.public_key().bytes.data(), 32) == 0)
      continue;
    // A loopback address only means something from a loopback peer.
    if (addr.is_loopback() && !is_loopback(s->remote_ip)) continue;
    auto text = endpoint_text(addr, a.getPort());
    if (book_.contains(text)) continue;
    // One session cannot fill the address book (kMaxKnown) with addresses
    // of its choosing: past its share, what it names is ignored. (A peer
    // that comes back under new keys gets a new share; preferring diverse
    // address ranges is the peer discovery issue's.)
    auto& learnt = learnt_[id];
    if (learnt >= kLearntPerSession) return;
    ++learnt;
    book_.remember(text, "", false, unix_time_());
  }
}

void Engine::on_query(SessionId id, schema::Query::Reader q) {
  std::string hash(q.getHash().cStr(), std::min<std::size_t>(q.getHash().size(), 200));
  capnp::MallocMessageBuilder out;
  auto reply = out.initRoot<schema::GossipMessage>().initQueryReply();
  reply.setId(q.getId());
  std::vector<p::Bytes> found;
  if (auto matches = index_.find_by_hash(hash, 16)) {
    std::set<p::RecordId> seen;
    std::size_t bytes = 0;
    for (const auto& match : *matches) {
      if (!seen.insert(match.release).second) continue;
      if (auto rec = index_.get(match.release)) {
        if (bytes + rec->bytes().size() > kMaxReplyBytes) break;
        bytes += rec->bytes().size();
        found.emplace_back(rec->bytes().begin(), rec->bytes().end());
      }
    }
  }
  auto list = reply.initRecords(static_cast<unsigned>(found.size()));
  for (unsigned i = 0; i < found.size(); ++i) list.set(i, capnp::Data::Reader(found[i].data(), found[i].size()));
  sessions_.send(id, out);
}

void Engine::on_query_reply(SessionId id, schema::QueryReply::Reader r, Clock::time_point now) {
  auto it = queries_.find(r.getId());
  if (r.getRecords().size() > 16) return sessions_.close(id, "oversize query reply", true);
  // Only the first answer of a session that was asked counts.
  if (it == queries_.end() || !it->second.asked.erase(id)) return;
  std::vector<p::Bytes> batch;
  for (auto rec : r.getRecords()) batch.emplace_back(rec.begin(), rec.end());
  auto qid = r.getId();
  ++it->second.storing;
  relay_.store(id, std::move(batch), now, [this, qid](std::size_t fresh, Clock::time_point) {
    auto q = queries_.find(qid);
    if (q == queries_.end()) return;  // finished at its deadline
    q->second.received += fresh;
    --q->second.storing;
    if (q->second.asked.empty() && q->second.storing == 0) finish_query(qid);
  });
}

void Engine::finish_query(std::uint32_t id) {
  auto it = queries_.find(id);
  if (it == queries_.end()) return;
  auto done = std::move(it->second.done);
  auto received = it->second.received;
  queries_.erase(it);
  if (done) done(received);
}

void Engine::query(const std::string& hash, std::chrono::milliseconds timeout, std::function<void(std::size_t)> done,
                   Clock::time_point now) {
  now_ = now;
  auto open = sessions_.open_sessions();
  if (open.empty()) {
    sessions_.defer([done] { done(0); });
    return;
  }
  auto id = next_query_++;
  auto& q = queries_[id];
  for (const auto& s : open) q.asked.insert(s.id);
  q.done = std::move(done);
  q.deadline = now + timeout;
  sessions_.wake_at(q.deadline);
  for (const auto& s : open) {
    capnp::MallocMessageBuilder m;
    auto qm = m.initRoot<schema::GossipMessage>().initQuery();
    qm.setId(id);
    qm.setHash(hash);
    sessions_.send(s.id, m);
  }
}

void Engine::set_seeding(std::vector<p::Sha256Digest> info_hashes) {
  if (!seeders_.set_mine(std::move(info_hashes))) return;
  for (const auto& s : sessions_.open_sessions()) seeders_.send_mine(s.id);
}

void Engine::tick(Clock::time_point now) {
  now_ = now;
  ++ticks_;
  relay_.expire(now);
  if (ticks_ % std::max<unsigned>(1, static_cast<unsigned>(kPingEvery.count())) == 0)
    for (const auto& s : sessions_.open_sessions()) {
      capnp::MallocMessageBuilder m;
      m.initRoot<schema::GossipMessage>().setPing();
      sessions_.send(s.id, m);
    }
}

void Engine::sync(Clock::time_point now) {
  now_ = now;
  // One round at a time per peer: skip peers still being sent records.
  std::vector<SessionId> idle;
  for (const auto& s : sessions_.open_sessions())
    if (relay_.idle(s.id)) idle.push_back(s.id);
  if (!idle.empty()) relay_.start_reconcile(idle[rng_() % idle.size()]);
}

void Engine::on_deadline(Clock::time_point now) {
  now_ = now;
  std::vector<std::uint32_t> due;
  for (const auto& [id, q] : queries_)
    if (q.deadline <= now) due.push_back(id);
  for (auto id : due) finish_query(id);
  auto next = blobs_.on_deadline(now);
  for (const auto& [id, q] : queries_)
    if (!next || q.deadline < *next) next = q.deadline;
  if (next) sessions_.wake_at(*next);
}

}  // namespace seedbank::node::gossip
