#include "seedbank/node/runtime.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <utility>

#include "control.h"
#include "control_protocol.h"
#include "discovery.h"
#include "http/api.h"
#include "node_services.h"
#include "seedbank/node/data_dir.h"
#include "seedbank/protocol/util.h"
#include "share_watch.h"

namespace seedbank::node {

namespace asio = boost::asio;
namespace p = seedbank::protocol;

struct NodeRuntime::Impl {
  NodeContext& node;
  RuntimeRole role;
  asio::io_context io;
  std::unique_ptr<TorrentService> torrents;
  std::unique_ptr<GossipService> gossip;
  std::unique_ptr<Discovery> discovery;  // daemon with gossip only
  std::unique_ptr<ControlServer> control;
  std::unique_ptr<NodeServices> services;  // what HTTP may ask of BitTorrent and gossip
  std::unique_ptr<Api> api;
  std::unique_ptr<HttpServer> http;
  std::unique_ptr<ShareScanner> share_scanner;  // daemon: new files in watched folders
  std::unique_ptr<ShareWatch> share_watch;      // daemon: files shared in place
  std::string http_listen;
  asio::steady_timer poll_timer{io};
  std::uint64_t known_records = 0;
  unsigned ticks = 0;
  bool prune_pending = false, reseed_pending = false;  // for the next tick
  std::size_t seeding_at_start = 0;

  p::Log log;

  Impl(NodeContext& n, RuntimeRole r) : node(n), role(r), log(n.options.log.with_component("node")) {}

  p::Status start_torrents() {
    TorrentOptions topts = node.options.torrents;
    topts.data_dir = node.options.data_dir;
    topts.log = node.options.log;
    if (topts.store_quota == 0) topts.store_quota = node.options.config.store_quota;
    auto started = TorrentService::start(topts, *node.index, *node.store);
    if (!started) return started.error();
    torrents = std::move(started).value();
    // Retracted, denied and out-of-policy releases are neither seeded nor fetched.
    torrents->set_filter([this](const p::Record& rec) { return node.options.config.refuses(rec, *node.index); });
    if (role == RuntimeRole::daemon) seeding_at_start = torrents->seed_all();
    // libtorrent's news (a piece to verify, a file to move) is handled at
    // once, not at the next 100 ms tick.
    torrents->set_notify([this] {
      asio::post(io, [this] {
        if (torrents) torrents->poll();
      });
    });
    return {};
  }

  // The daemon starts BitTorrent with everything else; a command starts it
  // on its first fetch, so a lookup answered by gossip alone never waits
  // for a BitTorrent session.
  p::Status ensure_torrents() { return torrents ? p::Status{} : start_torrents(); }

  p::Status start_gossip() {
    if (!node.options.gossip_enabled) return {};
    auto key = load_or_create_node_key(node.options.data_dir);
    if (!key) return key.error();
    GossipOptions gopts = node.options.gossip;
    gopts.data_dir = node.options.data_dir;
    gopts.network = node.options.network;
    gopts.log = node.options.log;
    const auto& config = node.options.config;
    if (config.new_key_work_bits) gopts.admission.new_key_work_bits = *config.new_key_work_bits;
    if (config.per_author_per_hour) gopts.admission.per_author_per_hour = *config.per_author_per_hour;
    if (config.social_work_bits) gopts.admission.social_work_bits = *config.social_work_bits;
    if (config.social_per_hour) gopts.admission.social_per_hour = *config.social_per_hour;
    if (role == RuntimeRole::command) {
      // Dial out only, and reconcile only what the command asks for.
      gopts.listen = "off";
      gopts.sync_interval = std::chrono::hours(1);
    } else {
      gopts.store = node.store.get();
      gopts.store_quota = node.options.torrents.store_quota ? node.options.torrents.store_quota : config.store_quota;
      gopts.image_policy = [this](const p::Record& owner, const p::Sha256Digest& sha256) {
        return node.options.config.refuses_image(owner, sha256, *node.index);
      };
      gopts.bt_port = p::util::port_of(torrents->listen_address());
      gopts.on_stored = [this](const p::Record& rec) { act_on(rec, false); };
    }
    auto started = GossipService::start(io, gopts, *node.index, *key);
    if (!started) return started.error();
    gossip = std::move(started).value();
    return {};
  }

