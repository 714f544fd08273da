#include "seedbank/node/gossip.h"

#include <capnp/message.h>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <nlohmann/json.hpp>

#include <boost/asio/post.hpp>

#include <algorithm>
#include <cstring>
#include <deque>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <unordered_map>

#include "files.h"
#include "seedbank/node/data_dir.h"
#include "seedbank/protocol/bootstrap_list.h"
#include "seedbank/protocol/content_hash.h"
#include "seedbank/protocol/gossip_message.h"
#include "seedbank/protocol/gossip_session.h"
#include "seedbank/protocol/reconcile.h"

namespace seedbank::node {
namespace {

namespace asio = boost::asio;
namespace p = seedbank::protocol;
namespace g = seedbank::protocol::gossip;
namespace rc = seedbank::protocol::reconcile;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;
using p::ErrorCode;
using p::make_error;

constexpr std::uint32_t kVersion = 1;
constexpr std::size_t kMaxIds = 8192;               // ids in one have/want message
constexpr std::size_t kRecordsPerFrame = 1u << 20;  // bytes of records in one message
constexpr std::size_t kQueueLow = 4u << 20;         // refill pushes below this
constexpr std::size_t kMaxQueued = 48u << 20;       // a peer that reads slower is dropped
constexpr std::size_t kMaxPushQueue = 2'000'000;    // ids waiting to be sent to one peer
constexpr std::size_t kMaxSeeding = 200'000;        // info-hashes one peer may claim
constexpr std::size_t kMaxKnown = 2000;             // addresses remembered
constexpr std::size_t kIngestBatch = 8000;          // records gathered into one index commit
constexpr std::size_t kMaxInFlight = 500'000;       // ids requested and not yet received, all peers
constexpr std::size_t kMaxPerAddress = 8;           // sessions from one (non-loopback) IP address
constexpr std::size_t kMaxBans = 100'000;
constexpr std::size_t kMaxReplyBytes = 2u << 20;  // records in one query reply
constexpr std::size_t kMaxBlobFetches = 4;        // images fetched at once; more wait in a queue
constexpr std::size_t kMaxBlobQueue = 1024;
constexpr auto kBlobAnswerTimeout = std::chrono::seconds(20);
constexpr auto kBlobPatience = std::chrono::seconds(120);  // how long peers that are fetching it are waited for
constexpr auto kBlobRetry = std::chrono::seconds(3);
constexpr auto kBlobFailedFor = std::chrono::seconds(30);  // a fetch that found no peer is not retried sooner
constexpr auto kBlobGrace = std::chrono::seconds(10);      // a relay's own fetch says "later" this long without bytes
constexpr std::size_t kMaxBlobsPerAuthor = 32;             // fetching or waiting, images named by one author's records
constexpr std::size_t kMaxKnownImages = 200000;            // remembered image -> record, for fetches on demand
constexpr std::size_t kPeersPerMessage = 32;
constexpr auto kHandshakeTimeout = std::chrono::seconds(10);
constexpr auto kFrameTimeout = std::chrono::seconds(30);
constexpr auto kIdleTimeout = std::chrono::seconds(120);
constexpr auto kPingEvery = std::chrono::seconds(30);
constexpr auto kInFlightTimeout = std::chrono::seconds(30);
constexpr double kMessagesPerSecond = 1000, kMessageBurst = 4000;
constexpr double kBytesPerSecond = 96.0 * (1 << 20), kByteBurst = 192.0 * (1 << 20);

p::RecordId id_of(capnp::Data::Reader d) {
  p::RecordId id{};
  std::memcpy(id.data(), d.begin(), 32);
  return id;
}

// IPv4 peers on a dual-stack socket appear as ::ffff:a.b.c.d.
asio::ip::address normalized(const asio::ip::address& a) {
  if (a.is_v6() && a.to_v6().is_v4_mapped()) return asio::ip::make_address_v4(asio::ip::v4_mapped, a.to_v6());
  return a;
}

bool is_loopback(const asio::ip::address& a) { return normalized(a).is_loopback(); }

std::optional<tcp::endpoint> parse_endpoint(const std::string& host_port, bool port_zero_ok = false) {
  auto colon = host_port.rfind(':');
  if (colon == std::string::npos) return std::nullopt;
  std::string host = host_port.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  boost::system::error_code ec;
  auto addr = asio::ip::make_address(host, ec);
  if (ec) return std::nullopt;
  int port = std::atoi(host_port.c_str() + colon + 1);
  if (port < 0 || port > 65535 || (port == 0 && !port_zero_ok)) return std::nullopt;
  return tcp::endpoint(addr, static_cast<std::uint16_t>(port));
}

std::string endpoint_text(const asio::ip::address& a, std::uint16_t port) {
  return a.is_v6() ? "[" + a.to_string() + "]:" + std::to_string(port) : a.to_string() + ":" + std::to_string(port);
}

// ---- one session ----------------------------------------------------------

struct GossipImpl;

struct Session : std::enable_shared_from_this<Session> {
  enum class State { handshake, auth, open, closed };

  std::shared_ptr<GossipImpl> impl;
  tcp::socket socket;
  bool outbound;
  std::string dial_address;  // what we dialled (outbound)
  asio::ip::address remote_ip;
  std::uint16_t remote_port = 0;
  State state = State::handshake;
  std::unique_ptr<g::Handshake> handshake;
  std::optional<g::FrameSealer> sealer;
  std::optional<g::FrameOpener> opener;
  std::array<std::uint8_t, g::kHelloSize> peer_hello{};
  std::array<std::uint8_t, g::kHeaderSize> header{};
  p::Bytes body;
  std::deque<p::Bytes> out;
  std::size_t queued = 0;
  bool writing = false;
  asio::steady_timer deadline;
  asio::steady_timer throttle;
  std::optional<p::PublicKey> peer_id;
  std::string agent;
  std::uint16_t gossip_port = 0, bt_port = 0;
  std::vector<p::Sha256Digest> seeding;       // sorted, the last complete list
  std::uint32_t refused = 0;                  // records it sent that admission refused
  std::vector<p::Sha256Digest> seeding_next;  // full chunks of the list being received
  std::deque<p::RecordId> push_queue;
  std::vector<p::Bytes> ingest_buffer;  // received records not yet stored
  Clock::time_point opened = Clock::now();
  double message_tokens = kMessageBurst, byte_tokens = kByteBurst;
  Clock::time_point refilled = Clock::now();
  std::uint64_t bytes_in = 0, bytes_out = 0, records_in = 0, records_out = 0;

  Session(std::shared_ptr<GossipImpl> i, tcp::socket s, bool out_bound)
      : impl(std::move(i)),
        socket(std::move(s)),
        outbound(out_bound),
        deadline(socket.get_executor()),
        throttle(socket.get_executor()) {
    boost::system::error_code ec;
    auto ep = socket.remote_endpoint(ec);
    if (!ec) {
      remote_ip = normalized(ep.address());
      remote_port = ep.port();
    }
  }

  std::string remote() const { return endpoint_text(remote_ip, remote_port); }

  void start();
  void close(const std::string& reason, bool ban = false);
  void send(capnp::MessageBuilder& message);
  void send_raw_frame(p::ByteView plaintext);
  void pump();

