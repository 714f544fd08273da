#include "seedbank/node/gossip.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include <cstring>
#include <fstream>
#include <random>

#include "gossip/address_book.h"
#include "gossip/endpoint.h"
#include "gossip/engine.h"
#include "gossip/transport.h"
#include "gossip/worker.h"
#include "seedbank/node/data_dir.h"
#include "seedbank/protocol/bootstrap_list.h"

// The facade: GossipService owns the address book, the transport and the
// engine (node/src/gossip/), and the timers that drive them. Everything
// runs on the node's io_context thread.

namespace seedbank::node {

namespace asio = boost::asio;
namespace p = seedbank::protocol;
using gossip::Clock;
using p::ErrorCode;
using p::make_error;

struct GossipService::Impl : std::enable_shared_from_this<GossipService::Impl> {
  asio::io_context& io;
  GossipOptions options;
  p::SecretKey node_key;
  gossip::AddressBook book;
  std::shared_ptr<gossip::Transport> transport;
  gossip::ThreadWorker worker;  // stores records from peers off the event loop
  std::unique_ptr<gossip::Engine> engine;
  asio::steady_timer tick_timer, sync_timer;
  std::mt19937_64 rng{std::random_device{}()};
  unsigned ticks = 0;

  Impl(asio::io_context& i, const GossipOptions& o, indexer::Index& index, p::SecretKey key)
      : io(i),
        options(o),
        node_key(std::move(key)),
        book(options.data_dir / "peers.json", options.ban_time, options.log.with_component("gossip")),
        transport(std::make_shared<gossip::Transport>(io, options, node_key, book)),
        worker(i),
        engine(std::make_unique<gossip::Engine>(*transport, book, index, options, node_key, nullptr, &worker)),
        tick_timer(i),
        sync_timer(i) {
    transport->set_engine(engine.get());
  }
  // Also when start() fails half-way: nothing may reach the engine after it.
  ~Impl() { transport->stop(); }

  // Once a second: keeps `outbound` sessions, expires what waited too long,
  // pings, and saves peers.json every minute.
  void tick() {
    if (transport->stopped()) return;
    ++ticks;
    auto now = Clock::now();
    transport->dial_more(now, rng);
    engine->tick(now);
    book.expire(now);
    if (ticks % 60 == 0) book.save();
    tick_timer.expires_after(std::chrono::seconds(1));
    tick_timer.async_wait([w = weak_from_this()](const boost::system::error_code& ec) {
      if (auto self = w.lock(); self && !ec) self->tick();
    });
  }

  void sync_tick() {
    if (transport->stopped()) return;
    engine->sync(Clock::now());
    arm_sync();
  }
  void arm_sync() {
    sync_timer.expires_after(options.sync_interval);
    sync_timer.async_wait([w = weak_from_this()](const boost::system::error_code& ec) {
      if (auto self = w.lock(); self && !ec) self->sync_tick();
    });
  }
};

GossipService::GossipService(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}

GossipService::~GossipService() {
  if (!impl_) return;
  impl_->book.save();
  impl_->tick_timer.cancel();
  impl_->sync_timer.cancel();
  impl_->transport->stop();
}

p::Result<std::unique_ptr<GossipService>> GossipService::start(asio::io_context& io, const GossipOptions& options,
                                                               indexer::Index& index, const p::SecretKey& node_key) {
  auto key = p::SecretKey::from_seed(node_key.seed());
  if (!key) return key.error();
  auto impl = std::make_shared<Impl>(io, options, index, std::move(key).value());
  impl->book.load();
  if (options.listen != "off") {
    if (auto st = impl->transport->listen(options.listen); !st) return st.error();
    impl->engine->set_gossip_port(impl->transport->listen_port());
  }
  for (const auto& b : options.bootstrap) {
    if (!gossip::parse_endpoint(b))
      return make_error(ErrorCode::invalid_argument, "bootstrap peer '" + b + "' is not HOST:PORT with an IP address");
    impl->book.add(b, gossip::Source::bootstrap);
  }
  impl->tick();
  impl->arm_sync();
  return std::unique_ptr<GossipService>(new GossipService(impl));
}

std::string GossipService::listen_address() const { return impl_->transport->listen_address(); }
std::size_t GossipService::open_sessions() const { return impl_->transport->open_count(); }
std::string GossipService::node_id() const { return impl_->node_key.public_key().to_text(); }

GossipStats GossipService::stats() const {
  auto s = impl_->engine->stats();
  s.sessions_refused = impl_->transport->sessions_refused();
  s.bans = impl_->transport->bans();
  return s;
}

std::vector<PeerInfo> GossipService::peers() const { return impl_->transport->peers(); }

std::vector<p::RecordId> GossipService::scan_local() { return impl_->engine->scan_local(); }
std::vector<p::RecordId> GossipService::add_local(const std::vector<p::RecordId>& ids) {
  return impl_->engine->add_local(ids);
}

void GossipService::add_peer(const std::string& host_port) {
  if (!gossip::parse_endpoint(host_port)) return;
  impl_->book.add(host_port, gossip::Source::manual);
  if (!impl_->transport->connected_to(host_port)) impl_->transport->dial(host_port);
}

std::size_t GossipService::add_discovered(const std::vector<std::string>& host_ports, const std::string& source) {
  auto from = source == "lan" ? gossip::Source::lan : gossip::Source::dht;
  std::vector<std::string> valid;
  for (const auto& a : host_ports)
    if (gossip::parse_endpoint(a)) valid.push_back(a);
  auto fresh = impl_->book.discovered(valid, from);
  if (fresh) impl_->transport->dial_more(Clock::now(), impl_->rng);
  return fresh;
}

std::size_t GossipService::wanted_sessions() const { return impl_->options.outbound; }

std::map<std::string, std::size_t> GossipService::address_sources() const {
  std::map<std::string, std::size_t> out;
  for (const auto& [addr, k] : impl_->book.known())
    if (!k.self) ++out[std::string(gossip::to_string(k.source))];
  return out;
}

void GossipService::set_seeding(std::vector<p::Sha256Digest> info_hashes) {
  impl_->engine->set_seeding(std::move(info_hashes));
}

void GossipService::ask_seeders(const p::Sha256Digest& info_hash) {
  impl_->engine->ask_seeders(info_hash, Clock::now());
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
  return impl_->engine->view().seeder_count(info_hash);
}

std::vector<std::pair<p::Sha256Digest, std::uint32_t>> GossipService::most_seeded(std::size_t n) const {
  return impl_->engine->view().most_seeded(n);
}

std::vector<std::string> GossipService::seeders_of(const p::Sha256Digest& info_hash) const {
  return impl_->engine->seeders_of(info_hash);
}

void GossipService::fetch_blob(const p::Sha256Digest& sha256, const p::RecordId& record,
                               std::function<void(p::Status)> done) {
  impl_->engine->fetch_blob(sha256, record, std::move(done), Clock::now());
}

bool GossipService::fetching_blob(const p::Sha256Digest& sha256) const {
  return impl_->engine->view().fetching(sha256);
}

std::optional<p::RecordId> GossipService::image_owner(const p::Sha256Digest& sha256) const {
  return impl_->engine->view().image_owner(sha256);
}

void GossipService::query(const std::string& hash, std::chrono::milliseconds timeout,
                          std::function<void(std::size_t)> done) {
  impl_->engine->query(hash, timeout, std::move(done), Clock::now());
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