  // Finding peers without addresses: the daemon at start (it announces
  // itself, sends LAN beacons and maps ports); a command only when asked
  // (look_for_peers: it knew no address that answered), and then it only
  // looks the rendezvous key up, starting BitTorrent, whose DHT that is.
  p::Status start_discovery() {
    if (!gossip || discovery) return {};
    DiscoveryOptions o;
    o.network = node.options.network;
    o.log = node.options.log;
    o.private_dht = !node.options.torrents.dht_bootstrap.empty();
    o.bt_listen = node.options.torrents.listen;
    if (role == RuntimeRole::daemon) {
      o.rendezvous = torrents->dht_on();
      o.announce = !gossip->listen_address().empty();
      o.lan = !node.options.lan_beacon.empty();
      if (o.lan) o.lan_beacon = node.options.lan_beacon;
      o.port_mapping = node.options.torrents.port_mapping;
      if (!o.rendezvous && !o.lan && !o.port_mapping) return {};  // joins through the addresses it is given
    } else {
      if (!node.options.torrents.dht) return {};
      node.options.torrents.port_mapping = false;
      if (auto st = ensure_torrents(); !st) return st;
      o.announce = false;
    }
    auto started = Discovery::start(io, o, torrents.get(), *gossip);
    if (!started) return started.error();
    discovery = std::move(started).value();
    return {};
  }

  // Files shared in place: seeded from where they are while they stay as
  // they were hashed; a torrent that reads one that changed is taken out
  // at once (inotify) or at the next sweep.
  void start_share_watch() {
    if (auto damaged = node.store->shared_error(); !damaged.empty()) log.warn(damaged);
    share_scanner = std::make_unique<ShareScanner>(
        *node.store, *node.index, node.options.data_dir,
        [this](const p::Record& rec) { return node.options.config.refuses(rec, *node.index).has_value(); },
        node.options.log.with_component("share"));
    share_watch = std::make_unique<ShareWatch>(
        io, *node.store, log, [this](bool list) { refresh_shares(list); },
        [this](std::vector<std::filesystem::path> paths) { share_scanner->add(paths); });
    if (auto st = share_watch->start(); !st) log.warn(st.error().message);
    // What appeared in watched folders while the node was down (the hash
    // cache makes this cheap for what is unchanged).
    if (auto watched = node.store->watched_folders(); !watched.empty()) share_scanner->add(watched, /*quiet=*/true);
  }

  // A file that changed stops being served (refresh_in_place); a new list
  // may hold files to seed. (A release that arrives later and names a
  // shared file is seeded as it arrives: act_on.)
  void refresh_shares(bool list) {
    if (!torrents) return;
    torrents->refresh_in_place();
    if (!list) return;
    if (auto added = torrents->seed_shared())
      log.info("seeding " + std::to_string(added) + (added == 1 ? " release" : " releases") +
               " from files shared in place");
  }

  p::Status start_http() {
    if (node.options.http == "off") return {};
    services = std::make_unique<NodeServices>(io, *node.index, *torrents, gossip.get(), node.options.log,
                                              [this](const std::vector<p::RecordId>& ids) { announce_local(ids); });
    auto api_config = node.options.config;  // uploads count against the quota the store has (--store-quota wins)
    if (node.options.torrents.store_quota) api_config.store_quota = node.options.torrents.store_quota;
    api = std::make_unique<Api>(*node.index, *node.store, node.options.data_dir, services.get(), std::move(api_config));
    api->set_listen_address(node.options.http);
    if (!node.options.web_dir.empty()) {
      api->set_web_dir(node.options.web_dir);
      log.info("serving the gallery's files from " + node.options.web_dir.string());
    }
    HttpOptions hopts;
    hopts.listen = node.options.http;
    hopts.threads = node.options.http_threads;
    hopts.log = node.options.log.with_component("http");
    auto server = HttpServer::start(hopts, [a = api.get()](const HttpRequest& r) { return a->handle(r); });
    if (!server) return server.error();
    http = std::move(server).value();
    http_listen = http->listen_address();
    api->set_listen_address(http_listen);
    return {};
  }