 private:
  void write_next();
  void read_header();
  void read_body(std::size_t n);
  void on_frame();
  void arm(std::chrono::seconds after, const char* why);
};

// ---- the service ------------------------------------------------------------

struct Known {
  std::string node_id;         // sbpk1, when known
  std::int64_t last_seen = 0;  // unix seconds of the last good session
  unsigned fails = 0;
  Clock::time_point next_try{};
  bool self = false;
};

struct PendingQuery {
  std::set<const Session*> asked;  // sessions that have not answered yet
  std::size_t received = 0;
  std::function<void(std::size_t)> done;
  std::unique_ptr<asio::steady_timer> timer;
};

struct GossipImpl : std::enable_shared_from_this<GossipImpl> {
  asio::io_context& io;
  GossipOptions options;
  indexer::Index& index;
  p::SecretKey node_key;
  std::optional<tcp::acceptor> acceptor;
  std::string listen_address;
  std::vector<std::shared_ptr<Session>> sessions;
  std::map<std::string, Known> known;             // by host:port
  std::map<std::string, Clock::time_point> bans;  // "id:<hex>" or "ip:<addr>"
  std::vector<rc::Item> items, pending_items;
  struct Requested {
    Clock::time_point until;
    const Session* from;
  };
  std::map<p::RecordId, Requested> in_flight;
  std::vector<std::pair<p::RecordId, const Session*>> to_announce;  // id, and who sent it to us
  bool announce_posted = false;
  std::vector<p::Sha256Digest> my_seeding;
  // How many nodes (this one and open sessions) seed each info-hash, kept
  // in step with the seeding lists; read from other threads (HTTP API).
  struct DigestHash {
    std::size_t operator()(const p::Sha256Digest& d) const {
      std::size_t h;
      std::memcpy(&h, d.data(), sizeof h);
      return h;
    }
  };
  mutable std::mutex seeder_mutex;
  std::unordered_map<p::Sha256Digest, std::uint32_t, DigestHash> seeder_counts;
  void recount(const std::vector<p::Sha256Digest>& removed, const std::vector<p::Sha256Digest>& added) {
    std::lock_guard lock(seeder_mutex);
    for (const auto& h : removed)
      if (auto it = seeder_counts.find(h); it != seeder_counts.end() && --it->second == 0) seeder_counts.erase(it);
    for (const auto& h : added) ++seeder_counts[h];
  }
  // BitTorrent endpoints other nodes told us seed an info-hash (answers to
  // findSeeders), and when each info-hash was last asked about.
  std::map<p::Sha256Digest, std::set<std::string>> learned_seeders;
  std::map<p::Sha256Digest, Clock::time_point> asked_seeders;
  std::map<std::uint32_t, PendingQuery> queries;
  std::uint32_t next_query = 1;
  // Images fetched from peers (wantBlob/blob), one session asked at a time.
  struct BlobFetch {
    p::RecordId record{};              // names the image
    p::PublicKey author;               // the naming record's
    const Session* exclude = nullptr;  // a peer that asked us for it (so lacks it)
    const Session* asking = nullptr;   // the peer asked now
    std::set<const Session*> tried;
    bool any_later = false;  // a peer said it is fetching it
    bool found = false;      // a peer sent some of it
    unsigned rounds = 0;
    p::Bytes data;  // from the peer asked now
    std::uint64_t size = 0;
    Clock::time_point started = Clock::now();
    std::shared_ptr<asio::steady_timer> timer;
    std::vector<std::function<void(p::Status)>> done;
  };
  struct QueuedBlob {
    p::Sha256Digest sha{};
    p::RecordId record{};
    p::PublicKey author;
    const Session* exclude = nullptr;
    std::vector<std::function<void(p::Status)>> done;
  };
  std::map<p::Sha256Digest, BlobFetch> blobs;
  std::deque<QueuedBlob> blob_queue;
  std::map<p::Sha256Digest, Clock::time_point> blob_failed;  // until when not to try again
  mutable std::mutex blob_mutex;
  std::set<p::Sha256Digest> blob_wanted;  // fetched or queued; read from other threads
  std::unordered_map<p::Sha256Digest, p::RecordId, DigestHash> known_images;  // image -> a record naming it
  std::uint64_t store_used = 0;
  Clock::time_point store_used_at{};
  asio::steady_timer tick_timer, sync_timer;
  std::mt19937_64 rng{std::random_device{}()};
  GossipStats stats;
  bool stopped = false;
  unsigned ticks = 0;

  GossipImpl(asio::io_context& i, const GossipOptions& o, indexer::Index& idx, p::SecretKey key)
      : io(i), options(o), index(idx), node_key(std::move(key)), tick_timer(i), sync_timer(i) {}

  std::filesystem::path peers_file() const { return options.data_dir / "peers.json"; }

  // -- item set for reconciliation --
  const std::vector<rc::Item>& item_set() {
    if (!pending_items.empty()) {
      std::sort(pending_items.begin(), pending_items.end());
      auto mid = items.size();
      items.insert(items.end(), pending_items.begin(), pending_items.end());
      std::inplace_merge(items.begin(), items.begin() + static_cast<long>(mid), items.end());
      items.erase(std::unique(items.begin(), items.end()), items.end());
      pending_items.clear();
    }
    return items;
  }
  void load_items() {
    items.clear();
    index.for_each_by_time(0, [&](std::uint64_t t, const p::RecordId& id) {
      items.push_back({t, id});
      return true;
    });
  }

  // -- bans --
  bool banned(const std::string& key) {
    auto it = bans.find(key);
    if (it == bans.end()) return false;
    if (it->second < Clock::now()) {
      bans.erase(it);
      return false;
    }
    return true;
  }
  void ban(Session& s, const std::string& reason) {
    ++stats.bans;
    auto until = Clock::now() + options.ban_time;
    if (s.peer_id) bans["id:" + p::to_hex(s.peer_id->bytes)] = until;
    // Loopback peers share one address (tests, devnets): ban only the key.
    if (!is_loopback(s.remote_ip)) bans["ip:" + s.remote_ip.to_string()] = until;
    std::cerr << "seedbank gossip: banned " << s.remote() << " for " << options.ban_time.count() << " s: " << reason
              << "\n";
  }

  // -- sessions --
  std::vector<std::shared_ptr<Session>> open_sessions() const {
    std::vector<std::shared_ptr<Session>> out;
    for (const auto& s : sessions)
      if (s->state == Session::State::open) out.push_back(s);
    return out;
  }
  void remove(Session* s) {
    // What it was asked for may be asked of others at once.
    for (auto it = in_flight.begin(); it != in_flight.end();)
      it = it->second.from == s ? in_flight.erase(it) : std::next(it);
    for (auto& [id, q] : queries) q.asked.erase(s);
    // A later session may get the same address: it must not count as this one.
    for (auto& [id, from] : to_announce)
      if (from == s) from = nullptr;
    for (auto& q : blob_queue)
      if (q.exclude == s) q.exclude = nullptr;
    for (auto& [sha, f] : blobs) {
      f.tried.erase(s);
      if (f.exclude == s) f.exclude = nullptr;
    }
    for (const auto& [sha, f] : blobs)
      if (f.asking == s)
        asio::post(io, [w = weak_from_this(), sha = sha, s] {
          auto self = w.lock();
          if (!self || self->stopped) return;
          if (auto it = self->blobs.find(sha); it != self->blobs.end() && it->second.asking == s)
            self->next_blob_peer(sha);
        });
    recount(s->seeding, {});
    sessions.erase(std::remove_if(sessions.begin(), sessions.end(), [s](const auto& x) { return x.get() == s; }),
                   sessions.end());
  }

  void accept() {
    if (!acceptor) return;
    acceptor->async_accept([self = shared_from_this()](const boost::system::error_code& ec, tcp::socket socket) {
      if (self->stopped) return;
      if (!ec) {
        boost::system::error_code e2;
        auto ep = socket.remote_endpoint(e2);
        auto addr = e2 ? asio::ip::address() : normalized(ep.address());
        std::size_t inbound = 0, same_address = 0;
        for (const auto& s : self->sessions) {
          inbound += !s->outbound;
          same_address += !s->outbound && s->remote_ip == addr;
        }
        // Room is kept for the sessions this node dials itself.
        std::size_t inbound_limit =
            self->options.max_sessions - std::min(self->options.max_sessions, self->options.outbound);
        if (e2 || inbound >= inbound_limit || (!is_loopback(addr) && same_address >= kMaxPerAddress) ||
            (!is_loopback(addr) && self->banned("ip:" + addr.to_string()))) {
          ++self->stats.sessions_refused;
          socket.close(e2);
        } else {
          auto s = std::make_shared<Session>(self, std::move(socket), false);
          self->sessions.push_back(s);
          s->start();
        }
      }
      if (ec && ec != asio::error::operation_aborted) {
        // Out of file descriptors, say: try again shortly, not in a spin.
        auto timer = std::make_shared<asio::steady_timer>(self->io, std::chrono::milliseconds(200));
        timer->async_wait([self, timer](const boost::system::error_code&) { self->accept(); });
        return;
      }
      if (!ec) self->accept();
    });
  }

  bool connected_to(const std::string& host_port) const {
    auto ep = parse_endpoint(host_port);
    for (const auto& s : sessions) {
      if (s->dial_address == host_port) return true;
      if (ep && s->remote_ip == ep->address() && s->gossip_port == ep->port()) return true;
    }
    return false;
  }

  void dial(const std::string& host_port) {
    auto ep = parse_endpoint(host_port);
    if (!ep) return;
    auto& k = known[host_port];
    k.next_try = Clock::now() + std::chrono::seconds(std::min(300u, 1u << std::min(k.fails, 8u)));
    auto socket = std::make_shared<tcp::socket>(io);
    auto timer = std::make_shared<asio::steady_timer>(io, std::chrono::seconds(5));
    timer->async_wait([socket](const boost::system::error_code& ec) {
      if (!ec) {
        boost::system::error_code e2;
        socket->close(e2);
      }
    });
    // Counted as an outbound session while connecting, so the dialler does
    // not start more than it wants.
    auto placeholder = std::make_shared<Session>(shared_from_this(), tcp::socket(io), true);
    placeholder->dial_address = host_port;
    sessions.push_back(placeholder);
    socket->async_connect(
        *ep, [self = shared_from_this(), socket, timer, placeholder, host_port](const boost::system::error_code& ec) {
          timer->cancel();
          self->remove(placeholder.get());
          if (self->stopped) return;
          if (ec) {
            ++self->known[host_port].fails;
            return;
          }
          auto s = std::make_shared<Session>(self, std::move(*socket), true);
          s->dial_address = host_port;
          self->sessions.push_back(s);
          s->start();
        });
  }

