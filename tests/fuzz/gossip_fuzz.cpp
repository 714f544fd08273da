// Fuzzes what a gossip peer controls before and after the handshake: its
// hello and auth bytes, frame headers, and decrypted messages, which go to
// the node's real gossip engine (node/src/gossip/engine.h) over a real
// index in a temp dir, as a session's messages do. Must never crash, leak
// or hit UB.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <filesystem>
#include <map>

#include "gossip/engine.h"
#include "seedbank/protocol/gossip_message.h"
#include "seedbank/protocol/gossip_session.h"

using namespace seedbank::protocol;
namespace g = seedbank::node::gossip;

namespace {

const SecretKey& node_key() {
  static SecretKey key = SecretKey::generate();
  return key;
}

// Sessions as the engine sees them, with nothing behind them: what it
// sends is encoded and dropped.
struct FuzzSessions : g::Sessions {
  std::map<g::SessionId, g::SessionFacts> open;
  std::deque<std::function<void()>> deferred;
  g::Engine* engine = nullptr;
  g::Clock::time_point now{};

  void send(g::SessionId id, capnp::MessageBuilder& message) override {
    if (open.count(id)) (void)gossip::encode(message);
  }
  void close(g::SessionId id, const std::string&, bool) override {
    if (open.erase(id)) engine->on_closed(id, now);
  }
  std::vector<g::SessionFacts> open_sessions() const override {
    std::vector<g::SessionFacts> out;
    for (const auto& [id, f] : open) out.push_back(f);
    return out;
  }
  std::optional<g::SessionFacts> facts(g::SessionId id) const override {
    auto it = open.find(id);
    if (it == open.end()) return std::nullopt;
    return it->second;
  }
  void set_hello(g::SessionId id, const g::PeerHello& hello) override {
    if (auto it = open.find(id); it != open.end()) it->second.hello = hello;
  }
  void defer(std::function<void()> fn) override { deferred.push_back(std::move(fn)); }
  void wake_at(g::Clock::time_point) override {}
  void resume(g::SessionId) override {}
  void ban(const g::SessionFacts&, const std::string&) override {}
  void run_deferred() {
    for (int i = 0; i < 1000 && !deferred.empty(); ++i) {
      auto fn = std::move(deferred.front());
      deferred.pop_front();
      fn();
    }
    deferred.clear();
  }
};

struct World {
  std::filesystem::path dir;
  std::unique_ptr<seedbank::indexer::Index> index;
  seedbank::node::GossipOptions options;
  FuzzSessions sessions;
  std::unique_ptr<g::AddressBook> book;
  std::unique_ptr<g::Engine> engine;
  g::SessionId next_id = 1;

  World() {
    char tmpl[] = "/tmp/seedbank-gossip-fuzz-XXXXXX";
    dir = ::mkdtemp(tmpl);
    seedbank::indexer::IndexOptions io;
    io.dir = dir / "index";
    io.network = "fuzz";
    options.log = seedbank::protocol::Log(seedbank::protocol::LogLevel::off, {});
    io.map_size = 1ull << 28;
    index = std::move(seedbank::indexer::Index::open(io)).value();
    options.network = "fuzz";
    book = std::make_unique<g::AddressBook>(std::filesystem::path(), options.ban_time);
    engine = std::make_unique<g::Engine>(sessions, *book, *index, options, node_key(), [] { return std::int64_t{0}; });
    engine->set_gossip_port(7400);
    sessions.engine = engine.get();
    sessions.now = g::Clock::time_point{} + std::chrono::hours(1);
    open_session(true);  // a bystander that stays open: announcements and seeders have somewhere to go
  }
  ~World() {
    engine.reset();
    index.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
  g::SessionId open_session(bool outbound) {
    g::SessionFacts f;
    f.id = next_id++;
    f.outbound = outbound;
    f.remote_ip = boost::asio::ip::make_address(outbound ? "192.0.2.1" : "127.0.0.1");
    f.remote_port = 7400;
    f.peer_id = SecretKey::generate().public_key();
    sessions.open[f.id] = f;
    engine->on_open(f.id, sessions.now);
    sessions.run_deferred();
    return f.id;
  }
};

World& world() {
  static World* w = [] {
    auto* made = new World;
    std::atexit([] { delete &world(); });
    return made;
  }();
  return *w;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  ByteView rest(data + 1, size - 1);
  switch (data[0] % 3) {
    case 0: {  // a responder reading an initiator's hello, then its auth
      gossip::Handshake hs(gossip::Handshake::Role::responder, node_key(), "fuzz");
      std::size_t n = std::min<std::size_t>(rest.size(), gossip::kHelloSize);
      if (hs.receive_hello(rest.subspan(0, n))) (void)hs.receive_auth(rest.subspan(n));
      break;
    }
    case 1: {  // frame headers and (unauthentic) bodies
      gossip::SessionKey key{};
      gossip::FrameOpener opener(key);
      if (rest.size() >= gossip::kHeaderSize) {
        auto n = opener.body_size(rest.data());
        if (n) (void)opener.open(rest.data(), rest.subspan(gossip::kHeaderSize));
      }
      break;
    }
    default: {  // a decrypted message from a fresh session, to the engine
      auto m = gossip::ReceivedMessage::parse(rest);
      if (!m) break;
      auto& w = world();
      auto id = w.open_session((data[0] & 0x80) != 0);
      w.sessions.now += std::chrono::seconds(1);
      w.engine->handle(id, m->root(), w.sessions.now);
      w.engine->flush_ingest(id, w.sessions.now);
      w.sessions.run_deferred();
      w.engine->tick(w.sessions.now);
      w.engine->on_deadline(w.sessions.now);
      w.sessions.run_deferred();
      w.sessions.close(id, "done", false);
      w.sessions.run_deferred();
      break;
    }
  }
  return 0;
}