  // Tells peers which releases this node seeds (daemon only: a command
  // never claims to seed), and hands downloading torrents without peers the
  // BitTorrent addresses of nodes that seed them.
  // Also keeps the HTTP side's view of what this node holds (the dashboard).
  void share_swarms() {
    if (!torrents) return;
    std::vector<p::Sha256Digest> seeding;
    std::map<p::RecordId, NodeServices::Seeding> held;  // for the creator dashboard
    for (const auto& s : torrents->status()) {
      if (auto id = p::from_hex_fixed<32>(s.release_id))
        held[*id] = {s.state, s.files_wanted, s.files_stored, s.all_stored, s.uploaded, s.peers};
      auto ih = p::from_hex_fixed<32>(s.info_hash);
      if (!ih || !gossip) continue;
      if (s.all_stored || s.files_in_place > 0) {  // shared files: a seed of those
        seeding.push_back(*ih);
      } else if (!s.complete && s.peers == 0) {
        gossip->ask_seeders(*ih);
        auto seeders = gossip->seeders_of(*ih);
        if (!seeders.empty()) torrents->add_peers(s.release_id, seeders);
      }
    }
    if (gossip && role == RuntimeRole::daemon) gossip->set_seeding(std::move(seeding));
    if (services) services->set_seeding(std::move(held));
  }

  // A record new to this node, from a peer or from a process on this data
  // dir (`local`, logged): a release whose files are all here is seeded; a
  // retraction, deny-list or key rotation may stop releases (pruned at the
  // next tick, once for many), and the last two may also allow some again
  // (every release checked again then). Returns whether it started seeding.
  bool act_on(const p::Record& rec, bool local) {
    if (role != RuntimeRole::daemon || !torrents) return false;
    auto kind = rec.kind();
    if (local)
      log.info("announcing " + std::string(p::to_string(kind)) + " " + p::to_hex(rec.id()).substr(0, 12) +
               " stored on this data dir");
    if (kind == p::RecordKind::release) {
      bool added = torrents->seed(rec);
      if (added)
        log.info("seeding " + std::string(rec.body().getPayload().getRelease().getModelName().cStr()) + " (release " +
                 p::to_hex(rec.id()).substr(0, 12) + ")");
      return added;
    }
    if (kind == p::RecordKind::retraction) prune_pending = true;
    // A new deny-list may also drop an entry, and a key rotation vouch for
    // releases again: both may allow releases as well as stop them.
    if (kind == p::RecordKind::deny_list || kind == p::RecordKind::key_rotation) prune_pending = reseed_pending = true;
    return false;
  }

  void act_on_ids(const std::vector<p::RecordId>& ids, bool local) {
    for (const auto& id : ids)
      if (auto rec = node.index->get(id)) act_on(*rec, local);
  }

  // Records a process on this data dir stored (a publish, a rating, a
  // retraction): acted on and announced now. Returns how many releases it
  // started seeding.
  std::size_t announce_local(const std::vector<p::RecordId>& ids) {
    std::size_t seeding = 0;
    for (const auto& id : ids)
      if (auto rec = node.index->get(id); rec && act_on(*rec, true)) ++seeding;
    apply_pending();  // a retraction stops seeding now
    if (gossip) gossip->add_local(ids);
    return seeding;
  }