  void tick() {
    if (stopped) return;
    ++ticks;
    auto now = Clock::now();
    // Keep `outbound` sessions.
    std::size_t outbound = 0;
    for (const auto& s : sessions) outbound += s->outbound;
    if (outbound < options.outbound && sessions.size() < options.max_sessions) {
      std::vector<std::string> candidates;
      for (const auto& [addr, k] : known) {
        if (k.self || k.next_try > now || connected_to(addr)) continue;
        if (!k.node_id.empty()) {
          auto key = p::PublicKey::from_text(k.node_id);
          if (key && banned("id:" + p::to_hex(key->bytes))) continue;
        }
        candidates.push_back(addr);
      }
      std::shuffle(candidates.begin(), candidates.end(), rng);
      for (std::size_t i = 0; i < candidates.size() && outbound < options.outbound; ++i, ++outbound)
        dial(candidates[i]);
    }
    for (auto it = in_flight.begin(); it != in_flight.end();)
      it = it->second.until < now ? in_flight.erase(it) : std::next(it);
    for (auto it = bans.begin(); it != bans.end();) it = it->second < now ? bans.erase(it) : std::next(it);
    if (known.size() > kMaxKnown * 9 / 10)  // forget addresses that never worked
      for (auto it = known.begin(); it != known.end();)
        it = it->second.last_seen == 0 && it->second.fails > 0 ? known.erase(it) : std::next(it);
    if (ticks % std::max<unsigned>(1, static_cast<unsigned>(kPingEvery.count())) == 0)
      for (auto& s : open_sessions()) {
        capnp::MallocMessageBuilder m;
        m.initRoot<schema::GossipMessage>().setPing();
        s->send(m);
      }
    if (ticks % 60 == 0) save_peers();
    tick_timer.expires_after(std::chrono::seconds(1));
    tick_timer.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
      if (!ec) self->tick();
    });
  }

