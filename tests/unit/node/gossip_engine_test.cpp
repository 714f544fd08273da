// The gossip engine without sockets: several engines, each over a real
// LMDB index in a temp dir, wired to each other through an in-memory
// Sessions, with a clock the test moves.
#include <capnp/any.h>
#include <capnp/message.h>
#include <sodium.h>
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <deque>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <set>

#include "gossip/engine.h"
#include "gossip/limits.h"
#include "seedbank/protocol/gossip_message.h"
#include "support/require_ok.h"
#include "support/test_records.h"

namespace fs = std::filesystem;
namespace p = seedbank::protocol;
namespace g = seedbank::node::gossip;
using seedbank::node::ContentStore;
using seedbank::node::GossipOptions;

namespace {

struct Net;

struct Closed {
  g::SessionId id;
  std::string reason;
  bool ban;
};

// One node: an index, a content store, an address book and an engine; its
// sessions are links to other nodes of the same Net.
struct Node : g::Sessions {
  Net& net;
  std::string ip;
  fs::path dir;
  std::unique_ptr<seedbank::indexer::Index> index;
  std::unique_ptr<ContentStore> store;
  GossipOptions options;
  p::SecretKey key = p::SecretKey::generate();
  std::unique_ptr<g::AddressBook> book;
  std::unique_ptr<g::Engine> engine;
  bool mute = false;  // drops everything it receives
  // With `hold_worker` (set before start()), records from peers wait in
  // `held` until the test (or Net::run, when a session is paused) stores them.
  struct HeldWorker : g::Worker {
    std::deque<Job> jobs;
    void submit(Job job, TimePoint) override { jobs.push_back(std::move(job)); }
    bool run_one(g::Clock::time_point now) {
      if (jobs.empty()) return false;
      auto job = std::move(jobs.front());
      jobs.pop_front();
      job()(now);
      return true;
    }
  };
  bool hold_worker = false;
  HeldWorker held;
  // As the transport: a session the engine did not accept more from is not
  // read until the engine resumes it.
  std::set<g::SessionId> paused;
  std::size_t pauses = 0;
  struct Link {
    Node* peer;
    g::SessionId peer_id;
    g::SessionFacts facts;
  };
  std::map<g::SessionId, Link> links;
  std::vector<Closed> closed;

  Node(Net& n, int number) : net(n), ip("10.0.0." + std::to_string(number)) {
    dir = fs::temp_directory_path() / ("seedbank-gossip-engine-" + std::to_string(std::random_device{}()));
    options.log = p::Log(p::LogLevel::warn, p::Log::stderr_sink());  // bans only
    seedbank::indexer::IndexOptions io;
    io.dir = dir / "index";
    io.network = "test";
    io.map_size = 1ull << 28;
    auto opened = seedbank::indexer::Index::open(io);
    SB_REQUIRE_OK(opened);
    index = std::move(opened).value();
    store = std::make_unique<ContentStore>(dir / "store");
    SB_REQUIRE_OK(store->open());
    options.data_dir = dir;
    options.network = "test";
    options.store = store.get();
    options.image_policy = [](const p::Record&, const p::Sha256Digest&) { return std::optional<std::string>(); };
    book = std::make_unique<g::AddressBook>(dir / "peers.json", options.ban_time);
  }
  ~Node() override {
    engine.reset();
    index.reset();
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
  // Records stored before start() are the engine's starting item set.
  void start() {
    engine = std::make_unique<g::Engine>(
        *this, *book, *index, options, key, [] { return std::int64_t{1700000000}; }, hold_worker ? &held : nullptr);
    engine->set_gossip_port(7400);
  }
  std::string address() const { return ip + ":7400"; }
  p::RecordId add(const p::Bytes& bytes) {
    auto out = index->ingest(bytes, seedbank::indexer::Durability::local);
    BOOST_REQUIRE_MESSAGE(out.status == seedbank::indexer::IngestStatus::added, out.error.message);
    return out.id;
  }
  bool banned_someone() const {
    for (const auto& c : closed)
      if (c.ban) return true;
    return false;
  }

  void send(g::SessionId id, capnp::MessageBuilder& message) override;
  void close(g::SessionId id, const std::string& reason, bool ban) override;
  std::vector<g::SessionFacts> open_sessions() const override {
    std::vector<g::SessionFacts> out;
    for (const auto& [id, l] : links) out.push_back(l.facts);
    return out;
  }
  std::optional<g::SessionFacts> facts(g::SessionId id) const override {
    auto it = links.find(id);
    if (it == links.end()) return std::nullopt;
    return it->second.facts;
  }
  void set_hello(g::SessionId id, const g::PeerHello& hello) override {
    if (auto it = links.find(id); it != links.end()) it->second.facts.hello = hello;
  }
  void defer(std::function<void()> fn) override;
  void wake_at(g::Clock::time_point) override {}
  void resume(g::SessionId id) override { paused.erase(id); }
  void ban(const g::SessionFacts& who, const std::string& reason) override;
};

struct Net {
  g::Clock::time_point now = g::Clock::time_point{} + std::chrono::hours(1000);
  std::vector<std::unique_ptr<Node>> nodes;
  struct Delivery {
    Node* to;
    g::SessionId id;
    p::Bytes bytes;
  };
  std::deque<Delivery> wire;
  std::deque<std::function<void()>> deferred;
  g::SessionId next_id = 1;