  void apply_pending() {
    if (!torrents) return;
    if (std::exchange(prune_pending, false))
      if (auto dropped = torrents->prune())
        log.info("stopped seeding " + std::to_string(dropped) + " releases (retracted, denied or out of policy)");
    if (std::exchange(reseed_pending, false)) torrents->seed_all();
  }

  // Alerts every 100 ms, and what act_on left for the tick. Every 2 s the
  // daemon also looks for records that reached the index without being
  // handed to it (`seedbank record import` while no node ran, an announce
  // that failed): only when the record count moved, and, with gossip, only
  // the records gossip has not seen.
  void tick() {
    if (torrents) torrents->poll();
    ++ticks;
    if (role == RuntimeRole::daemon && ticks % 20 == 0) {
      auto now = node.index->stats().records;
      if (now != known_records) {
        known_records = now;
        if (gossip)
          act_on_ids(gossip->scan_local(), false);
        else
          prune_pending = reseed_pending = true;
      }
    }
    apply_pending();
    if (ticks % (role == RuntimeRole::daemon ? 20 : 5) == 0) share_swarms();
    poll_timer.expires_after(std::chrono::milliseconds(100));
    poll_timer.async_wait([this](const boost::system::error_code& ec) {
      if (!ec) tick();
    });
  }

  void handle_control(const nlohmann::json& json, std::function<void(nlohmann::json)> reply, NodeRuntime& rt) {
    auto request = parse_request(json);
    if (!request) return reply(error_json(request.error()));
    std::visit(
        [&](const auto& r) {
          using T = std::decay_t<decltype(r)>;
          if constexpr (std::is_same_v<T, StatusRequest>) {
            reply(reply_json(rt.status(r.peers)));
          } else if constexpr (std::is_same_v<T, FetchRequest>) {
            auto out = rt.fetch(r);
            reply(out ? reply_json(*out) : error_json(out.error()));
          } else if constexpr (std::is_same_v<T, TorrentRequest>) {
            auto out = rt.torrent(r.release);
            reply(out ? reply_json(*out) : error_json(out.error()));
          } else if constexpr (std::is_same_v<T, QueryRequest>) {
            if (!gossip) return reply(error_json(p::make_error(p::ErrorCode::refused, "gossip is off on this node")));
            rt.query(r, [reply](QueryReply q) { reply(reply_json(q)); });
          } else if constexpr (std::is_same_v<T, PeersRequest>) {
            reply(reply_json(rt.peers()));
          } else if constexpr (std::is_same_v<T, AddPeerRequest>) {
            auto st = rt.add_peer(r.address);
            reply(st ? nlohmann::json{{"v", kControlVersion}, {"ok", true}} : error_json(st.error()));
          } else {
            static_assert(std::is_same_v<T, AnnounceRequest>);
            reply(reply_json(rt.announce(r)));
          }
        },
        *request);
  }
};

NodeRuntime::NodeRuntime(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

p::Result<std::unique_ptr<NodeRuntime>> NodeRuntime::start(NodeContext& node, RuntimeRole role) {
  std::unique_ptr<NodeRuntime> rt(new NodeRuntime(std::make_unique<Impl>(node, role)));
  auto& impl = *rt->impl_;
  if (role == RuntimeRole::daemon) {
    // First, so a second node on the same data dir stops before it binds anything.
    auto control = ControlServer::start(impl.io, control_socket_path(node.options.data_dir),
                                        [&impl, raw = rt.get()](const nlohmann::json& req, auto reply) {
                                          impl.handle_control(req, std::move(reply), *raw);
                                        });
    if (!control) return control.error();
    impl.control = std::move(control).value();
  }
  if (role == RuntimeRole::daemon)
    if (auto st = impl.start_torrents(); !st) return st.error();
  if (auto st = impl.start_gossip(); !st) return st.error();
  if (role == RuntimeRole::daemon) {
    if (auto st = impl.start_discovery(); !st) return st.error();
    if (auto st = impl.start_http(); !st) return st.error();
    impl.start_share_watch();
  }
  impl.known_records = node.index->stats().records;
  impl.tick();
  return rt;
}

NodeRuntime::~NodeRuntime() {
  auto& impl = *impl_;
  if (impl.services) impl.services->stop();
  impl.poll_timer.cancel();
  impl.http.reset();  // its threads may be in requests: stop them first
  impl.api.reset();
  impl.services.reset();
  impl.control.reset();
  impl.share_watch.reset();
  impl.share_scanner.reset();
  impl.discovery.reset();
  impl.gossip.reset();
  if (impl.torrents) {
    impl.torrents->set_notify({});
    impl.torrents->save_state();
    impl.torrents.reset();
  }
}

asio::io_context& NodeRuntime::io() { return impl_->io; }
RuntimeRole NodeRuntime::role() const { return impl_->role; }
NodeContext& NodeRuntime::context() { return impl_->node; }
GossipService* NodeRuntime::gossip() { return impl_->gossip.get(); }
bool NodeRuntime::look_for_peers() {
  auto& impl = *impl_;
  if (impl.role != RuntimeRole::command) return false;
  if (auto st = impl.start_discovery(); !st) {
    impl.log.warn("cannot look for peers on the DHT: " + st.error().message);
    return false;
  }
  return impl.discovery && impl.discovery->status().rendezvous;
}
std::int64_t NodeRuntime::dht_nodes() const { return impl_->torrents ? impl_->torrents->network_stats().dht_nodes : 0; }
std::size_t NodeRuntime::gossip_sessions() const { return impl_->gossip ? impl_->gossip->open_sessions() : 0; }

int NodeRuntime::run_until_signal() {
  auto& impl = *impl_;
  asio::signal_set signals(impl.io, SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code& ec, int signal) {
    if (!ec) impl.log.info("signal " + std::to_string(signal) + ", shutting down");
    if (impl.services) impl.services->stop();  // nothing posted now would run
    impl.io.stop();
  });
  impl.io.run();
  return 0;
}

void NodeRuntime::run_for(std::chrono::milliseconds timeout, const std::function<bool()>& until) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  auto& io = impl_->io;
  if (io.stopped()) io.restart();
  while (!(until && until())) {
    auto now = std::chrono::steady_clock::now();
    if (now >= deadline) break;
    // One handler at a time, so `until` is checked as soon as it may hold.
    if (io.run_one_for(std::min<std::chrono::steady_clock::duration>(deadline - now, std::chrono::milliseconds(50))) ==
            0 &&
        io.stopped())
      io.restart();
  }
}