  void sync_tick() {
    if (stopped) return;
    // One round at a time per peer: skip peers still being sent records.
    auto open = open_sessions();
    open.erase(std::remove_if(open.begin(), open.end(), [](const auto& s) { return !s->push_queue.empty(); }),
               open.end());
    if (!open.empty()) start_reconcile(*open[rng() % open.size()]);
    sync_timer.expires_after(options.sync_interval);
    sync_timer.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
      if (!ec) self->sync_tick();
    });
  }

  void start_reconcile(Session& s) {
    ++stats.reconciliations;
    rc::Reconciler r(item_set());
    auto first = r.initiate();
    capnp::MallocMessageBuilder m;
    m.initRoot<schema::GossipMessage>().setReconcile(capnp::Data::Reader(first.data(), first.size()));
    s.send(m);
  }

  // -- peers.json --
  void load_peers() {
    std::ifstream in(peers_file());
    if (!in) return;
    auto j = nlohmann::json::parse(in, nullptr, false);
    if (!j.is_array()) return;  // a damaged file costs only the remembered peers
    for (const auto& e : j) {
      if (!e.is_object()) continue;
      std::string addr = e.value("address", "");
      if (!parse_endpoint(addr)) continue;
      auto& k = known[addr];
      k.node_id = e.value("nodeId", "");
      k.last_seen = e.value("lastSeen", std::int64_t{0});
    }
  }
  void save_peers() {
    std::vector<std::pair<std::string, Known>> list(known.begin(), known.end());
    std::sort(list.begin(), list.end(),
              [](const auto& a, const auto& b) { return a.second.last_seen > b.second.last_seen; });
    nlohmann::json j = nlohmann::json::array();
    for (const auto& [addr, k] : list) {
      if (k.self || (k.last_seen == 0 && k.fails > 0)) continue;
      if (j.size() >= 1000) break;
      j.push_back({{"address", addr}, {"nodeId", k.node_id}, {"lastSeen", k.last_seen}});
    }
    (void)write_file_atomically(peers_file(), j.dump(1) + "\n");  // a failure costs only remembered peers
  }

  void remember(const std::string& addr, const std::string& node_id, bool seen) {
    if (known.size() >= kMaxKnown && !known.count(addr)) return;
    auto& k = known[addr];
    if (!node_id.empty()) k.node_id = node_id;
    if (seen) {
      k.last_seen =
          std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
      k.fails = 0;
    }
  }

  // -- messages --
  void on_open(Session& s) {
    ++stats.sessions_opened;
    if (s.outbound && !s.dial_address.empty()) remember(s.dial_address, s.peer_id->to_text(), true);
    {
      capnp::MallocMessageBuilder m;
      auto h = m.initRoot<schema::GossipMessage>().initHello();
      h.setVersion(kVersion);
      h.setAgent("seedbank/0.1");
      h.setGossipPort(acceptor ? acceptor->local_endpoint().port() : 0);
      h.setBtPort(options.bt_port);
      h.setRecords(item_set().size());
      s.send(m);
    }
    send_peers(s);
    send_seeding(s);
    if (s.outbound) start_reconcile(s);
  }

  void send_peers(Session& s) {
    std::vector<std::pair<std::string, const Known*>> list;
    for (const auto& [addr, k] : known)
      if (!k.self && k.last_seen > 0 && addr != s.dial_address) list.emplace_back(addr, &k);
    std::shuffle(list.begin(), list.end(), rng);
    if (list.size() > kPeersPerMessage) list.resize(kPeersPerMessage);
    if (list.empty()) return;
    capnp::MallocMessageBuilder m;
    auto peers = m.initRoot<schema::GossipMessage>().initPeers(static_cast<unsigned>(list.size()));
    for (unsigned i = 0; i < list.size(); ++i) {
      auto ep = parse_endpoint(list[i].first);
      peers[i].setHost(ep->address().to_string());
      peers[i].setPort(ep->port());
      if (auto key = p::PublicKey::from_text(list[i].second->node_id))
        peers[i].setNodeId(capnp::Data::Reader(key->bytes.data(), 32));
    }
    s.send(m);
  }

  // Full chunks, then one shorter (possibly empty) chunk that ends the list.
  void send_seeding(Session& s) {
    for (std::size_t at = 0;; at += kMaxIds) {
      std::size_t n = std::min(kMaxIds, my_seeding.size() - at);
      capnp::MallocMessageBuilder m;
      auto list = m.initRoot<schema::GossipMessage>().initSeeding(static_cast<unsigned>(n));
      for (std::size_t i = 0; i < n; ++i)
        list.set(static_cast<unsigned>(i), capnp::Data::Reader(my_seeding[at + i].data(), 32));
      s.send(m);
      if (n < kMaxIds) break;
    }
  }

  void send_ids(Session& s, bool want, const std::vector<p::RecordId>& ids) {
    for (std::size_t at = 0; at < ids.size(); at += kMaxIds) {
      std::size_t n = std::min(kMaxIds, ids.size() - at);
      capnp::MallocMessageBuilder m;
      auto root = m.initRoot<schema::GossipMessage>();
      auto list = want ? root.initWant(static_cast<unsigned>(n)) : root.initHave(static_cast<unsigned>(n));
      for (std::size_t i = 0; i < n; ++i)
        list.set(static_cast<unsigned>(i), capnp::Data::Reader(ids[at + i].data(), 32));
      s.send(m);
    }
  }

  static constexpr std::uint32_t kMaxRefusedPerSession = 1000;

  // Records admission refused are not asked for again for an hour (a rate
  // limit may allow them then), so reconciliation does not fetch them from
  // every peer over and over.
  std::map<p::RecordId, Clock::time_point> refused_ids;  // id -> when refused
  void remember_refused(const p::RecordId& id) {
    auto now = Clock::now();
    if (refused_ids.size() >= 100000) {  // forget the expired ones; at worst, all
      std::erase_if(refused_ids, [&](const auto& e) { return now - e.second > std::chrono::hours(1); });
      if (refused_ids.size() >= 100000) refused_ids.clear();
    }
    refused_ids[id] = now;
  }
  bool recently_refused(const p::RecordId& id) {
    auto it = refused_ids.find(id);
    if (it == refused_ids.end()) return false;
    if (Clock::now() - it->second <= std::chrono::hours(1)) return true;
    refused_ids.erase(it);
    return false;
  }

  // Asks `s` for the ids this node lacks and nobody is sending yet.
  void request(Session& s, const std::vector<p::RecordId>& ids) {
    std::vector<p::RecordId> wanted;
    auto now = Clock::now();
    for (const auto& id : ids) {
      if (in_flight.size() >= kMaxInFlight) break;  // the rest comes with a later reconciliation
      if (in_flight.count(id) || recently_refused(id) || index.contains(id)) continue;
      in_flight[id] = {now + kInFlightTimeout, &s};
      wanted.push_back(id);
    }
    if (!wanted.empty()) send_ids(s, true, wanted);
  }

  // Queues ids for one `have` per peer at the end of this I/O turn, so a
  // busy relay sends one announcement for many received messages; the peer
  // a record came from is not told about it.
  void announce(const std::vector<p::RecordId>& ids, const Session* from) {
    if (ids.empty()) return;
    for (const auto& id : ids) to_announce.emplace_back(id, from);
    if (announce_posted) return;
    announce_posted = true;
    asio::post(io, [w = weak_from_this()] {
      auto self = w.lock();
      if (!self || self->stopped) return;
      self->announce_posted = false;
      auto queued = std::exchange(self->to_announce, {});
      for (auto& s : self->open_sessions()) {
        std::vector<p::RecordId> ids;
        for (const auto& [id, from] : queued)
          if (from != s.get()) ids.push_back(id);
        if (!ids.empty()) self->send_ids(*s, false, ids);
      }
    });
  }

  // Verifies and stores records from a peer. False when the peer must go.
  bool store(Session& s, std::vector<p::Bytes> batch) {
    // Records already here cost a hash, not a signature check.
    // So do records refused within the hour (a peer's reconciliation
    // offers them again each round).
    batch.erase(std::remove_if(batch.begin(), batch.end(),
                               [&](const p::Bytes& b) {
                                 auto id = p::record_id_of(b);
                                 if (!recently_refused(id) && !index.contains(id)) return false;
                                 in_flight.erase(id);
                                 return true;
                               }),
                batch.end());
    if (batch.empty()) return true;
    auto outcomes = index.ingest_batch(batch, indexer::Durability::replicated, options.admission);
    std::vector<p::RecordId> fresh;
    for (std::size_t i = 0; i < outcomes.size(); ++i) {
      const auto& o = outcomes[i];
      in_flight.erase(o.id);
      if (o.status == indexer::IngestStatus::added || o.status == indexer::IngestStatus::superseded) {
        fresh.push_back(o.id);
        auto rec = p::load_stored_record(batch[i]);
        if (rec) pending_items.push_back({rec->body().getCreatedAt(), o.id});
        if (rec) fetch_image_of(*rec);
      } else if (o.status == indexer::IngestStatus::rejected) {
        auto code = o.error.code;
        if (code == ErrorCode::bad_signature || code == ErrorCode::malformed || code == ErrorCode::limit ||
            code == ErrorCode::conflict) {
          announce(fresh, &s);
          s.close("sent an invalid record: " + o.error.message, true);
          return false;
        }
        // Refused by this node's own limits (which the peer cannot know:
        // its limits or view may differ, and an attacker could feed it
        // records to get it banned here), a clock ahead of ours, a storage
        // error: drop the record, keep the peer.
        if (code == ErrorCode::refused) {
          remember_refused(o.id);
          // The penalty: a session that keeps bringing refused records is
          // closed, not banned (it may be an honest relay; it can redial).
          if (++s.refused > kMaxRefusedPerSession) {
            announce(fresh, &s);
            s.close("sent " + std::to_string(s.refused) + " records this node refuses (" + o.error.message + ")");
            return false;
          }
        }
      }
    }
    s.records_in += fresh.size();
    stats.records_received += fresh.size();
    announce(fresh, &s);
    return true;
  }

  void on_message(Session& s, const schema::GossipMessage::Reader& m) {
    using W = schema::GossipMessage;
    auto ids_of = [&](capnp::List<capnp::Data>::Reader list, std::vector<p::RecordId>* out) {
      if (list.size() > kMaxIds) return false;
      for (auto d : list) {
        if (d.size() != 32) return false;
        out->push_back(id_of(d));
      }
      return true;
    };
    switch (m.which()) {
      case W::HELLO: {
        auto h = m.getHello();
        s.agent = std::string(h.getAgent().cStr()).substr(0, 64);
        s.gossip_port = h.getGossipPort();
        s.bt_port = h.getBtPort();
        if (s.gossip_port) remember(endpoint_text(s.remote_ip, s.gossip_port), s.peer_id->to_text(), true);
        break;
      }
      case W::HAVE: {
        std::vector<p::RecordId> ids;
        if (!ids_of(m.getHave(), &ids)) return s.close("malformed have", true);
        request(s, ids);
        break;
      }
      case W::WANT: {
        std::vector<p::RecordId> ids;
        if (!ids_of(m.getWant(), &ids)) return s.close("malformed want", true);
        if (s.push_queue.size() + ids.size() > kMaxPushQueue) return s.close("asks for too much at once", true);
        s.push_queue.insert(s.push_queue.end(), ids.begin(), ids.end());
        s.pump();
        break;
      }
      case W::RECORDS: {
        auto list = m.getRecords();
        if (list.size() > kMaxIds) return s.close("too many records in one message", true);
        for (auto r : list) s.ingest_buffer.emplace_back(r.begin(), r.end());
        if (s.ingest_buffer.size() >= kIngestBatch) store(s, std::exchange(s.ingest_buffer, {}));
        break;  // or once no frame is waiting (Session::on_frame)
      }
      case W::RECONCILE: {
        auto data = m.getReconcile();
        rc::Reconciler r(item_set());
        rc::Outcome outcome;
        auto reply = r.reply(p::ByteView(data.begin(), data.size()), &outcome);
        if (!reply) return s.close("bad reconciliation message: " + reply.error().message, true);
        if (!reply->empty()) {
          capnp::MallocMessageBuilder out;
          out.initRoot<schema::GossipMessage>().setReconcile(capnp::Data::Reader(reply->data(), reply->size()));
          s.send(out);
        }
        request(s, outcome.need);
        // Over the cap, the rest waits for a later round (nothing is lost).
        for (const auto& id : outcome.have)
          if (s.push_queue.size() < kMaxPushQueue) s.push_queue.push_back(id);
        s.pump();
        break;
      }
      case W::PEERS: {
        auto peers = m.getPeers();
        if (peers.size() > 4 * kPeersPerMessage) return s.close("too many peer addresses", true);
        for (auto a : peers) {
          boost::system::error_code ec;
          auto addr = asio::ip::make_address(a.getHost().cStr(), ec);
          if (ec || a.getPort() == 0) continue;
          // The key a peer claims for an address is only a hint; it is
          // learnt for real from the session (so it cannot get an honest
          // address skipped as banned).
          if (a.getNodeId().size() == 32 &&
              std::memcmp(a.getNodeId().begin(), node_key.public_key().bytes.data(), 32) == 0)
            continue;
          // A loopback address only means something from a loopback peer.
          if (addr.is_loopback() && !is_loopback(s.remote_ip)) continue;
          auto text = endpoint_text(addr, a.getPort());
          if (!known.count(text)) remember(text, "", false);
        }
        break;
      }
      case W::SEEDING: {
        // Full chunks of kMaxIds build a list; a shorter (maybe empty)
        // chunk ends it and replaces the previous one.
        auto list = m.getSeeding();
        if (list.size() > kMaxIds) return s.close("malformed seeding list", true);
        if (s.seeding_next.size() + list.size() > kMaxSeeding) return s.close("claims to seed too much", true);
        for (auto d : list) {
          if (d.size() != 32) return s.close("malformed seeding list", true);
          p::Sha256Digest h;
          std::memcpy(h.data(), d.begin(), 32);
          s.seeding_next.push_back(h);
        }
        if (list.size() < kMaxIds) {
          auto old = std::exchange(s.seeding, std::exchange(s.seeding_next, {}));
          std::sort(s.seeding.begin(), s.seeding.end());
          s.seeding.erase(std::unique(s.seeding.begin(), s.seeding.end()), s.seeding.end());
          recount(old, s.seeding);
        }
        break;
      }
      case W::QUERY: {
        auto q = m.getQuery();
        std::string hash(q.getHash().cStr(), std::min<std::size_t>(q.getHash().size(), 200));
        capnp::MallocMessageBuilder out;
        auto reply = out.initRoot<schema::GossipMessage>().initQueryReply();
        reply.setId(q.getId());
        std::vector<p::Bytes> found;
        if (auto matches = index.find_by_hash(hash, 16)) {
          std::set<p::RecordId> seen;
          std::size_t bytes = 0;
          for (const auto& match : *matches) {
            if (!seen.insert(match.release).second) continue;
            if (auto rec = index.get(match.release)) {
              if (bytes + rec->bytes().size() > kMaxReplyBytes) break;
              bytes += rec->bytes().size();
              found.emplace_back(rec->bytes().begin(), rec->bytes().end());
            }
          }
        }
        auto list = reply.initRecords(static_cast<unsigned>(found.size()));
        for (unsigned i = 0; i < found.size(); ++i) list.set(i, capnp::Data::Reader(found[i].data(), found[i].size()));
        s.send(out);
        break;
      }
      case W::QUERY_REPLY: {
        auto r = m.getQueryReply();
        auto it = queries.find(r.getId());
        if (r.getRecords().size() > 16) return s.close("oversize query reply", true);
        // Only the first answer of a session that was asked counts.
        if (it == queries.end() || !it->second.asked.erase(&s)) break;
        auto before = stats.records_received;
        std::vector<p::Bytes> batch;
        for (auto rec : r.getRecords()) batch.emplace_back(rec.begin(), rec.end());
        if (!store(s, std::move(batch))) return;
        it->second.received += static_cast<std::size_t>(stats.records_received - before);
        if (it->second.asked.empty()) finish_query(r.getId());
        break;
      }
      case W::FIND_SEEDERS: {
        auto d = m.getFindSeeders();
        if (d.size() != 32) return s.close("malformed findSeeders", true);
        p::Sha256Digest ih;
        std::memcpy(ih.data(), d.begin(), 32);
        std::vector<std::pair<std::string, std::uint16_t>> found;
        if (options.bt_port && std::binary_search(my_seeding.begin(), my_seeding.end(), ih))
          found.emplace_back("", options.bt_port);
        for (const auto& other : sessions)
          if (other.get() != &s && other->state == Session::State::open && other->bt_port &&
              std::binary_search(other->seeding.begin(), other->seeding.end(), ih))
            found.emplace_back(other->remote_ip.to_string(), other->bt_port);
        if (auto it = learned_seeders.find(ih); it != learned_seeders.end())
          for (const auto& e : it->second)
            if (auto ep = parse_endpoint(e)) found.emplace_back(ep->address().to_string(), ep->port());
        if (found.size() > kPeersPerMessage) found.resize(kPeersPerMessage);
        capnp::MallocMessageBuilder out;
        auto reply = out.initRoot<schema::GossipMessage>().initSeeders();
        reply.setInfoHash(capnp::Data::Reader(ih.data(), 32));
        auto list = reply.initPeers(static_cast<unsigned>(found.size()));
        for (unsigned i = 0; i < found.size(); ++i) {
          list[i].setHost(found[i].first);
          list[i].setPort(found[i].second);
        }
        s.send(out);
        break;
      }
      case W::SEEDERS: {
        auto r = m.getSeeders();
        if (r.getInfoHash().size() != 32 || r.getPeers().size() > 4 * kPeersPerMessage)
          return s.close("malformed seeders", true);
        p::Sha256Digest ih;
        std::memcpy(ih.data(), r.getInfoHash().begin(), 32);
        if (!asked_seeders.count(ih)) break;  // unsolicited
        auto& set = learned_seeders[ih];
        for (auto a : r.getPeers()) {
          if (a.getPort() == 0 || set.size() >= 64) continue;
          asio::ip::address addr = s.remote_ip;
          if (a.getHost().size()) {
            boost::system::error_code ec;
            addr = normalized(asio::ip::make_address(a.getHost().cStr(), ec));
            if (ec || (addr.is_loopback() && !is_loopback(s.remote_ip))) continue;
          }
          set.insert(endpoint_text(addr, a.getPort()));
        }
        break;
      }
      case W::WANT_BLOB: {
        auto w = m.getWantBlob();
        if (w.getSha256().size() != 32 || w.getRecord().size() != 32) return s.close("malformed wantBlob", true);
        serve_blob(s, id_of(w.getSha256()), id_of(w.getRecord()), w.getOffset());
        break;
      }
      case W::BLOB:
        on_blob(s, m.getBlob());
        break;
      case W::PING:
        break;
      case W::BYE:
        return s.close("peer said bye: " + std::string(m.getBye().cStr()).substr(0, 200));
      default:
        break;  // a newer message kind: ignore
    }
  }

  // -- images over gossip --

  // Why this node will not fetch or serve image `sha` of `owner`, or nullopt.
  std::optional<std::string> image_refused(const p::Sha256Digest& sha, const p::Record& owner) {
    if (!options.store || !options.image_policy) return std::string("this node keeps no images from peers");
    return options.image_policy(owner, sha);
  }

  bool over_quota(std::uint64_t extra) {
    if (!options.store_quota) return false;
    if (Clock::now() - store_used_at > std::chrono::minutes(1)) {
      store_used = options.store->used_bytes();
      store_used_at = Clock::now();
    }
    return store_used + extra > options.store_quota;
  }

  // Starts (or joins, or queues) a fetch of image `sha`, which `record`
  // names. False, with `done` told why, when it will not be fetched.
  bool want_blob(const p::Sha256Digest& sha, const p::RecordId& record, const Session* exclude,
                 std::function<void(p::Status)> done) {
    auto fail = [&](ErrorCode code, const std::string& why) {
      if (done) asio::post(io, [done, e = make_error(code, "image " + p::to_hex(sha) + ": " + why)] { done(e); });
      return false;
    };
    if (options.store && options.store->contains(sha)) {
      if (done) asio::post(io, [done] { done(p::Status{}); });
      return false;
    }
    auto owner = index.get(record);
    if (!owner) return fail(ErrorCode::not_found, "the record naming it is not known here");
    if (auto why = image_refused(sha, *owner)) return fail(ErrorCode::refused, *why);
    remember_image(sha, record);
    if (auto it = blobs.find(sha); it != blobs.end()) {
      if (done) it->second.done.push_back(std::move(done));
      return true;
    }
    std::size_t by_author = 0;
    for (auto& q : blob_queue) {
      if (q.sha == sha) {
        if (done) q.done.push_back(std::move(done));
        return true;
      }
      by_author += q.author == owner->author();
    }
    for (const auto& [other, f] : blobs) by_author += f.author == owner->author();
    if (auto it = blob_failed.find(sha); it != blob_failed.end()) {
      if (Clock::now() < it->second)
        return fail(ErrorCode::not_found, "no peer had it a moment ago; try again in half a minute");
      blob_failed.erase(it);
    }
    if (over_quota(0))
      return fail(ErrorCode::limit, "the store is at its quota of " + std::to_string(options.store_quota) + " bytes");
    // One author's images cannot crowd out everyone else's.
    if (by_author >= kMaxBlobsPerAuthor)
      return fail(ErrorCode::limit, "this node is already fetching " + std::to_string(by_author) + " images of " +
                                        owner->author().to_text() + "; try again later");
    if (blobs.size() >= kMaxBlobFetches && blob_queue.size() >= kMaxBlobQueue)
      return fail(ErrorCode::limit, "too many images are waiting to be fetched; try again later");
    QueuedBlob q{sha, record, owner->author(), exclude, {}};
    if (done) q.done.push_back(std::move(done));
    {
      std::lock_guard lock(blob_mutex);
      blob_wanted.insert(sha);
    }
    if (blobs.size() >= kMaxBlobFetches) {
      blob_queue.push_back(std::move(q));
      return true;
    }
    start_blob(std::move(q));
    return blobs.count(sha) > 0;  // not when no peer could be asked
  }

  void start_blob(QueuedBlob q) {
    auto& f = blobs[q.sha];
    f.record = q.record;
    f.author = q.author;
    f.exclude = q.exclude;
    f.done = std::move(q.done);
    f.timer = std::make_shared<asio::steady_timer>(io);
    next_blob_peer(q.sha);
  }

  // Asks the next peer not asked yet; once all were, waits and asks again
  // while any said it is fetching the image itself.
  void next_blob_peer(const p::Sha256Digest& sha) {
    auto it = blobs.find(sha);
    if (it == blobs.end()) return;
    auto& f = it->second;
    f.asking = nullptr;
    f.data.clear();  // bytes from one peer are never mixed with another's
    f.size = 0;
    f.timer->cancel();
    for (auto& s : open_sessions()) {
      if (s.get() == f.exclude || !f.tried.insert(s.get()).second) continue;
      f.asking = s.get();
      ask_blob(*s, sha, f);
      return;
    }
    if (f.any_later && Clock::now() - f.started < kBlobPatience) {
      f.any_later = false;
      f.tried.clear();
      retry_blob_later(sha, nullptr);
      return;
    }
    finish_blob(sha, make_error(ErrorCode::not_found,
                                "no peer had the image " + p::to_hex(sha) +
                                    (f.rounds ? " after " + std::to_string(f.rounds + 1) + " rounds of asking"
                                              : std::string())));
  }

  // In kBlobRetry: asks `same` again from where it left off (it said it was
  // busy), or, without one, starts another round over every peer.
  void retry_blob_later(const p::Sha256Digest& sha, const Session* same) {
    auto& f = blobs.at(sha);
    ++f.rounds;
    f.asking = same;
    f.timer->expires_after(kBlobRetry);
    f.timer->async_wait([w = weak_from_this(), sha, same](const boost::system::error_code& ec) {
      auto self = w.lock();
      if (ec || !self || self->stopped) return;
      auto it = self->blobs.find(sha);
      if (it == self->blobs.end()) return;
      if (same)
        for (auto& s : self->open_sessions())
          if (s.get() == same && it->second.asking == same) return self->ask_blob(*s, sha, it->second);
      self->next_blob_peer(sha);
    });
  }

  void ask_blob(Session& s, const p::Sha256Digest& sha, BlobFetch& f) {
    capnp::MallocMessageBuilder m;
    auto want = m.initRoot<schema::GossipMessage>().initWantBlob();
    want.setSha256(capnp::Data::Reader(sha.data(), sha.size()));
    want.setRecord(capnp::Data::Reader(f.record.data(), f.record.size()));
    want.setOffset(f.data.size());
    f.timer->expires_after(kBlobAnswerTimeout);
    f.timer->async_wait([w = weak_from_this(), sha, asked = &s](const boost::system::error_code& ec) {
      auto self = w.lock();
      if (ec || !self || self->stopped) return;
      if (auto it = self->blobs.find(sha); it != self->blobs.end() && it->second.asking == asked)
        self->next_blob_peer(sha);
    });
    s.send(m);
  }

  void on_blob(Session& s, schema::Blob::Reader b) {
    if (b.getSha256().size() != 32 || b.getData().size() > kBlobChunk) return s.close("malformed blob", true);
    auto sha = id_of(b.getSha256());
    auto it = blobs.find(sha);
    if (it == blobs.end() || it->second.asking != &s) return;  // late, or never asked: ignored
    auto& f = it->second;
    // An answer to an earlier request (one that timed out, then was asked
    // again) is ignored, not held against the peer.
    if (b.getOffset() != f.data.size()) return;
    if (b.getStatus() != schema::BlobStatus::OK) {
      if (b.getStatus() == schema::BlobStatus::LATER) {
        f.any_later = true;
        // Busy in the middle of the file: ask it again for the rest.
        if (!f.data.empty() && Clock::now() - f.started < kBlobPatience) return retry_blob_later(sha, &s);
      }
      return next_blob_peer(sha);
    }
    auto size = b.getSize(), offset = b.getOffset();
    auto n = b.getData().size();
    if (size > kMaxBlobBytes || (f.size && size != f.size) || offset + n > size || (n == 0 && offset < size))
      return s.close("sent a part of an image that does not fit what was asked", true);
    if (!f.size && over_quota(size))
      return finish_blob(sha, make_error(ErrorCode::limit, "image " + p::to_hex(sha) + " (" + std::to_string(size) +
                                                               " bytes) would take the store over its quota"));
    f.size = size;
    f.found = true;
    f.data.insert(f.data.end(), b.getData().begin(), b.getData().end());
    if (f.data.size() < size) return ask_blob(s, sha, f);
    p::Sha256Stream h;
    h.update(f.data);
    if (h.finish() != sha) return s.close("sent an image whose bytes do not match its SHA-256", true);
    finish_blob(sha, save_blob(sha, f.data));
  }

  p::Status save_blob(const p::Sha256Digest& sha, const p::Bytes& data) {
    auto tmp = options.store->root() / "tmp" / (p::to_hex(sha) + ".image");
    auto st = write_file_atomically(tmp, std::string_view(reinterpret_cast<const char*>(data.data()), data.size()));
    if (!st) return st;
    auto added = options.store->add(tmp, sha, ContentStore::AddMode::hardlink);
    std::error_code ec;
    std::filesystem::remove(tmp, ec);
    if (!added) return added.error();
    store_used += data.size();
    return {};
  }

  void finish_blob(const p::Sha256Digest& sha, p::Status status) {
    auto node = blobs.extract(sha);
    if (node.empty()) return;
    node.mapped().timer->cancel();
    auto now = Clock::now();
    if (!status) {
      if (blob_failed.size() > 10000) std::erase_if(blob_failed, [&](const auto& e) { return e.second < now; });
      blob_failed[sha] = now + kBlobFailedFor;
    }
    {
      std::lock_guard lock(blob_mutex);
      blob_wanted.erase(sha);
      if (status) known_images.erase(sha);
    }
    for (auto& d : node.mapped().done) d(status);
    while (blobs.size() < kMaxBlobFetches && !blob_queue.empty()) {
      auto q = std::move(blob_queue.front());
      blob_queue.pop_front();
      if (options.store->contains(q.sha)) {
        {
          std::lock_guard lock(blob_mutex);
          blob_wanted.erase(q.sha);
        }
        for (auto& d : q.done) d(p::Status{});
        continue;
      }
      start_blob(std::move(q));
    }
  }

  // Answers a peer's wantBlob: a chunk from the store; "later" while this
  // node's own fetch of it is young or getting bytes, or it is busy;
  // "unknown" otherwise (so an image nobody has is given up on quickly).
  void serve_blob(Session& s, const p::Sha256Digest& sha, const p::RecordId& record, std::uint64_t offset) {
    capnp::MallocMessageBuilder m;
    auto reply = m.initRoot<schema::GossipMessage>().initBlob();
    reply.setSha256(capnp::Data::Reader(sha.data(), sha.size()));
    reply.setOffset(offset);
    reply.setStatus(schema::BlobStatus::UNKNOWN);
    if (!options.store || !options.image_policy) return s.send(m);
    if (!options.store->contains(sha)) {
      want_blob(sha, record, &s, {});
      auto it = blobs.find(sha);
      if (it != blobs.end() && (it->second.found || Clock::now() - it->second.started < kBlobGrace))
        reply.setStatus(schema::BlobStatus::LATER);
      return s.send(m);
    }
    auto owner = index.get(record);
    if (!owner || image_refused(sha, *owner)) return s.send(m);
    if (s.queued > kQueueLow) {
      reply.setStatus(schema::BlobStatus::LATER);
      return s.send(m);
    }
    auto path = options.store->path_of(sha);
    std::error_code ec;
    auto size = std::filesystem::file_size(path, ec);
    if (ec || size > kMaxBlobBytes || offset > size) return s.send(m);
    p::Bytes chunk(static_cast<std::size_t>(std::min<std::uint64_t>(kBlobChunk, size - offset)));
    std::ifstream in(path, std::ios::binary);
    in.seekg(static_cast<std::streamoff>(offset));
    in.read(reinterpret_cast<char*>(chunk.data()), static_cast<std::streamsize>(chunk.size()));
    if (!in) return s.send(m);
    reply.setStatus(schema::BlobStatus::OK);
    reply.setSize(size);
    reply.setData(capnp::Data::Reader(chunk.data(), chunk.size()));
    s.send(m);
  }

  // Images records name, remembered so the HTTP side can fetch one that is
  // asked for later (an avatar, a post image dropped from a full queue).
  void remember_image(const p::Sha256Digest& sha, const p::RecordId& record) {
    std::lock_guard lock(blob_mutex);
    if (known_images.size() >= kMaxKnownImages && !known_images.count(sha)) return;
    known_images[sha] = record;
  }

  // An image post's image or a profile's avatar that just arrived: fetched
  // at once (within the node's policy and quota), so images travel with
  // their records from node to node.
  void fetch_image_of(const p::Record& rec) {
    if (!options.store || !options.image_policy) return;
    p::Sha256Digest sha{};
    if (rec.kind() == p::RecordKind::image_post) {
      auto img = rec.body().getPayload().getImagePost().getImage();
      if (img.getSha256().size() != 32 || img.getSize() > kMaxBlobBytes) return;
      sha = id_of(img.getSha256());
    } else if (rec.kind() == p::RecordKind::profile) {
      auto avatar = rec.body().getPayload().getProfile().getAvatar();
      if (avatar.size() != 32) return;
      sha = id_of(avatar);
    } else {
      return;
    }
    if (!options.store->contains(sha)) want_blob(sha, rec.id(), nullptr, {});
  }

  void finish_query(std::uint32_t id) {
    auto it = queries.find(id);
    if (it == queries.end()) return;
    auto done = std::move(it->second.done);
    auto received = it->second.received;
    queries.erase(it);
    if (done) done(received);
  }
};