  Node& node() {
    nodes.push_back(std::make_unique<Node>(*this, static_cast<int>(nodes.size() + 1)));
    return *nodes.back();
  }
  // Starts both engines, then `dialler` dials `listener`.
  std::pair<g::SessionId, g::SessionId> start_and_connect(Node& dialler, Node& listener) {
    listener.start();
    dialler.start();
    return connect(dialler, listener);
  }
  // A sender that dialled a receiver whose worker holds batches until the
  // test (or step(), for a paused session) stores them.
  struct HeldPair {
    Node& sender;
    Node& receiver;
    g::SessionId to_receiver, from_sender;
  };
  HeldPair held_pair() {
    auto& sender = node();
    auto& receiver = node();
    receiver.hold_worker = true;
    auto [to, from] = start_and_connect(sender, receiver);
    return {sender, receiver, to, from};
  }
  // `a` dials `b`; both engines are told, then everything is delivered.
  std::pair<g::SessionId, g::SessionId> connect(Node& a, Node& b) {
    auto ia = next_id++, ib = next_id++;
    g::SessionFacts fa, fb;
    fa.id = ia;
    fa.outbound = true;
    fa.dial_address = b.address();
    fa.remote_ip = boost::asio::ip::make_address(b.ip);
    fa.remote_port = 7400;
    fa.peer_id = b.key.public_key();
    fb.id = ib;
    fb.remote_ip = boost::asio::ip::make_address(a.ip);
    fb.remote_port = static_cast<std::uint16_t>(40000 + ia);
    fb.peer_id = a.key.public_key();
    a.links[ia] = {&b, ib, fa};
    b.links[ib] = {&a, ia, fb};
    a.engine->on_open(ia, now);
    b.engine->on_open(ib, now);
    run();
    return {ia, ib};
  }
  // One step: delivers a message, or runs deferred work, or stores a batch
  // a worker holds. False when there is nothing left (messages to a paused
  // session that is never resumed are left on the wire).
  bool step() {
    // The first message for a session that is being read (per-session
    // order is kept: a paused session's messages all wait).
    auto next = std::find_if(wire.begin(), wire.end(), [](const Delivery& d) { return !d.to->paused.count(d.id); });
    if (next != wire.end()) {
      auto d = std::move(*next);
      wire.erase(next);
      if (d.to->mute || !d.to->links.count(d.id)) return true;
      auto message = p::gossip::ReceivedMessage::parse(d.bytes);
      BOOST_REQUIRE(message.ok());
      d.to->engine->handle(d.id, message->root(), now);
      bool more = false;
      for (const auto& w : wire) more |= w.to == d.to && w.id == d.id;
      if (!more && d.to->links.count(d.id)) d.to->engine->flush_ingest(d.id, now);
      if (d.to->links.count(d.id) && !d.to->engine->accepting(d.id)) {
        d.to->paused.insert(d.id);
        ++d.to->pauses;
      }
      return true;
    }
    if (!deferred.empty()) {
      auto fn = std::move(deferred.front());
      deferred.pop_front();
      fn();
      return true;
    }
    for (auto& n : nodes)
      if (n->held.run_one(now)) return true;
    return false;
  }
  // Steps until nothing is left.
  void run() {
    for (int steps = 0; steps < 1000000; ++steps)
      if (!step()) return;
    BOOST_FAIL("the engines never went quiet");
  }
  // Moves the clock; engines act on what waited for it.
  void advance(std::chrono::seconds by) {
    now += by;
    for (auto& n : nodes)
      if (n->engine) n->engine->on_deadline(now);
    run();
  }
};

void Node::send(g::SessionId id, capnp::MessageBuilder& message) {
  auto it = links.find(id);
  if (it == links.end()) return;
  net.wire.push_back({it->second.peer, it->second.peer_id, p::gossip::encode(message)});
}

void Node::close(g::SessionId id, const std::string& reason, bool ban) {
  auto it = links.find(id);
  if (it == links.end()) return;
  auto link = it->second;
  links.erase(it);
  closed.push_back({id, reason, ban});
  engine->on_closed(id, net.now);
  // The other end sees the connection go.
  net.deferred.push_back([&net = net, peer = link.peer, pid = link.peer_id] {
    if (!peer->links.erase(pid)) return;
    peer->closed.push_back({pid, "connection closed", false});
    peer->engine->on_closed(pid, net.now);
  });
}

void Node::defer(std::function<void()> fn) { net.deferred.push_back(std::move(fn)); }

void Node::ban(const g::SessionFacts& who, const std::string& reason) {
  closed.push_back({who.id, "banned after it left: " + reason, true});
  book->ban(who.peer_id, who.remote_ip, who.remote_ip.to_string(), reason, net.now);
}

// A message `from` sends on session `id`, as a peer that breaks the rules
// would build it.
template <typename Fill>
void inject(Node& from, g::SessionId id, Fill fill) {
  capnp::MallocMessageBuilder m;
  fill(m.initRoot<seedbank::schema::GossipMessage>());
  from.send(id, m);
}

void send_records(Node& from, g::SessionId id, const std::vector<p::Bytes>& records) {
  inject(from, id, [&](seedbank::schema::GossipMessage::Builder root) {
    auto list = root.initRecords(static_cast<unsigned>(records.size()));
    for (unsigned i = 0; i < records.size(); ++i)
      list.set(i, capnp::Data::Reader(records[i].data(), records[i].size()));
  });
}

p::Bytes release(const p::SecretKey& key, std::uint64_t n) {
  return seedbank::testing::sign_release(key, seedbank::testing::sample_release(n), seedbank::testing::now_ms() - n);
}

p::Bytes image_post(const p::SecretKey& key, const p::RecordId& of, const p::Sha256Digest& sha, std::uint64_t size) {
  auto bytes = p::sign_record(
      key, "test", seedbank::testing::now_ms(),
      [&](seedbank::schema::RecordBody::Builder body) {
        auto post = body.initPayload().initImagePost();
        post.setRelease(capnp::Data::Reader(of.data(), of.size()));
        auto img = post.initImage();
        img.setName("mine.png");
        img.setSha256(capnp::Data::Reader(sha.data(), sha.size()));
        img.setSize(size);
        img.setWidth(512);
        img.setHeight(512);
        img.setMimeType("image/png");
        post.setCaption("made with it");
      },
      seedbank::testing::kTestWorkBits);
  return std::move(bytes).value();
}

// A correctly signed and stamped record whose payload is of a kind this
// node's schema does not have (as a newer node would send).
p::Bytes unknown_kind_record(const p::SecretKey& key) {
  capnp::MallocMessageBuilder builder;
  auto body = builder.initRoot<seedbank::schema::RecordBody>();
  body.setAuthor(capnp::Data::Reader(key.public_key().bytes.data(), 32));
  auto t = seedbank::testing::now_ms();
  body.setCreatedAt(t);
  body.setNetwork("test");
  body.initPayload().initRating().setStars(5);
  std::uint64_t nonce = 0;
  while (p::work_bits(key.public_key(), t, nonce) < seedbank::testing::kTestWorkBits) ++nonce;
  body.setWorkNonce(nonce);
  // The union's discriminant (16 bits at data offset 8) names kind 42.
  auto data = capnp::AnyStruct::Builder(seedbank::schema::RecordBody::Builder(body)).getDataSection();
  data[8] = 42;
  data[9] = 0;
  BOOST_REQUIRE(static_cast<unsigned>(body.asReader().getPayload().which()) == 42);
  auto words = capnp::canonicalize(body.asReader());
  auto canonical = words.asBytes();
  p::Bytes message(p::kRecordDomain.begin(), p::kRecordDomain.end());
  message.insert(message.end(), canonical.begin(), canonical.end());
  auto signature = key.sign(message);
  capnp::MallocMessageBuilder out;
  auto root = out.initRoot<seedbank::schema::SignedRecord>();
  root.setBody(body.asReader());
  root.setSignature(capnp::Data::Reader(signature.data(), signature.size()));
  auto signed_words = capnp::canonicalize(root.asReader());
  auto bytes = signed_words.asBytes();
  return p::Bytes(bytes.begin(), bytes.end());
}

}  // namespace

BOOST_AUTO_TEST_SUITE(gossip_engine_test)

BOOST_AUTO_TEST_CASE(a_new_record_travels_along_a_chain) {
  Net net;
  auto& a = net.node();
  auto& b = net.node();
  auto& c = net.node();
  for (auto* n : {&a, &b, &c}) n->start();
  net.connect(a, b);
  net.connect(b, c);
  BOOST_TEST(a.links.size() == 1u);  // a and c never meet
  auto id = a.add(release(p::SecretKey::generate(), 1));
  BOOST_TEST(!c.index->contains(id));
  // As after a publish: handed over once, announced once.
  BOOST_TEST(a.engine->add_local({id}).size() == 1u);
  BOOST_TEST(a.engine->add_local({id}).empty());
  BOOST_TEST(a.engine->scan_local().empty());
  net.run();
  BOOST_TEST(b.index->contains(id));
  BOOST_TEST(c.index->contains(id));
  BOOST_TEST(c.engine->stats().records_received == 1u);
  BOOST_TEST(b.engine->in_flight() == 0u);
  BOOST_TEST(!a.banned_someone());
  BOOST_TEST(!b.banned_someone());
  BOOST_TEST(!c.banned_someone());
}

BOOST_AUTO_TEST_CASE(reconciliation_brings_a_lagging_node_up_to_date) {
  Net net;
  auto& ahead = net.node();
  auto& behind = net.node();
  auto author = p::SecretKey::generate();
  std::vector<p::RecordId> ids;
  for (std::uint64_t n = 0; n < 40; ++n) {
    auto bytes = release(author, n);
    ids.push_back(ahead.add(bytes));
    if (n < 10) behind.add(bytes);
  }
  ahead.start();
  behind.start();
  auto [from_behind, from_ahead] = net.connect(behind, ahead);  // the dialler reconciles
  for (const auto& id : ids) BOOST_TEST(behind.index->contains(id));
  BOOST_TEST(behind.engine->stats().records_received == 30u);
  BOOST_TEST(behind.engine->stats().reconciliations == 1u);
  BOOST_TEST(behind.engine->counters(from_behind).records_in == 30u);
  BOOST_TEST(ahead.engine->counters(from_ahead).records_out == 30u);

  // Records the other side never announced arrive with the next round.
  auto late_id = ahead.add(release(author, 100));
  behind.mute = true;  // the announcement is lost
  ahead.engine->scan_local();
  net.run();
  behind.mute = false;
  BOOST_TEST(!behind.index->contains(late_id));
  behind.engine->sync(net.now);
  net.run();
  BOOST_TEST(behind.index->contains(late_id));
}

BOOST_AUTO_TEST_CASE(a_record_stored_without_being_handed_over_is_found_by_the_scan) {
  Net net;
  auto& a = net.node();
  auto& b = net.node();
  net.start_and_connect(a, b);
  auto id = a.add(release(p::SecretKey::generate(), 7));  // `seedbank record import` that did not reach the node
  auto found = a.engine->scan_local();
  BOOST_TEST_REQUIRE(found.size() == 1u);
  BOOST_TEST(found.front() == id);
  net.run();
  BOOST_TEST(b.index->contains(id));
  BOOST_TEST(a.engine->scan_local().empty());
}

// Records from a peer that the worker has stored, and whose news has not
// reached the relay yet, are not taken for records another process stored
// (they would be announced twice, as this node's own).
BOOST_AUTO_TEST_CASE(a_batch_being_stored_is_not_taken_for_a_local_record) {
  Net net;
  auto [sender, receiver, to_receiver, from_sender] = net.held_pair();
  auto rec = release(p::SecretKey::generate(), 9);
  send_records(sender, to_receiver, {rec});
  while (receiver.held.jobs.empty() && net.step()) {
  }
  BOOST_REQUIRE(receiver.held.jobs.size() == 1u);
  auto job = std::move(receiver.held.jobs.front());
  receiver.held.jobs.pop_front();
  auto then = job();  // the commit, without what follows on the gossip thread
  BOOST_TEST(receiver.index->contains(p::record_id_of(rec)));
  BOOST_TEST(receiver.engine->scan_local().empty());
  // A record another process stored meanwhile is found; the peer's is not.
  auto local = receiver.add(release(p::SecretKey::generate(), 10));
  auto found = receiver.engine->scan_local();
  BOOST_TEST_REQUIRE(found.size() == 1u);
  BOOST_TEST(found.front() == local);
  then(net.now);
  net.run();
  BOOST_TEST(receiver.engine->stats().records_received == 1u);
  BOOST_TEST(receiver.engine->scan_local().empty());
  BOOST_TEST(sender.index->contains(local));
}

// Stores run on a worker thread in the node; here they wait until the
// test runs them. A peer that sends faster than they finish is not read
// meanwhile (what it can make this node hold stays bounded), is read again
// once they catch up, and nothing it sent is lost.
BOOST_AUTO_TEST_CASE(a_sender_faster_than_the_store_is_paused_and_loses_nothing) {
  Net net;
  auto [sender, receiver, to_receiver, from_sender] = net.held_pair();
  auto author = p::SecretKey::generate();
  // Three full batches: the first goes to the worker, the second fills the
  // buffer (reading stops), the third waits on the wire.
  std::vector<p::Bytes> batches[3] = {{}, {}, {}};
  std::vector<p::RecordId> ids;
  for (int b = 0; b < 3; ++b) {
    auto one = release(author, 1000 + static_cast<std::uint64_t>(b));
    ids.push_back(p::record_id_of(one));
    batches[b].assign(g::kIngestBatch, one);  // the same record over and over: cheap to make, full size
  }
  for (const auto& batch : batches) send_records(sender, to_receiver, batch);
  net.run();
  for (const auto& id : ids) BOOST_TEST(receiver.index->contains(id));
  BOOST_TEST(receiver.pauses > 0u);
  BOOST_TEST(receiver.paused.empty());  // and resumed
  BOOST_TEST(net.wire.empty());
  BOOST_TEST(receiver.engine->accepting(from_sender));
  BOOST_TEST(receiver.engine->stats().records_received == 3u);
  BOOST_TEST(!receiver.banned_someone());
  BOOST_TEST(receiver.links.count(from_sender) == 1u);
}

BOOST_AUTO_TEST_CASE(a_malformed_message_bans_the_peer) {
  Net net;
  auto& good = net.node();
  auto& bad = net.node();
  auto to_good = net.start_and_connect(bad, good).first;
  inject(bad, to_good, [](seedbank::schema::GossipMessage::Builder root) {
    p::Bytes short_id(31, 7);
    root.initHave(1).set(0, capnp::Data::Reader(short_id.data(), short_id.size()));
  });
  net.run();
  BOOST_REQUIRE(good.closed.size() == 1u);
  BOOST_TEST(good.closed[0].reason == "malformed have");
  BOOST_TEST(good.closed[0].ban);
  BOOST_TEST(good.links.empty());
  BOOST_TEST(bad.links.empty());  // its end closed too
}

BOOST_AUTO_TEST_CASE(a_record_with_a_bad_signature_bans_the_peer) {
  Net net;
  auto& good = net.node();
  auto& bad = net.node();
  auto to_good = net.start_and_connect(bad, good).first;
  auto forged = release(p::SecretKey::generate(), 5);
  forged[forged.size() - 1] ^= 1;  // the signature is the last field
  auto honest = release(p::SecretKey::generate(), 6);
  send_records(bad, to_good, {forged, honest});
  net.run();
  BOOST_REQUIRE(good.closed.size() == 1u);
  BOOST_TEST(good.closed[0].ban);
  BOOST_TEST(good.closed[0].reason.find("sent an invalid record") == 0u);
  BOOST_TEST(!good.index->contains(p::record_id_of(forged)));
  // The valid record of the same batch is kept, and known to gossip (not
  // left for a scan to take for this node's own).
  BOOST_TEST(good.index->contains(p::record_id_of(honest)));
  BOOST_TEST(good.engine->stats().records_received == 1u);
  BOOST_TEST(good.engine->scan_local().empty());
}

// Records still waiting when their sender hangs up are checked all the
// same: the valid ones are kept, and a forged one bans the key and address
// the session had.
BOOST_AUTO_TEST_CASE(hanging_up_before_the_check_does_not_escape_the_ban) {
  Net net;
  auto [bad, good, to_good, from_bad] = net.held_pair();
  auto author = p::SecretKey::generate();
  auto first = release(author, 1), honest = release(author, 2), forged = release(author, 3);
  forged[forged.size() - 1] ^= 1;
  send_records(bad, to_good, std::vector<p::Bytes>(g::kIngestBatch, first));  // a full batch: to the worker
  send_records(bad, to_good, {honest, forged});                               // waits behind it
  while (!net.wire.empty()) net.step();
  BOOST_REQUIRE(good.held.jobs.size() == 1u);
  bad.close(to_good, "hanging up", false);
  while (net.step()) {
  }
  BOOST_TEST(good.index->contains(p::record_id_of(first)));
  BOOST_TEST(good.index->contains(p::record_id_of(honest)));
  BOOST_TEST(!good.index->contains(p::record_id_of(forged)));
  BOOST_TEST(good.links.count(from_bad) == 0u);
  BOOST_TEST(good.banned_someone());
  BOOST_TEST(good.book->banned(bad.key.public_key(), net.now));
}

BOOST_AUTO_TEST_CASE(refused_future_and_unknown_kind_records_cost_no_ban) {
  Net net;
  auto& receiver = net.node();
  auto& sender = net.node();
  auto [to_receiver, to_sender] = net.start_and_connect(sender, receiver);
  // A fresh key without the work stamp this node asks of new keys: refused.
  auto fresh = p::SecretKey::generate();
  auto t = seedbank::testing::unstamped_time(fresh, seedbank::testing::now_ms(), seedbank::testing::kTestWorkBits);
  auto unstamped = seedbank::testing::sign_release(fresh, seedbank::testing::sample_release(7), t, "test", 0);
  // Stamped an hour ahead of this node's clock: rejected, but no peer's fault.
  auto future = seedbank::testing::sign_release(p::SecretKey::generate(), seedbank::testing::sample_release(9),
                                                seedbank::testing::now_ms() + 3600 * 1000);
  // Of a kind from a newer schema: kept and relayed (forward compatibility).
  auto unknown = unknown_kind_record(p::SecretKey::generate());
  auto fine = release(p::SecretKey::generate(), 8);
  send_records(sender, to_receiver, {unstamped, future, unknown, fine});
  net.run();
  BOOST_TEST(receiver.closed.empty());
  BOOST_TEST(receiver.links.count(to_sender) == 1u);  // its end of the session
  BOOST_TEST(!receiver.index->contains(p::record_id_of(unstamped)));
  BOOST_TEST(!receiver.index->contains(p::record_id_of(future)));
  BOOST_TEST(receiver.index->contains(p::record_id_of(unknown)));
  BOOST_TEST(receiver.index->contains(p::record_id_of(fine)));
  // A refused record is not asked for again when offered; one dropped for
  // another reason is (its sender's clock may be fine by then).
  auto offer = [&, to = to_receiver](const p::Bytes& record) {
    inject(sender, to, [&](seedbank::schema::GossipMessage::Builder root) {
      auto id = p::record_id_of(record);
      root.initHave(1).set(0, capnp::Data::Reader(id.data(), id.size()));
    });
    net.run();
  };
  auto before = receiver.engine->in_flight();
  offer(unstamped);
  BOOST_TEST(receiver.engine->in_flight() == before);
  sender.mute = true;  // so the record is not sent again
  offer(future);
  sender.mute = false;
  BOOST_TEST(receiver.engine->in_flight() == before + 1);
  // An unknown message kind is ignored too: built from raw words with a
  // union tag past every kind this node knows.
  {
    capnp::MallocMessageBuilder m;
    auto root = m.initRoot<seedbank::schema::GossipMessage>();
    root.setPing();
    auto data = capnp::AnyStruct::Builder(seedbank::schema::GossipMessage::Builder(root)).getDataSection();
    data[0] = 200;
    sender.send(to_receiver, m);
  }
  net.run();
  BOOST_TEST(receiver.closed.empty());
}

BOOST_AUTO_TEST_CASE(an_image_posts_image_is_fetched_with_it) {
  Net net;
  auto& owner = net.node();
  auto& silent = net.node();
  auto& reader = net.node();
  silent.mute = true;
  // The image, larger than one chunk.
  p::Bytes image(static_cast<std::size_t>(seedbank::node::kBlobChunk + 300000));
  for (std::size_t i = 0; i < image.size(); ++i) image[i] = static_cast<std::uint8_t>(i * 7 + i / 1000);
  p::Sha256Digest sha{};
  crypto_hash_sha256(sha.data(), image.data(), image.size());
  auto file = owner.dir / "mine.png";
  std::ofstream(file, std::ios::binary).write(reinterpret_cast<const char*>(image.data()), image.size());
  SB_REQUIRE_OK(owner.store->add(file, sha, ContentStore::AddMode::copy));
  auto author = p::SecretKey::generate();
  auto rel = owner.add(release(author, 1));
  auto post = owner.add(image_post(author, rel, sha, image.size()));
  owner.start();
  silent.start();
  reader.start();
  // The silent peer opened first, so it is asked first.
  net.connect(reader, silent);
  net.connect(reader, owner);
  BOOST_REQUIRE(reader.index->contains(post));
  BOOST_TEST(reader.engine->view().fetching(sha));
  BOOST_TEST(!reader.store->contains(sha));
  net.advance(std::chrono::seconds(19));
  BOOST_TEST(!reader.store->contains(sha));  // still waiting for the silent one
  net.advance(std::chrono::seconds(2));      // 20 s without an answer: the next peer
  BOOST_REQUIRE(reader.store->contains(sha));
  BOOST_TEST(!reader.engine->view().fetching(sha));
  std::ifstream in(reader.store->path_of(sha), std::ios::binary);
  p::Bytes got((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  BOOST_TEST((got == image));
  BOOST_TEST(!reader.banned_someone());

  // Asked directly, a node without the image's record refuses at once.
  std::optional<p::Status> outcome;
  silent.engine->fetch_blob(
      sha, p::RecordId{}, [&](p::Status st) { outcome = st; }, net.now);
  net.run();
  BOOST_REQUIRE(outcome.has_value());
  BOOST_TEST(!outcome->ok());
}

BOOST_AUTO_TEST_CASE(peers_exchange_addresses_and_hellos) {
  Net net;
  auto& a = net.node();
  auto& b = net.node();
  a.book->remember("10.9.9.9:7400", "", true, 1700000000);
  a.book->remember("127.0.0.1:7401", "", true, 1700000000);  // means nothing to a peer elsewhere
  a.book->remember("10.8.8.8:7400", "", false, 0);           // never worked: not passed on
  a.start();
  b.start();
  auto [to_b, to_a] = net.connect(a, b);
  BOOST_TEST(b.book->contains("10.9.9.9:7400"));
  BOOST_TEST(!b.book->contains("127.0.0.1:7401"));
  BOOST_TEST(!b.book->contains("10.8.8.8:7400"));
  // b learnt a's gossip address from its hello, as one that works.
  BOOST_REQUIRE(b.book->contains(a.address()));
  BOOST_TEST(b.book->known().at(a.address()).last_seen == 1700000000);
  BOOST_TEST(b.book->known().at(a.address()).node_id == a.key.public_key().to_text());
  auto facts = b.facts(to_a);
  BOOST_REQUIRE(facts.has_value());
  BOOST_TEST(facts->hello.version == g::kVersion);
  BOOST_TEST(facts->hello.features == g::kFeatures);
  BOOST_TEST(facts->hello.gossip_port == 7400);
  BOOST_TEST(facts->hello.agent == "seedbank/0.1");
  // a dialled b: b's address is remembered as working.
  BOOST_TEST(a.book->known().at(b.address()).last_seen == 1700000000);
  (void)to_b;
}

// A session that names address after address (to fill the book with its
// own and push honest ones out) teaches at most its share, and is not
// banned: an honest node may simply know many peers.
BOOST_AUTO_TEST_CASE(one_session_cannot_fill_the_address_book) {
  Net net;
  auto& a = net.node();
  auto& b = net.node();
  auto [to_b, to_a] = net.start_and_connect(a, b);
  auto before = b.book->known().size();
  for (int m = 0; m < 20; ++m) {
    inject(a, to_b, [&](seedbank::schema::GossipMessage::Builder root) {
      auto list = root.initPeers(static_cast<unsigned>(g::kPeersPerMessage));
      for (unsigned i = 0; i < list.size(); ++i) {
        list[i].setHost("10.1." + std::to_string(m) + "." + std::to_string(i + 1));
        list[i].setPort(7400);
      }
    });
  }
  net.run();
  BOOST_TEST(b.book->known().size() - before == g::kLearntPerSession);
  BOOST_TEST(!b.banned_someone());
  BOOST_TEST(b.links.count(to_a) == 1u);
}

// A flood of hostile peers fills the log with one line a minute beyond
// the first few, not one a ban.
BOOST_AUTO_TEST_CASE(bans_are_logged_a_few_at_a_time_then_summed_up) {
  std::vector<std::string> lines;
  p::Log log(p::LogLevel::info, [&](p::LogLevel, std::string_view, std::string_view m) { lines.emplace_back(m); });
  auto dir = fs::temp_directory_path() / ("seedbank-ban-log-" + std::to_string(std::random_device{}()));
  g::AddressBook book(dir / "peers.json", std::chrono::seconds(600), log);
  auto now = g::Clock::time_point{} + std::chrono::hours(1000);
  for (int i = 0; i < 500; ++i) {
    auto ip = boost::asio::ip::make_address("10.2." + std::to_string(i / 200) + "." + std::to_string(i % 200 + 1));
    book.ban(std::nullopt, ip, ip.to_string() + ":7400", "sent garbage", now);
  }
  BOOST_TEST(lines.size() == 10u);
  BOOST_TEST(book.banned(boost::asio::ip::make_address("10.2.2.100"), now));  // every ban holds
  book.expire(now + std::chrono::seconds(61));
  BOOST_REQUIRE(lines.size() == 11u);
  BOOST_TEST(lines.back().find("490 more") != std::string::npos);
  book.expire(now + std::chrono::seconds(200));
  BOOST_TEST(lines.size() == 11u);  // nothing more to say
  std::error_code ec;
  fs::remove_all(dir, ec);
}

BOOST_AUTO_TEST_CASE(a_query_ends_when_peers_answer_or_time_runs_out) {
  Net net;
  auto& asker = net.node();
  auto& knower = net.node();
  auto& silent = net.node();
  silent.mute = true;
  auto rel = release(p::SecretKey::generate(), 3);
  knower.add(rel);
  for (auto* n : {&asker, &knower, &silent}) n->start();
  asker.mute = true;  // no reconciliation: the query must bring it
  net.connect(asker, knower);
  asker.mute = false;
  net.connect(asker, silent);
  BOOST_REQUIRE(!asker.index->contains(p::record_id_of(rel)));
  std::optional<std::size_t> got;
  auto sha = seedbank::testing::sample_release(3).files[0].sha256;
  asker.engine->query(
      p::to_hex(sha), std::chrono::milliseconds(5000), [&](std::size_t n) { got = n; }, net.now);
  net.run();
  BOOST_TEST(!got.has_value());  // the silent peer has not answered
  BOOST_TEST(asker.index->contains(p::record_id_of(rel)));
  net.advance(std::chrono::seconds(4));
  BOOST_TEST(!got.has_value());
  net.advance(std::chrono::seconds(1));
  BOOST_REQUIRE(got.has_value());
  BOOST_TEST(*got == 1u);
}

BOOST_AUTO_TEST_SUITE_END()