StatusReply NodeRuntime::status(bool with_peers) {
  auto& impl = *impl_;
  StatusReply r;
  r.network = impl.node.options.network;
  r.bt_listen = impl.torrents ? impl.torrents->listen_address() : "";
  r.gossip_listen = impl.gossip ? impl.gossip->listen_address() : "";
  r.http_listen = impl.http_listen;
  r.gossip_peers = impl.gossip ? impl.gossip->peers().size() : 0;
  auto stats = impl.node.index->stats();
  r.records = stats.records;
  r.releases = stats.by_kind[1];
  const auto space = impl.node.index->space();
  r.index_known = true;
  r.index_limit = space.limit;
  r.index_used = space.used;
  r.index_shared = space.shared;
  r.index_free = space.free;
  for (int k = 0; k < p::kRecordKinds; ++k)
    if (stats.by_kind[k] || space.by_kind[k])
      r.index_kinds.push_back({std::string(p::to_string(static_cast<p::RecordKind>(k))), stats.by_kind[k],
                               space.by_kind[k], space.record_bytes[k]});
  if (impl.torrents) r.torrents = impl.torrents->status(with_peers);
  return r;
}

p::Result<FetchReply> NodeRuntime::fetch(const FetchRequest& request) {
  auto& impl = *impl_;
  auto rec = impl.node.index->get(request.release);
  if (!rec) return rec.error();
  if (rec->kind() != p::RecordKind::release)
    return p::make_error(p::ErrorCode::invalid_argument, p::to_hex(request.release) + " is not a release");
  if (auto st = impl.ensure_torrents(); !st) return st.error();
  std::vector<std::string> peers = request.peers;
  auto seeders = seeders_for(impl.gossip.get(), *rec);
  FetchReply reply{seeders.size()};
  peers.insert(peers.end(), seeders.begin(), seeders.end());
  auto st = request.files.empty() ? impl.torrents->fetch(*rec, request.images_only, peers)
                                  : impl.torrents->fetch_files(*rec, request.files, peers);
  if (!st) return st.error();
  return reply;
}