// ---- Session implementation ----

void Session::arm(std::chrono::seconds after, const char* why) {
  deadline.expires_after(after);
  deadline.async_wait([self = shared_from_this(), why](const boost::system::error_code& ec) {
    if (!ec) self->close(why);
  });
}

void Session::start() {
  handshake = std::make_unique<g::Handshake>(outbound ? g::Handshake::Role::initiator : g::Handshake::Role::responder,
                                             impl->node_key, impl->options.network);
  arm(std::chrono::duration_cast<std::chrono::seconds>(kHandshakeTimeout), "handshake timed out");
  const auto& hello = handshake->hello();
  p::Bytes raw(hello.begin(), hello.end());
  out.push_back(std::move(raw));
  queued += g::kHelloSize;
  write_next();
  asio::async_read(
      socket, asio::buffer(peer_hello), [self = shared_from_this()](const boost::system::error_code& ec, std::size_t) {
        if (ec || self->state == State::closed) return self->close("connection closed during handshake");
        self->bytes_in += g::kHelloSize;
        if (auto st = self->handshake->receive_hello(p::ByteView(self->peer_hello.data(), self->peer_hello.size()));
            !st)
          return self->close(st.error().message, st.error().code == ErrorCode::malformed);
        self->sealer.emplace(self->handshake->send_key());
        self->opener.emplace(self->handshake->receive_key());
        self->state = State::auth;
        auto auth = self->handshake->auth(self->impl->node_key);
        self->send_raw_frame(auth);
        self->read_header();
      });
}

void Session::send_raw_frame(p::ByteView plaintext) {
  p::Bytes frame;
  sealer->seal(plaintext, &frame);
  queued += frame.size();
  out.push_back(std::move(frame));
  if (queued > kMaxQueued) return close("the peer reads too slowly (" + std::to_string(queued) + " bytes queued)");
  write_next();
}

void Session::send(capnp::MessageBuilder& message) {
  if (state != State::open) return;
  auto plain = g::encode(message);
  send_raw_frame(plain);
}

void Session::pump() {
  while (state == State::open && queued < kQueueLow && !push_queue.empty()) {
    std::vector<p::Bytes> batch;
    std::size_t bytes = 0;
    while (!push_queue.empty() && bytes < kRecordsPerFrame && batch.size() < kMaxIds) {
      auto rec = impl->index.get(push_queue.front());
      push_queue.pop_front();
      if (!rec) continue;
      auto b = rec->bytes();
      if (!batch.empty() && bytes + b.size() > g::kMaxFramePlaintext - 65536) {
        push_queue.push_front(rec->id());
        break;
      }
      bytes += b.size();
      batch.emplace_back(b.begin(), b.end());
    }
    if (batch.empty()) break;
    capnp::MallocMessageBuilder m;
    auto list = m.initRoot<schema::GossipMessage>().initRecords(static_cast<unsigned>(batch.size()));
    for (unsigned i = 0; i < batch.size(); ++i) list.set(i, capnp::Data::Reader(batch[i].data(), batch[i].size()));
    records_out += batch.size();
    send(m);
  }
}