p::Result<TorrentStatus> NodeRuntime::torrent(const p::RecordId& release) {
  auto s = impl_->torrents ? impl_->torrents->status_of(p::to_hex(release)) : std::nullopt;
  if (!s) return p::make_error(p::ErrorCode::not_found, "release " + p::to_hex(release) + " is not loaded");
  return *s;
}

void NodeRuntime::query(const QueryRequest& request, std::function<void(QueryReply)> done) {
  auto& impl = *impl_;
  if (!impl.gossip) {
    asio::post(impl.io, [done] { done(QueryReply{}); });
    return;
  }
  std::size_t peers = impl.gossip->open_sessions();
  impl.gossip->query(request.hash, request.timeout, [done, peers](std::size_t received) {
    done(QueryReply{received, peers});
  });
}

PeersReply NodeRuntime::peers() {
  PeersReply r;
  if (auto* g = impl_->gossip.get()) {
    r.gossip = true;
    r.node_id = g->node_id();
    r.listen = g->listen_address();
    r.peers = g->peers();
    r.stats = g->stats();
  }
  if (impl_->discovery) r.discovery = impl_->discovery->status();
  return r;
}

p::Status NodeRuntime::add_peer(const std::string& address) {
  if (!impl_->gossip) return p::make_error(p::ErrorCode::refused, "gossip is off on this node");
  impl_->gossip->add_peer(address);
  return {};
}

AnnounceReply NodeRuntime::announce(const AnnounceRequest& request) {
  auto& impl = *impl_;
  AnnounceReply r;
  if (request.ids.empty()) {  // "look for yourself": the full scan
    if (impl.torrents && impl.role == RuntimeRole::daemon) r.seeding = impl.torrents->seed_all();
    if (impl.gossip) impl.act_on_ids(impl.gossip->scan_local(), true);
    impl.apply_pending();
    return r;
  }
  r.seeding = impl.announce_local(request.ids);
  return r;
}

int run_node(NodeContext& node) {
  auto log = node.options.log.with_component("node");
  auto rt = NodeRuntime::start(node, RuntimeRole::daemon);
  if (!rt) {
    log.error(rt.error().message);
    return 1;
  }
  auto& impl = *(*rt)->impl_;
  auto stats = node.index->stats();
  log.info("data dir " + node.options.data_dir.string() + ", network '" + node.options.network + "', " +
           std::to_string(stats.records) + " records (" + std::to_string(stats.by_kind[1]) + " releases)");
  log.info("BitTorrent on " + impl.torrents->listen_address() + ", seeding " + std::to_string(impl.seeding_at_start) +
           " releases");
  if (impl.gossip)
    log.info("gossip on " +
             (impl.gossip->listen_address().empty() ? std::string("(not listening)") : impl.gossip->listen_address()) +
             ", node id " + impl.gossip->node_id());
  if (impl.http) log.info("web gallery and API on http://" + impl.http_listen + "/");
  log.info("running; press Ctrl-C to stop");
  int code = (*rt)->run_until_signal();
  rt->reset();
  log.info("stopped");
  return code;
}

}  // namespace seedbank::node