void Session::write_next() {
  if (writing || out.empty() || state == State::closed) return;
  writing = true;
  asio::async_write(socket, asio::buffer(out.front()),
                    [self = shared_from_this()](const boost::system::error_code& ec, std::size_t n) {
                      self->writing = false;
                      if (ec) return self->close("write failed: " + ec.message());
                      self->bytes_out += n;
                      self->queued -= self->out.front().size();
                      self->out.pop_front();
                      self->write_next();
                      self->pump();
                    });
}

void Session::read_header() {
  if (state == State::closed) return;
  if (state == State::open) arm(std::chrono::duration_cast<std::chrono::seconds>(kIdleTimeout), "idle for too long");
  asio::async_read(
      socket, asio::buffer(header), [self = shared_from_this()](const boost::system::error_code& ec, std::size_t) {
        if (ec || self->state == State::closed) return self->close("connection closed");
        auto n = self->opener->body_size(self->header.data());
        if (!n) return self->close(n.error().message, true);
        // The rest of a frame must follow promptly (no slow-drip frames). During
        // the handshake its own deadline stays.
        if (self->state == State::open)
          self->arm(std::chrono::duration_cast<std::chrono::seconds>(kFrameTimeout), "a frame arrived too slowly");
        self->read_body(*n);
      });
}

void Session::read_body(std::size_t n) {
  body.resize(n);
  asio::async_read(socket, asio::buffer(body),
                   [self = shared_from_this()](const boost::system::error_code& ec, std::size_t) {
                     if (ec || self->state == State::closed) return self->close("connection closed");
                     self->on_frame();
                   });
}

void Session::on_frame() {
  bytes_in += g::kHeaderSize + body.size();
  auto plain = opener->open(header.data(), body);
  if (!plain) return close(plain.error().message, true);
  if (state == State::auth) {
    auto id = handshake->receive_auth(*plain);
    if (!id) return close(id.error().message, true);
    peer_id = *id;
    if (*id == impl->node_key.public_key()) {
      if (!dial_address.empty()) impl->known[dial_address].self = true;
      return close("connected to itself");
    }
    if (impl->banned("id:" + p::to_hex(id->bytes))) return close("banned");
    // Two sessions with one node (both dialled at once): both ends keep the
    // one dialled by the smaller node key and close the other.
    std::shared_ptr<Session> other;
    for (const auto& o : impl->sessions)
      if (o.get() != this && o->peer_id && *o->peer_id == *id && o->state == State::open) other = o;
    if (other) {
      auto initiator = [&](const Session& x) {
        return x.outbound ? impl->node_key.public_key().bytes : x.peer_id->bytes;
      };
      if (outbound == other->outbound || initiator(*other) <= initiator(*this))
        return close("already connected to this node");
      other->close("replaced by a session both ends prefer");
    }
    state = State::open;
    deadline.cancel();
    handshake.reset();
    impl->on_open(*this);
    return read_header();
  }
  // Rate limits: too many messages is a flood; too many bytes only slows
  // reading down.
  auto now = Clock::now();
  double dt = std::chrono::duration<double>(now - refilled).count();
  refilled = now;
  message_tokens = std::min(kMessageBurst, message_tokens + dt * kMessagesPerSecond) - 1;
  byte_tokens = std::min(kByteBurst, byte_tokens + dt * kBytesPerSecond) - static_cast<double>(body.size());
  if (message_tokens < 0)
    return close("flooding: over " + std::to_string(static_cast<int>(kMessagesPerSecond)) + " messages a second", true);
  auto message = g::ReceivedMessage::parse(*plain);
  if (!message) return close(message.error().message, true);
  try {
    impl->on_message(*this, message->root());
  } catch (const kj::Exception& e) {
    return close(std::string("malformed message: ") + e.getDescription().cStr(), true);
  }
  // Records are gathered while more frames already wait on the socket (a
  // sync in full flow): one index commit for many messages.
  boost::system::error_code ec;
  if (state == State::open && !ingest_buffer.empty() && (socket.available(ec) == 0 || ec))
    impl->store(*this, std::exchange(ingest_buffer, {}));
  if (state == State::closed) return;
  if (byte_tokens < 0) {
    auto wait = std::chrono::milliseconds(static_cast<long>(-byte_tokens / kBytesPerSecond * 1000) + 1);
    throttle.expires_after(wait);
    throttle.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
      if (!ec) self->read_header();
    });
    return;
  }
  read_header();
}

void Session::close(const std::string& reason, bool ban) {
  if (state == State::closed) return;
  bool was_open = state == State::open;
  state = State::closed;
  if (!was_open && outbound && !dial_address.empty() && remote_port != 0) ++impl->known[dial_address].fails;
  if (ban)
    impl->ban(*this, reason);
  else if (was_open && !impl->stopped && reason != "connection closed")
    std::cerr << "seedbank gossip: closed " << remote() << ": " << reason << "\n";
  boost::system::error_code ec;
  socket.shutdown(tcp::socket::shutdown_both, ec);
  socket.close(ec);
  deadline.cancel();
  throttle.cancel();
  impl->remove(this);
}

}  // namespace

// ---- public API ----

GossipService::GossipService(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}

struct GossipService::Impl : GossipImpl {
  using GossipImpl::GossipImpl;
};

GossipService::~GossipService() {
  if (!impl_) return;
  impl_->save_peers();
  impl_->stopped = true;
  boost::system::error_code ec;
  if (impl_->acceptor) impl_->acceptor->close(ec);
  impl_->tick_timer.cancel();
  impl_->sync_timer.cancel();
  auto sessions = impl_->sessions;
  for (auto& s : sessions) s->close("node shutting down");
  impl_->sessions.clear();
  for (auto& [id, q] : impl_->queries)
    if (q.timer) q.timer->cancel();
}

p::Result<std::unique_ptr<GossipService>> GossipService::start(asio::io_context& io, const GossipOptions& options,
                                                               indexer::Index& index, const p::SecretKey& node_key) {
  auto key = p::SecretKey::from_seed(node_key.seed());
  if (!key) return key.error();
  auto impl = std::make_shared<Impl>(io, options, index, std::move(key).value());
  impl->load_items();
  impl->load_peers();
  if (options.listen != "off") {
    auto ep = parse_endpoint(options.listen, true);
    if (!ep) return make_error(ErrorCode::invalid_argument, "--listen " + options.listen + ": expected HOST:PORT");
    impl->acceptor.emplace(io);
    boost::system::error_code ec;
    impl->acceptor->open(ep->protocol(), ec);
    if (!ec) impl->acceptor->set_option(tcp::acceptor::reuse_address(true), ec);
    if (!ec) impl->acceptor->bind(*ep, ec);
    if (!ec) impl->acceptor->listen(256, ec);
    if (ec)
      return make_error(ErrorCode::io, "gossip cannot listen on " + options.listen + ": " + ec.message() +
                                           "; is the port in use? pick another with --listen");
    auto local = impl->acceptor->local_endpoint();
    impl->listen_address = endpoint_text(local.address(), local.port());
    impl->accept();
  }
  for (const auto& b : options.bootstrap) {
    if (!parse_endpoint(b))
      return make_error(ErrorCode::invalid_argument, "bootstrap peer '" + b + "' is not HOST:PORT with an IP address");
    impl->known[b].next_try = Clock::time_point{};
  }
  impl->tick();
  impl->sync_timer.expires_after(options.sync_interval);
  impl->sync_timer.async_wait([w = std::weak_ptr<GossipImpl>(impl)](const boost::system::error_code& ec) {
    if (auto self = w.lock(); self && !ec) self->sync_tick();
  });
  return std::unique_ptr<GossipService>(new GossipService(impl));
}

std::string GossipService::listen_address() const { return impl_->listen_address; }
std::size_t GossipService::open_sessions() const { return impl_->open_sessions().size(); }
std::string GossipService::node_id() const { return impl_->node_key.public_key().to_text(); }
GossipStats GossipService::stats() const { return impl_->stats; }

std::vector<PeerInfo> GossipService::peers() const {
  std::vector<PeerInfo> out;
  auto now = Clock::now();
  for (const auto& s : impl_->sessions) {
    if (s->state == Session::State::closed || s->remote_port == 0) continue;
    PeerInfo i;
    i.address = s->remote();
    i.node_id = s->peer_id ? s->peer_id->to_text() : "";
    i.outbound = s->outbound;
    i.state = s->state == Session::State::open ? "open" : "handshake";
    i.agent = s->agent;
    i.gossip_port = s->gossip_port;
    i.bt_port = s->bt_port;
    i.bytes_in = s->bytes_in;
    i.bytes_out = s->bytes_out;
    i.records_in = s->records_in;
    i.records_out = s->records_out;
    i.connected_seconds = std::chrono::duration<double>(now - s->opened).count();
    out.push_back(std::move(i));
  }
  return out;
}

void GossipService::scan_local() {
  auto& impl = *impl_;
  auto stored = impl.index.stats().records;
  if (stored == impl.items.size() + impl.pending_items.size()) return;
  const auto& items = impl.item_set();
  std::vector<p::RecordId> fresh;
  impl.index.for_each_by_time(0, [&](std::uint64_t t, const p::RecordId& id) {
    rc::Item item{t, id};
    if (!std::binary_search(items.begin(), items.end(), item)) {
      impl.pending_items.push_back(item);
      fresh.push_back(id);
    }
    return true;
  });
  impl.announce(fresh, nullptr);
}

void GossipService::add_peer(const std::string& host_port) {
  if (!parse_endpoint(host_port)) return;
  impl_->known[host_port].next_try = Clock::time_point{};
  if (!impl_->connected_to(host_port)) impl_->dial(host_port);
}

void GossipService::set_seeding(std::vector<p::Sha256Digest> info_hashes) {
  std::sort(info_hashes.begin(), info_hashes.end());
  if (info_hashes == impl_->my_seeding) return;
  impl_->recount(impl_->my_seeding, info_hashes);
  impl_->my_seeding = std::move(info_hashes);
  for (auto& s : impl_->open_sessions()) impl_->send_seeding(*s);
}

void GossipService::ask_seeders(const p::Sha256Digest& info_hash) {
  auto now = Clock::now();
  auto& last = impl_->asked_seeders[info_hash];
  if (last != Clock::time_point{} && now - last < std::chrono::seconds(5)) return;
  last = now;
  if (impl_->asked_seeders.size() > 10000) {  // forget old questions (and their answers)
    impl_->asked_seeders.clear();
    impl_->learned_seeders.clear();
    impl_->asked_seeders[info_hash] = now;
  }
  for (auto& s : impl_->open_sessions()) {
    capnp::MallocMessageBuilder m;
    m.initRoot<schema::GossipMessage>().setFindSeeders(capnp::Data::Reader(info_hash.data(), 32));
    s->send(m);
  }
}

std::vector<std::string> seeders_for(GossipService* gossip, const p::Record& release) {
  if (!gossip || release.kind() != p::RecordKind::release) return {};
  auto v2 = release.body().getPayload().getRelease().getTorrent().getInfoHashV2();
  if (v2.size() != 32) return {};
  p::Sha256Digest ih{};
  std::memcpy(ih.data(), v2.begin(), 32);
  gossip->ask_seeders(ih);
  return gossip->seeders_of(ih);
}

std::uint32_t GossipService::seeder_count(const p::Sha256Digest& info_hash) const {
  std::lock_guard lock(impl_->seeder_mutex);
  auto it = impl_->seeder_counts.find(info_hash);
  return it == impl_->seeder_counts.end() ? 0 : it->second;
}

std::vector<std::pair<p::Sha256Digest, std::uint32_t>> GossipService::most_seeded(std::size_t n) const {
  std::vector<std::pair<p::Sha256Digest, std::uint32_t>> out;
  {
    std::lock_guard lock(impl_->seeder_mutex);
    out.assign(impl_->seeder_counts.begin(), impl_->seeder_counts.end());
  }
  auto by_count = [](const auto& a, const auto& b) {
    return std::tie(b.second, a.first) < std::tie(a.second, b.first);
  };
  if (out.size() > n) {
    std::partial_sort(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(n), out.end(), by_count);
    out.resize(n);
  } else {
    std::sort(out.begin(), out.end(), by_count);
  }
  return out;
}

std::vector<std::string> GossipService::seeders_of(const p::Sha256Digest& info_hash) const {
  std::vector<std::string> out;
  if (auto it = impl_->learned_seeders.find(info_hash); it != impl_->learned_seeders.end())
    out.assign(it->second.begin(), it->second.end());
  for (const auto& s : impl_->sessions)
    if (s->state == Session::State::open && s->bt_port &&
        std::binary_search(s->seeding.begin(), s->seeding.end(), info_hash))
      out.push_back(endpoint_text(s->remote_ip, s->bt_port));
  return out;
}

void GossipService::fetch_blob(const p::Sha256Digest& sha256, const p::RecordId& record,
                               std::function<void(p::Status)> done) {
  impl_->want_blob(sha256, record, nullptr, std::move(done));
}

bool GossipService::fetching_blob(const p::Sha256Digest& sha256) const {
  std::lock_guard lock(impl_->blob_mutex);
  return impl_->blob_wanted.count(sha256) > 0;
}

std::optional<p::RecordId> GossipService::image_owner(const p::Sha256Digest& sha256) const {
  std::lock_guard lock(impl_->blob_mutex);
  auto it = impl_->known_images.find(sha256);
  if (it == impl_->known_images.end()) return std::nullopt;
  return it->second;
}

void GossipService::query(const std::string& hash, std::chrono::milliseconds timeout,
                          std::function<void(std::size_t)> done) {
  auto open = impl_->open_sessions();
  if (open.empty()) {
    asio::post(impl_->io, [done] { done(0); });
    return;
  }
  auto id = impl_->next_query++;
  auto& q = impl_->queries[id];
  for (auto& s : open) q.asked.insert(s.get());
  q.done = std::move(done);
  q.timer = std::make_unique<asio::steady_timer>(impl_->io, timeout);
  q.timer->async_wait([w = std::weak_ptr<GossipImpl>(impl_), id](const boost::system::error_code& ec) {
    if (auto self = w.lock(); self && !ec) self->finish_query(id);
  });
  for (auto& s : open) {
    capnp::MallocMessageBuilder m;
    auto qm = m.initRoot<schema::GossipMessage>().initQuery();
    qm.setId(id);
    qm.setHash(hash);
    s->send(m);
  }
}

p::Result<std::vector<std::string>> read_bootstrap_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return make_error(ErrorCode::io, path.string() + ": cannot read the bootstrap list");
  std::string text;
  text.resize(p::kMaxBootstrapBytes + 1);
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<std::size_t>(in.gcount()));
  auto entries = p::parse_bootstrap_list(text, path.string());
  if (!entries) return entries.error();
  std::vector<std::string> out;
  for (auto& e : *entries) out.push_back(std::move(e.address));
  return out;
}

p::Result<std::vector<std::string>> bootstrap_peers(const std::filesystem::path& data_dir,
                                                    const std::vector<std::string>& entries) {
  auto sources = entries;
  if (sources.empty() && std::filesystem::exists(data_dir / "bootstrap.txt"))
    sources.push_back((data_dir / "bootstrap.txt").string());
  std::vector<std::string> out;
  for (const auto& entry : sources) {
    if (!std::filesystem::exists(entry)) {
      out.push_back(entry);
      continue;
    }
    auto list = read_bootstrap_file(entry);
    if (!list) return list.error();
    out.insert(out.end(), list->begin(), list->end());
  }
  return out;
}

p::Result<p::SecretKey> load_or_create_node_key(const std::filesystem::path& data_dir) {
  auto path = node_key_path(data_dir);
  if (!std::filesystem::exists(path))
    if (auto st = p::save_secret_key(path, p::SecretKey::generate()); !st) return st.error();
  return p::load_secret_key(path);
}

}  // namespace seedbank::node
